/**
 * The `g`/`G`/`p`/`P` register values: CpuState fields in the order of
 * target-description.ts, little-endian hex. The x87 and SSE registers,
 * k_gs_base and cr8 are not in CpuState: they read as their power-on
 * values (FCW 0x37f, MXCSR 0x1f80, else 0). Writes to them, and to the
 * segment bases and control registers (which gdb sends back unchanged in
 * every G packet), are ignored.
 */
import type { CpuState, SegmentName } from '../accel/cpu-state.js';
import { registers, type Arch } from './target-description.js';

/** CpuState gpr index of each named general register. */
const GPR_INDEX: Record<string, number> = {
  eax: 0, ecx: 1, edx: 2, ebx: 3, esp: 4, ebp: 5, esi: 6, edi: 7,
  rax: 0, rcx: 1, rdx: 2, rbx: 3, rsp: 4, rbp: 5, rsi: 6, rdi: 7,
  r8: 8, r9: 9, r10: 10, r11: 11, r12: 12, r13: 13, r14: 14, r15: 15,
};
const SEGMENTS = new Set(['cs', 'ss', 'ds', 'es', 'fs', 'gs']);
const POWER_ON: Record<string, bigint> = { fctrl: 0x37fn, mxcsr: 0x1f80n };
const SYSTEM_READERS: Record<string, (st: CpuState) => bigint> = {
  fs_base: (st) => st.seg.fs.base,
  gs_base: (st) => st.seg.gs.base,
  cr0: (st) => st.cr0,
  cr2: (st) => st.cr2,
  cr3: (st) => st.cr3,
  cr4: (st) => st.cr4,
  efer: (st) => st.efer,
};

export function toHexLe(value: bigint, bytes: number): string {
  let out = '';
  let v = BigInt.asUintN(bytes * 8, value);
  for (let i = 0; i < bytes; i++) {
    out += (v & 0xffn).toString(16).padStart(2, '0');
    v >>= 8n;
  }
  return out;
}

export function fromHexLe(hex: string): bigint {
  let v = 0n;
  for (let i = hex.length - 2; i >= 0; i -= 2) v = (v << 8n) | BigInt(parseInt(hex.slice(i, i + 2), 16));
  return v;
}

function readRegister(st: CpuState, name: string): bigint {
  if (name in GPR_INDEX) return st.gpr[GPR_INDEX[name]!]!;
  if (name === 'eip' || name === 'rip') return st.rip;
  if (name === 'eflags') return st.rflags;
  if (SEGMENTS.has(name)) return BigInt(st.seg[name as SegmentName].selector);
  return SYSTEM_READERS[name]?.(st) ?? POWER_ON[name] ?? 0n;
}

/**
 * Writes one register into `st`. A segment register takes the new selector
 * and a real-mode style base (selector << 4) outside protected mode, as a
 * debugger user expects; in protected mode only the selector changes.
 */
function writeRegister(st: CpuState, name: string, value: bigint, bits: number): void {
  if (name in GPR_INDEX) {
    const i = GPR_INDEX[name]!;
    st.gpr[i] = bits === 32 ? (st.gpr[i]! & ~0xffff_ffffn) | (value & 0xffff_ffffn) : value;
  } else if (name === 'eip' || name === 'rip') st.rip = value;
  else if (name === 'eflags') st.rflags = (value & 0xffff_ffffn) | 2n;
  else if (SEGMENTS.has(name)) {
    const seg = st.seg[name as SegmentName];
    seg.selector = Number(value & 0xffffn);
    if ((st.cr0 & 1n) === 0n) seg.base = BigInt(seg.selector << 4);
  }
}

export function readAll(st: CpuState, arch: Arch): string {
  return registers(arch).map((r) => toHexLe(readRegister(st, r.name), r.bits / 8)).join('');
}

/** Applies a `G` payload; returns false when it is shorter than the register file. */
export function writeAll(st: CpuState, arch: Arch, hex: string): boolean {
  let at = 0;
  for (const r of registers(arch)) {
    const len = r.bits / 4;
    if (at + len > hex.length) return false;
    writeRegister(st, r.name, fromHexLe(hex.slice(at, at + len)), r.bits);
    at += len;
  }
  return true;
}

export function readOne(st: CpuState, arch: Arch, regnum: number): string | undefined {
  const r = registers(arch)[regnum];
  return r && toHexLe(readRegister(st, r.name), r.bits / 8);
}

export function writeOne(st: CpuState, arch: Arch, regnum: number, hex: string): boolean {
  const r = registers(arch)[regnum];
  if (!r || hex.length !== r.bits / 4) return false;
  writeRegister(st, r.name, fromHexLe(hex), r.bits);
  return true;
}
