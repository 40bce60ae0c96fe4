/**
 * Where translation blocks end, and what each instruction inside one needs.
 *
 * A block is straight-line guest code: it may only continue past an
 * instruction that leaves EIP sequential and leaves unchanged everything the
 * block was specialised for or the dispatcher must look at between blocks
 * (CS and the code mode, CPL, paging, EFLAGS.TF and EFLAGS.IF other than by
 * CLI and STI, the MOV SS shadow, HLT, device state reached through I/O
 * ports). Every other instruction is allowed only as the last one of its
 * block.
 */
import type { Insn } from '../insn.js';

const T = 0x100;

/** Opcodes after which a block may go on (some further depend on ModR/M.reg or REP, see continuesBlock). */
const CONTINUES = new Uint8Array(512);
/** Opcodes that neither read nor write memory nor the stack, whatever their ModR/M says for mod = 3. */
const REGISTER_ONLY = new Uint8Array(512);

function mark(table: Uint8Array, ops: number[]): void {
  for (const op of ops) table[op] = 1;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

// ALU families 00-3F (not the segment push/pop, not the prefixes), BCD.
for (let base = 0; base < 0x40; base += 8) mark(CONTINUES, range(base, base + 5));
mark(CONTINUES, [0x27, 0x2f, 0x37, 0x3f, 0xd4, 0xd5]);
mark(CONTINUES, range(0x40, 0x62)); // INC/DEC, PUSH/POP r, PUSHA/POPA, BOUND
mark(CONTINUES, range(0x68, 0x6b));
mark(CONTINUES, range(0x80, 0x8b));
mark(CONTINUES, [0x8d, 0x8f]);
mark(CONTINUES, range(0x90, 0x99));
// PUSHF, CLI and STI change nothing a block relies on. Blocks take interrupts only at their
// boundaries, so one that STI lets in is taken where the block ends, as if it had come a
// few instructions later; the block clears the STI shadow when it goes on (codegen.ts).
// The kernel's local_irq_save (PUSHF; POP; CLI) and local_irq_restore ran as three blocks.
mark(CONTINUES, [0x9b, 0x9c, 0x9e, 0x9f, 0xfa, 0xfb]);
mark(CONTINUES, range(0xa0, 0xaf)); // MOV moffs, string ops (REP forms end the block)
mark(CONTINUES, range(0xb0, 0xc1));
mark(CONTINUES, range(0xc6, 0xc9)); // MOV E,imm; ENTER; LEAVE
mark(CONTINUES, range(0xd0, 0xdf)); // shifts, AAM/AAD, SALC, XLAT, x87
mark(CONTINUES, [0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfc, 0xfd, 0xfe, 0xff]);
mark(CONTINUES, [T | 0x31, T | 0xa2]); // RDTSC, CPUID
mark(CONTINUES, range(T | 0x40, T | 0x4f)); // CMOVcc
mark(CONTINUES, range(T | 0x90, T | 0x9f)); // SETcc
mark(CONTINUES, [T | 0xa3, T | 0xa4, T | 0xa5, T | 0xab, T | 0xac, T | 0xad, T | 0xaf]);
mark(CONTINUES, [T | 0xb0, T | 0xb1, T | 0xb3, T | 0xb6, T | 0xb7, T | 0xba, T | 0xbb, T | 0xbc, T | 0xbd, T | 0xbe, T | 0xbf]);
mark(CONTINUES, [T | 0xc0, T | 0xc1, T | 0xc7]);
mark(CONTINUES, range(T | 0xc8, T | 0xcf)); // BSWAP

mark(REGISTER_ONLY, [0x27, 0x2f, 0x37, 0x3f, 0xd4, 0xd5, 0xd6, 0x9e, 0x9f, 0xf5, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd]);
mark(REGISTER_ONLY, range(0x40, 0x4f));
mark(REGISTER_ONLY, range(0x90, 0x99));
mark(REGISTER_ONLY, range(0xb0, 0xbf));
mark(REGISTER_ONLY, range(T | 0xc8, T | 0xcf));
mark(REGISTER_ONLY, [T | 0x31, T | 0xa2]);
for (let base = 0; base < 0x40; base += 8) mark(REGISTER_ONLY, [base + 4, base + 5]);
mark(REGISTER_ONLY, [0xa8, 0xa9]);
mark(REGISTER_ONLY, [...range(0x70, 0x7f), ...range(T | 0x80, T | 0x8f)]); // Jcc (leave the block when taken)

/** Jcc rel8/rel16/32: a block goes on along the fall-through path, leaving at the target when taken. */
export function isConditionalJump(d: Insn): boolean {
  return (d.op >= 0x70 && d.op <= 0x7f) || (d.op >= T + 0x80 && d.op <= T + 0x8f);
}

/** RET or RET imm16 popping a 32-bit return address. */
export function isRet32(d: Insn): boolean {
  return (d.op === 0xc3 || d.op === 0xc2) && d.size === 4;
}

/**
 * A CALL rel32 in 32-bit code (`mode` 1): where a block does not follow it
 * into its callee, it calls the callee's block and goes on at the return
 * address (codegen.ts's nested calls).
 */
export function isNestedCall(d: Insn, mode: number): boolean {
  return d.op === 0xe8 && d.o32 && mode === 1;
}

/** Whether a block may continue after `d` (when `d` falls through). */
export function continuesBlock(d: Insn): boolean {
  if (isConditionalJump(d)) return true;
  if (!CONTINUES[d.op]) return false;
  if (d.op >= 0xa4 && d.op <= 0xaf && d.rep !== 0 && d.op !== 0xa8 && d.op !== 0xa9) {
    return false; // REP string ops yield mid-way (EIP back to the instruction)
  }
  if (d.op === 0xff) return d.reg < 2 || d.reg === 6; // INC, DEC, PUSH; not CALL/JMP
  return true;
}

/**
 * Opcodes that end a block but leave EIP at the next instruction (or, a REP
 * string op yielding mid-way, at their own) and change nothing a link
 * between blocks relies on: not CS, the CPL, the code mode or the mapping
 * (no control transfer, no control register, MSR or I/O port written).
 * Their blocks may leave by a static exit (linked by the dispatcher) when
 * EIP is the next instruction.
 */
const SEQUENTIAL = new Uint8Array(512);
mark(SEQUENTIAL, [...range(0xa4, 0xa7), ...range(0xaa, 0xaf)]); // REP string ops
mark(SEQUENTIAL, [0x9d]); // POPF
// Segment registers other than CS loaded or stored; LDS/LES/LSS/LFS/LGS.
mark(SEQUENTIAL, [0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x8c, 0x8e, 0xc4, 0xc5]);
mark(SEQUENTIAL, [T | 0xa0, T | 0xa1, T | 0xa8, T | 0xa9, T | 0xb2, T | 0xb4, T | 0xb5]);
mark(SEQUENTIAL, [T | 0x00, T | 0xae, T | 0xc7, T | 0x32]); // SLDT..VERW, FXSAVE/FXRSTOR and fences, CMPXCHG8B, RDMSR

/** Whether a block ending with `d` (continuesBlock false) may leave by a static exit to the next instruction. */
export function leavesSequentially(d: Insn): boolean {
  return SEQUENTIAL[d.op] === 1;
}

/**
 * Whether `d` may write guest memory (so code on the block's page may have
 * changed under it, and the block must check it is still valid afterwards).
 */
export function mayWriteMemory(d: Insn): boolean {
  if (REGISTER_ONLY[d.op]) return false;
  // ModR/M register forms of the non-stack, non-string instructions touch no memory.
  if (d.mod === 3 && d.op !== 0x8f && d.op !== 0xff && d.op !== T + 0xc7) return false;
  if (d.op >= 0x50 && d.op <= 0x57) return true; // PUSH
  if (d.op >= 0x58 && d.op <= 0x5f) return false; // POP r reads only
  return true;
}

/** Whether `d` may change ESP (faults must then restore the ESP the instruction started with). */
export function mayChangeStack(d: Insn): boolean {
  const op = d.op;
  if (isConditionalJump(d)) return false;
  if (!CONTINUES[op]) return true;
  if ((op >= 0x50 && op <= 0x61) || op === 0x68 || op === 0x6a || op === 0x8f || op === 0x9c || op === 0xc8 || op === 0xc9) return true;
  if (op === 0xff) return d.reg === 6;
  // Otherwise only an instruction naming ESP as an operand can write it
  // (without ModR/M: INC/DEC/XCHG/MOV/BSWAP name it in the opcode's low bits).
  if (d.mod < 0) return (op & 7) === 4;
  return d.reg === 4 || (d.mod === 3 && d.rm === 4);
}
