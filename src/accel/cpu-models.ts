/**
 * The -cpu models tsvm offers. TCG reports exactly the features it
 * implements for each; KVM filters the host's supported CPUID to the model.
 * `-cpu help` lists these.
 */

export interface CpuModel {
  name: string;
  description: string;
  /** Models only an accelerator with host passthrough can offer. */
  kvmOnly?: boolean;
}

export const CPU_MODELS: readonly CpuModel[] = [
  { name: 'qemu32', description: 'QEMU Virtual CPU version 2.5+ (tsvm: i686 integer + x87)' },
  { name: '486', description: '486' },
  { name: 'pentium', description: 'Intel Pentium' },
  { name: 'pentium2', description: 'Intel Pentium II' },
  { name: 'qemu64', description: 'QEMU Virtual CPU version 2.5+ (64-bit)', kvmOnly: true },
  { name: 'host', description: 'KVM processor with all supported host features', kvmOnly: true },
];

export const DEFAULT_CPU_MODEL = 'qemu32';

export function findCpuModel(name: string): CpuModel | undefined {
  return CPU_MODELS.find((m) => m.name === name);
}

/**
 * CPUID identity of the models TCG implements (SDM Vol. 2, CPUID): family,
 * model, stepping and the leaf-1 EDX feature bits. Feature bits are exactly
 * what tsvm's software CPU implements; KVM models come from the host.
 */
export interface TcgCpuIdentity {
  family: number;
  model: number;
  stepping: number;
  /** CPUID.1:EDX. */
  features: number;
  /** CPUID.80000001h:EDX (NX = bit 20); 0 = no extended leaves beyond the brand string. */
  extFeatures: number;
  brand?: string;
  /** The 486 without CPUID (early steppings) would say false; all ours have it. */
  hasCpuid: boolean;
}

export const CPUID_FPU = 1 << 0;
/** Virtual-8086 mode extensions: CR4.VME and CR4.PVI (tcg/vme.ts). */
export const CPUID_VME = 1 << 1;
/** Debugging extensions: CR4.DE (I/O breakpoints, DR4/DR5 #UD; tcg/debug.ts). */
export const CPUID_DE = 1 << 2;
export const CPUID_PSE = 1 << 3;
export const CPUID_TSC = 1 << 4;
export const CPUID_MSR = 1 << 5;
export const CPUID_PAE = 1 << 6;
export const CPUID_CX8 = 1 << 8;
export const CPUID_SEP = 1 << 11;
export const CPUID_PGE = 1 << 13;
export const CPUID_CMOV = 1 << 15;
export const CPUID_PAT = 1 << 16;
export const CPUID_PSE36 = 1 << 17;
export const CPUID_FXSR = 1 << 24;
export const CPUID_EXT_NX = 1 << 20;

const P5_FEATURES = CPUID_FPU | CPUID_VME | CPUID_DE | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_CX8;
/** FXSR: FXSAVE/FXRSTOR of the x87 state and CR4.OSFXSR (no SSE: MXCSR is fixed). */
const P6_FEATURES = P5_FEATURES | CPUID_PAE | CPUID_SEP | CPUID_PGE | CPUID_CMOV | CPUID_PSE36 | CPUID_FXSR;

export const TCG_CPU_IDENTITY: Readonly<Record<string, TcgCpuIdentity>> = {
  qemu32: {
    family: 6,
    model: 6,
    stepping: 3,
    features: P6_FEATURES | CPUID_PAT,
    extFeatures: CPUID_EXT_NX,
    brand: 'QEMU Virtual CPU version 2.5+',
    hasCpuid: true,
  },
  pentium2: { family: 6, model: 5, stepping: 2, features: P6_FEATURES, extFeatures: 0, hasCpuid: true },
  pentium: { family: 5, model: 4, stepping: 3, features: P5_FEATURES, extFeatures: 0, hasCpuid: true },
  '486': { family: 4, model: 8, stepping: 0, features: CPUID_FPU, extFeatures: 0, hasCpuid: true },
};
