/**
 * A register dump in the layout of QEMU's `info registers` / cpu_dump_state
 * (x86 long form), for `-d cpu` when KVM gives up on the guest.
 */
import { GPR_NAMES, SEGMENT_NAMES, type CpuState, type SegmentState } from '../cpu-state.js';

const hex = (v: bigint, digits: number): string => BigInt.asUintN(digits * 4, v).toString(16).padStart(digits, '0');

export function formatCpuState(s: CpuState): string {
  const lines: string[] = [];
  const gpr = GPR_NAMES.map((n, i) => `${n.toUpperCase()}=${hex(s.gpr[i] ?? 0n, 16)}`);
  for (let i = 0; i < gpr.length; i += 4) lines.push(gpr.slice(i, i + 4).join(' '));
  lines.push(`RIP=${hex(s.rip, 16)} RFL=${hex(s.rflags, 8)} HLT=${s.halted ? 1 : 0}`);
  for (const name of SEGMENT_NAMES) lines.push(segmentLine(name.toUpperCase(), s.seg[name]));
  lines.push(segmentLine('LDT', s.ldtr), segmentLine('TR', s.tr));
  lines.push(`GDT=     ${hex(s.gdtr.base, 16)} ${hex(BigInt(s.gdtr.limit), 8)}`);
  lines.push(`IDT=     ${hex(s.idtr.base, 16)} ${hex(BigInt(s.idtr.limit), 8)}`);
  lines.push(`CR0=${hex(s.cr0, 8)} CR2=${hex(s.cr2, 16)} CR3=${hex(s.cr3, 16)} CR4=${hex(s.cr4, 8)}`);
  lines.push(`EFER=${hex(s.efer, 16)}`);
  return lines.join('\n');
}

function segmentLine(name: string, seg: SegmentState): string {
  const flags =
    (seg.type << 8) | (Number(seg.s) << 12) | (seg.dpl << 13) | (Number(seg.present) << 15) |
    (Number(seg.avl) << 20) | (Number(seg.l) << 21) | (Number(seg.db) << 22) | (Number(seg.g) << 23);
  return `${name.padEnd(3)}=${hex(BigInt(seg.selector), 4)} ${hex(seg.base, 16)} ${hex(BigInt(seg.limit), 8)} ${hex(BigInt(flags), 8)}`;
}
