/**
 * Translated blocks as WebAssembly (`-accel tcg,wasm=on`, experimental). V8
 * compiles a block's module with Liftoff at about a seventieth of what
 * TurboFan takes for the same block as JavaScript (bench/block-compile.mjs),
 * and that wait is most of the warm-up of booting Linux.
 *
 * So far it takes 32-bit blocks in one page without followed callees or
 * pointer jumps (codegen.ts's foreign pages, inlined RETs and pointer
 * jumps), accesses in flat segments only, made of: ALU, TEST, MOV, NOT,
 * NEG, INC and DEC on 32- and 8-bit registers, memory and immediates; LEA,
 * MOVZX/MOVSX, PUSH, POP and LEAVE; Jcc and JMP rel, to a label of the
 * block or out; CALL rel at a run's end and RET, which leave. The last
 * instruction of a run may be any other: the block leaves before it and
 * the interpreter runs it.
 * Everything else is JavaScript (codegen.ts) as before.
 *
 * A block works on the registers in the arena (wasm-arena.ts) directly,
 * keeps the flag record of its last flag-setting instruction in locals and
 * leaves by returning the index of an exit row, as codegen.ts's blocks do;
 * an access the fast path does not allow leaves before its instruction
 * (SLOW_EXIT), so a block never faults. Its labels (the entry, jump
 * targets, codegen.ts's entry labels) are the cases of a dispatch loop.
 */
import type { Insn } from '../insn.js';
import { FlagOp, lazyWord } from '../flags.js';
import { OPCODES } from '../decoder.js';
import { isConditionalJump } from './block-rules.js';
import { ARITH_FLAGS, CF, ESP, OF, SF, SS, ZF } from '../constants.js';
import { AluOp } from '../alu.js';
import type { Cpu } from '../cpu.js';
import type { Block, BlockFn } from './block.js';
import { FLAT_CS } from './memory.js';
import { entryLabels, INDIRECT_EXIT, jumpDisplacement, LOOP_ITERATIONS, REFUSED, SLOW_EXIT, type BlockShape } from './codegen.js';
import { Code, moduleBytes, Op } from './wasm-encoder.js';
import { FAST_READS, FAST_WRITES, RAM_BASE, REGS, SLOT_EIP, SLOT_LA, SLOT_LB, SLOT_FLAGS, SLOT_FW, SLOT_LR, SLOT_N, type WasmArena } from './wasm-arena.js';

/**
 * Locals: the parameters, the CPL's half of the fast-path tables (Cpu.tlbHalf),
 * the EIP of the block's first instruction and the label to start at; then
 * the flag record and scratch.
 */
const U = 0;
const E = 1;
/** The label to go on at: the parameter gives the one the run starts at (an entry's), jumps within the block set it. */
const S = 2;
const FA = 3;
const FB = 4;
const FR = 5;
const LIN = 6;
const P = 7;
const T = 8;
/** Instructions completed before the current label's start, and jumps within the block taken. */
const N = 9;
const LOOPS = 10;
/** The lazy word (flags.ts) of the record in FA/FB/FR: the live record, c's at entry. */
const FW = 11;
/** EFLAGS as Cpu.flags keeps it (the bits FW does not mark stale are the flags). */
const FL = 12;
/** Scratch for a flag of the live record: its operand size's sign bit; a carry kept across an instruction. */
const T2 = 13;
const CARRY = 14;
const LOCALS = 12;
/** Exit rows: EIP offset from the entry, exit number, instructions completed. */
const ROW = 3;

/**
 * The record the last flag-setting instruction left in FA/FB/FR/FW, as far
 * as the code emitted since the current label's start tells (code reached
 * by a jump to the label may have left another).
 */
interface PendingRecord {
  op: FlagOp;
  /** Operand size in bytes: 1 or 4. */
  size: number;
  /** CF is in FL, not stale (INC and DEC keep it). */
  cfInFlags: boolean;
}

class WasmEmitter {
  readonly code = new Code();
  readonly rows: number[] = [];
  record: PendingRecord | undefined;
  /** Cpu.flat bits the block relies on. */
  flat = FLAT_CS;

  /** The first instruction of the label whose code is being emitted. */
  labelStart = 0;
  /** Its label's index, the number of labels, and the `if`s open in its code: what a branch to the dispatch loop crosses. */
  label = 0;
  labels = 1;
  ifs = 0;

  /**
   * The index of an exit row leaving to `rel` (from the entry) by exit
   * `exit` with `count` of the block's instructions completed (rows count
   * from the label's start; N holds the rest).
   */
  row(rel: number, exit: number, count: number): number {
    this.rows.push(rel, exit, count - this.labelStart);
    return this.rows.length / ROW - 1;
  }

  /** Static exits so far: they take the even exit numbers (codegen.ts keeps the odd ones for rare ways). */
  exits = 0;

  /** The row of a static exit to `rel` (from the entry) after `count` instructions, with an exit number of its own. */
  staticExit(rel: number, count: number): number {
    const row = this.row(rel, 2 * this.exits, count);
    this.exits++;
    return row;
  }

  /** Where the code and the rows stand, to roll back an instruction emitted in part. */
  mark(): { bytes: number; rows: number; exits: number; record: PendingRecord | undefined; flat: number } {
    return { bytes: this.code.bytes.length, rows: this.rows.length, exits: this.exits, record: this.record, flat: this.flat };
  }

  rollBack(mark: ReturnType<WasmEmitter['mark']>): void {
    this.code.bytes.length = mark.bytes;
    this.rows.length = mark.rows;
    this.exits = mark.exits;
    this.record = mark.record;
    this.flat = mark.flat;
  }

  /** Goes on at label `label` (rel `rel`), `count` instructions completed; leaves for it after LOOP_ITERATIONS such jumps. */
  jumpWithin(label: number, rel: number, count: number): void {
    const c = this.code;
    c.get(LOOPS).i32(1).op(Op.I32Add).tee(LOOPS).i32(LOOP_ITERATIONS).op(Op.I32GtU).if();
    this.leave(this.staticExit(rel, count));
    c.end();
    c.get(N).i32(count - this.labelStart).op(Op.I32Add).set(N);
    c.i32(label).set(S).br(this.labels - 1 - this.label + this.ifs);
  }

  /** Leaves by exit row `row`, handing over the count before the label and the record (blockFunction). */
  leave(row: number): void {
    const c = this.code;
    c.i32(0).get(N).memory(Op.I32Store, SLOT_N, 4);
    c.i32(0).get(FA).memory(Op.I32Store, SLOT_LA, 4);
    c.i32(0).get(FB).memory(Op.I32Store, SLOT_LB, 4);
    c.i32(0).get(FR).memory(Op.I32Store, SLOT_LR, 4);
    c.i32(0).get(FW).memory(Op.I32Store, SLOT_FW, 4);
    c.i32(0).get(FL).memory(Op.I32Store, SLOT_FLAGS, 4);
    c.i32(row).op(Op.Return);
  }

  reg(n: number): void {
    this.code.i32(0).memory(Op.I32Load, REGS + 4 * n, 4);
  }

  /** Stores the value `value` pushes into register n. */
  setReg(n: number, value: () => void): void {
    this.code.i32(0);
    value();
    this.code.memory(Op.I32Store, REGS + 4 * n, 4);
  }

  /** Pushes the effective address of `d`'s memory operand (32-bit addressing). */
  address(d: Insn): void {
    const c = this.code;
    let parts = 0;
    if (d.base >= 0) {
      this.reg(d.base);
      parts++;
    }
    if (d.index >= 0) {
      this.reg(d.index);
      if (d.scale) c.i32(d.scale).op(Op.I32Shl);
      if (parts++) c.op(Op.I32Add);
    }
    c.i32(d.disp | 0);
    if (parts) c.op(Op.I32Add);
  }

  /**
   * Checks the `size`-byte access at the linear address on the stack (a flat
   * segment's offset) against its page's fast-path entry, leaving before
   * instruction k (at `rel`) unless allowed; leaves its RAM index in P.
   */
  access(write: boolean, k: number, rel: number, flatBit: number, size = 4): void {
    const c = this.code;
    this.flat |= flatBit;
    c.set(LIN).get(U).get(LIN).i32(12).op(Op.I32ShrU).op(Op.I32Or).i32(2).op(Op.I32Shl);
    c.memory(Op.I32Load, write ? FAST_WRITES : FAST_READS, 4).tee(P);
    // mmu.ts's fastOk: the entry allows the access and it stays in the page (a byte checks only the entry).
    if (size > 1) c.get(LIN).op(Op.I32Or).i32(0xfff).op(Op.I32And).i32(0x1000 - size).op(Op.I32GtU);
    else c.i32(0xfff).op(Op.I32And);
    c.if();
    this.leave(this.row(rel, SLOW_EXIT, k));
    c.end();
    c.get(P).get(LIN).op(Op.I32Xor).set(P);
  }

  /** Pushes the 4 bytes at RAM index P, or fewer extended by `op`. */
  load(op: Op = Op.I32Load, bytes: 1 | 2 | 4 = 4): void {
    this.code.get(P).memory(op, RAM_BASE, bytes);
  }

  /** Stores the value `value` pushes (its low byte for `bytes` 1) at RAM index P. */
  store(value: () => void, bytes: 1 | 4 = 4): void {
    this.code.get(P);
    value();
    this.code.memory(bytes === 1 ? Op.I32Store8 : Op.I32Store, RAM_BASE, bytes);
  }

  /** Makes the record `op` of FA and FB (with result FR): its lazy word into FW. */
  setRecord(op: FlagOp, size: number, cfInFlags = false): void {
    this.record = { op, size, cfInFlags };
    this.code.i32(lazyWord(op, size, cfInFlags ? ARITH_FLAGS & ~CF : ARITH_FLAGS)).set(FW);
  }

  /** Pushes byte register n: AL, CL, DL, BL, then AH, CH, DH, BH. */
  reg8(n: number): void {
    this.reg(n & 3);
    if (n & 4) this.code.i32(8).op(Op.I32ShrU);
    this.code.i32(0xff).op(Op.I32And);
  }

  /** Stores the low byte of the value `value` pushes into byte register n. */
  setReg8(n: number, value: () => void): void {
    const c = this.code;
    const shift = n & 4 ? 8 : 0;
    this.setReg(n & 3, () => {
      this.reg(n & 3);
      c.i32(~(0xff << shift)).op(Op.I32And);
      value();
      c.i32(0xff).op(Op.I32And);
      if (shift) c.i32(shift).op(Op.I32Shl);
      c.op(Op.I32Or);
    });
  }
}

/** The flat bits (Cpu.flat, jit/memory.ts) of a read or write in segment `seg`, or through the 32-bit stack. */
function flatBit(seg: number, write: boolean, stack: boolean): number {
  return 1 << (stack ? (write ? 13 : 12) : write ? 6 + seg : seg);
}

/**
 * Emits `op` on a (in FA) and b (in FB) into FR, with its record; false
 * for the operations that read flags (ADC, SBB).
 */
function emitAlu(e: WasmEmitter, op: AluOp, size = 4): boolean {
  const c = e.code;
  c.get(FA).get(FB);
  switch (op) {
    case AluOp.Add:
      c.op(Op.I32Add);
      e.setRecord(FlagOp.Add, size);
      break;
    case AluOp.Sub:
    case AluOp.Cmp:
      c.op(Op.I32Sub);
      e.setRecord(FlagOp.Sub, size);
      break;
    case AluOp.And:
      c.op(Op.I32And);
      e.setRecord(FlagOp.Logic, size);
      break;
    case AluOp.Or:
      c.op(Op.I32Or);
      e.setRecord(FlagOp.Logic, size);
      break;
    case AluOp.Xor:
      c.op(Op.I32Xor);
      e.setRecord(FlagOp.Logic, size);
      break;
    default:
      return false;
  }
  // The record's result is masked to the operand size (flags.ts).
  if (size === 1) c.i32(0xff).op(Op.I32And);
  c.set(FR);
  return true;
}

/**
 * Emits instruction k (at `rel` from the entry) of a straight run: false
 * when this backend does not take it. ALU, TEST and MOV forms take 8- and
 * 32-bit operands (AL..BH; immediates come masked to their size).
 */
function emitInstruction(e: WasmEmitter, d: Insn, k: number, rel: number): boolean {
  const c = e.code;
  const op = d.op;
  const size = d.size === 1 ? 1 : 4;
  const mem = d.mod >= 0 && d.mod !== 3;
  const imm = (): void => void c.i32(size === 1 ? d.imm & 0xff : d.imm | 0);
  const reg = (n: number): void => (size === 1 ? e.reg8(n) : e.reg(n));
  const setReg = (n: number, value: () => void): void => (size === 1 ? e.setReg8(n, value) : e.setReg(n, value));
  // The r/m operand: register rm or the memory operand, P left at it for a store back (a
  // read-modify-write checks the write entry only: a writable page and segment are readable).
  // Its access may leave, so it comes before anything changes the record's locals.
  const loadRm = (write: boolean): void => {
    if (!mem) return reg(d.rm);
    e.address(d);
    e.access(write, k, rel, flatBit(d.seg, write, false), size);
    e.load(size === 1 ? Op.I32Load8U : Op.I32Load, size);
  };
  // The r/m operand of a plain write: its access checked first (P then at it).
  const reachRm = (): void => {
    if (!mem) return;
    e.address(d);
    e.access(true, k, rel, flatBit(d.seg, true, false), size);
  };
  const storeRm = (value: () => void): void => (mem ? e.store(value, size) : setReg(d.rm, value));
  if (op < 0x40 && (op & 7) < 6) {
    const aluOp = (op >> 3) & 7;
    switch (op & 7) {
      case 4:
      case 5:
        // AL/EAX, imm
        reg(0);
        c.set(FA);
        imm();
        c.set(FB);
        if (!emitAlu(e, aluOp, size)) return false;
        if (aluOp !== AluOp.Cmp) setReg(0, () => c.get(FR));
        return true;
      case 2:
      case 3:
        // r, r/m
        loadRm(false);
        c.set(FB);
        reg(d.reg);
        c.set(FA);
        if (!emitAlu(e, aluOp, size)) return false;
        if (aluOp !== AluOp.Cmp) setReg(d.reg, () => c.get(FR));
        return true;
      default:
        // r/m, r
        loadRm(aluOp !== AluOp.Cmp);
        c.set(FA);
        reg(d.reg);
        c.set(FB);
        if (!emitAlu(e, aluOp, size)) return false;
        if (aluOp !== AluOp.Cmp) storeRm(() => c.get(FR));
        return true;
    }
  }
  switch (op) {
    case 0x80:
    case 0x81:
    case 0x83:
      loadRm(d.reg !== AluOp.Cmp);
      c.set(FA);
      imm();
      c.set(FB);
      if (!emitAlu(e, d.reg, size)) return false;
      if (d.reg !== AluOp.Cmp) storeRm(() => c.get(FR));
      return true;
    case 0x84:
    case 0x85:
      loadRm(false);
      c.set(FA);
      reg(d.reg);
      c.set(FB);
      return emitAlu(e, AluOp.And, size);
    case 0xa8:
    case 0xa9:
      reg(0);
      c.set(FA);
      imm();
      c.set(FB);
      return emitAlu(e, AluOp.And, size);
    case 0x88:
    case 0x89:
      reachRm();
      reg(d.reg);
      c.set(T);
      storeRm(() => c.get(T));
      return true;
    case 0x8a:
    case 0x8b:
      loadRm(false);
      c.set(T);
      setReg(d.reg, () => c.get(T));
      return true;
    case 0xc6:
    case 0xc7:
      if (d.reg !== 0) return false;
      reachRm();
      storeRm(imm);
      return true;
    case 0xf6:
    case 0xf7:
      return emitGroup3(e, d, size, loadRm, storeRm, imm);
    case 0xfe:
    case 0xff:
      if (d.reg > 1) return false;
      emitIncDec(e, d.reg === 1, size, () => loadRm(true), storeRm);
      return true;
  }
  if (size === 1) {
    if (op < 0xb0 || op > 0xb7) return false;
    setReg(op - 0xb0, imm);
    return true;
  }
  switch (op) {
    case 0x8d:
      if (!mem) return false;
      e.address(d);
      c.set(T);
      e.setReg(d.reg, () => c.get(T));
      return true;
    case 0xa1:
      // MOV EAX, moffs: the decoder leaves the offset in disp with no base or index.
      e.address(d);
      e.access(false, k, rel, flatBit(d.seg, false, false));
      e.load();
      c.set(T);
      e.setReg(0, () => c.get(T));
      return true;
    case 0xa3:
      e.address(d);
      e.access(true, k, rel, flatBit(d.seg, true, false));
      e.store(() => e.reg(0));
      return true;
    case 0x1b6:
    case 0x1b7:
    case 0x1be:
    case 0x1bf:
      return emitMovExtend(e, d, k, rel);
    case 0x68:
    case 0x6a:
      emitPush(e, k, rel, imm);
      return true;
    case 0xc9:
      // LEAVE: ESP = EBP, then POP EBP (read first: it may leave).
      e.reg(5);
      e.access(false, k, rel, flatBit(SS, false, true));
      e.load();
      c.set(T);
      e.setReg(ESP, () => {
        e.reg(5);
        c.i32(4).op(Op.I32Add);
      });
      e.setReg(5, () => c.get(T));
      return true;
  }
  if (op >= 0xb8 && op <= 0xbf) {
    e.setReg(op - 0xb8, imm);
    return true;
  }
  if (op >= 0x40 && op <= 0x4f) {
    const n = op & 7;
    emitIncDec(e, op >= 0x48, 4, () => e.reg(n), (value) => e.setReg(n, value));
    return true;
  }
  if (op >= 0x50 && op <= 0x57) {
    // PUSH r32: the value as it was (PUSH ESP pushes ESP before the push).
    emitPush(e, k, rel, () => e.reg(op - 0x50));
    return true;
  }
  if (op >= 0x58 && op <= 0x5f && op !== 0x5c) {
    e.reg(ESP);
    e.access(false, k, rel, flatBit(SS, false, true));
    e.load();
    c.set(T);
    e.setReg(ESP, () => {
      e.reg(ESP);
      c.i32(4).op(Op.I32Add);
    });
    e.setReg(op - 0x58, () => c.get(T));
    return true;
  }
  return false;
}

/**
 * INC (`dec` false) or DEC of the `size`-byte operand `load` pushes (its
 * access checked), the result stored by `store`: ADD/SUB 1 keeping CF,
 * which goes to FL from the record before (alu.ts's incDec).
 */
function emitIncDec(e: WasmEmitter, dec: boolean, size: number, load: () => void, store: (value: () => void) => void): void {
  const c = e.code;
  load();
  c.set(T);
  emitCondition(e, 2); // CF
  c.set(CARRY);
  c.get(T).set(FA).i32(1).set(FB);
  c.get(T).i32(1).op(dec ? Op.I32Sub : Op.I32Add);
  if (size === 1) c.i32(0xff).op(Op.I32And);
  c.set(FR);
  e.setRecord(dec ? FlagOp.Sub : FlagOp.Add, size, true);
  c.get(FL).i32(~CF).op(Op.I32And).get(CARRY).op(Op.I32Or).set(FL);
  store(() => c.get(FR));
}

/** PUSH of the value `value` pushes (taken before ESP moves), through the 32-bit stack. */
function emitPush(e: WasmEmitter, k: number, rel: number, value: () => void): void {
  const c = e.code;
  value();
  c.set(T);
  e.reg(ESP);
  c.i32(4).op(Op.I32Sub);
  e.access(true, k, rel, flatBit(SS, true, true));
  e.store(() => c.get(T));
  // The flat stack's offset is the linear address: ESP - 4.
  e.setReg(ESP, () => c.get(LIN));
}

/** MOVZX/MOVSX r32, r/m8 or r/m16 (0F B6/B7/BE/BF). */
function emitMovExtend(e: WasmEmitter, d: Insn, k: number, rel: number): boolean {
  const c = e.code;
  const bytes = d.op & 1 ? 2 : 1;
  const signed = d.op >= 0x1be;
  if (d.mod !== 3) {
    e.address(d);
    e.access(false, k, rel, flatBit(d.seg, false, false), bytes);
    e.load(bytes === 1 ? (signed ? Op.I32Load8S : Op.I32Load8U) : signed ? Op.I32Load16S : Op.I32Load16U, bytes);
  } else if (bytes === 1) {
    e.reg8(d.rm);
    if (signed) c.op(Op.I32Extend8S);
  } else {
    e.reg(d.rm);
    if (signed) c.op(Op.I32Extend16S);
    else c.i32(0xffff).op(Op.I32And);
  }
  c.set(T);
  e.setReg(d.reg, () => c.get(T));
  return true;
}

/**
 * F6/F7 /0 TEST r/m, imm; /2 NOT (no flags); /3 NEG (the flags of 0 -
 * operand), on `size`-byte operands through emitInstruction's accessors.
 */
function emitGroup3(e: WasmEmitter, d: Insn, size: number, loadRm: (write: boolean) => void, storeRm: (value: () => void) => void, imm: () => void): boolean {
  const c = e.code;
  switch (d.reg) {
    case 0:
      loadRm(false);
      c.set(FA);
      imm();
      c.set(FB);
      return emitAlu(e, AluOp.And, size);
    case 2:
      // The store keeps the operand's size of the inverted bits.
      loadRm(true);
      c.i32(-1).op(Op.I32Xor).set(T);
      storeRm(() => c.get(T));
      return true;
    case 3:
      loadRm(true);
      c.set(FB).i32(0).set(FA);
      emitAlu(e, AluOp.Sub, size);
      storeRm(() => c.get(FR));
      return true;
    default:
      return false;
  }
}

/**
 * Pushes flag `flag` (CF, ZF, SF or OF) of the live record as 0/1, as
 * flags.ts computes it from the lazy word at run time: for code where no
 * record is known at compile time (a label's start, before the block's
 * first flag-setting instruction). Both ways are computed and one selected.
 */
function emitLiveFlag(e: WasmEmitter, flag: number): void {
  const c = e.code;
  // T2: the sign bit of the record's operand size, 1 << ((8 << size code) - 1).
  c.i32(1).i32(8).get(FW).i32(14).op(Op.I32ShrU).i32(3).op(Op.I32And).op(Op.I32Shl).i32(1).op(Op.I32Sub).op(Op.I32Shl).set(T2);
  const bySign = (): void => void c.get(T2).op(Op.I32And).i32(0).op(Op.I32Ne);
  const op = (): void => void c.get(FW).i32(12).op(Op.I32ShrU).i32(3).op(Op.I32And);
  // Of the ADD and SUB values on the stack, the record's operation's (0 for a logic record).
  const byOp = (): void => {
    op();
    c.i32(FlagOp.Add).op(Op.I32Eq).op(Op.Select);
    op();
    c.i32(FlagOp.Logic).op(Op.I32Ne).op(Op.I32And);
  };
  switch (flag) {
    case CF:
      // Add: the carry out of the sign bit, ((a & b) | ((a | b) & ~r)); Sub: ((~a & b) | ((~a | b) & r)).
      c.get(FA).get(FB).op(Op.I32And).get(FA).get(FB).op(Op.I32Or).get(FR).i32(-1).op(Op.I32Xor).op(Op.I32And).op(Op.I32Or);
      bySign();
      c.get(FA).i32(-1).op(Op.I32Xor).get(FB).op(Op.I32And).get(FA).i32(-1).op(Op.I32Xor).get(FB).op(Op.I32Or).get(FR).op(Op.I32And).op(Op.I32Or);
      bySign();
      byOp();
      break;
    case OF:
      c.get(FA).get(FR).op(Op.I32Xor).get(FB).get(FR).op(Op.I32Xor).op(Op.I32And);
      bySign();
      c.get(FA).get(FB).op(Op.I32Xor).get(FA).get(FR).op(Op.I32Xor).op(Op.I32And);
      bySign();
      byOp();
      break;
    case ZF:
      c.get(FR).op(Op.I32Eqz);
      break;
    default:
      c.get(FR);
      bySign();
  }
  // Not stale: from FL.
  c.get(FL).i32(31 - Math.clz32(flag)).op(Op.I32ShrU).i32(1).op(Op.I32And);
  c.get(FW).i32(flag).op(Op.I32And).op(Op.Select);
}

/**
 * Pushes flag `flag` (CF, ZF, SF or OF) of `record`, known at compile time,
 * as 0/1 (its operands and result are masked to its size: a byte record's
 * CF and ZF come out as for 32 bits).
 */
function emitKnownFlag(e: WasmEmitter, record: PendingRecord, flag: number): void {
  const c = e.code;
  const op = record.op;
  // The sign bit of the value on the stack as 0/1, at the record's operand size.
  const sign = (): void => {
    if (record.size === 4) c.i32(0).op(Op.I32LtS);
    else c.i32(7).op(Op.I32ShrU).i32(1).op(Op.I32And);
  };
  switch (flag) {
    case CF:
      if (record.cfInFlags) c.get(FL).i32(1).op(Op.I32And);
      else if (op === FlagOp.Sub) c.get(FA).get(FB).op(Op.I32LtU);
      else if (op === FlagOp.Add) c.get(FR).get(FA).op(Op.I32LtU);
      else c.i32(0);
      return;
    case OF:
      if (op === FlagOp.Sub) c.get(FA).get(FB).op(Op.I32Xor).get(FA).get(FR).op(Op.I32Xor).op(Op.I32And);
      else if (op === FlagOp.Add) c.get(FA).get(FR).op(Op.I32Xor).get(FB).get(FR).op(Op.I32Xor).op(Op.I32And);
      else return void c.i32(0);
      return sign();
    case ZF:
      c.get(FR).op(Op.I32Eqz);
      return;
    default:
      c.get(FR);
      sign();
  }
}

/**
 * Pushes condition `cc` (the low nibble of a Jcc) as 0/1, as flags.ts's
 * condition: from the record known since the label's start, else from the
 * live record (emitLiveFlag); false for PF, which this backend leaves out.
 */
function emitCondition(e: WasmEmitter, cc: number): boolean {
  if (cc >> 1 === 5) return false;
  const c = e.code;
  const record = e.record;
  const flag = (f: number): void => (record === undefined ? emitLiveFlag(e, f) : emitKnownFlag(e, record, f));
  switch (cc >> 1) {
    case 0:
      flag(OF);
      break;
    case 1:
      flag(CF);
      break;
    case 2:
      flag(ZF);
      break;
    case 3:
      flag(CF);
      flag(ZF);
      c.op(Op.I32Or);
      break;
    case 4:
      flag(SF);
      break;
    case 6:
      flag(SF);
      flag(OF);
      c.op(Op.I32Ne);
      break;
    default:
      flag(ZF);
      flag(SF);
      flag(OF);
      c.op(Op.I32Ne).op(Op.I32Or);
  }
  if (cc & 1) c.op(Op.I32Eqz);
  return true;
}

/** JMP rel8 or rel32. */
function isJmpRel(d: Insn): boolean {
  return d.op === 0xeb || d.op === 0xe9;
}

/**
 * Emits a Jcc or JMP rel (32-bit operand size) that completes `count`
 * instructions and ends at `next` (from the entry): a static exit when taken;
 * false when this backend does not take it.
 */
function emitJump(e: WasmEmitter, d: Insn, count: number, next: number, labels: ReadonlyMap<number, number>): boolean {
  const target = next + jumpDisplacement(d);
  if (isJmpRel(d)) {
    goTo(e, target, count, labels);
    return true;
  }
  // The condition code is the opcode's low nibble (70-7F, 0F 80-8F).
  if (!emitCondition(e, d.op & 15)) return false;
  e.code.if();
  e.ifs++;
  goTo(e, target, count, labels);
  e.ifs--;
  e.code.end();
  return true;
}

/** Goes on at `rel` (from the entry) with `count` instructions completed: the label there, or out by a static exit. */
function goTo(e: WasmEmitter, rel: number, count: number, labels: ReadonlyMap<number, number>): void {
  const label = labels.get(rel);
  if (label !== undefined) e.jumpWithin(label, rel, count);
  else e.leave(e.staticExit(rel, count));
}

/** CALL rel32 that completes `count` instructions and ends at `next`: pushes the return address, leaves for the callee. */
function emitCall(e: WasmEmitter, d: Insn, k: number, rel: number, count: number, next: number): void {
  const c = e.code;
  e.reg(ESP);
  c.i32(4).op(Op.I32Sub);
  e.access(true, k, rel, flatBit(SS, true, true));
  e.store(() => c.get(E).i32(next).op(Op.I32Add));
  e.setReg(ESP, () => c.get(LIN));
  e.leave(e.staticExit(next + jumpDisplacement(d), count));
}

/** RET near (32-bit, no immediate) that completes `count` instructions: pops EIP, leaves by INDIRECT_EXIT with it in the arena. */
function emitRet(e: WasmEmitter, k: number, rel: number, count: number): void {
  const c = e.code;
  e.reg(ESP);
  e.access(false, k, rel, flatBit(SS, false, true));
  c.i32(0);
  e.load();
  c.memory(Op.I32Store, SLOT_EIP, 4);
  e.setReg(ESP, () => {
    e.reg(ESP);
    c.i32(4).op(Op.I32Add);
  });
  e.leave(e.row(0, INDIRECT_EXIT, count));
}

/**
 * Whether this backend takes `b`'s shape: 32-bit code in one page, no
 * callee followed into (a RET returning within the block: codegen.ts's
 * inlined RETs are not done here yet) and no JMP through a pointer.
 */
function isPlainShape(b: BlockShape): boolean {
  return b.mode === 1 && b.foreign.length === 0 && b.returns.size === 0 && b.pointerJumps.size === 0;
}

/**
 * The labels of `b`: the entry (0), the entries codegen.ts's entryLabels
 * gives it and the instructions a Jcc or JMP rel of the block goes to, by
 * their offset from the entry, numbered in the order of their instructions.
 */
function blockLabels(b: BlockShape): Map<number, number> {
  const rels = new Set(b.rel);
  // The entry, the places the translator may enter the block at (entryBlock), the jump targets.
  const targets = new Set<number>([0, ...entryLabels(b).map(([rel]) => rel)]);
  b.insns.forEach((d, k) => {
    if (isConditionalJump(d) || isJmpRel(d)) {
      const target = b.rel[k]! + d.len + jumpDisplacement(d);
      if (rels.has(target)) targets.add(target);
    }
  });
  const labels = new Map<number, number>();
  for (const rel of b.rel) if (targets.has(rel)) labels.set(rel, labels.size);
  return labels;
}

/**
 * `b` as a WebAssembly block function over `arena`, with the number of
 * link slots its exits use; undefined when this backend does not take it.
 */
export function wasmBlock(b: BlockShape, arena: WasmArena): { fn: BlockFn; exitSlots: number } | undefined {
  if (!isPlainShape(b) || !(b.flat & FLAT_CS)) return undefined;
  const e = new WasmEmitter();
  const c = e.code;
  const labels = blockLabels(b);
  // The labels' code in a loop: a block per label, the innermost first, entered through a br_table on S.
  e.labels = labels.size;
  // The live record and flags, as c holds them (blockFunction put them in the arena).
  c.i32(0).memory(Op.I32Load, SLOT_LA, 4).set(FA);
  c.i32(0).memory(Op.I32Load, SLOT_LB, 4).set(FB);
  c.i32(0).memory(Op.I32Load, SLOT_LR, 4).set(FR);
  c.i32(0).memory(Op.I32Load, SLOT_FW, 4).set(FW);
  c.i32(0).memory(Op.I32Load, SLOT_FLAGS, 4).set(FL);
  c.loop();
  for (let i = 0; i < labels.size; i++) c.block();
  c.get(S).brTable([...labels.values()], labels.size - 1);
  const last = b.insns.length - 1;
  let fell = false;
  // After an instruction that always leaves, the code up to the next label cannot run.
  let unreachable = false;
  for (let k = 0; k <= last; k++) {
    const d = b.insns[k]!;
    const rel = b.rel[k]!;
    const next = rel + d.len;
    const label = labels.get(rel);
    if (label === undefined && unreachable) continue;
    if (d.exec !== OPCODES[d.op]?.exec || (d.size !== 4 && d.size !== 1) || !d.a32 || d.lock || d.rep) return undefined;
    if (label !== undefined) {
      if (fell) c.get(N).i32(k - e.labelStart).op(Op.I32Add).set(N);
      c.end();
      e.label = label;
      e.labelStart = k;
      e.record = undefined;
    }
    // Whether this instruction is the last of its run: what comes after it in the block is not what follows it.
    const runEnd = k === last || b.rel[k + 1] !== next;
    fell = false;
    unreachable = true;
    // A CALL leaves for its callee. One whose return address the block goes on at (codegen.ts's
    // nested calls, which JavaScript blocks make without the dispatcher) stays JavaScript for now.
    if (d.op === 0xe8 && d.size === 4) {
      if (!runEnd) return undefined;
      emitCall(e, d, k, rel, k + 1, next);
      continue;
    }
    if (d.op === 0xc3 && d.size === 4) {
      emitRet(e, k, rel, k + 1);
      continue;
    }
    const mark = e.mark();
    const jump = isConditionalJump(d) || isJmpRel(d);
    if (!(jump ? emitJump(e, d, k + 1, next, labels) : emitInstruction(e, d, k, rel))) {
      // A run's last instruction may be any: the interpreter runs it (SLOW_EXIT).
      if (!runEnd || k === e.labelStart) return undefined;
      e.rollBack(mark);
      e.leave(e.row(rel, SLOW_EXIT, k));
      continue;
    }
    if (isJmpRel(d)) continue;
    if (runEnd) goTo(e, next, k + 1, labels);
    else {
      fell = true;
      unreachable = false;
    }
  }
  c.end().op(Op.Unreachable);
  if ((b.flat & e.flat) !== e.flat) return undefined;
  const bytes = moduleBytes({ imports: [], run: { params: 3, results: 1, locals: LOCALS, code: c } });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { m: { memory: arena.memory } });
  return { fn: blockFunction(instance.exports.run as Run, Int32Array.from(e.rows), labels, e.flat, arena.slots), exitSlots: 2 * e.exits };
}

/**
 * A block's exported function: takes the CPL's half of the fast-path
 * tables, its first instruction's EIP and the label to start at; returns
 * its exit row.
 */
type Run = (u: number, eip: number, label: number) => number;

/** The BlockFn around a block's exported `run`: the state it does not keep in the arena, in and out. */
function blockFunction(run: Run, rows: Int32Array, labels: ReadonlyMap<number, number>, flat: number, slots: Int32Array): BlockFn {
  return (c: Cpu, B: Block): number => {
    // A segment taken as flat is no longer: the dispatcher drops the block (translator.ts).
    if ((c.flat & flat) !== flat) return REFUSED;
    // Run as an entry (entryBlock), the block starts at the label there; E is still its first instruction's EIP.
    const E = (c.eip - B.entryRel) | 0;
    slots[SLOT_LA >> 2] = c.lA;
    slots[SLOT_LB >> 2] = c.lB;
    slots[SLOT_LR >> 2] = c.lR;
    slots[SLOT_FW >> 2] = c.lazy;
    slots[SLOT_FLAGS >> 2] = c.flags;
    const j = run(c.tlbHalf, E, B.entryRel === 0 ? 0 : labels.get(B.entryRel)!) * ROW;
    c.lA = slots[SLOT_LA >> 2]!;
    c.lB = slots[SLOT_LB >> 2]!;
    c.lR = slots[SLOT_LR >> 2]!;
    c.lazy = slots[SLOT_FW >> 2]!;
    c.flags = slots[SLOT_FLAGS >> 2]!;
    const exit = rows[j + 1]!;
    c.eip = exit === INDIRECT_EXIT ? slots[SLOT_EIP >> 2]! >>> 0 : (E + rows[j]!) >>> 0;
    B.exit = exit;
    return slots[SLOT_N >> 2]! + rows[j + 2]!;
  };
}
