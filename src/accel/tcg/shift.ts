/**
 * Shifts and rotates (SDM Vol. 2: ROL ROR RCL RCR SHL/SAL SHR SAR, SHLD
 * SHRD). The count is masked to 5 bits; a zero count changes nothing, not
 * even flags. Rotates change only CF and OF. OF is defined for 1-bit
 * shifts; for larger counts we compute it with the same formula, as Intel
 * parts do.
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { CF, ECX, OF } from './constants.js';
import { rmwE, trunc, signExtend } from './alu.js';
import { signBit } from './flags.js';

export function shift(c: Cpu, op: number, a: number, count: number, size: number): number {
  count &= 0x1f;
  if (count === 0) return a;
  const bits = size * 8;
  const sign = signBit(size);
  let r: number;
  let cf: number;
  switch (op) {
    case 0: {
      // ROL
      const n = count & (bits - 1);
      r = n === 0 ? a : trunc((a << n) | (a >>> (bits - n)), size);
      cf = r & 1;
      c.setArith(CF | OF, cf | ((r & sign ? 1 : 0) ^ cf ? OF : 0));
      return r;
    }
    case 1: {
      // ROR
      const n = count & (bits - 1);
      r = n === 0 ? a : trunc((a >>> n) | (a << (bits - n)), size);
      cf = r & sign ? 1 : 0;
      const second = r & (sign >>> 1) ? 1 : 0;
      c.setArith(CF | OF, cf | (cf ^ second ? OF : 0));
      return r;
    }
    case 2: {
      // RCL: rotate through CF, a (bits+1)-bit rotation
      const n = count % (bits + 1);
      cf = c.cf();
      r = a;
      for (let i = 0; i < n; i++) {
        const out = r & sign ? 1 : 0;
        r = trunc(r * 2 + cf, size);
        cf = out;
      }
      c.setArith(CF | OF, cf | ((r & sign ? 1 : 0) ^ cf ? OF : 0));
      return r;
    }
    case 3: {
      // RCR
      const n = count % (bits + 1);
      cf = c.cf();
      r = a;
      for (let i = 0; i < n; i++) {
        const out = r & 1;
        r = (r >>> 1) | (cf ? sign : 0);
        r = trunc(r, size);
        cf = out;
      }
      const msb = r & sign ? 1 : 0;
      const second = r & (sign >>> 1) ? 1 : 0;
      c.setArith(CF | OF, cf | (msb ^ second ? OF : 0));
      return r;
    }
    case 4:
    case 6:
      // SHL/SAL
      r = count >= 32 ? 0 : trunc(a << count, size);
      cf = count > bits ? 0 : (a >>> (bits - count)) & 1;
      c.setResultFlags(r, size, cf | ((r & sign ? 1 : 0) ^ cf ? OF : 0));
      return r;
    case 5:
      // SHR
      cf = count > bits ? 0 : (a >>> (count - 1)) & 1;
      r = count >= bits ? 0 : a >>> count;
      c.setResultFlags(r, size, cf | (count === 1 && a & sign ? OF : 0));
      return r;
    default: {
      // SAR
      const s = signExtend(a, size);
      const n = Math.min(count, bits - 1);
      cf = (s >> Math.min(count - 1, 31)) & 1;
      r = trunc(s >> n, size);
      c.setResultFlags(r, size, cf);
      return r;
    }
  }
}

/** C0/C1 (imm8), D0/D1 (1), D2/D3 (CL): group 2. */
export function group2(c: Cpu, d: Insn): void {
  const count = d.op === 0xc0 || d.op === 0xc1 ? d.imm : d.op <= 0xd1 ? 1 : c.regs[ECX]! & 0xff;
  if ((count & 0x1f) === 0) {
    // Still a memory access (and its faults) but no write.
    c.readE(d);
    return;
  }
  if (d.mod === 3) {
    c.setReg(d.rm, d.size, shift(c, d.reg, c.reg(d.rm, d.size), count, d.size));
    return;
  }
  const lin = c.eaLinear(d, true);
  const a = c.mmu.readForWrite(lin, d.size as 1 | 2 | 4);
  c.writeLin(lin, d.size, shift(c, d.reg, a, count, d.size));
}

/**
 * SHLD/SHRD (0F A4/A5/AC/AD). For 16-bit operands with counts above 16 the
 * result is undefined; we shift the 32-bit concatenation like Intel parts.
 */
export function shiftDouble(c: Cpu, d: Insn): void {
  const count = (d.op & 1 ? c.regs[ECX]! : d.imm) & 0x1f;
  if (count === 0) {
    c.readE(d);
    return;
  }
  const left = d.op < 0x1a8;
  const size = d.size;
  const src = c.reg(d.reg, size);
  rmwE(c, d, (a) => {
    const bits = size * 8;
    let r: number;
    let cf: number;
    if (size === 2) {
      const cat = left ? (a << 16) | src : (src << 16) | a;
      if (left) {
        const wide = (cat >>> 0) * 2 ** count;
        r = trunc(Math.floor(wide / 0x10000), 2);
        cf = Math.floor(wide / 2 ** 32) & 1;
      } else {
        r = (cat >>> count) & 0xffff;
        cf = (cat >>> (count - 1)) & 1;
      }
    } else if (left) {
      r = ((a << count) | (src >>> (bits - count))) >>> 0;
      cf = (a >>> (bits - count)) & 1;
    } else {
      r = ((a >>> count) | (src << (bits - count))) >>> 0;
      cf = (a >>> (count - 1)) & 1;
    }
    const sign = signBit(size);
    c.setResultFlags(r, size, cf | ((r ^ a) & sign ? OF : 0));
    return r;
  });
}
