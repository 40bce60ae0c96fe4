/**
 * Integer arithmetic and logic (SDM Vol. 2: ADD ADC SUB SBB AND OR XOR CMP
 * TEST INC DEC NEG NOT MUL IMUL DIV IDIV). One definition per operation:
 * `alu` computes a result and records lazy flags; the handlers below only
 * route operands (register, memory, immediate) to it.
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { FlagOp } from './flags.js';
import { CF, EAX, EDX, OF } from './constants.js';
import { deFault } from './exceptions.js';

export const enum AluOp {
  Add = 0,
  Or = 1,
  Adc = 2,
  Sbb = 3,
  And = 4,
  Sub = 5,
  Xor = 6,
  Cmp = 7,
}

/** Truncates to the operand size as an unsigned number. */
export function trunc(v: number, size: number): number {
  return size === 4 ? v >>> 0 : v & (size === 2 ? 0xffff : 0xff);
}

/** Sign-extends a `size`-byte value to a signed 32-bit number. */
export function signExtend(v: number, size: number): number {
  return size === 4 ? v | 0 : size === 2 ? (v << 16) >> 16 : (v << 24) >> 24;
}

export function alu(c: Cpu, op: number, a: number, b: number, size: number): number {
  let r: number;
  switch (op) {
    case AluOp.Add:
      r = trunc(a + b, size);
      c.setLazy(FlagOp.Add, a, b, r, size);
      return r;
    case AluOp.Or:
      r = trunc(a | b, size);
      c.setLazy(FlagOp.Logic, a, b, r, size);
      return r;
    case AluOp.Adc:
      r = trunc(a + b + c.cf(), size);
      c.setLazy(FlagOp.Add, a, b, r, size);
      return r;
    case AluOp.Sbb:
      r = trunc(a - b - c.cf(), size);
      c.setLazy(FlagOp.Sub, a, b, r, size);
      return r;
    case AluOp.And:
      r = trunc(a & b, size);
      c.setLazy(FlagOp.Logic, a, b, r, size);
      return r;
    case AluOp.Xor:
      r = trunc(a ^ b, size);
      c.setLazy(FlagOp.Logic, a, b, r, size);
      return r;
    default: // Sub, Cmp
      r = trunc(a - b, size);
      c.setLazy(FlagOp.Sub, a, b, r, size);
      return r;
  }
}

/** Applies `op` with source `b` to the r/m operand (read-modify-write unless CMP). */
function aluToE(c: Cpu, d: Insn, op: number, b: number): void {
  if (d.mod === 3) {
    const r = alu(c, op, c.reg(d.rm, d.size), b, d.size);
    if (op !== AluOp.Cmp) c.setReg(d.rm, d.size, r);
    return;
  }
  if (op === AluOp.Cmp) {
    alu(c, op, c.readLin(c.eaLinear(d, false), d.size), b, d.size);
    return;
  }
  const lin = c.eaLinear(d, true);
  const a = c.mmu.readForWrite(lin, d.size as 1 | 2 | 4);
  c.writeLin(lin, d.size, alu(c, op, a, b, d.size));
}

/** 00/01, 08/09 ... 38/39: op Eb/Ev, Gb/Gv. */
export function aluEG(c: Cpu, d: Insn): void {
  aluToE(c, d, (d.op >> 3) & 7, c.reg(d.reg, d.size));
}

/** 02/03 ... 3A/3B: op Gb/Gv, Eb/Ev. */
export function aluGE(c: Cpu, d: Insn): void {
  const op = (d.op >> 3) & 7;
  const r = alu(c, op, c.reg(d.reg, d.size), c.readE(d), d.size);
  if (op !== AluOp.Cmp) c.setReg(d.reg, d.size, r);
}

/** 04/05 ... 3C/3D: op AL/eAX, imm. */
export function aluAI(c: Cpu, d: Insn): void {
  const op = (d.op >> 3) & 7;
  const r = alu(c, op, c.reg(EAX, d.size), d.imm, d.size);
  if (op !== AluOp.Cmp) c.setReg(EAX, d.size, r);
}

/** 80/81/82/83: group 1, op Eb/Ev, imm. */
export function aluGroup1(c: Cpu, d: Insn): void {
  aluToE(c, d, d.reg, d.imm);
}

/** 84/85: TEST Eb/Ev, Gb/Gv. */
export function testEG(c: Cpu, d: Insn): void {
  alu(c, AluOp.And, c.readE(d), c.reg(d.reg, d.size), d.size);
}

/** A8/A9: TEST AL/eAX, imm. */
export function testAI(c: Cpu, d: Insn): void {
  alu(c, AluOp.And, c.reg(EAX, d.size), d.imm, d.size);
}

/** INC/DEC: like ADD/SUB 1 but CF is preserved. */
export function incDec(c: Cpu, a: number, size: number, dec: boolean): number {
  const cf = c.cf();
  const r = trunc(dec ? a - 1 : a + 1, size);
  c.setLazy(dec ? FlagOp.Sub : FlagOp.Add, a, 1, r, size);
  c.flags = (c.flags & ~CF) | cf;
  c.lazy &= ~CF;
  return r;
}

/** 40-4F: INC/DEC r16/r32. */
export function incDecReg(c: Cpu, d: Insn): void {
  const r = d.op & 7;
  c.setReg(r, d.size, incDec(c, c.reg(r, d.size), d.size, (d.op & 8) !== 0));
}

/** INC/DEC Eb/Ev (FE /0 /1, FF /0 /1). */
export function incDecE(c: Cpu, d: Insn): void {
  const dec = d.reg === 1;
  if (d.mod === 3) {
    c.setReg(d.rm, d.size, incDec(c, c.reg(d.rm, d.size), d.size, dec));
    return;
  }
  const lin = c.eaLinear(d, true);
  const a = c.mmu.readForWrite(lin, d.size as 1 | 2 | 4);
  c.writeLin(lin, d.size, incDec(c, a, d.size, dec));
}

/** High half of the last mul32/imul32 (returned through a variable: no allocation per multiply). */
let productHigh = 0;

/** 32x32 -> 64 unsigned multiply: returns the low half, leaves the high half in productHigh. */
function mul32(a: number, b: number): number {
  const aL = a & 0xffff;
  const aH = a >>> 16;
  const bL = b & 0xffff;
  const bH = b >>> 16;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  productHigh = (aH * bH + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 0x10000)) >>> 0;
  return (((mid & 0xffff) << 16) | (ll & 0xffff)) >>> 0;
}

/** Signed 32x32 -> 64 multiply (two's complement): low half returned, high half in productHigh. */
function imul32(a: number, b: number): number {
  const lo = mul32(a >>> 0, b >>> 0);
  let h = productHigh;
  if (a & 0x8000_0000) h -= b >>> 0;
  if (b & 0x8000_0000) h -= a >>> 0;
  productHigh = h >>> 0;
  return lo;
}

/** Sets CF=OF=overflow and the result flags of a multiply (SF/ZF/PF undefined: from the low result). */
function mulFlags(c: Cpu, low: number, size: number, overflow: boolean): void {
  c.setResultFlags(low, size, overflow ? CF | OF : 0);
}

/** F6/F7 group 3: TEST NOT NEG MUL IMUL DIV IDIV. */
export function group3(c: Cpu, d: Insn): void {
  const size = d.size;
  switch (d.reg) {
    case 0:
    case 1:
      alu(c, AluOp.And, c.readE(d), d.imm, size);
      return;
    case 2:
      rmwE(c, d, (a) => trunc(~a, size));
      return;
    case 3:
      rmwE(c, d, (a) => {
        const r = trunc(-a, size);
        c.setLazy(FlagOp.Sub, 0, a, r, size);
        return r;
      });
      return;
    case 4:
      mulUnsigned(c, c.readE(d), size);
      return;
    case 5:
      mulSigned(c, c.readE(d), size);
      return;
    case 6:
      divUnsigned(c, c.readE(d), size);
      return;
    default:
      divSigned(c, c.readE(d), size);
  }
}

/** Read-modify-write of the r/m operand through `f`. */
export function rmwE(c: Cpu, d: Insn, f: (a: number) => number): void {
  if (d.mod === 3) {
    c.setReg(d.rm, d.size, f(c.reg(d.rm, d.size)));
    return;
  }
  const lin = c.eaLinear(d, true);
  const a = c.mmu.readForWrite(lin, d.size as 1 | 2 | 4);
  c.writeLin(lin, d.size, f(a));
}

function mulUnsigned(c: Cpu, src: number, size: number): void {
  if (size === 1) {
    const r = (c.regs[EAX]! & 0xff) * src;
    c.setReg(EAX, 2, r);
    mulFlags(c, r & 0xff, 1, r > 0xff);
  } else if (size === 2) {
    const r = (c.regs[EAX]! & 0xffff) * src;
    c.setReg(EAX, 2, r & 0xffff);
    c.setReg(EDX, 2, r >>> 16);
    mulFlags(c, r & 0xffff, 2, r > 0xffff);
  } else {
    const lo = mul32(c.regs[EAX]!, src);
    c.regs[EAX] = lo;
    c.regs[EDX] = productHigh;
    mulFlags(c, lo, 4, productHigh !== 0);
  }
}

function mulSigned(c: Cpu, src: number, size: number): void {
  if (size === 1) {
    const r = signExtend(c.regs[EAX]!, 1) * signExtend(src, 1);
    c.setReg(EAX, 2, r & 0xffff);
    mulFlags(c, r & 0xff, 1, r !== signExtend(r & 0xff, 1));
  } else if (size === 2) {
    const r = signExtend(c.regs[EAX]!, 2) * signExtend(src, 2);
    c.setReg(EAX, 2, r & 0xffff);
    c.setReg(EDX, 2, (r >> 16) & 0xffff);
    mulFlags(c, r & 0xffff, 2, r !== signExtend(r & 0xffff, 2));
  } else {
    const lo = imul32(c.regs[EAX]!, src);
    c.regs[EAX] = lo;
    c.regs[EDX] = productHigh;
    mulFlags(c, lo, 4, productHigh !== (lo & 0x8000_0000 ? 0xffff_ffff : 0));
  }
}

/** IMUL with a truncated result: 0F AF, 69, 6B. */
function imulTruncated(c: Cpu, a: number, b: number, size: number): number {
  if (size === 2) {
    const r = signExtend(a, 2) * signExtend(b, 2);
    mulFlags(c, r & 0xffff, 2, r !== signExtend(r & 0xffff, 2));
    return r & 0xffff;
  }
  // The double product is exact whenever it fits 32 bits, and far from any int32 when it does not.
  const lo = Math.imul(a, b);
  mulFlags(c, lo >>> 0, 4, (a | 0) * (b | 0) !== lo);
  return lo >>> 0;
}

/** 0F AF: IMUL Gv, Ev. */
export function imulGE(c: Cpu, d: Insn): void {
  c.setReg(d.reg, d.size, imulTruncated(c, c.reg(d.reg, d.size), c.readE(d), d.size));
}

/** 69/6B: IMUL Gv, Ev, imm. */
export function imulGEI(c: Cpu, d: Insn): void {
  c.setReg(d.reg, d.size, imulTruncated(c, c.readE(d), d.imm, d.size));
}

function divUnsigned(c: Cpu, src: number, size: number): void {
  if (src === 0) throw deFault();
  if (size === 1) {
    const n = c.regs[EAX]! & 0xffff;
    const q = Math.floor(n / src);
    if (q > 0xff) throw deFault();
    c.setReg(EAX, 2, ((n % src) << 8) | q);
  } else if (size === 2) {
    const n = ((c.regs[EDX]! & 0xffff) * 0x10000 + (c.regs[EAX]! & 0xffff)) >>> 0;
    const q = Math.floor(n / src);
    if (q > 0xffff) throw deFault();
    c.setReg(EAX, 2, q);
    c.setReg(EDX, 2, n % src);
  } else {
    const hi = c.regs[EDX]!;
    const lo = c.regs[EAX]!;
    if (hi >= src) throw deFault();
    if (hi < 0x20_0000) {
      // The dividend fits a double's 53 bits exactly, and so does n - r: the
      // quotient is an exact division (n / src rounded could land on the next integer).
      const n = hi * 0x1_0000_0000 + lo;
      const r = n % src;
      c.regs[EAX] = (n - r) / src;
      c.regs[EDX] = r;
    } else {
      const n = (BigInt(hi) << 32n) | BigInt(lo);
      const s = BigInt(src);
      c.regs[EAX] = Number(n / s);
      c.regs[EDX] = Number(n % s);
    }
  }
}

function divSigned(c: Cpu, src: number, size: number): void {
  if (src === 0) throw deFault();
  const s = signExtend(src, size);
  if (size === 1) {
    const n = signExtend(c.regs[EAX]!, 2);
    const q = Math.trunc(n / s);
    if (q > 0x7f || q < -0x80) throw deFault();
    c.setReg(EAX, 2, (((n % s) & 0xff) << 8) | (q & 0xff));
  } else if (size === 2) {
    const n = ((c.regs[EDX]! & 0xffff) << 16) | (c.regs[EAX]! & 0xffff);
    const q = Math.trunc(n / s);
    if (q > 0x7fff || q < -0x8000) throw deFault();
    c.setReg(EAX, 2, q & 0xffff);
    c.setReg(EDX, 2, (n % s) & 0xffff);
  } else {
    const n = (BigInt(c.regs[EDX]! | 0) << 32n) | BigInt(c.regs[EAX]!);
    const bs = BigInt(s);
    const q = n / bs;
    if (q > 0x7fff_ffffn || q < -0x8000_0000n) throw deFault();
    c.regs[EAX] = Number(BigInt.asUintN(32, q));
    c.regs[EDX] = Number(BigInt.asUintN(32, n % bs));
  }
}

