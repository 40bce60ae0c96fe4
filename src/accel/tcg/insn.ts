/**
 * The decoded-instruction record: what the decoder produces from bytes at a
 * linear address and what every instruction handler (and, later, the
 * translator) consumes. Operands are described, not evaluated: the memory
 * operand's effective address is computed at execution time from `base`,
 * `index`, `scale` and `disp`.
 */
import type { Cpu } from './cpu.js';
import { DOUBLE_ZERO } from './constants.js';

export type Handler = (cpu: Cpu, insn: Insn) => void;

/**
 * Straight-line instructions, one after another in memory, and the bytes
 * they span; `open` when the code goes on past them in an instruction the
 * run could not hold.
 */
export interface InsnRun {
  readonly insns: readonly Insn[];
  readonly bytes: number;
  readonly open: boolean;
}

export class Insn {
  /** Opcode: 0x00-0xFF one-byte, 0x100-0x1FF for 0F xx. */
  op = 0;
  /** Length in bytes including prefixes. */
  len = 0;
  /** 32-bit operand size (after 66). */
  o32 = false;
  /** 32-bit address size (after 67). */
  a32 = false;
  /** Operand size in bytes for this instruction: 1 (byte forms), 2 or 4. */
  size = 4;
  /** Segment register of the memory operand (override or the default for the addressing form). */
  seg = 3;
  /** Segment override prefix, or -1. */
  segOverride = -1;
  /** 0, 0xF2 (REPNE) or 0xF3 (REP/REPE). */
  rep = 0;
  lock = false;
  /** ModR/M fields (mod = -1 when the instruction has no ModR/M). */
  mod = -1;
  reg = 0;
  rm = 0;
  /** Memory operand: registers (-1 none), scale shift, displacement (may be a uint32: DOUBLE_ZERO, constants.ts). */
  base = -1;
  index = -1;
  scale = 0;
  disp = DOUBLE_ZERO;
  /** Immediates, already sign-extended and masked to the operand size where the encoding says so. */
  imm = DOUBLE_ZERO;
  imm2 = DOUBLE_ZERO;
  /** Decoding mode the record is valid for (CS.D); part of the decode-cache key. */
  mode = 0;
  exec: Handler = () => {};
  /**
   * The basic block starting here as the translator's interpretBlock runs it
   * (this record, then the records after it along the fall-through path),
   * once it was entered; it lives and dies with the decode cache's page.
   */
  run: InsnRun | undefined = undefined;
  /**
   * Times the translator's interpretBlock saw execution go on to the next
   * instruction, and go elsewhere (a jump taken, a fault): which ways out
   * of a Jcc a block is to hold (translator.ts).
   */
  fell = 0;
  jumped = 0;
}
