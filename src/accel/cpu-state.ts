/**
 * The accelerator-neutral view of an x86 vCPU's architectural state.
 *
 * Boot loaders produce it, the monitor and gdbstub read and write it, and
 * both accelerators convert to and from it (TCG from its internal arrays,
 * KVM from kvm_regs/kvm_sregs). 64-bit quantities are bigints so long-mode
 * guests (KVM) are represented exactly; TCG's 32-bit guests fill the low half.
 */

export interface SegmentState {
  selector: number;
  base: bigint;
  /** Byte-granular limit (already scaled when G=1). */
  limit: number;
  /** Descriptor type field (4 bits). */
  type: number;
  /** S bit: 1 code/data, 0 system. */
  s: boolean;
  dpl: number;
  present: boolean;
  /** D/B: 32-bit default operand size. */
  db: boolean;
  /** L: 64-bit code segment. */
  l: boolean;
  g: boolean;
  avl: boolean;
  /** Null/unusable selector loaded (KVM's "unusable"). */
  unusable: boolean;
}

export interface TableRegister {
  base: bigint;
  limit: number;
}

export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
export type GprName = (typeof GPR_NAMES)[number];

export const SEGMENT_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;
export type SegmentName = (typeof SEGMENT_NAMES)[number];

export interface CpuState {
  /** General registers in encoding order (rax=0 ... r15=15). */
  gpr: bigint[];
  rip: bigint;
  rflags: bigint;
  seg: Record<SegmentName, SegmentState>;
  ldtr: SegmentState;
  tr: SegmentState;
  gdtr: TableRegister;
  idtr: TableRegister;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  /** True while halted (HLT) waiting for an interrupt. */
  halted: boolean;
}

/** A real-mode segment as the CPU has it after loading `selector` in real mode. */
export function realModeSegment(selector: number, code = false): SegmentState {
  return {
    selector,
    base: BigInt(selector << 4),
    limit: 0xffff,
    type: code ? 0xb : 0x3,
    s: true,
    dpl: 0,
    present: true,
    db: false,
    l: false,
    g: false,
    avl: false,
    unusable: false,
  };
}

/** A flat 4 GiB 32-bit segment (what the Linux and multiboot protocols hand over). */
export function flatSegment(selector: number, code: boolean): SegmentState {
  return {
    selector,
    base: 0n,
    limit: 0xffff_ffff,
    type: code ? 0xb : 0x3,
    s: true,
    dpl: 0,
    present: true,
    db: true,
    l: false,
    g: true,
    avl: false,
    unusable: false,
  };
}

function systemSegment(type: number, limit: number): SegmentState {
  return { ...realModeSegment(0), type, s: false, limit };
}

/**
 * The state of an x86 CPU after RESET (Intel SDM Vol. 3A, 9.1.1, Table 9-1):
 * CS.selector F000 with base FFFF0000, EIP FFF0, real mode, EDX = 0x600-ish
 * signature (filled in by the accelerator from its CPUID model).
 */
export function resetCpuState(): CpuState {
  const seg = Object.fromEntries(SEGMENT_NAMES.map((n) => [n, realModeSegment(0)])) as Record<SegmentName, SegmentState>;
  seg.cs = { ...realModeSegment(0xf000, true), base: 0xffff_0000n };
  return {
    gpr: new Array<bigint>(16).fill(0n),
    rip: 0xfff0n,
    rflags: 0x2n,
    seg,
    ldtr: systemSegment(0x2, 0xffff),
    tr: systemSegment(0xb, 0xffff),
    gdtr: { base: 0n, limit: 0xffff },
    idtr: { base: 0n, limit: 0xffff },
    cr0: 0x6000_0010n,
    cr2: 0n,
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
    halted: false,
  };
}
