/**
 * Translated blocks as WebAssembly (`-accel tcg,wasm=on`, experimental). V8
 * compiles a block's module with Liftoff at about a seventieth of what
 * TurboFan takes for the same block as JavaScript (bench/block-compile.mjs),
 * and that wait is most of the warm-up of booting Linux.
 *
 * So far it takes 32-bit blocks in one page without followed callees or
 * pointer jumps (codegen.ts's foreign pages, inlined RETs and pointer
 * jumps), accesses in flat segments only. It has code of its own for ALU,
 * TEST, MOV, NOT, NEG, INC and DEC on 32- and 8-bit registers, memory and
 * immediates; LEA, MOVZX/MOVSX, PUSH, POP and LEAVE; Jcc and JMP rel, to a
 * label of the block or out; CALL rel at a run's end and RET, which leave.
 * Any other instruction a block may go on after (block-rules.ts) runs by
 * its handler, called through an import with the flag record handed over;
 * one that ends its run otherwise is left to the interpreter (the block
 * leaves before it). Other blocks are JavaScript (codegen.ts) as before.
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
import { continuesBlock, isConditionalJump, mayWriteMemory } from './block-rules.js';
import { AF, ARITH_FLAGS, CF, ECX, ESP, OF, PF, SF, SS, ZF } from '../constants.js';
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
/** A shift's or multiply's result, and its count or second operand. */
const X = 15;
const COUNT = 16;
const LOCALS = 14;
/** The function index of the import running an instruction by its handler (handlerImport). */
const HANDLER = 0;
/** Exit rows: EIP offset from the entry, exit number, instructions completed. */
const ROW = 3;

/**
 * The record the last flag-setting instruction left in FA/FB/FR/FW, as far
 * as the code emitted since the current label's start tells (code reached
 * by a jump to the label may have left another).
 */
interface PendingRecord {
  op: FlagOp;
  /** Operand size in bytes: 1, 2 or 4. */
  size: number;
  /** Of CF and OF, those in FL, not stale (INC and DEC keep CF; shifts and multiplies compute both). */
  inFlags: number;
  /** FR is FA + FB or FA - FB exactly (no carry in: not ADC/SBB), so CF compares them. */
  plain: boolean;
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

  constructor(private readonly rareWays: ReadonlySet<number>) {}

  /** Static exits so far: the even exit numbers, and exits to rare ways (BlockShape.rareWays): the odd ones, as codegen.ts numbers them. */
  exits = 0;
  rareExits = 0;

  /**
   * The row of a static exit to `rel` (from the entry) after `count`
   * instructions, with an exit number of its own: odd for a rare way
   * unless `loop` (a loop leaving for its head to let the dispatcher in).
   */
  staticExit(rel: number, count: number, loop = false): number {
    return this.row(rel, !loop && this.rareWays.has(rel) ? 2 * this.rareExits++ + 1 : 2 * this.exits++, count);
  }

  /** Where the code and the rows stand, to roll back an instruction emitted in part. */
  mark(): { bytes: number; rows: number; exits: number; rareExits: number; record: PendingRecord | undefined; flat: number } {
    return { bytes: this.code.bytes.length, rows: this.rows.length, exits: this.exits, rareExits: this.rareExits, record: this.record, flat: this.flat };
  }

  rollBack(mark: ReturnType<WasmEmitter['mark']>): void {
    this.code.bytes.length = mark.bytes;
    this.rows.length = mark.rows;
    this.exits = mark.exits;
    this.rareExits = mark.rareExits;
    this.record = mark.record;
    this.flat = mark.flat;
  }

  /** Goes on at label `label` (rel `rel`), `count` instructions completed; leaves for it after LOOP_ITERATIONS such jumps. */
  jumpWithin(label: number, rel: number, count: number): void {
    const c = this.code;
    c.get(LOOPS).i32(1).op(Op.I32Add).tee(LOOPS).i32(LOOP_ITERATIONS).op(Op.I32GtU).if();
    this.leave(this.staticExit(rel, count, true));
    c.end();
    c.get(N).i32(count - this.labelStart).op(Op.I32Add).set(N);
    c.i32(label).set(S).br(this.labels - 1 - this.label + this.ifs);
  }

  /** Leaves by exit row `row`, handing over the count before the label and the record (blockFunction). */
  leave(row: number): void {
    const c = this.code;
    c.i32(0).get(N).memory(Op.I32Store, SLOT_N, 4);
    this.storeRecord();
    c.i32(row).op(Op.Return);
  }

  /** Puts the record and EFLAGS (FA/FB/FR/FW/FL) in the arena's slots, for c. */
  storeRecord(): void {
    const c = this.code;
    c.i32(0).get(FA).memory(Op.I32Store, SLOT_LA, 4);
    c.i32(0).get(FB).memory(Op.I32Store, SLOT_LB, 4);
    c.i32(0).get(FR).memory(Op.I32Store, SLOT_LR, 4);
    c.i32(0).get(FW).memory(Op.I32Store, SLOT_FW, 4);
    c.i32(0).get(FL).memory(Op.I32Store, SLOT_FLAGS, 4);
  }

  /** Takes the record and EFLAGS from the arena's slots (c's, put there at entry or after a handler). */
  loadRecord(): void {
    const c = this.code;
    c.i32(0).memory(Op.I32Load, SLOT_LA, 4).set(FA);
    c.i32(0).memory(Op.I32Load, SLOT_LB, 4).set(FB);
    c.i32(0).memory(Op.I32Load, SLOT_LR, 4).set(FR);
    c.i32(0).memory(Op.I32Load, SLOT_FW, 4).set(FW);
    c.i32(0).memory(Op.I32Load, SLOT_FLAGS, 4).set(FL);
  }

  /**
   * Runs instruction k (at `rel`, ending at `next`) by its handler, through
   * the import HANDLER (blockFunction's), with the record handed over both
   * ways; after one that may write memory, leaves (exit -1, EIP at `next`)
   * if that killed the block, as codegen.ts's deadExit.
   */
  handlerCall(d: Insn, k: number, next: number): void {
    const c = this.code;
    this.storeRecord();
    c.get(E).i32(k).call(HANDLER);
    this.loadRecord();
    this.record = undefined;
    if (!mayWriteMemory(d)) return void c.op(Op.Drop);
    c.if();
    this.leave(this.row(next, -1, k + 1));
    c.end();
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

  /** Stores the value `value` pushes (its low `bytes` bytes) at RAM index P. */
  store(value: () => void, bytes: 1 | 2 | 4 = 4): void {
    this.code.get(P);
    value();
    this.code.memory(bytes === 1 ? Op.I32Store8 : bytes === 2 ? Op.I32Store16 : Op.I32Store, RAM_BASE, bytes);
  }

  /** Makes the record `op` of FA and FB (with result FR), the flags `inFlags` in FL: its lazy word into FW. */
  setRecord(op: FlagOp, size: number, inFlags = 0, plain = true): void {
    this.record = { op, size, inFlags, plain };
    this.code.i32(lazyWord(op, size, ARITH_FLAGS & ~inFlags)).set(FW);
  }

  /**
   * The record flags.ts's setResultFlags makes (shifts, multiplies): ZF, SF
   * and PF from the result in X, CF and OF the bits `cfOf` pushes, AF clear.
   */
  setResultRecord(size: number, cfOf: () => void): void {
    const c = this.code;
    c.get(FL).i32(~(CF | OF | AF)).op(Op.I32And);
    cfOf();
    c.op(Op.I32Or).set(FL).get(X).set(FR);
    this.setRecord(FlagOp.Logic, size, CF | OF | AF);
  }

  /** Pushes the low `size` bytes of register n (AL..BH for bytes). */
  regOf(n: number, size: number): void {
    if (size === 1) return this.reg8(n);
    this.reg(n);
    if (size === 2) this.code.i32(0xffff).op(Op.I32And);
  }

  /** Stores the low `size` bytes of the value `value` pushes into register n, keeping the rest. */
  setRegOf(n: number, size: number, value: () => void): void {
    if (size === 1) return this.setReg8(n, value);
    if (size === 4) return this.setReg(n, value);
    const c = this.code;
    this.setReg(n, () => {
      this.reg(n);
      c.i32(-0x10000).op(Op.I32And);
      value();
      c.i32(0xffff).op(Op.I32And).op(Op.I32Or);
    });
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
 * Emits `op` on a (in FA) and b (in FB) into FR, with its record; ADC and
 * SBB add or take CARRY (carryIn).
 */
function emitAlu(e: WasmEmitter, op: AluOp, size = 4): void {
  const c = e.code;
  c.get(FA).get(FB);
  switch (op) {
    case AluOp.Add:
      c.op(Op.I32Add);
      e.setRecord(FlagOp.Add, size);
      break;
    case AluOp.Adc:
      c.op(Op.I32Add).get(CARRY).op(Op.I32Add);
      e.setRecord(FlagOp.Add, size, 0, false);
      break;
    case AluOp.Sbb:
      c.op(Op.I32Sub).get(CARRY).op(Op.I32Sub);
      e.setRecord(FlagOp.Sub, size, 0, false);
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
    default:
      c.op(Op.I32Xor);
      e.setRecord(FlagOp.Logic, size);
  }
  // The record's result is masked to the operand size (flags.ts).
  if (size < 4) c.i32(sizeMask(size)).op(Op.I32And);
  c.set(FR);
}

/** The mask of a `size`-byte operand's bits. */
function sizeMask(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : -1;
}

/** For ADC and SBB, CF of the record before into CARRY, ahead of anything that changes the record's locals. */
function carryIn(e: WasmEmitter, op: AluOp): void {
  if (op !== AluOp.Adc && op !== AluOp.Sbb) return;
  emitCondition(e, 2); // CF
  e.code.set(CARRY);
}

/**
 * Emits instruction k (at `rel` from the entry) of a straight run: false
 * when this backend has no code of its own for it. ALU, TEST and MOV forms
 * take 8-, 16- and 32-bit operands (AL..BH; immediates come masked to their
 * size); the others 32-bit ones, SETcc bytes.
 */
function emitInstruction(e: WasmEmitter, d: Insn, k: number, rel: number): boolean {
  const c = e.code;
  const op = d.op;
  const size = d.size;
  const mem = d.mod >= 0 && d.mod !== 3;
  const imm = (): void => void c.i32(d.imm & sizeMask(size));
  const reg = (n: number): void => e.regOf(n, size);
  const setReg = (n: number, value: () => void): void => e.setRegOf(n, size, value);
  // The r/m operand: register rm or the memory operand, P left at it for a store back (a
  // read-modify-write checks the write entry only: a writable page and segment are readable).
  // Its access may leave, so it comes before anything changes the record's locals.
  const loadRm = (write: boolean): void => {
    if (!mem) return reg(d.rm);
    e.address(d);
    e.access(write, k, rel, flatBit(d.seg, write, false), size);
    e.load(size === 1 ? Op.I32Load8U : size === 2 ? Op.I32Load16U : Op.I32Load, size as 1 | 2 | 4);
  };
  // The r/m operand of a plain write: its access checked first (P then at it).
  const reachRm = (): void => {
    if (!mem) return;
    e.address(d);
    e.access(true, k, rel, flatBit(d.seg, true, false), size);
  };
  const storeRm = (value: () => void): void => (mem ? e.store(value, size as 1 | 2 | 4) : setReg(d.rm, value));
  if (op < 0x40 && (op & 7) < 6) {
    const aluOp = (op >> 3) & 7;
    carryIn(e, aluOp);
    switch (op & 7) {
      case 4:
      case 5:
        // AL/AX/EAX, imm
        reg(0);
        c.set(FA);
        imm();
        c.set(FB);
        emitAlu(e, aluOp, size);
        if (aluOp !== AluOp.Cmp) setReg(0, () => c.get(FR));
        return true;
      case 2:
      case 3:
        // r, r/m
        loadRm(false);
        c.set(FB);
        reg(d.reg);
        c.set(FA);
        emitAlu(e, aluOp, size);
        if (aluOp !== AluOp.Cmp) setReg(d.reg, () => c.get(FR));
        return true;
      default:
        // r/m, r
        loadRm(aluOp !== AluOp.Cmp);
        c.set(FA);
        reg(d.reg);
        c.set(FB);
        emitAlu(e, aluOp, size);
        if (aluOp !== AluOp.Cmp) storeRm(() => c.get(FR));
        return true;
    }
  }
  switch (op) {
    case 0x80:
    case 0x81:
    case 0x83:
      carryIn(e, d.reg);
      loadRm(d.reg !== AluOp.Cmp);
      c.set(FA);
      imm();
      c.set(FB);
      emitAlu(e, d.reg, size);
      if (d.reg !== AluOp.Cmp) storeRm(() => c.get(FR));
      return true;
    case 0x84:
    case 0x85:
      loadRm(false);
      c.set(FA);
      reg(d.reg);
      c.set(FB);
      emitAlu(e, AluOp.And, size);
      return true;
    case 0xa8:
    case 0xa9:
      reg(0);
      c.set(FA);
      imm();
      c.set(FB);
      emitAlu(e, AluOp.And, size);
      return true;
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
  if (op >= 0x190 && op <= 0x19f) {
    // SETcc r/m8
    reachRm();
    emitCondition(e, op & 15);
    c.set(T);
    storeRm(() => c.get(T));
    return true;
  }
  if (size === 1 && op >= 0xb0 && op <= 0xb7) {
    setReg(op - 0xb0, imm);
    return true;
  }
  if (size === 2 && op >= 0xb8 && op <= 0xbf) {
    setReg(op - 0xb8, imm);
    return true;
  }
  if (size !== 4) return false;
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
    case 0xc1:
    case 0xd1:
    case 0xd3:
      return emitShift(e, d, loadRm, storeRm);
    case 0x1af:
      // IMUL r32, r/m32
      loadRm(false);
      c.set(COUNT);
      e.reg(d.reg);
      c.set(T);
      emitImul(e, d.reg);
      return true;
    case 0x69:
    case 0x6b:
      // IMUL r32, r/m32, imm
      loadRm(false);
      c.set(T);
      imm();
      c.set(COUNT);
      emitImul(e, d.reg);
      return true;
  }
  if (op >= 0x140 && op <= 0x14f) {
    // CMOVcc r32, r/m32: the source is read whatever the condition (datamov.ts's cmov).
    loadRm(false);
    c.set(T);
    e.setReg(d.reg, () => {
      c.get(T);
      e.reg(d.reg);
      emitCondition(e, op & 15);
      c.op(Op.Select);
    });
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
 * SHL/SAL, SHR, SAR, ROL and ROR of a 32-bit r/m by an immediate, 1 or CL,
 * as shift.ts's shift: a count of 0 (mod 32) changes nothing, so by an
 * immediate 0 this backend leaves it to the handler, and by CL it shifts
 * under an `if` (the record after it is then known only at run time).
 * Shifts make a result record (setResultRecord); rotates set CF and OF
 * over the record before. RCL and RCR are the handler's.
 */
function emitShift(e: WasmEmitter, d: Insn, loadRm: (write: boolean) => void, storeRm: (value: () => void) => void): boolean {
  const c = e.code;
  const op = d.reg;
  const byCl = d.op === 0xd3;
  const n = d.op === 0xd1 ? 1 : d.imm & 31;
  if (op === 2 || op === 3 || (!byCl && n === 0)) return false;
  const count = (): void => void (byCl ? c.get(COUNT) : c.i32(n));
  // T: the operand; X: the result; CARRY: CF; OF pushed by `of`.
  loadRm(true);
  c.set(T);
  if (byCl) {
    e.reg(ECX);
    c.i32(31).op(Op.I32And).tee(COUNT).if();
    e.ifs++;
  }
  let of: () => void;
  switch (op) {
    case 0:
      c.get(T);
      count();
      c.op(Op.I32Rotl).tee(X).i32(1).op(Op.I32And).set(CARRY);
      of = () => void c.get(X).i32(31).op(Op.I32ShrU).get(CARRY).op(Op.I32Xor);
      break;
    case 1:
      c.get(T);
      count();
      c.op(Op.I32Rotr).tee(X).i32(31).op(Op.I32ShrU).set(CARRY);
      of = () => void c.get(X).i32(30).op(Op.I32ShrU).i32(1).op(Op.I32And).get(CARRY).op(Op.I32Xor);
      break;
    case 5:
      c.get(T);
      count();
      c.op(Op.I32ShrU).set(X);
      c.get(T);
      count();
      c.i32(1).op(Op.I32Sub).op(Op.I32ShrU).i32(1).op(Op.I32And).set(CARRY);
      // OF: the operand's sign for a count of 1, else clear.
      of = () => {
        c.get(T).i32(31).op(Op.I32ShrU);
        count();
        c.i32(1).op(Op.I32Eq).op(Op.I32And);
      };
      break;
    case 7:
      c.get(T);
      count();
      c.op(Op.I32ShrS).set(X);
      c.get(T);
      count();
      c.i32(1).op(Op.I32Sub).op(Op.I32ShrS).i32(1).op(Op.I32And).set(CARRY);
      of = () => void c.i32(0);
      break;
    default:
      // SHL/SAL
      c.get(T);
      count();
      c.op(Op.I32Shl).set(X);
      c.get(T).i32(32);
      count();
      c.op(Op.I32Sub).op(Op.I32ShrU).i32(1).op(Op.I32And).set(CARRY);
      of = () => void c.get(X).i32(31).op(Op.I32ShrU).get(CARRY).op(Op.I32Xor);
  }
  const cfOf = (): void => {
    c.get(CARRY);
    of();
    c.i32(11).op(Op.I32Shl).op(Op.I32Or);
  };
  if (op <= 1) {
    // shift.ts's setArith(CF | OF, ...): the other flags stay as the record before has them.
    c.get(FL).i32(~(CF | OF)).op(Op.I32And);
    cfOf();
    c.op(Op.I32Or).set(FL);
    c.get(FW).i32(~(CF | OF)).op(Op.I32And).set(FW);
    if (e.record) e.record = { ...e.record, inFlags: e.record.inFlags | CF | OF };
  } else e.setResultRecord(4, cfOf);
  storeRm(() => c.get(X));
  if (byCl) {
    c.end();
    e.ifs--;
    e.record = undefined;
  }
  return true;
}

/** IMUL of T by COUNT into register `reg` (alu.ts's imulTruncated, 32 bits): CF = OF when the signed product does not fit. */
function emitImul(e: WasmEmitter, reg: number): void {
  const c = e.code;
  c.get(T).get(COUNT).op(Op.I32Mul).set(X);
  e.setResultRecord(4, () => {
    c.i32(CF | OF).i32(0);
    c.get(T).op(Op.I64ExtendI32S).get(COUNT).op(Op.I64ExtendI32S).op(Op.I64Mul).get(X).op(Op.I64ExtendI32S).op(Op.I64Ne);
    c.op(Op.Select);
  });
  e.setReg(reg, () => c.get(X));
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
  if (size < 4) c.i32(sizeMask(size)).op(Op.I32And);
  c.set(FR);
  e.setRecord(dec ? FlagOp.Sub : FlagOp.Add, size, CF);
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
      emitAlu(e, AluOp.And, size);
      return true;
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
 * Pushes flag `flag` (CF, PF, ZF, SF or OF) of the live record as 0/1, as
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
    case PF:
      emitParity(e);
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
 * Pushes flag `flag` (CF, PF, ZF, SF or OF) of `record`, known at compile time,
 * as 0/1 (its operands and result are masked to its size: a byte record's
 * CF and ZF come out as for 32 bits).
 */
function emitKnownFlag(e: WasmEmitter, record: PendingRecord, flag: number): void {
  const c = e.code;
  const op = record.op;
  // The sign bit of the value on the stack as 0/1, at the record's operand size.
  const sign = (): void => {
    if (record.size === 4) c.i32(0).op(Op.I32LtS);
    else c.i32(8 * record.size - 1).op(Op.I32ShrU).i32(1).op(Op.I32And);
  };
  if (record.inFlags & flag) {
    // CF (bit 0) or OF (bit 11) from FL.
    c.get(FL);
    if (flag === OF) c.i32(11).op(Op.I32ShrU);
    c.i32(1).op(Op.I32And);
    return;
  }
  switch (flag) {
    case CF:
      if (op === FlagOp.Logic) c.i32(0);
      else if (!record.plain) {
        // ADC/SBB: the carry out of the sign bit (flags.ts's cf()).
        if (op === FlagOp.Add) c.get(FA).get(FB).op(Op.I32And).get(FA).get(FB).op(Op.I32Or).get(FR).i32(-1).op(Op.I32Xor).op(Op.I32And).op(Op.I32Or);
        else c.get(FA).i32(-1).op(Op.I32Xor).get(FB).op(Op.I32And).get(FA).i32(-1).op(Op.I32Xor).get(FB).op(Op.I32Or).get(FR).op(Op.I32And).op(Op.I32Or);
        sign();
      } else if (op === FlagOp.Sub) c.get(FA).get(FB).op(Op.I32LtU);
      else c.get(FR).get(FA).op(Op.I32LtU);
      return;
    case OF:
      if (op === FlagOp.Sub) c.get(FA).get(FB).op(Op.I32Xor).get(FA).get(FR).op(Op.I32Xor).op(Op.I32And);
      else if (op === FlagOp.Add) c.get(FA).get(FR).op(Op.I32Xor).get(FB).get(FR).op(Op.I32Xor).op(Op.I32And);
      else return void c.i32(0);
      return sign();
    case ZF:
      c.get(FR).op(Op.I32Eqz);
      return;
    case PF:
      return emitParity(e);
    default:
      c.get(FR);
      sign();
  }
}

/** Pushes PF of the record's result FR as 0/1: set when its low byte has an even number of 1 bits (flags.ts). */
function emitParity(e: WasmEmitter): void {
  e.code.get(FR).i32(0xff).op(Op.I32And).op(Op.I32Popcnt).i32(1).op(Op.I32And).op(Op.I32Eqz);
}

/**
 * Pushes condition `cc` (the low nibble of a Jcc) as 0/1, as flags.ts's
 * condition: from the record known since the label's start, else from the
 * live record (emitLiveFlag).
 */
function emitCondition(e: WasmEmitter, cc: number): void {
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
    case 5:
      flag(PF);
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
}

/** JMP rel8 or rel32. */
function isJmpRel(d: Insn): boolean {
  return d.op === 0xeb || d.op === 0xe9;
}

/**
 * Emits a Jcc or JMP rel (32-bit operand size) that completes `count`
 * instructions and ends at `next` (from the entry): a static exit when taken.
 */
function emitJump(e: WasmEmitter, d: Insn, count: number, next: number, labels: ReadonlyMap<number, number>): void {
  const target = next + jumpDisplacement(d);
  if (isJmpRel(d)) return goTo(e, target, count, labels);
  // The condition code is the opcode's low nibble (70-7F, 0F 80-8F).
  emitCondition(e, d.op & 15);
  e.code.if();
  e.ifs++;
  goTo(e, target, count, labels);
  e.ifs--;
  e.code.end();
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
  const e = new WasmEmitter(b.rareWays);
  const c = e.code;
  const labels = blockLabels(b);
  // The labels' code in a loop: a block per label, the innermost first, entered through a br_table on S.
  e.labels = labels.size;
  // The live record and flags, as c holds them (blockFunction put them in the arena).
  e.loadRecord();
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
    const plain = isPlainForm(d);
    const jump = isConditionalJump(d) || isJmpRel(d);
    // A CALL leaves for its callee. One whose return address the block goes on at (codegen.ts's
    // nested calls, which JavaScript blocks make without the dispatcher) stays JavaScript for now.
    if (plain && d.op === 0xe8 && d.size === 4) {
      if (!runEnd) return undefined;
      emitCall(e, d, k, rel, k + 1, next);
      continue;
    }
    if (plain && d.op === 0xc3 && d.size === 4) {
      emitRet(e, k, rel, k + 1);
      continue;
    }
    const mark = e.mark();
    if (plain && jump && d.size === 4) emitJump(e, d, k + 1, next, labels);
    else if (!(plain && emitInstruction(e, d, k, rel))) {
      e.rollBack(mark);
      if (continuesBlock(d) && !jump) e.handlerCall(d, k, next);
      else {
        // A run's last instruction may be any: the interpreter runs it (SLOW_EXIT).
        if (!runEnd || k === e.labelStart) return undefined;
        e.leave(e.row(rel, SLOW_EXIT, k));
        continue;
      }
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
  const bytes = moduleBytes({ imports: [{ name: 'h', params: 2, results: 1 }], run: { params: 3, results: 1, locals: LOCALS, code: c } });
  const running: Running = { c: undefined, B: undefined };
  const imports = { m: { memory: arena.memory }, f: { h: handlerImport(b, labels, running, arena.slots) } };
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), imports);
  return { fn: blockFunction(instance.exports.run as Run, Int32Array.from(e.rows), labels, e.flat, arena.slots, running), exitSlots: 2 * Math.max(e.exits, e.rareExits) };
}

/**
 * Whether `d` is in a form this backend's own code may take: its handler
 * is the opcode's (the decoder gives a misplaced LOCK #UD's), 32-bit
 * addressing, no LOCK or REP. (Control transfers take 32-bit operands
 * only: a 16-bit one wraps EIP to 16 bits.)
 */
function isPlainForm(d: Insn): boolean {
  return d.exec === OPCODES[d.op]?.exec && d.a32 && !d.lock && !d.rep;
}

/** The CPU and block a block function is running for: its handler import's. */
interface Running {
  c: Cpu | undefined;
  B: Block | undefined;
}

/**
 * The import HANDLER of `b`'s module: runs instruction k by its handler as
 * codegen.ts's handler calls do (EIP and the instruction's EIP and ESP set
 * as the interpreter's step sets them, the record through the arena's slots
 * both ways); returns 1 if the block is dead after it. The instruction after
 * STI runs in its shadow when the block goes on (interrupts wait for the
 * block's end, block-rules.ts).
 */
function handlerImport(b: BlockShape, labels: ReadonlyMap<number, number>, running: Running, slots: Int32Array): (E: number, k: number) => number {
  return (E, k) => {
    const c = running.c!;
    const d = b.insns[k]!;
    const next = b.rel[k]! + d.len;
    const key = `${d.op.toString(16)}/${d.reg}/${d.size}${d.mod === 3 ? 'r' : 'm'}`;
    const hc = ((globalThis as any).__hc ??= new Map());
    hc.set(key, (hc.get(key) ?? 0) + 1);
    recordFromSlots(c, slots);
    c.insnEip = (E + b.rel[k]!) >>> 0;
    c.eip = (E + next) >>> 0;
    c.insnEsp = c.regs[ESP]!;
    d.exec(c, d);
    if (d.op === 0xfb && (b.rel[k + 1] === next || labels.has(next))) c.interruptShadow = false;
    recordToSlots(c, slots);
    return running.B!.dead ? 1 : 0;
  };
}

/** c's flag record and EFLAGS into the arena's slots, for a block's code. */
function recordToSlots(c: Cpu, slots: Int32Array): void {
  slots[SLOT_LA >> 2] = c.lA;
  slots[SLOT_LB >> 2] = c.lB;
  slots[SLOT_LR >> 2] = c.lR;
  slots[SLOT_FW >> 2] = c.lazy;
  slots[SLOT_FLAGS >> 2] = c.flags;
}

/** The flag record and EFLAGS a block's code left in the arena's slots, into c. */
function recordFromSlots(c: Cpu, slots: Int32Array): void {
  c.lA = slots[SLOT_LA >> 2]!;
  c.lB = slots[SLOT_LB >> 2]!;
  c.lR = slots[SLOT_LR >> 2]!;
  c.lazy = slots[SLOT_FW >> 2]!;
  c.flags = slots[SLOT_FLAGS >> 2]!;
}

/**
 * A block's exported function: takes the CPL's half of the fast-path
 * tables, its first instruction's EIP and the label to start at; returns
 * its exit row.
 */
type Run = (u: number, eip: number, label: number) => number;

/** The BlockFn around a block's exported `run`: the state it does not keep in the arena, in and out. */
function blockFunction(run: Run, rows: Int32Array, labels: ReadonlyMap<number, number>, flat: number, slots: Int32Array, running: Running): BlockFn {
  return (c: Cpu, B: Block): number => {
    // A segment taken as flat is no longer: the dispatcher drops the block (translator.ts).
    if ((c.flat & flat) !== flat) return REFUSED;
    // Run as an entry (entryBlock), the block starts at the label there; E is still its first instruction's EIP.
    const E = (c.eip - B.entryRel) | 0;
    running.c = c;
    running.B = B;
    recordToSlots(c, slots);
    const j = run(c.tlbHalf, E, B.entryRel === 0 ? 0 : labels.get(B.entryRel)!) * ROW;
    recordFromSlots(c, slots);
    const exit = rows[j + 1]!;
    c.eip = exit === INDIRECT_EXIT ? slots[SLOT_EIP >> 2]! >>> 0 : (E + rows[j]!) >>> 0;
    B.exit = exit;
    return slots[SLOT_N >> 2]! + rows[j + 2]!;
  };
}
