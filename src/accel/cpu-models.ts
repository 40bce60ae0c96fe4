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
