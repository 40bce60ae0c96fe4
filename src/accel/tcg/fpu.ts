/**
 * The x87 FPU for TCG (SDM Vol. 1 ch. 8, Vol. 2 instruction pages, opcode
 * map Vol. 2 Tables A-7..A-22).
 *
 * State: eight physical 80-bit registers kept as exact F80 values, TOP, an
 * "empty" bit per physical register (the full tag word's valid/zero/special
 * values are derived from the contents when saved, as the hardware does on
 * FSTENV/FSAVE, SDM Vol. 1 8.1.7), FCW, FSW and the last-instruction pointers.
 *
 * Exceptions (SDM Vol. 1 8.4-8.7): every instruction runs with an FpContext
 * that collects the flags it raises. commit() folds them into FSW; an
 * unmasked flag sets ES and B, an unmasked IE, DE or ZE (a pre-computation
 * exception) leaves the destination and the stack untouched. The fault is
 * delivered at the next waiting x87 instruction (or FWAIT) through
 * FpuHost.raiseMathFault, before that instruction changes anything.
 *
 * Memory stores write memory before any register or stack change, so an
 * access that faults (#PF from FpuHost.mem) leaves the FPU as it was.
 *
 * Where the SDM is silent (flag precedence, masked and unmasked responses
 * in corner cases), the behaviour is that of the x87 of the x86-64 hosts the
 * tests run on (an AMD EPYC), compared bit for bit by
 * tests/tcg/fpu-oracle.test.ts; "measured on hardware" below refers to that.
 * Where the SDM and that host disagree (compares after an unmasked invalid
 * operand), the SDM is followed.
 */
import {
  type F80,
  f80Words,
  type Format,
  FpContext,
  Kind,
  IE,
  DE,
  ZE,
  OE,
  UE,
  PE,
  SF,
  INDEFINITE,
  POS_ZERO,
  ONE,
  SINGLE,
  DOUBLE,
  EXP_MAX,
  RC_UP,
  RC_NEAREST,
  CMP_LESS,
  CMP_EQUAL,
  CMP_UNORDERED,
  abs,
  add,
  classify,
  compare,
  div,
  f80,
  fromDouble,
  fromInteger,
  fromSmallInteger,
  fromSingle,
  isNaNKind,
  mul,
  negate,
  quiet,
  sqrt,
  toBinary,
  toDoubleWords,
  toInteger,
  toSmallInteger,
  toNumber,
  zero,
  extractParts,
  remainder,
  roundToIntegralValue,
  scaleBy,
} from './fpu-float80.js';
import { f2xm1, fpatan, fyl2x, fyl2xp1, trig, trigInRange } from './fpu-transcendental.js';
import { X87_DONE, X87_UD, type FpuHost, type FpuMemory, type X87Unit } from './fpu-types.js';

// FSW bits (SDM Vol. 1 Figure 8-4).
const FSW_ES = 0x80;
const FSW_C0 = 0x100;
const FSW_C1 = 0x200;
const FSW_C2 = 0x400;
const FSW_TOP = 0x3800;
const FSW_C3 = 0x4000;
const FSW_B = 0x8000;
const FSW_CC = FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3;

// EFLAGS bits set by FCOMI and read by FCMOVcc.
const CF = 0x01;
const PF = 0x04;
const ZF = 0x40;

const FCW_INIT = 0x037f;
const FCW_RESET = 0x0040;
/** FCW bits that hold a value: bit 6 reads as 1, bits 13-15 as 0 (as measured on hardware). */
const FCW_WRITABLE = 0x1f3f;

/**
 * Constants for FLD1..FLDZ: the 64-bit truncation of the exact value and
 * whether the rest rounds it up to nearest. The 387 and later round them
 * per FCW.RC (SDM Vol. 1 8.3.8).
 */
interface Constant {
  readonly exp: number;
  readonly truncated: bigint;
  readonly nearestRoundsUp: boolean;
}
const CONSTANTS: Record<number, Constant> = {
  0xe9: { exp: 0x4000, truncated: 0xd49a784bcd1b8afen, nearestRoundsUp: false }, // log2(10)
  0xea: { exp: 0x3fff, truncated: 0xb8aa3b295c17f0bbn, nearestRoundsUp: true }, // log2(e)
  0xeb: { exp: 0x4000, truncated: 0xc90fdaa22168c234n, nearestRoundsUp: true }, // pi
  0xec: { exp: 0x3ffd, truncated: 0x9a209a84fbcff798n, nearestRoundsUp: true }, // log10(2)
  0xed: { exp: 0x3ffe, truncated: 0xb17217f7d1cf79abn, nearestRoundsUp: true }, // ln(2)
};

const BCD_MAX = 999_999_999_999_999_999n;

export class X87 implements X87Unit {
  private fcw = FCW_RESET;
  /** FSW without TOP. */
  private sw = 0;
  private top = 0;
  /** Bit p set: physical register p is empty (tag 11). */
  private empty = 0xff;
  private readonly regs: F80[] = new Array<F80>(8).fill(POS_ZERO);
  private fip = 0;
  private fcs = 0;
  private fop = 0;
  private fdp = 0;
  private fds = 0;
  /** setLastInstruction's values, kept until execute() knows whether the instruction is a control one. */
  private pendingCs = 0;
  private pendingEip = 0;
  private pendingOp = 0;
  private pendingDs = 0;
  private pendingDp = 0;
  private readonly ctx = new FpContext();
  private readonly mem: FpuMemory;

  constructor(private readonly host: FpuHost) {
    this.mem = host.mem;
  }

  // ---- X87Unit ----------------------------------------------------------

  reset(): void {
    this.init();
    this.fcw = FCW_RESET;
    this.regs.fill(POS_ZERO); // power-up contents (SDM Vol. 3A Table 9-1)
  }

  get controlWord(): number {
    return this.fcw;
  }

  get statusWord(): number {
    return this.sw | (this.top << 11);
  }

  get tagWord(): number {
    let tw = 0;
    for (let p = 0; p < 8; p++) tw |= this.tagOf(p) << (2 * p);
    return tw;
  }

  st(i: number): number {
    return toNumber(this.get(i & 7));
  }

  wait(): void {
    if (this.sw & FSW_ES) this.host.raiseMathFault();
  }

  setLastInstruction(cs: number, eip: number, opcode11: number, dataSelector: number, dataOffset: number): void {
    this.pendingCs = cs & 0xffff;
    this.pendingEip = eip >>> 0;
    this.pendingOp = opcode11 & 0x7ff;
    this.pendingDs = dataSelector & 0xffff;
    this.pendingDp = dataOffset >>> 0;
  }

  execute(opcode: number, modrm: number, linear: number, opsize32: boolean, protectedMode: boolean): number {
    const op = opcode & 7;
    const reg = (modrm >> 3) & 7;
    const isMemory = modrm < 0xc0;
    if (isMemory ? memoryFormUndefined(op, reg) : registerFormUndefined(op, modrm)) return X87_UD;
    const control = isMemory ? memoryFormIsControl(op, reg) : registerFormIsControl(op, modrm);
    // SDM Vol. 1 8.6: a pending unmasked exception is taken by the next waiting instruction,
    // before it executes; the no-wait control instructions never take it.
    const waits = !control || (isMemory && memoryFormWaits(op, reg));
    if (waits && this.sw & FSW_ES) this.host.raiseMathFault();
    if (!control) this.latchLastInstruction(isMemory);
    this.ctx.begin(this.fcw);
    return isMemory
      ? this.executeMemory(op, reg, linear >>> 0, opsize32, protectedMode)
      : this.executeRegister(op, reg, modrm & 7, modrm);
  }

  fxsave(linear: number): void {
    const a = linear >>> 0;
    const m = this.mem;
    m.write16(a, this.fcw);
    m.write16(at(a, 2), this.statusWord);
    m.write8(at(a, 4), ~this.empty & 0xff); // abridged tag: 1 = valid (SDM Vol. 1 10.5.1.1)
    m.write8(at(a, 5), 0);
    m.write16(at(a, 6), this.fop);
    m.write32(at(a, 8), this.fip);
    m.write16(at(a, 12), this.fcs);
    m.write16(at(a, 14), 0);
    m.write32(at(a, 16), this.fdp);
    m.write16(at(a, 20), this.fds);
    m.write16(at(a, 22), 0);
    for (let i = 0; i < 8; i++) this.writeExtended(at(a, 32 + 16 * i), this.get(i));
  }

  fxrstor(linear: number): void {
    const a = linear >>> 0;
    const m = this.mem;
    const fcw = m.read16(a);
    const fsw = m.read16(at(a, 2));
    const tags = m.read8(at(a, 4));
    const fop = m.read16(at(a, 6));
    const fip = m.read32(at(a, 8));
    const fcs = m.read16(at(a, 12));
    const fdp = m.read32(at(a, 16));
    const fds = m.read16(at(a, 20));
    const values: F80[] = [];
    for (let i = 0; i < 8; i++) values.push(this.readExtended(at(a, 32 + 16 * i)));
    this.loadControlWord(fcw);
    this.loadStatusWord(fsw);
    this.empty = ~tags & 0xff;
    this.fop = fop & 0x7ff;
    this.fip = fip >>> 0;
    this.fcs = fcs;
    this.fdp = fdp >>> 0;
    this.fds = fds;
    for (let i = 0; i < 8; i++) this.regs[(this.top + i) & 7] = values[i];
    this.updateErrorSummary();
  }

  // ---- register stack ---------------------------------------------------

  private phys(i: number): number {
    return (this.top + i) & 7;
  }

  private isEmpty(i: number): boolean {
    return ((this.empty >> this.phys(i)) & 1) !== 0;
  }

  private get(i: number): F80 {
    return this.regs[this.phys(i)];
  }

  private set(i: number, v: F80): void {
    const p = this.phys(i);
    this.regs[p] = v;
    this.empty &= ~(1 << p);
  }

  private pop(): void {
    this.empty |= 1 << this.top;
    this.top = (this.top + 1) & 7;
  }

  /** Tag of a physical register (SDM Vol. 1 Figure 8-7): 00 valid, 01 zero, 10 special, 11 empty. */
  private tagOf(p: number): number {
    if ((this.empty >> p) & 1) return 3;
    const k = classify(this.regs[p]);
    return k === Kind.Normal ? 0 : k === Kind.Zero ? 1 : 2;
  }

  private init(): void {
    this.fcw = FCW_INIT;
    this.sw = 0;
    this.top = 0;
    this.empty = 0xff;
    this.fip = this.fcs = this.fop = this.fdp = this.fds = 0;
  }

  private latchLastInstruction(isMemory: boolean): void {
    this.fcs = this.pendingCs;
    this.fip = this.pendingEip;
    this.fop = this.pendingOp;
    if (isMemory) {
      this.fds = this.pendingDs;
      this.fdp = this.pendingDp;
    }
  }

  // ---- exception plumbing -----------------------------------------------

  /** Stack overflow/underflow: IE with SF, C1 = 1 on overflow, 0 on underflow (SDM Vol. 1 8.5.1.1). */
  private stackFault(overflow: boolean): void {
    this.ctx.flags |= IE | SF;
    this.ctx.roundedUp = overflow;
  }

  private unmasked(): number {
    return this.ctx.flags & ~this.fcw & 0x3f;
  }

  /**
   * Folds the instruction's flags into FSW (C1 = rounded up or stack
   * overflow) and returns whether the result may be written: not after an
   * unmasked invalid-operation, denormal or zero-divide (SDM Vol. 1 8.5).
   */
  private commit(suppressing = IE | DE | ZE): boolean {
    const ctx = this.ctx;
    const unmasked = this.unmasked();
    const completes = (unmasked & suppressing) === 0;
    if (!completes) {
      // The operation stopped before computing: no rounding, no OE/UE/PE.
      ctx.flags &= IE | DE | ZE | SF;
      if (!(ctx.flags & SF)) ctx.roundedUp = false;
    }
    this.sw = (this.sw & ~FSW_C1) | (ctx.roundedUp ? FSW_C1 : 0) | (ctx.flags & 0x7f);
    if (unmasked) this.sw |= FSW_ES | FSW_B;
    return completes;
  }

  /** Whether a store to memory may happen: not after an unmasked IE, OE or UE (SDM Vol. 2 FST). */
  private storeAllowed(): boolean {
    return (this.unmasked() & (IE | OE | UE)) === 0;
  }

  private updateErrorSummary(): void {
    if (this.sw & ~this.fcw & 0x3f) this.sw |= FSW_ES | FSW_B;
    else this.sw &= ~(FSW_ES | FSW_B);
  }

  private setConditionCodes(c3: boolean, c2: boolean, c1: boolean, c0: boolean): void {
    this.sw =
      (this.sw & ~FSW_CC) | (c3 ? FSW_C3 : 0) | (c2 ? FSW_C2 : 0) | (c1 ? FSW_C1 : 0) | (c0 ? FSW_C0 : 0);
  }

  private loadControlWord(v: number): void {
    this.fcw = (v & FCW_WRITABLE) | 0x40;
  }

  private loadStatusWord(v: number): void {
    this.sw = v & ~FSW_TOP & 0xffff;
    this.top = (v >> 11) & 7;
  }

  // ---- pushing, storing, binary operations -----------------------------

  /**
   * Pushes v (FLD and friends); stack overflow replaces it with the
   * indefinite when masked. A load's DE (denormal m32fp/m64fp source) does
   * not stop it, even unmasked (as measured on hardware).
   */
  private push(v: F80): void {
    if (!this.isEmpty(7)) {
      this.stackFault(true);
      v = INDEFINITE;
    }
    if (!this.commit(IE)) return;
    this.top = (this.top - 1) & 7;
    this.set(0, v);
  }

  /** Writes the result of an operation to ST(dst) (and pops) unless an unmasked exception forbids it. */
  private writeResult(dst: number, v: F80, popAfter: boolean): void {
    if (!this.commit()) return;
    this.set(dst, v);
    if (popAfter) this.pop();
  }

  /** Underflow response for an instruction writing ST(dst): the indefinite when masked. */
  private underflowInto(dst: number, popAfter: boolean): void {
    this.stackFault(false);
    this.writeResult(dst, INDEFINITE, popAfter);
  }

  /** The arithmetic group /0 /1 /4 /5 /6 /7: dst op src (SDM Vol. 2 Table A-8 naming). */
  private arithmetic(reg: number, a: F80, b: F80): F80 {
    const ctx = this.ctx;
    switch (reg) {
      case 0:
        return add(a, b, false, ctx);
      case 1:
        return mul(a, b, ctx);
      case 4:
        return add(a, b, true, ctx);
      case 5:
        return add(b, a, true, ctx);
      case 6:
        return div(a, b, ctx);
      default:
        return div(b, a, ctx);
    }
  }

  /** ST(dst) = ST(dst) op ST(src), optionally popping (D8, DC, DE register forms). */
  private arithmeticRegisters(reg: number, dst: number, src: number, popAfter: boolean): void {
    if (this.isEmpty(dst) || this.isEmpty(src)) return this.underflowInto(dst, popAfter);
    this.writeResult(dst, this.arithmetic(reg, this.get(dst), this.get(src)), popAfter);
  }

  /** Condition codes of a comparison (SDM Vol. 2 FCOM Table 3-21): C3 C2 C0. */
  private setCompareCodes(result: number): void {
    const unordered = result === CMP_UNORDERED;
    this.setConditionCodes(unordered || result === CMP_EQUAL, unordered, false, unordered || result === CMP_LESS);
  }

  /** FCOM/FUCOM/FICOM family: compares ST(0) with b (null: ST(i) is empty) and pops `pops` times. */
  private compareInto(b: F80 | null, signaling: boolean, pops: number): void {
    let result: number;
    if (this.isEmpty(0) || b === null) {
      this.stackFault(false);
      result = CMP_UNORDERED;
    } else {
      result = compare(this.get(0), b, signaling, this.ctx);
    }
    this.ctx.roundedUp = false;
    const completes = this.commit();
    // Unmasked IE leaves C3 C2 C0 (SDM Vol. 2 FCOM; AMD parts set them to "unordered");
    // an unmasked DE still reports the comparison. Neither pops.
    if (!(this.unmasked() & IE)) this.setCompareCodes(result);
    if (completes) for (let i = 0; i < pops; i++) this.pop();
  }

  private operand(i: number): F80 | null {
    return this.isEmpty(i) ? null : this.get(i);
  }

  /** FCOMI/FUCOMI(P): the result as EFLAGS ZF PF CF (SDM Vol. 2 FCOMI Table 3-23). */
  private compareToEflags(i: number, signaling: boolean, popAfter: boolean): number {
    let result: number;
    if (this.isEmpty(0) || this.isEmpty(i)) {
      this.stackFault(false);
      result = CMP_UNORDERED;
    } else {
      result = compare(this.get(0), this.get(i), signaling, this.ctx);
    }
    this.ctx.roundedUp = false;
    const completes = this.commit();
    if (this.unmasked() & IE) {
      // Unmasked IE: ZF, PF, CF keep their values, OF, SF, AF are still cleared (SDM Vol. 2
      // FCOMI; AMD parts set ZF PF CF to "unordered" instead, Intel's rule is followed here).
      const eflags = this.host.eflags?.();
      return eflags === undefined ? X87_DONE : eflags & (ZF | PF | CF);
    }
    // An unmasked DE still reports the comparison but does not pop (as measured on hardware).
    if (completes && popAfter) this.pop();
    switch (result) {
      case CMP_LESS:
        return CF;
      case CMP_EQUAL:
        return ZF;
      case CMP_UNORDERED:
        return ZF | PF | CF;
      default:
        return 0;
    }
  }

  // ---- memory forms -----------------------------------------------------

  private executeMemory(op: number, reg: number, a: number, opsize32: boolean, protectedMode: boolean): number {
    switch (op) {
      case 0:
        this.arithmeticMemory(reg, fromSingle(this.mem.read32(a), this.ctx));
        break;
      case 1:
        this.executeD9Memory(reg, a, opsize32, protectedMode);
        break;
      case 2:
        this.arithmeticMemory(reg, fromSmallInteger(this.mem.read32(a) | 0));
        break;
      case 3:
        this.executeDBMemory(reg, a);
        break;
      case 4:
        this.arithmeticMemory(reg, this.readDouble(a));
        break;
      case 5:
        this.executeDDMemory(reg, a, opsize32, protectedMode);
        break;
      case 6:
        this.arithmeticMemory(reg, fromSmallInteger((this.mem.read16(a) << 16) >> 16));
        break;
      default:
        this.executeDFMemory(reg, a);
    }
    return X87_DONE;
  }

  /** D8/DA/DC/DE memory forms: ST(0) op m, or FCOM/FCOMP (/2 /3) against m. */
  private arithmeticMemory(reg: number, b: F80): void {
    if (reg === 2 || reg === 3) return this.compareInto(b, true, reg - 2);
    if (this.isEmpty(0)) return this.underflowInto(0, false);
    this.writeResult(0, this.arithmetic(reg, this.get(0), b), false);
  }

  private executeD9Memory(reg: number, a: number, opsize32: boolean, protectedMode: boolean): void {
    switch (reg) {
      case 0:
        return this.loadFloat(fromSingle(this.mem.read32(a), this.ctx));
      case 2:
      case 3:
        return this.storeBinary(a, SINGLE, reg === 3);
      case 4:
        return this.loadEnvironment(a, opsize32, protectedMode);
      case 5:
        this.loadControlWord(this.mem.read16(a));
        return this.updateErrorSummary();
      case 6:
        this.storeEnvironment(a, opsize32, protectedMode);
        // FNSTENV masks all exceptions after saving (SDM Vol. 2 FSTENV); ES and B follow (as measured on hardware).
        this.fcw |= 0x3f;
        return this.updateErrorSummary();
      default:
        return this.mem.write16(a, this.fcw);
    }
  }

  private executeDBMemory(reg: number, a: number): void {
    switch (reg) {
      case 0:
        return this.push(fromSmallInteger(this.mem.read32(a) | 0));
      case 2:
      case 3:
        return this.storeInteger(a, 32, reg === 3);
      case 5:
        return this.push(this.readExtended(a)); // m80fp loads raise nothing, not even for an SNaN
      default:
        return this.storeExtended(a);
    }
  }

  private executeDDMemory(reg: number, a: number, opsize32: boolean, protectedMode: boolean): void {
    switch (reg) {
      case 0:
        return this.loadFloat(this.readDouble(a));
      case 2:
      case 3:
        return this.storeBinary(a, DOUBLE, reg === 3);
      case 4:
        return this.restoreState(a, opsize32, protectedMode);
      case 6: {
        const envSize = this.storeEnvironment(a, opsize32, protectedMode);
        for (let i = 0; i < 8; i++) this.writeExtended(at(a, envSize + 10 * i), this.get(i));
        return this.init(); // FNSAVE reinitializes like FNINIT (SDM Vol. 2 FSAVE)
      }
      default:
        return this.mem.write16(a, this.statusWord);
    }
  }

  private executeDFMemory(reg: number, a: number): void {
    switch (reg) {
      case 0:
        return this.push(fromSmallInteger((this.mem.read16(a) << 16) >> 16));
      case 2:
      case 3:
        return this.storeInteger(a, 16, reg === 3);
      case 4:
        return this.push(this.readBcd(a));
      case 5:
        return this.push(fromInteger(BigInt.asIntN(64, this.readQword(a))));
      case 6:
        return this.storeBcd(a);
      default:
        return this.storeInteger(a, 64, true);
    }
  }

  /** FLD m32fp/m64fp: an SNaN raises IE and loads quieted (SDM Vol. 2 FLD). */
  private loadFloat(v: F80): void {
    if (classify(v) === Kind.SNaN) {
      this.ctx.flags |= IE;
      v = quiet(v);
    }
    if (this.ctx.denormalSource) this.ctx.flags |= DE;
    this.push(v);
  }

  private readQword(a: number): bigint {
    const lo = this.mem.read32(a) >>> 0;
    const hi = this.mem.read32(at(a, 4)) >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  private writeQword(a: number, v: bigint): void {
    this.mem.write32(a, Number(v & 0xffffffffn));
    this.mem.write32(at(a, 4), Number((v >> 32n) & 0xffffffffn));
  }

  private readDouble(a: number): F80 {
    const lo = this.mem.read32(a) >>> 0;
    const hi = this.mem.read32(at(a, 4)) >>> 0;
    return fromDouble(hi, lo, this.ctx);
  }

  private readExtended(a: number): F80 {
    const lo = this.mem.read32(a) >>> 0;
    const hi = this.mem.read32(at(a, 4)) >>> 0;
    const se = this.mem.read16(at(a, 8));
    return f80Words((se >> 15) & 1, se & EXP_MAX, hi, lo);
  }

  private writeExtended(a: number, v: F80): void {
    this.mem.write32(a, v.lo);
    this.mem.write32(at(a, 4), v.hi);
    this.mem.write16(at(a, 8), (v.sign << 15) | v.exp);
  }

  /** FST/FSTP m32fp/m64fp. */
  private storeBinary(a: number, fmt: Format, popAfter: boolean): void {
    if (this.isEmpty(0)) this.stackFault(false);
    const v = this.isEmpty(0) ? INDEFINITE : this.get(0);
    if (fmt === SINGLE) {
      const bits = Number(toBinary(v, SINGLE, this.ctx));
      if (this.storeAllowed()) this.mem.write32(a, bits);
    } else {
      const [hi, lo] = toDoubleWords(v, this.ctx);
      if (this.storeAllowed()) {
        this.mem.write32(a, lo);
        this.mem.write32(at(a, 4), hi);
      }
    }
    this.finishStore(popAfter);
  }

  /**
   * After a memory store: flags into FSW, and the pop unless an unmasked
   * exception suppressed the store (then without PE or C1, as hardware reports it).
   */
  private finishStore(popAfter: boolean): void {
    const allowed = this.storeAllowed();
    if (!allowed) {
      this.ctx.flags &= ~PE;
      if (!(this.ctx.flags & SF)) this.ctx.roundedUp = false;
    }
    this.commit();
    if (allowed && popAfter) this.pop();
  }

  /** FSTP m80fp: an exact copy of the register. */
  private storeExtended(a: number): void {
    if (this.isEmpty(0)) this.stackFault(false);
    if (this.storeAllowed()) this.writeExtended(a, this.isEmpty(0) ? INDEFINITE : this.get(0));
    this.finishStore(true);
  }

  /**
   * ST(0) rounded to an integer per FCW.RC and range-checked against
   * [-limit, limit); out of range, NaN and infinity raise IE and give the
   * indefinite (-limit) (SDM Vol. 2 FIST, FBSTP).
   */
  private roundedInteger(limit: bigint, negativeLimitAllowed: boolean): bigint {
    if (this.isEmpty(0)) {
      this.stackFault(false);
      return -limit;
    }
    const before = this.ctx.flags;
    const n = toInteger(this.get(0), this.ctx);
    if (n === null || n >= limit || n < -limit || (n === -limit && !negativeLimitAllowed)) {
      this.ctx.flags = before | IE;
      this.ctx.roundedUp = false;
      return -limit;
    }
    return n;
  }

  /** FIST/FISTP m16int/m32int/m64int. */
  private storeInteger(a: number, bits: 16 | 32 | 64, popAfter: boolean): void {
    if (bits !== 64 && !this.isEmpty(0) && this.storeSmallInteger(a, bits, popAfter)) return;
    const limit = 1n << BigInt(bits - 1);
    const n = this.roundedInteger(limit, true);
    if (this.storeAllowed()) {
      if (bits === 16) this.mem.write16(a, Number(BigInt.asUintN(16, n)));
      else if (bits === 32) this.mem.write32(a, Number(BigInt.asUintN(32, n)));
      else this.writeQword(a, BigInt.asUintN(64, n));
    }
    this.finishStore(popAfter);
  }

  /** FIST m16/m32 without BigInt when ST(0) is an in-range normal value; false leaves the general path to it. */
  private storeSmallInteger(a: number, bits: 16 | 32, popAfter: boolean): boolean {
    const { flags, roundedUp } = this.ctx;
    const n = toSmallInteger(this.get(0), this.ctx);
    const limit = bits === 16 ? 0x8000 : 0x80000000;
    if (n === null || n >= limit || n < -limit) {
      this.ctx.flags = flags;
      this.ctx.roundedUp = roundedUp;
      return false;
    }
    if (bits === 16) this.mem.write16(a, n & 0xffff);
    else this.mem.write32(a, n >>> 0);
    this.finishStore(popAfter);
    return true;
  }

  /** FBLD: 18 packed BCD digits and a sign byte (SDM Vol. 1 4.7). Invalid digits give undefined (here: weighted) values. */
  private readBcd(a: number): F80 {
    let high = 0;
    let low = 0;
    for (let i = 8; i >= 0; i--) {
      const b = this.mem.read8(at(a, i));
      const pair = (b >> 4) * 10 + (b & 15);
      if (i >= 5) high = high * 100 + pair; // digits 17..10, then 9..0 below
      else low = low * 100 + pair;
    }
    const sign = (this.mem.read8(at(a, 9)) >> 7) & 1;
    const magnitude = BigInt(high) * 10_000_000_000n + BigInt(low);
    return magnitude === 0n ? zero(sign) : fromInteger(sign ? -magnitude : magnitude);
  }

  /** FBSTP: rounds per FCW.RC; out of range or NaN stores the packed BCD indefinite. */
  private storeBcd(a: number): void {
    const sign = this.isEmpty(0) ? 1 : this.get(0).sign;
    const n = this.roundedInteger(BCD_MAX + 1n, false);
    const invalidResult = (this.ctx.flags & IE) !== 0;
    if (this.storeAllowed()) {
      const bytes = invalidResult ? bcdIndefinite() : bcdBytes(n < 0n ? -n : n, sign);
      for (let i = 0; i < 10; i++) this.mem.write8(at(a, i), bytes[i]);
    }
    this.finishStore(true);
  }

  // ---- environment ------------------------------------------------------

  /** FNSTENV layouts (SDM Vol. 1 Figures 8-9 to 8-12). Returns the size in bytes. */
  private storeEnvironment(a: number, opsize32: boolean, protectedMode: boolean): number {
    const m = this.mem;
    const fields = [this.fcw, this.statusWord, this.tagWord];
    const realIp = ((this.fcs << 4) + this.fip) >>> 0;
    const realDp = ((this.fds << 4) + this.fdp) >>> 0;
    if (opsize32) {
      // Reserved upper halves read as ones on hardware.
      fields.forEach((v, i) => m.write32(at(a, 4 * i), (0xffff0000 | v) >>> 0));
      if (protectedMode) {
        m.write32(at(a, 12), this.fip);
        m.write32(at(a, 16), (this.fcs | (this.fop << 16)) >>> 0);
        m.write32(at(a, 20), this.fdp);
        m.write32(at(a, 24), (0xffff0000 | this.fds) >>> 0);
      } else {
        m.write32(at(a, 12), (0xffff0000 | (realIp & 0xffff)) >>> 0);
        m.write32(at(a, 16), (((realIp >>> 16) << 12) | this.fop) >>> 0);
        m.write32(at(a, 20), (0xffff0000 | (realDp & 0xffff)) >>> 0);
        m.write32(at(a, 24), ((realDp >>> 16) << 12) >>> 0);
      }
      return 28;
    }
    fields.forEach((v, i) => m.write16(at(a, 2 * i), v));
    if (protectedMode) {
      m.write16(at(a, 6), this.fip & 0xffff);
      m.write16(at(a, 8), this.fcs);
      m.write16(at(a, 10), this.fdp & 0xffff);
      m.write16(at(a, 12), this.fds);
    } else {
      m.write16(at(a, 6), realIp & 0xffff);
      m.write16(at(a, 8), (((realIp >>> 16) & 0xf) << 12) | this.fop);
      m.write16(at(a, 10), realDp & 0xffff);
      m.write16(at(a, 12), ((realDp >>> 16) & 0xf) << 12);
    }
    return 14;
  }

  /** Reads an environment image; returns a function that installs it, so memory faults come first. */
  private readEnvironment(a: number, opsize32: boolean, protectedMode: boolean): [size: number, install: () => void] {
    const m = this.mem;
    const w = opsize32 ? 4 : 2;
    const fcw = m.read16(a);
    const fsw = m.read16(at(a, w));
    const ftw = m.read16(at(a, 2 * w));
    let fip: number, fcs: number, fop: number, fdp: number, fds: number;
    if (protectedMode) {
      fip = opsize32 ? m.read32(at(a, 12)) >>> 0 : m.read16(at(a, 6));
      const csWord = opsize32 ? m.read32(at(a, 16)) >>> 0 : m.read16(at(a, 8));
      fcs = csWord & 0xffff;
      fop = opsize32 ? (csWord >>> 16) & 0x7ff : 0;
      fdp = opsize32 ? m.read32(at(a, 20)) >>> 0 : m.read16(at(a, 10));
      fds = m.read16(at(a, opsize32 ? 24 : 12));
    } else {
      const ipLow = m.read16(at(a, 3 * w));
      const ipHigh = opsize32 ? m.read32(at(a, 16)) >>> 0 : m.read16(at(a, 8));
      const dpLow = m.read16(at(a, 5 * w));
      const dpHigh = opsize32 ? m.read32(at(a, 24)) >>> 0 : m.read16(at(a, 12));
      const highMask = opsize32 ? 0xffff : 0xf;
      fip = (ipLow | (((ipHigh >>> 12) & highMask) << 16)) >>> 0;
      fop = ipHigh & 0x7ff;
      fdp = (dpLow | (((dpHigh >>> 12) & highMask) << 16)) >>> 0;
      fcs = fds = 0;
    }
    const install = () => {
      this.loadControlWord(fcw);
      this.loadStatusWord(fsw);
      // Only "empty" is taken from a loaded tag word; the others follow the contents (SDM Vol. 1 8.1.7).
      let empty = 0;
      for (let p = 0; p < 8; p++) if (((ftw >> (2 * p)) & 3) === 3) empty |= 1 << p;
      this.empty = empty;
      this.fip = fip;
      this.fcs = fcs;
      this.fop = fop;
      this.fdp = fdp;
      this.fds = fds;
      this.updateErrorSummary();
    };
    return [opsize32 ? 28 : 14, install];
  }

  private loadEnvironment(a: number, opsize32: boolean, protectedMode: boolean): void {
    this.readEnvironment(a, opsize32, protectedMode)[1]();
  }

  /** FRSTOR: environment then ST(0)..ST(7), all read before anything changes. */
  private restoreState(a: number, opsize32: boolean, protectedMode: boolean): void {
    const [size, install] = this.readEnvironment(a, opsize32, protectedMode);
    const values: F80[] = [];
    for (let i = 0; i < 8; i++) values.push(this.readExtended(at(a, size + 10 * i)));
    install();
    for (let i = 0; i < 8; i++) this.regs[this.phys(i)] = values[i];
  }

  // ---- register forms ---------------------------------------------------

  private executeRegister(op: number, reg: number, i: number, modrm: number): number {
    switch (op) {
      case 0:
        if (reg === 2 || reg === 3) this.compareInto(this.operand(i), true, reg - 2);
        else this.arithmeticRegisters(reg, 0, i, false);
        return X87_DONE;
      case 1:
        return this.executeD9Register(reg, i, modrm);
      case 2:
        if (modrm === 0xe9) this.compareInto(this.operand(1), false, 2); // FUCOMPP
        else this.conditionalMove(reg, false, i);
        return X87_DONE;
      case 3:
        return this.executeDBRegister(reg, i, modrm);
      case 4:
        // DC: ST(i) = ST(i) op ST(0); /4../7 name the reversed operations (FSUBR is /4 here).
        if (reg === 2 || reg === 3) this.compareInto(this.operand(i), true, reg - 2); // FCOM2/FCOMP3 aliases
        else this.arithmeticRegisters(reversed(reg), i, 0, false);
        return X87_DONE;
      case 5:
        return this.executeDDRegister(reg, i);
      case 6:
        if (reg === 2) this.compareInto(this.operand(i), true, 1); // FCOMP5 alias
        else if (reg === 3) this.compareInto(this.operand(1), true, 2); // FCOMPP
        else this.arithmeticRegisters(reversed(reg), i, 0, true);
        return X87_DONE;
      default:
        return this.executeDFRegister(reg, i);
    }
  }

  private executeD9Register(reg: number, i: number, modrm: number): number {
    switch (reg) {
      case 0: {
        const v = this.operand(i);
        if (v === null) this.stackFault(false);
        this.push(v ?? INDEFINITE);
        break;
      }
      case 1:
        this.exchange(i);
        break;
      case 2: // FNOP
        break;
      case 3: // FSTP1 alias of FSTP ST(i)
        this.storeRegister(i, true);
        break;
      default:
        this.executeD9Misc(modrm);
    }
    return X87_DONE;
  }

  /** D9 E0-FF: the one-byte-named operations (SDM Vol. 2 Table A-11). */
  private executeD9Misc(modrm: number): void {
    switch (modrm) {
      case 0xe0:
        return this.unary(negate);
      case 0xe1:
        return this.unary(abs);
      case 0xe4: // FTST
        return this.compareInto(POS_ZERO, true, 0);
      case 0xe5:
        return this.examine();
      case 0xe8:
        return this.push(ONE);
      case 0xee:
        return this.push(POS_ZERO);
      case 0xe9:
      case 0xea:
      case 0xeb:
      case 0xec:
      case 0xed:
        return this.push(this.constant(CONSTANTS[modrm]));
      case 0xf0:
        return this.unary((x) => f2xm1(x, this.ctx));
      case 0xf1:
        return this.binaryPopping((x, y) => fyl2x(x, y, this.ctx));
      case 0xf2:
        return this.partialTangent();
      case 0xf3:
        return this.binaryPopping((x, y) => fpatan(x, y, this.ctx));
      case 0xf4:
        return this.extract();
      case 0xf5:
        return this.partialRemainder(true);
      case 0xf6:
        this.top = (this.top - 1) & 7;
        return this.keepCodes(FSW_C1, 0);
      case 0xf7:
        this.top = (this.top + 1) & 7;
        return this.keepCodes(FSW_C1, 0);
      case 0xf8:
        return this.partialRemainder(false);
      case 0xf9:
        return this.binaryPopping((x, y) => fyl2xp1(x, y, this.ctx));
      case 0xfa:
        return this.unary((x) => sqrt(x, this.ctx));
      case 0xfb:
        return this.sineCosine();
      case 0xfc:
        return this.unary((x) => roundToIntegralValue(x, this.ctx));
      case 0xfd:
        return this.scale();
      case 0xfe:
        return this.trigonometric('sin');
      default:
        return this.trigonometric('cos');
    }
  }

  /** Sets the condition bits in `mask` to `value`, leaving the others. */
  private keepCodes(mask: number, value: number): void {
    this.sw = (this.sw & ~mask) | (value & mask);
  }

  private executeDBRegister(reg: number, i: number, modrm: number): number {
    if (reg < 4) {
      this.conditionalMove(reg, true, i);
      return X87_DONE;
    }
    switch (modrm) {
      case 0xe2: // FNCLEX
        this.sw &= ~(0xff | FSW_B);
        return X87_DONE;
      case 0xe3:
        this.init();
        return X87_DONE;
      case 0xe0: // FNENI, FNDISI (8087), FNSETPM (287): no-ops since the 387
      case 0xe1:
      case 0xe4:
        return X87_DONE;
    }
    return this.compareToEflags(i, reg === 6, false); // E8 FUCOMI, F0 FCOMI
  }

  private executeDDRegister(reg: number, i: number): number {
    switch (reg) {
      case 0: // FFREE
        this.empty |= 1 << this.phys(i);
        break;
      case 1: // FXCH4 alias
        this.exchange(i);
        break;
      case 2:
      case 3:
        this.storeRegister(i, reg === 3);
        break;
      default: // E0 FUCOM, E8 FUCOMP
        this.compareInto(this.operand(i), false, reg - 4);
    }
    return X87_DONE;
  }

  private executeDFRegister(reg: number, i: number): number {
    switch (reg) {
      case 0: // FFREEP: undocumented by Intel, implemented by every P6 and later
        this.empty |= 1 << this.phys(i);
        this.pop();
        return X87_DONE;
      case 1: // FXCH7 alias
        this.exchange(i);
        return X87_DONE;
      case 2: // FSTP8, FSTP9 aliases
      case 3:
        this.storeRegister(i, true);
        return X87_DONE;
      case 4: // FNSTSW AX
        return this.statusWord;
      default: // E8 FUCOMIP, F0 FCOMIP
        return this.compareToEflags(i, reg === 6, true);
    }
  }

  /** FXCH: an empty operand counts as the indefinite when underflow is masked. */
  private exchange(i: number): void {
    const a = this.operand(0);
    const b = this.operand(i);
    if (a === null || b === null) this.stackFault(false);
    if (!this.commit()) return;
    this.set(0, b ?? INDEFINITE);
    this.set(i, a ?? INDEFINITE);
  }

  /** FST/FSTP ST(i). */
  private storeRegister(i: number, popAfter: boolean): void {
    if (this.isEmpty(0)) return this.underflowInto(i, popAfter);
    this.writeResult(i, this.get(0), popAfter);
  }

  /** FCMOVcc (DA/DB C0-DF): B/E/BE/U and their negations on EFLAGS CF, ZF, PF. */
  private conditionalMove(reg: number, negated: boolean, i: number): void {
    const eflags = this.host.eflags?.() ?? 0;
    const flag = [CF, ZF, CF | ZF, PF][reg];
    const condition = ((eflags & flag) !== 0) !== negated;
    // Underflow gives ST(0) the indefinite whatever the condition (as measured on hardware).
    if (this.isEmpty(0) || this.isEmpty(i)) return this.underflowInto(0, false);
    this.commit();
    if (condition) this.set(0, this.get(i));
  }

  /** FCHS, FABS, FSQRT, FRNDINT, F2XM1: ST(0) = f(ST(0)). */
  private unary(f: (v: F80) => F80): void {
    if (this.isEmpty(0)) return this.underflowInto(0, false);
    this.writeResult(0, f(this.get(0)), false);
  }

  /** FYL2X, FYL2XP1, FPATAN: ST(1) = f(ST(0), ST(1)), then pop. */
  private binaryPopping(f: (x: F80, y: F80) => F80): void {
    if (this.isEmpty(0) || this.isEmpty(1)) return this.underflowInto(1, true);
    this.writeResult(1, f(this.get(0), this.get(1)), true);
  }

  /** FXAM (SDM Vol. 2 FXAM Table 3-55): class in C3 C2 C0, sign in C1; never faults. */
  private examine(): void {
    const v = this.get(0);
    const c1 = v.sign === 1;
    if (this.isEmpty(0)) return this.setConditionCodes(true, false, c1, true);
    switch (classify(v)) {
      case Kind.Unsupported:
        return this.setConditionCodes(false, false, c1, false);
      case Kind.QNaN:
      case Kind.SNaN:
        return this.setConditionCodes(false, false, c1, true);
      case Kind.Normal:
        return this.setConditionCodes(false, true, c1, false);
      case Kind.Infinity:
        return this.setConditionCodes(false, true, c1, true);
      case Kind.Zero:
        return this.setConditionCodes(true, false, c1, false);
      default:
        return this.setConditionCodes(true, true, c1, false);
    }
  }

  /** FLDL2T..FLDLN2: the constant rounded per FCW.RC. */
  private constant(c: Constant): F80 {
    const rc = this.ctx.rc;
    const up = rc === RC_NEAREST ? c.nearestRoundsUp : rc === RC_UP;
    return f80(0, c.exp, up ? c.truncated + 1n : c.truncated);
  }

  /** FSIN, FCOS: |ST(0)| >= 2^63 sets C2 and leaves ST(0) (SDM Vol. 2 FSIN). */
  private trigonometric(fn: 'sin' | 'cos'): void {
    if (this.isEmpty(0)) return this.underflowInto(0, false);
    const x = this.get(0);
    if (!trigInRange(x)) return this.keepCodes(FSW_C2 | FSW_C1, FSW_C2);
    const r = trig(fn, x, this.ctx);
    this.keepCodes(FSW_C2, 0);
    this.writeResult(0, r, false);
  }

  /**
   * FPTAN, FSINCOS, FXTRACT: ST(0) is replaced and a second result pushed.
   * An empty ST(0) or a full stack gives two indefinites when masked;
   * `compute` returns null for an out-of-range operand (C2 = 1, no change).
   */
  private replaceAndPush(compute: (x: F80) => [F80, F80] | null): void {
    let pair: [F80, F80] | null;
    if (this.isEmpty(0) || !this.isEmpty(7)) {
      this.stackFault(!this.isEmpty(0));
      pair = [INDEFINITE, INDEFINITE];
    } else {
      pair = compute(this.get(0));
      if (pair === null) return this.keepCodes(FSW_C2 | FSW_C1, FSW_C2);
      this.keepCodes(FSW_C2, 0);
    }
    if (!this.commit()) return;
    this.set(0, pair[0]);
    this.top = (this.top - 1) & 7;
    this.set(0, pair[1]);
  }

  /** FPTAN: ST(0) = tan(ST(0)), then push 1.0 (SDM Vol. 2 FPTAN). */
  private partialTangent(): void {
    this.replaceAndPush((x) => {
      if (!trigInRange(x)) return null;
      const r = trig('tan', x, this.ctx);
      return [r, isNaNKind(classify(r)) ? r : ONE];
    });
  }

  /** FSINCOS: ST(0) = sin, then push cos. */
  private sineCosine(): void {
    this.replaceAndPush((x) => (trigInRange(x) ? [trig('sin', x, this.ctx), trig('cos', x, this.ctx)] : null));
  }

  /** FXTRACT: ST(0) = the exponent, then push the significand (SDM Vol. 2 FXTRACT). */
  private extract(): void {
    this.replaceAndPush((x) => extractParts(x, this.ctx));
  }

  /** FSCALE: ST(0) × 2^trunc(ST(1)), exact then rounded (SDM Vol. 2 FSCALE Table 3-45). */
  private scale(): void {
    if (this.isEmpty(0) || this.isEmpty(1)) return this.underflowInto(0, false);
    this.writeResult(0, scaleBy(this.get(0), this.get(1), this.ctx), false);
  }

  /** FPREM (truncating quotient) and FPREM1 (IEEE, round-to-nearest quotient). */
  private partialRemainder(ieee: boolean): void {
    if (this.isEmpty(0) || this.isEmpty(1)) return this.underflowInto(0, false);
    const r = remainder(this.get(0), this.get(1), ieee, this.ctx);
    if (!this.commit()) return;
    this.set(0, r.value);
    if (r.incomplete) this.keepCodes(FSW_C2, FSW_C2);
    else {
      const q = r.quotientLow;
      // SDM Vol. 2 FPREM: C0 = Q2, C3 = Q1, C1 = Q0; C2 = 0 when complete.
      this.setConditionCodes((q & 2) !== 0, false, (q & 1) !== 0, (q & 4) !== 0);
    }
  }
}

// ---- opcode map helpers (SDM Vol. 2 Tables A-7..A-22, as real P6 CPUs implement them) ----

/** Reserved memory forms: D9 /1, DB /4, DB /6 and DD /5; FISTTP (DB /1, DD /1, DF /1) is SSE3. */
function memoryFormUndefined(op: number, reg: number): boolean {
  if (reg === 1) return op === 1 || op === 3 || op === 5 || op === 7;
  return (op === 3 && (reg === 4 || reg === 6)) || (op === 5 && reg === 5);
}

/** Control instructions (SDM Vol. 1 8.1.8): they leave FIP/FDP/FOP alone. */
function memoryFormIsControl(op: number, reg: number): boolean {
  return (op === 1 && reg >= 4) || (op === 5 && (reg === 4 || reg >= 6));
}

/** FLDCW, FLDENV and FRSTOR are control instructions that still wait (take pending faults). */
function memoryFormWaits(op: number, reg: number): boolean {
  return (op === 1 && (reg === 4 || reg === 5)) || (op === 5 && reg === 4);
}

/**
 * Reserved register forms raise #UD on P6 and later: D9 D1-D7, E2, E3, E6,
 * E7, EF; DA E0-E8, EA-FF; DB E5-E7, F8-FF; DD F0-FF; DE D8, DA-DF;
 * DF E1-E7, F8-FF. The undocumented aliases (FSTP1, FCOM2, FCOMP3, FXCH4,
 * FCOMP5, FFREEP, FXCH7, FSTP8, FSTP9) execute as on hardware.
 */
function registerFormUndefined(op: number, modrm: number): boolean {
  const reg = (modrm >> 3) & 7;
  switch (op) {
    case 1:
      if (reg === 2) return modrm !== 0xd0;
      return modrm === 0xe2 || modrm === 0xe3 || modrm === 0xe6 || modrm === 0xe7 || modrm === 0xef;
    case 2:
      return reg >= 4 && modrm !== 0xe9;
    case 3:
      return (reg === 4 && modrm >= 0xe5) || reg === 7;
    case 5:
      return reg >= 6;
    case 6:
      return reg === 3 && modrm !== 0xd9;
    case 7:
      return (reg === 4 && modrm !== 0xe0) || reg === 7;
    default:
      return false;
  }
}

/** No-wait register forms: FNCLEX, FNINIT, FNENI/FNDISI/FNSETPM and FNSTSW AX. */
function registerFormIsControl(op: number, modrm: number): boolean {
  return (op === 3 && modrm >= 0xe0 && modrm <= 0xe4) || (op === 7 && modrm === 0xe0);
}

/** DC/DE register forms encode SUB/SUBR and DIV/DIVR the other way round from D8. */
function reversed(reg: number): number {
  return reg >= 4 ? reg ^ 1 : reg;
}

function at(a: number, offset: number): number {
  return (a + offset) >>> 0;
}

function bcdBytes(n: bigint, sign: number): number[] {
  const bytes: number[] = [];
  const digits = n.toString().padStart(18, '0');
  for (let i = 0; i < 9; i++) {
    const pair = digits.slice(16 - 2 * i, 18 - 2 * i);
    bytes.push((Number(pair[0]) << 4) | Number(pair[1]));
  }
  bytes.push(sign ? 0x80 : 0);
  return bytes;
}

/** The packed BCD indefinite (SDM Vol. 1 Table 4-4): FFFF C000 0000 0000 0000 (bytes 9..0). */
function bcdIndefinite(): number[] {
  return [0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff];
}
