/**
 * Bit instructions (SDM Vol. 2: BT BTS BTR BTC BSF BSR BSWAP). BT* with a
 * register bit offset and a memory operand address the bit string beyond
 * the operand (the offset is signed); immediate offsets are taken modulo
 * the operand size.
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { CF, ZF } from './constants.js';
import { signExtend } from './alu.js';
import { udFault } from './exceptions.js';

/** 0=BT 1=BTS 2=BTR 3=BTC. */
function bitOp(c: Cpu, d: Insn, kind: number, offset: number, fromReg: boolean): void {
  const bits = d.size * 8;
  if (d.mod === 3) {
    const bit = offset & (bits - 1);
    const a = c.reg(d.rm, d.size);
    c.setArith(CF, (a >>> bit) & 1);
    if (kind !== 0) c.setReg(d.rm, d.size, modify(a, bit, kind));
    return;
  }
  let ea = c.ea(d);
  let bit = offset & (bits - 1);
  if (fromReg) {
    const signed = signExtend(offset, d.size);
    const unit = Math.floor(signed / bits);
    ea = d.a32 ? (ea + unit * d.size) >>> 0 : (ea + unit * d.size) & 0xffff;
    bit = signed - unit * bits;
  }
  if (kind === 0) {
    const a = c.read(d.seg, ea, d.size);
    c.setArith(CF, (a >>> bit) & 1);
    return;
  }
  const lin = c.linear(d.seg, ea, d.size, true);
  const a = c.mmu.readForWrite(lin, d.size as 1 | 2 | 4);
  c.setArith(CF, (a >>> bit) & 1);
  c.writeLin(lin, d.size, modify(a, bit, kind));
}

function modify(a: number, bit: number, kind: number): number {
  const m = (1 << bit) >>> 0;
  return (kind === 1 ? a | m : kind === 2 ? a & ~m : a ^ m) >>> 0;
}

/** 0F A3/AB/B3/BB: BT/BTS/BTR/BTC Ev, Gv. */
export function btEG(c: Cpu, d: Insn): void {
  const kind = d.op === 0x1a3 ? 0 : d.op === 0x1ab ? 1 : d.op === 0x1b3 ? 2 : 3;
  bitOp(c, d, kind, c.reg(d.reg, d.size), true);
}

/** 0F BA /4-/7: BT/BTS/BTR/BTC Ev, imm8. */
export function btGroup8(c: Cpu, d: Insn): void {
  if (d.reg < 4) {
    throw udFault();
  }
  bitOp(c, d, d.reg - 4, d.imm, false);
}

/** 0F BC/BD: BSF/BSR. Source 0: ZF=1, destination unchanged (what Intel parts do). */
export function bitScan(c: Cpu, d: Insn): void {
  const src = c.readE(d);
  if (src === 0) {
    c.setArith(ZF, ZF);
    return;
  }
  c.setArith(ZF, 0);
  const index = d.op === 0x1bc ? 31 - Math.clz32(src & -src) : 31 - Math.clz32(src);
  c.setReg(d.reg, d.size, index);
}

/** 0F C8+r: BSWAP r32 (16-bit form undefined: clears the register's low word, as Intel parts do). */
export function bswap(c: Cpu, d: Insn): void {
  const r = d.op & 7;
  if (d.size === 2) {
    c.setReg(r, 2, 0);
    return;
  }
  const v = c.regs[r]!;
  c.regs[r] = ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) >>> 0;
}
