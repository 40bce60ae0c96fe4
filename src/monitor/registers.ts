/**
 * `info registers` in QEMU's layout (target/i386/cpu-dump.c): general
 * registers, EIP/EFL with the flag letters, segment caches with the
 * descriptor's attribute word, table registers, control and debug
 * registers, EFER. tsvm's CpuState has no debug or FPU registers, so DR0-7
 * show their power-on values and the FPU block is left out.
 */
import type { CpuState, SegmentState } from '../accel/cpu-state.js';

const CR0_PE = 1n;
const EFER_LMA = 1n << 10n;
const SYS_TYPES_32 = ['Reserved', 'TSS16-avl', 'LDT', 'TSS16-busy', 'CallGate16', 'TaskGate', 'IntGate16', 'TrapGate16',
  'Reserved', 'TSS32-avl', 'Reserved', 'TSS32-busy', 'CallGate32', 'Reserved', 'IntGate32', 'TrapGate32'];
const SYS_TYPES_64 = ['<hiword>', 'Reserved', 'LDT', 'Reserved', 'Reserved', 'Reserved', 'Reserved', 'Reserved',
  'Reserved', 'TSS64-avl', 'Reserved', 'TSS64-busy', 'CallGate64', 'Reserved', 'IntGate64', 'TrapGate64'];

export interface RegisterContext {
  a20: boolean;
  /**
   * Whether the segment flags carry limit bits 19:16. QEMU's TCG keeps the
   * descriptor's whole high dword; under KVM it rebuilds the flags from
   * kvm_segment, without them. tsvm prints what QEMU prints for each.
   */
  limitInFlags: boolean;
}

export function hex(v: bigint | number, digits: number): string {
  return BigInt.asUintN(digits * 4, BigInt(v)).toString(16).padStart(digits, '0');
}

/** The descriptor's high dword as QEMU keeps it in SegmentCache.flags: attributes, optionally limit bits 19:16. */
export function segmentFlags(s: SegmentState, withLimit: boolean): number {
  const rawLimit = s.g ? s.limit >>> 12 : s.limit;
  return (
    ((s.type & 0xf) << 8) |
    (withLimit ? ((rawLimit >>> 16) & 0xf) << 16 : 0) |
    (s.s ? 1 << 12 : 0) |
    ((s.dpl & 3) << 13) |
    (s.present ? 1 << 15 : 0) |
    (s.avl ? 1 << 20 : 0) |
    (s.l ? 1 << 21 : 0) |
    (s.db ? 1 << 22 : 0) |
    (s.g ? 1 << 23 : 0)
  ) >>> 0;
}

export function is64BitCode(st: CpuState): boolean {
  return (st.efer & EFER_LMA) !== 0n && st.seg.cs.l;
}

export function formatRegisters(st: CpuState, ctx: RegisterContext): string {
  const cs64 = is64BitCode(st);
  const lma = (st.efer & EFER_LMA) !== 0n;
  const pe = (st.cr0 & CR0_PE) !== 0n;
  const g = st.gpr;
  const fl = Number(st.rflags & 0xffff_ffffn);
  const letters = [[0x400, 'D'], [0x800, 'O'], [0x80, 'S'], [0x40, 'Z'], [0x10, 'A'], [0x4, 'P'], [0x1, 'C']]
    .map(([bit, ch]) => (fl & (bit as number) ? ch : '-')).join('');
  const tail = `[${letters}] CPL=${st.seg.cs.dpl} II=0 A20=${ctx.a20 ? 1 : 0} SMM=0 HLT=${st.halted ? 1 : 0}`;
  const lines: string[] = [];
  if (cs64) {
    const r = (i: number) => hex(g[i]!, 16);
    lines.push(`RAX=${r(0)} RBX=${r(3)} RCX=${r(1)} RDX=${r(2)}`);
    lines.push(`RSI=${r(6)} RDI=${r(7)} RBP=${r(5)} RSP=${r(4)}`);
    lines.push(`R8 =${r(8)} R9 =${r(9)} R10=${r(10)} R11=${r(11)}`);
    lines.push(`R12=${r(12)} R13=${r(13)} R14=${r(14)} R15=${r(15)}`);
    lines.push(`RIP=${hex(st.rip, 16)} RFL=${hex(fl, 8)} ${tail}`);
  } else {
    const r = (i: number) => hex(g[i]!, 8);
    lines.push(`EAX=${r(0)} EBX=${r(3)} ECX=${r(1)} EDX=${r(2)}`);
    lines.push(`ESI=${r(6)} EDI=${r(7)} EBP=${r(5)} ESP=${r(4)}`);
    lines.push(`EIP=${hex(st.rip, 8)} EFL=${hex(fl, 8)} ${tail}`);
  }
  const segs: [string, SegmentState][] = [['ES', st.seg.es], ['CS', st.seg.cs], ['SS', st.seg.ss], ['DS', st.seg.ds],
    ['FS', st.seg.fs], ['GS', st.seg.gs], ['LDT', st.ldtr], ['TR', st.tr]];
  for (const [name, s] of segs) lines.push(formatSegment(name, s, { cs64, lma, pe, limitInFlags: ctx.limitInFlags }));
  const w = lma ? 16 : 8;
  lines.push(`GDT=     ${hex(st.gdtr.base, w)} ${hex(st.gdtr.limit, 8)}`);
  lines.push(`IDT=     ${hex(st.idtr.base, w)} ${hex(st.idtr.limit, 8)}`);
  lines.push(`CR0=${hex(st.cr0, 8)} CR2=${hex(st.cr2, w)} CR3=${hex(st.cr3, w)} CR4=${hex(st.cr4, 8)}`);
  // QEMU prints debug registers as target_ulong: 16 digits on qemu-system-x86_64 whatever the mode.
  lines.push('DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 ');
  lines.push('DR6=00000000ffff0ff0 DR7=0000000000000400');
  lines.push(`EFER=${hex(st.efer, 16)}`);
  return lines.join('\n') + '\n';
}

function formatSegment(name: string, s: SegmentState, mode: { cs64: boolean; lma: boolean; pe: boolean; limitInFlags: boolean }): string {
  const flags = segmentFlags(s, mode.limitInFlags) & 0x00ffff00;
  const base = mode.cs64 ? hex(s.base, 16) : hex(s.base, 8);
  let line = `${name.padEnd(3)}=${hex(s.selector, 4)} ${base} ${hex(s.limit, 8)} ${hex(flags, 8)}`;
  if (!mode.pe || !s.present) return line;
  line += ` DPL=${s.dpl} `;
  if (!s.s) return line + (mode.lma ? SYS_TYPES_64 : SYS_TYPES_32)[s.type & 0xf];
  const code = (s.type & 8) !== 0;
  if (code) {
    line += s.l ? 'CS64' : s.db ? 'CS32' : 'CS16';
    line += ` [${s.type & 4 ? 'C' : '-'}${s.type & 2 ? 'R' : '-'}`;
  } else {
    line += s.db || mode.lma ? 'DS  ' : 'DS16';
    line += ` [${s.type & 4 ? 'E' : '-'}${s.type & 2 ? 'W' : '-'}`;
  }
  return line + `${s.type & 1 ? 'A' : '-'}]`;
}
