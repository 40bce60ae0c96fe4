/**
 * Lazy EFLAGS. ALU instructions record their kind, operands and result;
 * CF/PF/AF/ZF/SF/OF are computed only when something reads them (Jcc,
 * PUSHF, ADC...). `flags` holds EFLAGS with the bits listed in `lazy`
 * stale; those come from the last recorded operation.
 */
import { AF, ARITH_FLAGS, CF, OF, PF, SF, ZF } from './constants.js';

export const enum FlagOp {
  /** a + b (+ carry): CF/OF/AF from the carry chain. */
  Add = 0,
  /** a - b (- borrow). */
  Sub = 1,
  /** Result-only: CF=OF=AF=0 (AND/OR/XOR/TEST). */
  Logic = 2,
}

/** PF: set when the low byte of the result has an even number of 1 bits. */
export const PARITY = new Uint8Array(256).map((_, i) => {
  let b = i;
  b ^= b >> 4;
  b ^= b >> 2;
  b ^= b >> 1;
  return b & 1 ? 0 : PF;
});

export function signBit(size: number): number {
  return size === 1 ? 0x80 : size === 2 ? 0x8000 : 0x8000_0000;
}

/**
 * The lazy word (FlagState.lazy) packs the whole description of the last
 * record but its numbers: the stale flags (EFLAGS bits, all below bit 12),
 * the operation (bits 12-13) and the operand size (bits 14-15: 0, 1, 2 for
 * 1, 2, 4 bytes). Translated code then stores one constant where it would
 * store three (codegen.ts), and a word without stale flags is 0.
 */
const OP_SHIFT = 12;
const SIZE_SHIFT = 14;
/** Sign-bit masks by size code, as int32 bits. */
const SIGN_BITS = Int32Array.of(0x80, 0x8000, -0x8000_0000);

/** The lazy word of a record of `op` on `size`-byte operands leaving the flags `stale` to compute. */
export function lazyWord(op: FlagOp, size: number, stale: number): number {
  return stale | (op << OP_SHIFT) | ((size >> 1) << SIZE_SHIFT);
}

export class FlagState {
  /** EFLAGS, except for the stale bits of `lazy`. Bit 1 is always set. */
  flags = 2;
  /** The lazy word (lazyWord): which flags are stale in `flags` and how the record computes them. */
  lazy = 0;
  // The record's numbers are kept as int32 bits (`| 0`): every flag is computed from them with
  // bitwise operators or `=== 0`, and V8 then stores them as small integers, not as boxed doubles.
  lA = 0;
  lB = 0;
  /** Result masked to the operand size. */
  lR = 0;

  /** Records an ALU result: every arithmetic flag becomes lazy. */
  setLazy(op: FlagOp, a: number, b: number, r: number, size: number): void {
    this.lA = a | 0;
    this.lB = b | 0;
    this.lR = r | 0;
    this.lazy = lazyWord(op, size, ARITH_FLAGS);
  }

  /** Records a result whose CF/OF/AF the instruction computed itself (shifts, multiplies). */
  setResultFlags(r: number, size: number, cfOfAf: number): void {
    this.lR = r | 0;
    this.flags = (this.flags & ~(CF | OF | AF)) | (cfOfAf & (CF | OF | AF));
    this.lazy = lazyWord(FlagOp.Logic, size, ZF | SF | PF);
  }

  /** The operation of the record. */
  private get lOp(): FlagOp {
    return (this.lazy >> OP_SHIFT) & 3;
  }

  /** Sign-bit mask of the record's operand size. */
  private get lSign(): number {
    return SIGN_BITS[this.lazy >>> SIZE_SHIFT]!;
  }

  cf(): number {
    if (!(this.lazy & CF)) return this.flags & CF;
    const { lA: a, lB: b, lR: r } = this;
    switch (this.lOp) {
      case FlagOp.Add:
        return ((a & b) | ((a | b) & ~r)) & this.lSign ? 1 : 0;
      case FlagOp.Sub:
        return ((~a & b) | ((~a | b) & r)) & this.lSign ? 1 : 0;
      default:
        return 0;
    }
  }

  of(): boolean {
    if (!(this.lazy & OF)) return (this.flags & OF) !== 0;
    const { lA: a, lB: b, lR: r } = this;
    switch (this.lOp) {
      case FlagOp.Add:
        return ((a ^ r) & (b ^ r) & this.lSign) !== 0;
      case FlagOp.Sub:
        return ((a ^ b) & (a ^ r) & this.lSign) !== 0;
      default:
        return false;
    }
  }

  af(): boolean {
    if (!(this.lazy & AF)) return (this.flags & AF) !== 0;
    return this.lOp !== FlagOp.Logic && ((this.lA ^ this.lB ^ this.lR) & 0x10) !== 0;
  }

  zf(): boolean {
    return this.lazy & ZF ? this.lR === 0 : (this.flags & ZF) !== 0;
  }

  sf(): boolean {
    return this.lazy & SF ? (this.lR & this.lSign) !== 0 : (this.flags & SF) !== 0;
  }

  pf(): boolean {
    return this.lazy & PF ? PARITY[this.lR & 0xff] !== 0 : (this.flags & PF) !== 0;
  }

  /** The six arithmetic flags as EFLAGS bits. */
  arithFlags(): number {
    if (!(this.lazy & ARITH_FLAGS)) return this.flags & ARITH_FLAGS;
    return (
      (this.cf() ? CF : 0) |
      (this.pf() ? PF : 0) |
      (this.af() ? AF : 0) |
      (this.zf() ? ZF : 0) |
      (this.sf() ? SF : 0) |
      (this.of() ? OF : 0)
    );
  }

  /** Folds the lazy bits into `flags`. */
  materialize(): void {
    if (!(this.lazy & ARITH_FLAGS)) return;
    this.flags = (this.flags & ~ARITH_FLAGS) | this.arithFlags();
    this.lazy = 0;
  }

  /**
   * Sets the arithmetic flags selected by `mask` to `bits` (others
   * unchanged). Each lazy flag follows from the record alone, so the others
   * may stay lazy (a rotate, which sets only CF and OF, computes nothing).
   */
  setArith(mask: number, bits: number): void {
    this.flags = (this.flags & ~mask) | (bits & mask);
    this.lazy &= ~mask;
  }

  /** Condition codes of Jcc/SETcc/CMOVcc (SDM Vol. 1, Appendix B), `cc` = low nibble of the opcode. */
  condition(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0:
        r = this.of();
        break;
      case 1:
        r = this.cf() !== 0;
        break;
      case 2:
        r = this.zf();
        break;
      case 3:
        r = this.cf() !== 0 || this.zf();
        break;
      case 4:
        r = this.sf();
        break;
      case 5:
        r = this.pf();
        break;
      case 6:
        r = this.sf() !== this.of();
        break;
      default:
        r = this.zf() || this.sf() !== this.of();
        break;
    }
    return cc & 1 ? !r : r;
  }
}
