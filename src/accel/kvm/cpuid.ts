/**
 * The CPUID a KVM guest sees: KVM_GET_SUPPORTED_CPUID (what this host and
 * KVM can virtualize) narrowed to the -cpu model.
 *
 * `host` passes everything KVM supports through. The named models follow
 * QEMU's definitions (target/i386/cpu.c: family/model/stepping, the feature
 * words and the maximum leaves), intersected with what the host supports;
 * as in QEMU under KVM, the vendor string stays the host's.
 */
import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from './abi.js';
import type { CpuidEntry } from './handle.js';

/** CPUID.1:EDX bits. */
const EDX = {
  fpu: 1 << 0, vme: 1 << 1, de: 1 << 2, pse: 1 << 3, tsc: 1 << 4, msr: 1 << 5, pae: 1 << 6, mce: 1 << 7,
  cx8: 1 << 8, apic: 1 << 9, sep: 1 << 11, mtrr: 1 << 12, pge: 1 << 13, mca: 1 << 14, cmov: 1 << 15,
  pat: 1 << 16, pse36: 1 << 17, clflush: 1 << 19, mmx: 1 << 23, fxsr: 1 << 24, sse: 1 << 25, sse2: 1 << 26,
};
/** CPUID.1:ECX bits. */
const ECX = { sse3: 1 << 0, cx16: 1 << 13, x2apic: 1 << 21, hypervisor: 1 << 31 };
/** CPUID.80000001h bits. */
const EXT_EDX = { syscall: 1 << 11, nx: 1 << 20, lm: 1 << 29 };
const EXT_ECX = { lahf_lm: 1 << 0 };

const I486 = EDX.fpu | EDX.vme | EDX.pse;
const PENTIUM = I486 | EDX.de | EDX.tsc | EDX.msr | EDX.mce | EDX.cx8 | EDX.mmx | EDX.apic;
const PENTIUM2 = PENTIUM | EDX.pae | EDX.sep | EDX.mtrr | EDX.pge | EDX.mca | EDX.cmov | EDX.pat | EDX.pse36 | EDX.fxsr;
const PPRO = EDX.fpu | EDX.de | EDX.pse | EDX.tsc | EDX.msr | EDX.mce | EDX.cx8 | EDX.pge | EDX.cmov | EDX.pat |
  EDX.fxsr | EDX.mmx | EDX.sse | EDX.sse2 | EDX.pae | EDX.sep | EDX.apic;

interface ModelCpuid {
  family: number;
  model: number;
  stepping: number;
  /** Highest basic leaf. */
  level: number;
  /** Highest extended leaf (0 = none beyond 0x80000000). */
  xlevel: number;
  edx1: number;
  ecx1: number;
  extEdx: number;
  extEcx: number;
  /** 48-byte brand string for leaves 0x80000002..4, when xlevel reaches them. */
  brand?: string;
}

const QEMU_BRAND = 'QEMU Virtual CPU version 2.5+';

const MODELS: Record<string, ModelCpuid> = {
  qemu64: {
    family: 15, model: 107, stepping: 1, level: 0xd, xlevel: 0x8000000a,
    edx1: PPRO | EDX.mtrr | EDX.clflush | EDX.mca | EDX.pse36, ecx1: ECX.sse3 | ECX.cx16,
    extEdx: EXT_EDX.lm | EXT_EDX.syscall | EXT_EDX.nx, extEcx: EXT_ECX.lahf_lm, brand: QEMU_BRAND,
  },
  qemu32: {
    family: 6, model: 6, stepping: 3, level: 4, xlevel: 0x80000004,
    edx1: PPRO, ecx1: ECX.sse3, extEdx: 0, extEcx: 0, brand: QEMU_BRAND,
  },
  '486': { family: 4, model: 8, stepping: 0, level: 1, xlevel: 0, edx1: I486, ecx1: 0, extEdx: 0, extEcx: 0 },
  pentium: { family: 5, model: 4, stepping: 3, level: 1, xlevel: 0, edx1: PENTIUM, ecx1: 0, extEdx: 0, extEcx: 0 },
  pentium2: { family: 6, model: 5, stepping: 2, level: 2, xlevel: 0, edx1: PENTIUM2, ecx1: 0, extEdx: 0, extEcx: 0 },
};

/** The model QEMU's qemu-system-x86_64 uses under KVM when -cpu is not given. */
export const KVM_DEFAULT_CPU_MODEL = 'qemu64';

export function kvmCpuModels(): string[] {
  return ['host', ...Object.keys(MODELS)];
}

export interface CpuidOptions {
  model: string;
  apicId: number;
  /** vCPU count, reported as logical processors per package. */
  smp: number;
  /** The in-kernel irqchip is on (x2APIC available, as QEMU's KVM default). */
  irqchip: boolean;
}

/** The CPUID table for one vCPU. Throws for an unknown model. */
export function buildCpuid(supported: readonly CpuidEntry[], opts: CpuidOptions): CpuidEntry[] {
  const entries = opts.model === 'host' ? supported.map((e) => ({ ...e })) : narrowToModel(supported, opts);
  for (const e of entries) setTopology(e, opts);
  return entries;
}

function narrowToModel(supported: readonly CpuidEntry[], opts: CpuidOptions): CpuidEntry[] {
  const m = MODELS[opts.model];
  if (!m) throw new Error(`unable to find CPU model '${opts.model}'`);
  const out: CpuidEntry[] = [];
  for (const host of supported) {
    const e = { ...host };
    const fn = e.function >>> 0;
    if (fn < 0x4000_0000) {
      if (fn > m.level || !keepBasicLeaf(fn)) continue;
    } else if (fn >= 0x8000_0000) {
      if (fn > m.xlevel || m.xlevel === 0) continue;
    }
    switch (fn) {
      case 0:
        e.eax = Math.min(m.level, host.eax);
        break;
      case 1:
        e.eax = signature(m);
        e.ecx = (m.ecx1 & host.ecx) | ECX.hypervisor | (opts.irqchip ? host.ecx & ECX.x2apic : 0);
        e.edx = m.edx1 & host.edx;
        break;
      case 0x8000_0000:
        e.eax = Math.min(m.xlevel, host.eax) >>> 0;
        break;
      case 0x8000_0001:
        e.eax = signature(m);
        e.ecx = m.extEcx & host.ecx;
        e.edx = (m.extEdx & host.edx) >>> 0;
        break;
      case 0x8000_0002:
      case 0x8000_0003:
      case 0x8000_0004:
        if (m.brand) Object.assign(e, brandLeaf(m.brand, fn - 0x8000_0002));
        break;
    }
    out.push(e);
  }
  return out;
}

/** Leaves that describe features (7, 0xd XSAVE, 0x14 PT, ...) are dropped: the models predate them. */
function keepBasicLeaf(fn: number): boolean {
  return fn <= 6 || fn === 0xb;
}

function signature(m: ModelCpuid): number {
  const family = Math.min(m.family, 15);
  const extFamily = m.family > 15 ? m.family - 15 : 0;
  return ((extFamily << 20) | ((m.model >> 4) << 16) | (family << 8) | ((m.model & 0xf) << 4) | m.stepping) >>> 0;
}

function brandLeaf(brand: string, part: number): Pick<CpuidEntry, 'eax' | 'ebx' | 'ecx' | 'edx'> {
  const bytes = new Uint8Array(48);
  bytes.set(new TextEncoder().encode(brand.slice(0, 47)));
  const view = new DataView(bytes.buffer, part * 16, 16);
  return { eax: view.getUint32(0, true), ebx: view.getUint32(4, true), ecx: view.getUint32(8, true), edx: view.getUint32(12, true) };
}

/** APIC ID and logical processor count, per vCPU (leaf 1 EBX, leaf 0xB EDX). */
function setTopology(e: CpuidEntry, opts: CpuidOptions): void {
  if (e.function === 1) {
    const clflushLines = (e.ebx >>> 8) & 0xff || 8;
    e.ebx = ((opts.apicId << 24) | (Math.min(opts.smp, 255) << 16) | (clflushLines << 8)) >>> 0;
    if (opts.smp > 1) e.edx = (e.edx | (1 << 28)) >>> 0; // HTT: more than one logical processor
  } else if (e.function === 0xb && e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) {
    e.edx = opts.apicId;
  }
}
