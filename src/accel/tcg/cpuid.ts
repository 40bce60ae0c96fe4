/**
 * CPUID (SDM Vol. 2, CPUID) for the -cpu models in ../cpu-models.ts.
 * Leaves: 0 (vendor, max leaf), 1 (signature, features), 0x80000000-4
 * (extended max, NX, brand string). Unknown leaves above the maximum return
 * the highest basic leaf's data, as Intel CPUs do.
 */
import { DEFAULT_CPU_MODEL, TCG_CPU_IDENTITY, type TcgCpuIdentity } from '../cpu-models.js';

export interface CpuModelInfo {
  readonly name: string;
  readonly identity: TcgCpuIdentity;
  /** EDX after RESET: the processor signature (SDM Vol. 3A 9.1.4). */
  readonly resetEdx: number;
  readonly hasCpuid: boolean;
  /** EFLAGS.AC exists (486 and later). */
  readonly hasAc: boolean;
  hasFeature(bit: number): boolean;
  hasExtFeature(bit: number): boolean;
  cpuid(leaf: number, subleaf: number): [number, number, number, number];
}

const VENDOR = 'GenuineIntel';
/**
 * CPUID.1:ECX bit 31, "running under a hypervisor": QEMU sets it on every
 * model, and guests rely on it (Linux skips probing for a PMU it would only
 * find broken: "PMU not available due to virtualization").
 */
const CPUID_1_ECX_HYPERVISOR = 0x8000_0000;

function str4(s: string, at: number): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v |= (s.charCodeAt(at + i) || 0) << (8 * i);
  return v >>> 0;
}

export function cpuModelInfo(name: string = DEFAULT_CPU_MODEL): CpuModelInfo {
  const id = TCG_CPU_IDENTITY[name] ?? TCG_CPU_IDENTITY[DEFAULT_CPU_MODEL]!;
  const signature = (id.family << 8) | (id.model << 4) | id.stepping;
  const maxExt = id.brand ? 0x8000_0004 : id.extFeatures ? 0x8000_0001 : 0;
  const brand = (id.brand ?? '').padEnd(48, '\0');
  const leaf = (l: number, sub: number): [number, number, number, number] => {
    switch (l) {
      case 0:
        return [1, str4(VENDOR, 0), str4(VENDOR, 8), str4(VENDOR, 4)];
      case 1:
        return [signature, 0, CPUID_1_ECX_HYPERVISOR, id.features >>> 0];
      case 0x8000_0000:
        return [maxExt, 0, 0, 0];
      case 0x8000_0001:
        return [0, 0, 0, id.extFeatures >>> 0];
      case 0x8000_0002:
      case 0x8000_0003:
      case 0x8000_0004: {
        const at = (l - 0x8000_0002) * 16;
        return [str4(brand, at), str4(brand, at + 4), str4(brand, at + 8), str4(brand, at + 12)];
      }
    }
    void sub;
    return leaf(1, 0);
  };
  return {
    name,
    identity: id,
    resetEdx: signature,
    hasCpuid: id.hasCpuid,
    hasAc: id.family >= 4,
    hasFeature: (bit) => (id.features & bit) !== 0,
    hasExtFeature: (bit) => (id.extFeatures & bit) !== 0,
    cpuid(l, sub) {
      l >>>= 0;
      if (l >= 0x8000_0000) return l <= maxExt ? leaf(l, sub) : leaf(1, 0);
      return l <= 1 ? leaf(l, sub) : leaf(1, 0);
    },
  };
}
