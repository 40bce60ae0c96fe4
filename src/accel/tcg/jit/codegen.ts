/**
 * JavaScript for a translation block.
 *
 * Every instruction either calls its handler (threaded code: the handler is
 * the one definition of its semantics) or, for the hottest forms (MOV
 * including moffs, LEA, the ALU group and TEST, INC/DEC, NOT/NEG, PUSH/POP,
 * LEAVE, XCHG, CMPXCHG, MOVZX/MOVSX, shifts and rotates by a constant,
 * 32-bit MUL, IMUL and DIV, BT by a constant, BSWAP, MOVS/LODS/SCAS without REP,
 * CLC/STC/CLD/STD, RDTSC, NOP, Jcc/JMP/CALL rel, JMP/CALL Ev, RET near), is
 * emitted as specialised JavaScript with the decoded fields folded into
 * constants, memory and 32-bit stack operands through an inline TLB fast
 * path (memory.ts). The
 * specialised forms must compute exactly what their handlers compute (same
 * CpuFault at the same point, same lazy-flag record); the randomized
 * differential test in tests/tcg/jit-diff.test.ts is what keeps them equal.
 *
 * Precise state: before an instruction that can fault or reads EIP the
 * block stores what the interpreter's step would (insnEip, EIP after the
 * instruction, ESP at its start if it may have changed); instructions that
 * cannot fault skip those stores. The flag record of an ALU instruction also
 * stays in locals so that a Jcc right after it tests the operands directly
 * (CMP+JB is `a < b`).
 *
 * Registers live in locals (R0-R7): those the block uses are loaded at entry
 * and after each handler, and stored back only where something may look (a
 * handler, a fault) and once on the way out. A loop keeps
 * them in locals across its jumps: it does not store and reload its
 * registers each time round.
 *
 * Exits and jumps within the block only move values into locals: an exit
 * its row of constants (J: the exit's number, EIP as E + X, the
 * instructions done since the count was last taken, the flag record's lazy
 * word), an EIP not relative to E (Q) and the flag record's operands (FA,
 * FB, FR); a jump the count (D) and the record (FA, FB, FR, FW).
 * The stores are made by the epilogue after the block's body, which every
 * run that leaves normally goes through, and for jumps by the head of the
 * block's loop. V8 compiles an operation it has never seen run (a property
 * store, an addition) into a deoptimisation: an exit first taken after the
 * block was optimised would otherwise throw the optimised code away (in a
 * boot to the shell about one block deoptimisation in three came from such
 * exits). Every 32-bit value the code
 * computes or keeps is int32 bits (`| 0`, Cpu.regs32, DataView.getInt32): V8
 * then holds it as a small integer in every tier, while a uint32 at or above
 * 2^31 (a kernel address, half of all hash words) would be a boxed double in
 * the interpreter and baseline code and, in optimised code, a deopt the
 * first time a value speculated small is not. Only EIPs and the offsets
 * compared with a segment's limit are unsigned (addresses in a flat segment
 * stay int32 bits: fastAccessAt), and unsigned comparisons flip the sign bit
 * of both sides (`below`).
 *
 * Lazy flags are stored lazily too: the record an instruction makes (c.lA,
 * c.lB, c.lR and the lazy word, one constant: flags.ts) is held back as
 * `pending` and written only where something could see it: before a
 * handler call or a fault, before a flag read the locals cannot answer, and
 * at every exit (into the locals the epilogue stores from, when it is the
 * standard record). A record overwritten by the next ALU instruction is
 * never stored on the main path.
 *
 * Accesses the fast path does not allow (a TLB miss, MMIO, a page holding
 * code, a segment check, a page boundary) leave the block before their
 * instruction, which the interpreter then runs (SLOW_EXIT): the block has
 * no slow paths of its own. They are rare once the TLB is warm (about
 * 20,000 in a boot to the shell, 18,000 in md5sum of 16 MiB), and a slow
 * path inside the block was a branch V8 had never seen run when it
 * optimised the block: compiled as a deoptimisation, taken later, it threw
 * the optimised code away. Compiling blocks again cost 8.4 s of the
 * optimising compiler's 22.8 s in bench/tcg-phases.mjs 10000, a third of it
 * after a slow path taken for the first time; and each slow path stored
 * every register and the flag record first, a quarter of a block's source.
 *
 * Self-modifying code: fast-path stores never touch a page holding code
 * (memory.ts), so only handlers can kill the block; the `B.dead` check
 * follows just those.
 *
 * Position independence: the code never holds an absolute EIP. Every EIP it
 * stores or compares is the EIP the block was entered at (`E`, read once)
 * plus a constant, wrapped to the instruction's width, so one block serves
 * every linear address its physical bytes are mapped at: the same library
 * page in each process, placed anywhere by ASLR (QEMU's x86 TBs are
 * PC-relative for the same reason).
 */
import type { Insn } from '../insn.js';
import { FlagOp, lazyWord } from '../flags.js';
import { OPCODES } from '../decoder.js';
import { AF, ARITH_FLAGS, CF, CR4_TSD, DF, ES, OF, PF, SF, SS, ZF } from '../constants.js';
import { AluOp } from '../alu.js';
import { continuesBlock, isConditionalJump, isNestedCall, isRet32, leavesSequentially, mayChangeStack, mayWriteMemory } from './block-rules.js';
import type { ForeignPage } from './block.js';
import { TLB_FRAME, TLB_NX } from '../mmu.js';
import { FLAT_CS } from './memory.js';

/** What a block returns, having run nothing, when a segment it took as flat no longer is: the dispatcher drops it. */
export const REFUSED = -1;
/**
 * What a block returns, having run nothing, when its first instruction runs
 * into a linear page the TLB does not map as the block was decoded (not
 * held after a flush, or mapped elsewhere): the dispatcher interprets it.
 */
export const UNMAPPED = -2;
/**
 * The exit number (Block.exit) of a block that left by a near RET or an
 * indirect near JMP/CALL: EIP came from a register or memory, CS and
 * everything else a block relies on stayed as they were. The dispatcher
 * looks such a target up in the block's inline cache (translator.ts), and a
 * nested call goes on after its callee's block only when it left so.
 */
export const INDIRECT_EXIT = -2;
/**
 * The exit number of a block that left before an instruction with an
 * access its fast path does not allow (memory.ts), EIP at the instruction,
 * nothing of it done: the dispatcher has the interpreter run it.
 */
export const SLOW_EXIT = -3;

/** Where the lazy flags of the last specialised ALU instruction live in the generated code. */
interface FlagLocals {
  op: FlagOp;
  /** Whether CF/OF follow from op, a and b (not for ADC/SBB/INC/DEC). */
  plain: boolean;
  a: string;
  b: string;
  r: string;
  size: number;
}

/** The operands of the standard flag record (c.lA, c.lB, c.lR, c.lazy), as expressions. */
interface FlagRecord {
  a: string;
  b: string;
  r: string;
  word: number;
}

export interface BlockShape {
  readonly mode: number;
  /** The entry's offset in its page. */
  readonly offset: number;
  readonly insns: readonly Insn[];
  /** Each instruction's offset from the entry (block.ts). */
  readonly rel: readonly number[];
  /** The other pages it holds code of (block.ts). */
  readonly foreign: readonly ForeignPage[];
  /** Its lowest and highest byte relative to the entry (block.ts). */
  readonly lo: number;
  readonly hi: number;
  /** The Cpu.flat bits it may rely on (block.ts). */
  readonly flat: number;
  /** Where the ways out of a Jcc that the block leaves out as rare go, relative to the entry (translator.ts). */
  readonly rareWays: ReadonlySet<number>;
  /** The JMPs through an absolute pointer it follows, to where the pointer held when translated (block.ts). */
  readonly pointerJumps: ReadonlyMap<number, number>;
  /** The RETs of callees it follows, with their CALLs' return addresses (block.ts). */
  readonly returns: ReadonlyMap<number, number>;
  /** Whether its accesses through a base register share page checks (Emitter.windowIndex). */
  readonly windowed: boolean;
}

/**
 * Whether static exit number `exit` goes to one of BlockShape.rareWays (the
 * dispatcher counts how often they are taken: translator.ts). Those have the
 * odd numbers and the other exits the even ones, so that the two never
 * share a number (the number indexes the exit's link) however many exits a
 * block has.
 */
export function isRareExit(exit: number): boolean {
  return (exit & 1) === 1;
}

/** Linear page of the instruction at `rel`, minus the entry's. */
function pageOf(b: BlockShape, rel: number): number {
  return Math.floor((b.offset + rel) / 4096);
}

/**
 * EIP `off` bytes from the block's entry EIP (E), wrapped to 32 bits or
 * (`wide` false) 16, unless `inBlock`: an EIP within the block's bytes
 * never wraps, since the block runs only where all of them fit the CS limit
 * and, in 16-bit code, 64 KiB (fitsSegment).
 */
function pc(off: number, wide: boolean, inBlock = false): string {
  const sum = off === 0 ? 'E' : off > 0 ? `E + ${off}` : `E - ${-off}`;
  if (!wide && !inBlock) return `((${sum}) & 0xffff)`;
  if (off === 0) return 'E';
  return inBlock ? `(${sum})` : `((${sum} | 0) >>> 0)`;
}

class Emitter {
  readonly out: string[] = ['const r = c.regs32;', 'const E = c.eip;', 'let n = 0;'];
  flags: FlagLocals | undefined;
  /** ESP may differ from c.insnEsp (true at entry: the previous block may have moved it). */
  espStale = true;
  /** Instructions executed since the block's entry or the last label passed, once the current one completes. */
  done = 0;
  /** EIP of the current instruction, and after it, as expressions of E. */
  eip = 'E';
  /** The offset from the entry of the current instruction. */
  rel = 0;
  next = 'E';
  /** The offset from the entry of the instruction after the current one. */
  nextRel = 0;

  /** The current flag record's stores as one comma expression, not yet emitted. */
  private pending: string | undefined;
  /** The pending record's operands when it is the standard one (c.lA, c.lB, c.lR, c.lazy): exits hand them to the epilogue. */
  private pendingRecord: FlagRecord | undefined;

  /**
   * @param segmented whether jumps within the block go to labels: the body
   *   is then `for (;;) switch (s)` with a case per label (see blockSource)
   */
  constructor(
    private readonly segmented: boolean,
    private readonly foreign: readonly ForeignPage[],
    /** The page (pageOf) of each label's instruction. */
    private readonly labelPages: ReadonlyMap<number, number>,
    /** Guest RAM reaches 2 GiB: a RAM index may have bit 31 set, so it is made unsigned. */
    readonly highRam: boolean,
    /** Cpu.flat bits the accesses may rely on. */
    private readonly flat: number,
    /** The block's lowest and highest byte relative to the entry (Block.lo, Block.hi). */
    private readonly lo: number,
    private readonly hi: number,
    /** The block is 32-bit code (CS.D). */
    private readonly wide: boolean,
    /** The offset of each label that a jump goes back to (a loop's head): entering it counts a loop. */
    private readonly loopHeads: ReadonlyMap<number, number>,
    private readonly rareWays: ReadonlySet<number>,
    /** Accesses through a base register share page checks (windowIndex). */
    readonly windowed: boolean,
  ) {
    if (!segmented) {
      this.out.push('out: {');
      return;
    }
    // The block may be run from one of its labels (block.ts's entryBlock): E is still the EIP of its first instruction.
    this.out[1] = 'const E = c.eip - B.entryRel;';
    this.out.push('let s = B.entryCase, loops = 0;', LOOP_TOP, 'case 0: {');
    // A jump back to the entry brings the registers written on the way.
    this.dirtyAll = loopHeads.has(0);
    this.countLoop(0);
  }

  /**
   * EIP `off` bytes from the entry for an operand size (`wide`: 32-bit; the
   * block's by default), unwrapped where it lies within the block (pc),
   * unless a 16-bit operand in 32-bit code truncates it (a 16-bit CALL's
   * return address).
   */
  eipAt(off: number, wide = this.wide): string {
    return pc(off, wide, off >= this.lo && off <= this.hi && (wide || !this.wide));
  }

  /** `off` for exit() when the EIP `off` bytes from the entry for an operand size is E + off as a uint32 (32-bit code and operand). */
  relOf(off: number, wide = this.wide): number | undefined {
    return this.wide && wide ? off : undefined;
  }

  /**
   * Static exits so far, to rare ways (odd numbers: isRareExit) and others
   * (even numbers): exit i always leaves for the same EIP, so the
   * dispatcher may link it to that block.
   */
  private exits = 0;
  private rareExits = 0;
  /** Page (pageOf) of the current instruction. */
  page = 0;
  private guarded = false;
  /** The guard of the page the entry instruction runs into, checked before anything runs (see blockSource). */
  private entryGuard: string | undefined;
  /** Whether an exit or a jump hands the flag record to the epilogue or the loop's head in FA, FB, FR and FW. */
  private recordLocals = false;

  /**
   * Leaves the block for EIP `target` (an expression of E; `rel` when it is
   * E + rel as a uint32), or, when the target is the block's own `label`,
   * goes on there (leaving too when the label is on another page the TLB no
   * longer maps as the block was decoded). Either way it only moves what it
   * has into locals: the stores are made after the block's loop
   * (blockSource), by code that every run takes, so that V8 has seen them
   * run before it optimises the block.
   */
  exit(target: string, label?: number, rel?: number, number?: number): string {
    const leave = (recordInLocals = false): string => this.leaveFor(target, rel, number ?? this.exitNumber(rel), this.done, recordInLocals);
    if (label === undefined) return leave();
    const record = this.recordToLocals();
    const go = `D = ${this.done}; s = ${label}; continue;`;
    const page = this.labelPages.get(label) ?? 0;
    if (page === 0 || page === this.page) return `${record}${go}`;
    return `${record}if (${this.guard(page)}) { ${go} } ${leave(true)}`;
  }

  /** The number of a new static exit to E + `rel`. */
  exitNumber(rel: number | undefined): number {
    return rel !== undefined && this.rareWays.has(rel) ? 2 * this.rareExits++ + 1 : 2 * this.exits++;
  }

  /**
   * Leaves the block after a handler that ended it (which stored everything
   * and left EIP as it made it): by a static exit when EIP is the next
   * instruction (block-rules.ts's leavesSequentially), else (a REP string op
   * that stopped part-way, EIP at itself) for the dispatcher to look EIP up.
   */
  handlerExit(): string {
    return `if (c.eip === ${this.next}) { B.exit = ${this.exitNumber(undefined)}; return n + ${this.done}; } B.exit = -1; return n + ${this.done};`;
  }

  /** Leaves the block for an EIP computed at run time (a RET's, an indirect JMP's): the dispatcher looks it up. */
  leave(target: string): string {
    return this.leaveFor(target, undefined, INDIRECT_EXIT, this.done);
  }

  /**
   * Each way out of the block through the epilogue, as rows of EXIT_ROW
   * int32s (blockSource puts them in an Int32Array beside the function):
   * the exit's number, X, D, and the lazy word of the flag record it hands
   * over (-1: none). A way out then sets only what is known at run time (an
   * EIP not relative to E, the record's operands) and its row's index, J,
   * and V8 merges one value at the epilogue instead of four: TurboFan's zone
   * bytes over bench/tcg-phases.mjs 10000 went from 10.49 G to 10.15 G.
   */
  private rows: number[] = [...NO_EXIT_ROW];

  /**
   * Leaves for EIP `target` (`rel`: E + rel as a uint32) by exit `number`,
   * `done` instructions done since the count was last taken, with the
   * pending flag record (`recordInLocals`: recordToLocals put it there).
   */
  private leaveFor(target: string, rel: number | undefined, number: number, done: number, recordInLocals = false): string {
    const f = this.pendingRecord;
    let code = recordInLocals ? '' : f === undefined ? this.flagStores() : `FA = ${f.a}, FB = ${f.b}, FR = ${f.r}; `;
    if (f !== undefined) this.recordLocals = true;
    if (rel === undefined) code += `Q = ${target}; `;
    const row = [number, rel ?? 0, done, f === undefined ? -1 : f.word];
    return `${code}J = ${this.rowIndex(row)}; break out;`;
  }

  /** The index of `row` among the block's exit rows, added unless there. */
  private rowIndex(row: readonly number[]): number {
    for (let i = 0; i < this.rows.length; i += EXIT_ROW) {
      if (row.every((v, j) => this.rows[i + j] === v)) return i / EXIT_ROW;
    }
    this.rows.push(...row);
    return this.rows.length / EXIT_ROW - 1;
  }

  /** The exit rows, for blockSource. */
  exitRows(): readonly number[] {
    return this.rows;
  }

  /** How many static exit numbers the block has (the length its Block.links needs): even ones from 0, odd ones from 1. */
  exitSlots(): number {
    return 2 * Math.max(this.exits, this.rareExits);
  }

  /**
   * After a CALL that pushed its return address `site` (with EIP `target`,
   * E + `rel`, on page `page`): runs the block the dispatcher linked to its
   * static exit (number `exit`) from here, when it is alive, mapped there
   * now, fits the CS limit from `target`, and calls are left in the budget
   * (Cpu.nestedCalls); goes on after the call when that block left by a near
   * RET to `site` and no write killed this one. Otherwise the block leaves:
   * by the static exit when nothing was called, else from where the callee
   * left. The first block to leave so (the innermost) records its callee
   * and the EIP it entered it at (Cpu.nestedLeft, nestedLeftEip) when the
   * callee left by an exit of its own: the dispatcher goes on from that
   * exit as if it had run the callee itself (its link, its inline cache,
   * or for SLOW_EXIT the interpreter), not by a full lookup. Everything is
   * stored for the call and the registers loaded again after it, as around
   * a handler.
   */
  nestedCall(k: number, target: string, rel: number, page: number, site: string, exit: number): string {
    this.closeWindows();
    const fallback = this.exit(target, undefined, this.relOf(rel), exit);
    const stores = this.pendingStores();
    const limit = this.flat & FLAT_CS ? '4294967295' : 'c.segLimit[1]';
    if (this.flat & FLAT_CS) this.flatUsed |= FLAT_CS;
    const mapped = this.mapsTo(page, `(m${k}.frame << 12)`);
    const fits = `${target} + m${k}.lo >= 0 && ${target} + m${k}.hi <= ${limit}`;
    const leave = `B.exit = -1; return n + ${this.done};`;
    this.pending = undefined;
    this.pendingRecord = undefined;
    this.flags = undefined;
    this.dirty = 0;
    this.dirtyAll = false;
    this.espStale = true;
    return [
      `m${k} = B.links[${exit}];`,
      `if (m${k} !== undefined && !m${k}.dead && c.nestedCalls > 0 && ${mapped} && ${fits}) {`,
      `${stores}c.eip = ${target}; c.nestedCalls--;`,
      `o${k} = m${k}.fn(c, m${k});`,
      `if (o${k} < 0) { ${leave} }`,
      `n += o${k};`,
      `if (c.eip !== ${site} || m${k}.exit !== ${INDIRECT_EXIT} || B.dead) { if (c.nestedLeft === undefined && m${k}.exit !== -1) { c.nestedLeft = m${k}; c.nestedLeftEip = ${target} | 0; } B.exit = -1; return n + ${this.done}; }`,
      `${LOAD_LOCALS};`,
      `} else { ${fallback} }`,
    ].join('\n');
  }

  /**
   * The pending flag record for an exit or a jump: into the locals the
   * epilogue and the loop's head store from when it is the standard
   * record, else its stores.
   */
  private recordToLocals(): string {
    const f = this.pendingRecord;
    if (f === undefined) return this.flagStores();
    this.recordLocals = true;
    return `FA = ${f.a}, FB = ${f.b}, FR = ${f.r}, FW = ${f.word}; `;
  }

  /**
   * At the head of a loop (`label`), leaves for it once every
   * LOOP_ITERATIONS entries, so that the dispatcher checks interrupts.
   */
  private countLoop(label: number): void {
    const rel = this.loopHeads.get(label);
    if (rel === undefined) return;
    const leave = this.leaveFor(this.eipAt(rel), this.relOf(rel), this.exitNumber(undefined), 0);
    this.emit(`if (++loops > ${LOOP_ITERATIONS}) { ${leave} }`);
  }

  /**
   * Whether linear page `page` (relative to the entry's) maps to the RAM
   * page the block has its code from, executable at this CPL: the block's
   * code there is then what runs. Where the current code got to by a guard
   * or from the entry, the mapping holds for the rest of the run: a block
   * ends at any instruction that changes CR3, CPL or the TLB.
   */
  guard(page: number): string {
    const frame = this.foreign.find((f) => f.page === page)!.frame;
    return this.mapsTo(page, String(frame << 12));
  }

  /** Whether linear page `page` (relative to the entry's) maps to the RAM page whose TLB frame bits are `frameBits`, executable at this CPL. */
  private mapsTo(page: number, frameBits: string): string {
    this.guarded = true;
    return `(I[(P + ${page}) & 0xfffff] & (XN | ${TLB_NX | TLB_FRAME})) === (${frameBits} | XN)`;
  }

  /**
   * Makes the block check, before it runs anything, that linear page `page`
   * (which its first instruction runs into) maps as it was decoded, and
   * return UNMAPPED when not.
   */
  guardEntry(page: number): void {
    this.entryGuard = this.guard(page);
  }

  /**
   * Starts the code of `label`: the code before falls into it, unless it
   * ended with a jump or an exit (`reached` false), with the flag record
   * stored, as jumps reach the label with none held back (the loop's head
   * stores theirs); the count so far moves into n. Any register the block
   * writes may be ahead of its r[n] here.
   */
  startLabel(label: number, reached: boolean): void {
    this.closeWindows();
    if (reached) this.emit(`${this.flagStores()}n += ${this.done}; }`);
    else this.emit('}');
    this.emit(`case ${label}: {`);
    this.pending = undefined;
    this.pendingRecord = undefined;
    this.flags = undefined;
    this.dirty = 0;
    this.dirtyAll = true;
    this.espStale = true;
    this.countLoop(label);
  }

  /**
   * #GP(0) at the current instruction, nothing of it done, when `target` (an
   * unsigned EIP) lies past the CS limit (Cpu.setEip). The dispatcher takes
   * EIP and ESP from insnEip and insnEsp. No code when the limit is 4 GiB - 1
   * (FLAT_CS), as the block then checks at entry.
   */
  gpPastCsLimit(target: string): string {
    if (this.flat & FLAT_CS) {
      this.flatUsed |= FLAT_CS;
      return '';
    }
    return `if (${target} > c.segLimit[1]) { ${this.pendingStores()}c.insnEip = ${this.eip};${this.espStale ? ' c.insnEsp = r[4];' : ''} throw G(0); }`;
  }

  /** Leaves the block after the current instruction if a write killed it (EIP is then the next instruction's). */
  deadExit(): string {
    return `if (B.dead) { ${this.pendingStores()}c.eip = ${this.next}; B.exit = -1; return n + ${this.done}; }`;
  }

  /**
   * Leaves the block before the current instruction, nothing of it done,
   * for the interpreter to run it (SLOW_EXIT): the instruction has an
   * access the fast path does not allow, or a case its specialised form
   * leaves to the handler. Only locals move, as for any exit.
   */
  slowExit(): string {
    return this.leaveFor(this.eip, this.relOf(this.rel), SLOW_EXIT, this.done - 1);
  }

  /**
   * Makes `stores` (a comma expression writing c's flag record) the pending
   * record, replacing the previous one; `record` gives its operands when it
   * is the standard record.
   */
  setFlags(stores: string, locals: FlagLocals | undefined, record?: FlagRecord): void {
    this.pending = stores;
    this.pendingRecord = record;
    this.flags = locals;
  }

  /**
   * Adds `stores` (a comma expression changing some flags of the record's
   * result) after the pending record's stores; the flag locals no longer
   * describe the flags. Exits may each emit the pending
   * stores, so `stores` must give the same flags however often it runs.
   */
  amendFlags(stores: string): void {
    this.pending = this.pending === undefined ? stores : `${this.pending}, ${stores}`;
    this.pendingRecord = undefined;
    this.flags = undefined;
  }

  /**
   * What the block holds back for a branch that leaves or may fault, as
   * statements ('' when nothing): the registers written since they were
   * last stored, and the pending flag record.
   */
  pendingStores(): string {
    const regs = this.registerStores();
    return (regs === '' ? '' : `${regs}; `) + this.flagStores();
  }

  /** The pending flag record's stores as a statement ('' when none). */
  private flagStores(): string {
    return this.pending === undefined ? '' : `${this.pending}; `;
  }

  /** Emits the pending record's stores on the main path (before a handler, an unconditional call, a flag read). */
  flushFlags(): void {
    if (this.pending !== undefined) this.emit(`${this.pending};`);
    this.pending = undefined;
    this.pendingRecord = undefined;
  }

  /** CF of the current flags as 0/1: from the locals when they say it, else from c once the record is stored. */
  carry(): string {
    const f = this.flags;
    if (f !== undefined && f.plain) {
      if (f.op === FlagOp.Sub) return `(${below(f.a, f.b, f.size)} ? 1 : 0)`;
      if (f.op === FlagOp.Add) return `(${below(f.r, f.a, f.size)} ? 1 : 0)`;
      return '0';
    }
    this.flushFlags();
    return 'c.cf()';
  }

  /** Segments fast-path accesses check: their bases are fetched at entry. */
  private segments = 0;
  /** Whether there are fast-path accesses (the MMU's fast-path entries are fetched at entry). */
  private accesses = false;
  /** Cpu.flat bits the accesses rely on: the block checks them at entry. */
  private flatUsed = 0;

  /**
   * Registers written to their local and not yet stored back to r[n]; with
   * dirtyAll, every register the block writes (after a label).
   */
  private dirty = 0;
  private dirtyAll = false;
  /** Registers with a local at all: loaded at entry and after each handler. */
  private locals = 0;
  /** Registers the block writes: the epilogue stores them. */
  private written = 0;

  /**
   * Register n as a local. Every local holds its register at every point of
   * the code: all are loaded at entry and again after anything that may
   * change registers (reload). Writes stay in the local (dirty) until
   * something may look at r: a handler, a fault, the epilogue (each
   * r[n] access is a bounds-checked load or store, and after a RAM store V8
   * checks r's map again).
   */
  local(n: number): string {
    this.locals |= 1 << n;
    return `R${n}`;
  }

  /** Register `reg` of `size` bytes (8-bit 4-7: AH, CH, DH, BH) as an expression. */
  reg(reg: number, size: number): string {
    if (size === 4) return this.local(reg);
    if (size === 2) return `(${this.local(reg)} & 0xffff)`;
    return reg < 4 ? `(${this.local(reg)} & 0xff)` : `((${this.local(reg - 4)} >> 8) & 0xff)`;
  }

  /**
   * The statement writing `v` to register `reg` of `size` bytes, for the
   * block's straight-line code (a conditional write must load the register
   * first, so that its local is right on either path).
   */
  setReg(reg: number, size: number, v: string): string {
    let n = reg;
    let x: string;
    // The bits kept of the old value, as int32 constants: 0xffff0000, 0xffffff00, 0xffff00ff.
    if (size === 4) {
      if (this.int32.has(v) || /^R[0-7]$/.test(v)) x = v;
      else x = isLiteral(v) ? String(Number(v) | 0) : `(${v}) | 0`;
    }
    else if (size === 2) x = `(${this.local(reg)} & -65536) | (${v} & 0xffff)`;
    else if (reg < 4) x = `(${this.local(reg)} & -256) | (${v} & 0xff)`;
    else {
      n = reg - 4;
      x = `(${this.local(n)} & -65281) | ((${v} & 0xff) << 8)`;
    }
    this.wrote(n);
    return `R${n} = ${x};`;
  }

  /** Temporaries (x<k>, m<k>...) known to hold int32 bits already: setReg stores them as they are. */
  private readonly int32 = new Set<string>();

  /** Records that `name` holds int32 bits, and returns it. */
  markInt32(name: string): string {
    this.int32.add(name);
    return name;
  }

  /**
   * Marks register n written (its local set by the caller's own statement,
   * so declared too); `moved` when the statement added that to it (a PUSH
   * or POP moving ESP), which its window (windowIndex) then allows for.
   */
  wrote(n: number, moved?: number): void {
    const w = this.windows[n];
    if (w !== undefined && moved !== undefined) w.shift += moved;
    else this.closeWindow(n);
    this.dirty |= 1 << n;
    this.written |= 1 << n;
    this.locals |= 1 << n;
  }

  /** Marks register n written on a way out of the block only: the epilogue stores it. */
  wroteOnExit(n: number): void {
    this.written |= 1 << n;
    this.locals |= 1 << n;
  }

  /** The stores of the dirty registers as a comma expression ('' when none). */
  private registerStores(): string {
    return this.dirtyAll ? STORE_WRITTEN : registerList(this.dirty, (n) => `r[${n}] = R${n}`);
  }

  /** Stores the dirty registers on the main path (before a handler or a call that reads or moves ESP). */
  storeRegisters(): void {
    const stores = this.registerStores();
    if (stores !== '') this.emit(`${stores};`);
    this.dirty = 0;
    this.dirtyAll = false;
  }

  /**
   * Loads register n again, which a call changed outside its local (it
   * moved ESP), or every register (after a handler); they were stored for
   * the call.
   */
  reload(n?: number): void {
    this.closeWindows();
    if (n === undefined) {
      this.emit(`${LOAD_LOCALS};`);
      return;
    }
    this.locals |= 1 << n;
    this.emit(`R${n} = r[${n}];`);
  }

  /** Cpu.fastEnd entries the fast paths use (bit i for fastEnd[i]), read at block entry as L<i>. */
  private ends = 0;

  /** By base register, the accesses through it whose page is checked once (operandIndex), while the window stays open. */
  private readonly windows: (Window | undefined)[] = [];
  /** Windows opened so far: the number in each one's name for its TLB entry, j<n>. */
  private windowCount = 0;

  /**
   * The RAM index of instruction k's `size`-byte access at `disp` from
   * register `base` in flat segment `seg` (its linear address is in e<k>),
   * which the current window of that base register and segment takes in
   * when the window still spans at most WINDOW_SPAN bytes; else a new window
   * starts here. The window's first access checks the page for all of them
   * (closeWindow): the later ones need no check and no way out.
   */
  windowIndex(k: number, base: number, seg: number, disp: number, size: number, write: boolean): string {
    let w = this.windows[base];
    const at = disp + (w?.shift ?? 0);
    const lo = Math.min(w?.lo ?? at, at);
    const hi = Math.max(w?.hi ?? at + size, at + size);
    if (w !== undefined && w.seg === seg && hi - lo <= WINDOW_SPAN) {
      w.lo = lo;
      w.hi = hi;
      w.write ||= write;
      w.accesses++;
    } else {
      this.closeWindow(base);
      const id = this.windowCount++;
      w = this.windows[base] = { base, seg, id, first: k, lo: disp, hi: disp + size, shift: 0, write, accesses: 1, line: this.out.length, exit: this.slowExit() };
      this.emit('');
    }
    const index = `(j${w.id} ^ e${k})`;
    return this.highRam ? `(${index} >>> 0)` : index;
  }

  /** Ends every window: code may be entered, or registers or the TLB change, before the next access. */
  closeWindows(): void {
    for (let n = 0; n < 8; n++) this.closeWindow(n);
  }

  /**
   * Ends the window of base register n (it is about to change): its first
   * access gets the check, of its own page alone or of the page all the
   * window's bytes are in.
   */
  private closeWindow(n: number): void {
    const w = this.windows[n];
    if (w === undefined) return;
    this.windows[n] = undefined;
    const j = `j${w.id}`;
    const l = w.accesses === 1 ? `e${w.first}` : w.lo === 0 ? `R${w.base}` : `(${w.lo} + R${w.base} | 0)`;
    const span = w.hi - w.lo;
    // As fastAccessAt's: one byte checks only the entry (whose low bits are all set when the fast path is not allowed).
    const inPage = span === 1 ? `(${j} & 0xfff) === 0` : `((${j} | ${l}) & 0xfff) <= ${0x1000 - span}`;
    this.out[w.line] = `${j} = ${w.write ? 'TW' : 'TR'}[U | (${l} >>> 12)]; if (!(${inPage})) { ${w.exit} }`;
  }

  /**
   * Names the block-entry fast-path end of `seg` (Cpu.fastEnd) for reads or
   * writes, or with `stack` of SS as a 32-bit stack; undefined when the
   * segment may be taken as flat (no segment check, offset = linear
   * address): it was when the block was translated, and the block checks
   * at entry that it still is.
   */
  useSegment(seg: number, write: boolean, stack: boolean): string | undefined {
    this.accesses = true;
    const i = stack ? (write ? 13 : 12) : write ? 6 + seg : seg;
    if (this.flat & (1 << i)) {
      this.flatUsed |= 1 << i;
      return undefined;
    }
    this.segments |= 1 << seg;
    this.ends |= 1 << i;
    return `L${i}`;
  }

  finish(): string {
    this.closeWindows();
    const storeRecord = 'c.lA = FA | 0; c.lB = FB | 0; c.lR = FR; c.lazy = FW;';
    if (this.segmented) {
      this.out.push('}', '}', '}');
      const flush = this.recordLocals ? ` if (FW !== -1) { ${storeRecord} FW = -1; }` : '';
      this.out[this.out.indexOf(LOOP_TOP)] = `out: for (;;) { n += D;${flush} switch (s) {`;
    } else this.out.push('}');
    // The epilogue: every way out but a fault, a handler's and a write that killed the block.
    this.out.push(`const j = J * ${EXIT_ROW};`);
    // The record's stores run on every way out, storing back what c holds when the exit handed
    // none over: behind a branch, they were a deoptimisation the first time an exit with a record
    // ran after V8 had optimised the block on exits without one (V8 compiles a store it has never
    // seen run as one); a choice between two locals needs no feedback.
    if (this.recordLocals) {
      this.out.push(
        'FW = XR[j + 3]; { const keep = FW === -1, a = FA | 0, b = FB | 0, ka = c.lA, kb = c.lB, kr = c.lR, kw = c.lazy;',
        'c.lA = keep ? ka : a; c.lB = keep ? kb : b; c.lR = keep ? kr : FR; c.lazy = keep ? kw : FW; }',
      );
    }
    const written = registerList(this.written, (n) => `r[${n}] = R${n}`);
    if (written !== '') this.out.push(`${written};`);
    this.out.push('c.eip = ((Q + XR[j + 1]) | 0) >>> 0; B.exit = XR[j]; return n + XR[j + 2];');
    const loads = registerList(this.locals, (n) => `R${n} = r[${n}]`);
    const { lines, count } = pooledTemporaries(this.out.map((line) => placeRegisters(line, written, loads)));
    const prologue: string[] = [];
    if (count) prologue.push(`let ${Array.from({ length: count }, (_, i) => `T${i}`).join(', ')};`);
    if (loads !== '') prologue.push(`let ${loads};`);
    prologue.push(`let J = 0, Q = E${this.segmented ? ', D = 0' : ''}${this.recordLocals ? ', FA = 0, FB = 0, FR = 0, FW = -1' : ''};`);
    if (this.accesses) prologue.push('const U = c.tlbHalf;');
    if (this.guarded) prologue.push('const P = (c.segBase[1] + E) >>> 12, XN = c.tlbReadNeed;');
    for (let s = 0; s < 6; s++) if (this.segments & (1 << s)) prologue.push(`const SB${s} = c.segBase[${s}];`);
    for (let i = 0; i < 14; i++) if (this.ends & (1 << i)) prologue.push(`const L${i} = c.fastEnd[${i}];`);
    if (this.entryGuard !== undefined) prologue.push(`if (!(${this.entryGuard})) return ${UNMAPPED};`);
    lines.splice(2, 0, ...prologue);
    // A segment taken as flat is no longer: the dispatcher drops the block (translator.ts).
    if (this.flatUsed) lines.unshift(`if ((c.flat & ${this.flatUsed}) !== ${this.flatUsed}) return ${REFUSED};`);
    return lines.join('\n');
  }

  emit(s: string): void {
    this.out.push(s);
  }

  /**
   * State the interpreter keeps before an instruction that may fault: EIP
   * to restart at and ESP, and for handlers (which may read it) EIP after
   * the instruction. Specialised code never reads c.eip, and the dispatcher
   * takes a fault's EIP from insnEip.
   */
  sync(handler = false): void {
    this.emit(handler ? `c.insnEip = ${this.eip}; c.eip = ${this.next};` : `c.insnEip = ${this.eip};`);
    if (this.espStale) {
      this.emit('c.insnEsp = r[4];');
      this.espStale = false;
    }
  }
}

/**
 * An instruction's temporary in the generated code: a<k>, x<k>... (h<k> and
 * d<k>, its handler and record, are parameters): one of these letters
 * followed by digits, a whole word. The code assigns them without
 * declaring them: pooledTemporaries declares what they become.
 */
const TEMPORARY_LETTERS = 'abefijlmnopstvx';
/** Index in TEMPORARY_LETTERS by character code, -1 for the others. */
const TEMPORARY_LETTER = new Int8Array(128).fill(-1);
for (let i = 0; i < TEMPORARY_LETTERS.length; i++) TEMPORARY_LETTER[TEMPORARY_LETTERS.charCodeAt(i)] = i;

/**
 * The temporaries of `line` in order, each as [start, end, id] (id tells
 * the names apart: letter and number). Scanned by hand: a boot generates
 * some 38 MB of block source, and a regular expression with a replacer
 * renamed it in 0.64 s of the main thread against 0.36 s for this.
 */
function temporariesIn(line: string): number[] {
  const found: number[] = [];
  for (let i = 0; i < line.length; i++) {
    const ch = line.charCodeAt(i);
    const letter = ch < 128 ? TEMPORARY_LETTER[ch]! : -1;
    if (letter < 0 || (i > 0 && isWordChar(line.charCodeAt(i - 1)))) continue;
    let j = i + 1;
    let n = 0;
    while (j < line.length && isDigit(line.charCodeAt(j))) n = n * 10 + line.charCodeAt(j++) - 48;
    if (j > i + 1 && (j === line.length || !isWordChar(line.charCodeAt(j)))) found.push(i, j, n * 16 + letter);
    i = j - 1;
  }
  return found;
}

function isDigit(ch: number): boolean {
  return ch >= 48 && ch <= 57;
}

/** A character of a word as a regular expression's \b sees it: [A-Za-z0-9_]. */
function isWordChar(ch: number): boolean {
  return isDigit(ch) || (ch >= 65 && ch <= 90) || (ch >= 97 && ch <= 122) || ch === 95;
}

/**
 * The lines of `out` with the instructions' temporaries (one name per
 * value per instruction) renamed to a few function-level ones (T<n>, `count` of
 * them), each reused once its value is dead. V8's interpreter and baseline
 * code give every declared variable its own register and fill them all on
 * each call: a block of 160 instructions declared some 600. A value is live
 * from its first mention to its last, in the order of the lines: exact,
 * because within a case the code only branches forward, and no temporary
 * stays live into a label (only registers do: startLabel).
 */
function pooledTemporaries(out: readonly string[]): { lines: string[]; count: number } {
  const mentions = out.map(temporariesIn);
  const last = new Map<number, number>();
  mentions.forEach((found, i) => {
    for (let m = 2; m < found.length; m += 3) last.set(found[m]!, i);
  });
  const pooled = new Map<number, number>();
  const free: number[] = [];
  let count = 0;
  const lines = out.map((line, i) => {
    const found = mentions[i]!;
    if (found.length === 0) return line;
    const dying: number[] = [];
    let renamed = '';
    let from = 0;
    for (let m = 0; m < found.length; m += 3) {
      const id = found[m + 2]!;
      let t = pooled.get(id);
      if (t === undefined) {
        t = free.pop() ?? count++;
        pooled.set(id, t);
        if (last.get(id) === i) dying.push(t);
      } else if (last.get(id) === i && !dying.includes(t)) dying.push(t);
      renamed += line.slice(from, found[m]) + 'T' + t;
      from = found[m + 1]!;
    }
    free.push(...dying);
    return renamed + line.slice(from);
  });
  return { lines, count };
}

/**
 * Placeholders for what is known once the whole block is emitted
 * (Emitter.finish): the stores of every register the block writes (a slow
 * path after a label), the loads of every register it uses (after a
 * handler), and the head of a block's loop.
 */
const STORE_WRITTEN = '\u0001';
const LOAD_LOCALS = '\u0002';
const LOOP_TOP = '\u0003';

/** `line` with the register placeholders replaced ('0' for an empty list, which stands as a statement or in a comma expression). */
function placeRegisters(line: string, written: string, loads: string): string {
  if (line.includes(STORE_WRITTEN)) line = line.replaceAll(STORE_WRITTEN, written === '' ? '0' : written);
  if (line.includes(LOAD_LOCALS)) line = line.replaceAll(LOAD_LOCALS, loads === '' ? '0' : loads);
  return line;
}

/** `each` of the registers of `mask`, as a comma expression ('' when none). */
function registerList(mask: number, each: (n: number) => string): string {
  const list: string[] = [];
  for (let n = 0; n < 8; n++) if (mask & (1 << n)) list.push(each(n));
  return list.join(', ');
}

/** A block's factory source, and the number of static exits its code reads links for (Block.links). */
export interface BlockSource {
  source: string;
  exitSlots: number;
}

/** Int32s per exit row (Emitter.rows). */
const EXIT_ROW = 4;
/** Row 0, for a way out that sets none: the dispatcher looks EIP (the entry's) up. */
const NO_EXIT_ROW = [-1, 0, 0, -1];

/** Times a run of a block goes round a loop before returning to the dispatcher (which then checks interrupts). */
export const LOOP_ITERATIONS = 256;

/**
 * The source of the block's factory (block.ts compileBlock), which returns
 * the block's function `name`: the exit rows (Emitter.rows) as XR, then the
 * function; with it, the number of link slots the block's code reads. Its
 * body (parameters: c; B the block it runs as, itself or an entry block;
 * the factory's: h<k>/d<k> the handler and record of instruction k; G
 * gpFault; M and V guest RAM as bytes and as a DataView; I the TLB's
 * entries and TR/TW its fast-path entries for reads and writes (mmu.ts);
 * the block-entry questions of memory.ts are in its prologue). It returns
 * the number of instructions executed.
 *
 * A block is runs of straight-line code (translator.ts). A Jcc, JMP or
 * CALL rel to an instruction of the block (a loop, an if-then skipping
 * ahead, the next run), and a run falling into one, stay in the block: the
 * code is then a `switch` in a loop, with a case for the entry and for each
 * such target, and the jump sets the case and continues. The targets lie
 * within the bytes the entry checked against the CS limit, so these jumps
 * need no check. A label a jump goes back to counts the times round. The
 * return address of a nested call is a label too, where the code falls
 * into it: the dispatcher may enter the block at a label of its entry's
 * page (B.entryCase, with E still the first instruction's EIP), as it
 * finds everything stored there.
 *
 * The body is inside `out: { ... }` or `out: for (;;) { ...switch... }`;
 * leaving breaks out of it to the epilogue, which stores the registers the
 * block writes, the flag record an exit handed over, EIP and the exit's
 * number, and returns the count. A handler that ends the block, a write that
 * killed it and a fault leave directly, with everything stored.
 */
export function blockSource(b: BlockShape, ramBytes: number, name: string): BlockSource {
  const wide = b.mode === 1;
  const labels = jumpLabels(b, wide);
  const labelPages = new Map([...labels].map(([rel, label]) => [label, pageOf(b, rel)]));
  const e = new Emitter(labels.size > 0, b.foreign, labelPages, ramBytes > 2 ** 31, b.flat, b.lo, b.hi, wide, loopHeads(b, labels, wide), b.rareWays, b.windowed);
  const last = b.insns.length - 1;
  let start = 0;
  // Whether the previous instruction ended a run: the code before a label then cannot fall into it.
  let ranOut = false;
  b.insns.forEach((d, k) => {
    const after = b.rel[k]! + d.len;
    e.page = pageOf(b, b.rel[k]!);
    const label = k > 0 ? labels.get(b.rel[k]!) : undefined;
    if (label !== undefined) {
      e.startLabel(label, !ranOut);
      start = k;
    }
    guardRunningInto(e, b, k, start);
    const pointed = k < last && b.pointerJumps.get(b.rel[k]!) === b.rel[k + 1];
    const followed = pointed || isFollowed(b, k, wide);
    const site = returnSite(b, k, wide);
    // A RET whose return address comes next falls into it; one returning elsewhere in the block jumps there.
    const inlined = site !== undefined && site === b.rel[k + 1];
    const nested = isNestedCallAt(b, k);
    // The next run may start right after an instruction that does not continue (an indirect JMP, say): still an end.
    const runEnd = !followed && !inlined && (!nested || b.rel[k + 1] !== after) && (k === last || !continuesBlock(d) || b.rel[k + 1] !== after);
    // Where falling through goes when the run ends: another instruction of the block, or out.
    const fallLabel = runEnd && continuesBlock(d) ? labels.get(after) : undefined;
    e.done = k - start + 1;
    e.rel = b.rel[k]!;
    e.eip = e.eipAt(e.rel);
    e.nextRel = followed ? b.rel[k + 1]! : after;
    e.next = e.eipAt(e.nextRel);
    const specialised = pointed
      ? emitPointerJump(e, d, k, pageOf(b, b.rel[k + 1]!))
      : followed
      ? emitFollowed(e, d, k, after, pageOf(b, b.rel[k + 1]!))
      : site !== undefined
        ? emitInlinedRet(e, d, k, site, pageOf(b, site), inlined ? undefined : labels.get(site))
        : nested
          ? emitNestedCall(e, d, k, after, pageOf(b, after + jumpDisplacement(d)), b.rel[k + 1] === after ? undefined : labels.get(after))
          : emitSpecialised(e, d, k, after, wide, labels);
    if (!specialised) {
      e.closeWindows();
      e.flushFlags();
      e.storeRegisters();
      e.sync(true);
      e.emit(`h${k}(c, d${k});`);
      e.flags = undefined;
      // A handler that ends the block leaves by itself, with everything stored.
      if (!runEnd || fallLabel !== undefined) {
        // The instruction after STI runs here, in its shadow: interrupts wait for the block's end.
        if (d.op === 0xfb) e.emit('c.interruptShadow = false;');
        e.reload();
        if (mayWriteMemory(d)) e.emit(e.deadExit());
      }
    }
    if (mayChangeStack(d)) e.espStale = true;
    if (runEnd && !(specialised && leavesItself(d))) {
      // Falling off a run is a static exit or a jump within; after another handler EIP is whatever it made it.
      if (fallLabel !== undefined) e.emit(e.exit(e.next, fallLabel, e.relOf(e.nextRel)));
      else if (specialised) e.emit(e.exit(e.next, undefined, e.relOf(e.nextRel)));
      else e.emit(leavesSequentially(d) ? e.handlerExit() : `B.exit = -1; return n + ${e.done};`);
    }
    ranOut = runEnd;
  });
  const body = e.finish();
  // The parentheses make V8 compile the block function with the factory (its hint for functions
  // called at once): otherwise it pre-parses it here and parses it again on its first run. Strict
  // mode makes a variable the code forgot to declare an error rather than a global of Node's.
  const source = `'use strict';\nconst XR = Int32Array.of(${e.exitRows().join(', ')});\nreturn (function ${name}(c, B) {\n${body}\n});`;
  return { source, exitSlots: e.exitSlots() };
}

/**
 * Instruction k runs into the next page (its bytes were decoded from the RAM
 * page that linear page mapped to): before it, the block checks the mapping
 * holds, as for a jump there, and leaves for the instruction when not (the
 * interpreter then fetches it as the TLB says). The entry's own instruction
 * is checked before the block runs anything: it returns UNMAPPED, and the
 * dispatcher interprets the instruction.
 */
function guardRunningInto(e: Emitter, b: BlockShape, k: number, start: number): void {
  const rel = b.rel[k]!;
  const last = pageOf(b, rel + b.insns[k]!.len - 1);
  if (last === e.page || last === 0) return;
  if (k === 0) {
    e.guardEntry(last);
    return;
  }
  e.done = k - start;
  e.emit(`if (!(${e.guard(last)})) { ${e.exit(e.eipAt(rel), undefined, e.relOf(rel))} }`);
}

/** Whether `d`'s specialised form ends the block with its own exit: JMP/CALL rel, RET, 32-bit JMP/CALL Ev. */
function leavesItself(d: Insn): boolean {
  return d.op === 0xeb || d.op === 0xe9 || d.op === 0xe8 || d.op === 0xc3 || d.op === 0xc2 || isNearIndirect32(d);
}

/** FF /2, /4: CALL or JMP Ev with a 32-bit operand. */
function isNearIndirect32(d: Insn): boolean {
  return d.op === 0xff && (d.reg === 2 || d.reg === 4) && d.size === 4;
}

/**
 * A JMP or CALL rel the block follows to its target, which comes next in
 * the block and lies within it (so within the CS limit the entry checked):
 * CALL pushes its return address. A target on another page (`page`) is
 * reached through its guard; where that fails, the block leaves for it.
 */
function emitFollowed(e: Emitter, d: Insn, k: number, after: number, page: number): boolean {
  if (d.op === 0xe8) {
    e.emit(`v${k} = ${e.eipAt(after)};`);
    emitPush(e, k, `v${k}`, d.size);
  }
  if (page !== 0 && page !== e.page) e.emit(`if (!(${e.guard(page)})) { ${e.exit(e.next, undefined, e.relOf(e.nextRel))} }`);
  return true;
}

/**
 * Whether instruction k is a CALL rel32 in 32-bit code (not followed) whose
 * return address is in the block (next, or decoded before: a loop) and
 * whose target is not: the block calls the callee's block itself
 * (emitNestedCall).
 */
function isNestedCallAt(b: BlockShape, k: number): boolean {
  const d = b.insns[k]!;
  if (!isNestedCall(d, b.mode) || isFollowed(b, k, true)) return false;
  const after = b.rel[k]! + d.len;
  return b.rel.includes(after) && !b.rel.includes(after + jumpDisplacement(d));
}

/**
 * A CALL rel32 whose callee the block does not take in, with its return
 * address in the block (isNestedCallAt): next, or decoded before and
 * reached through its `label`. #GP past the CS limit before the push, as
 * emitCall; then, rather than leaving for the callee through the
 * dispatcher and coming back to the return address as another block, the
 * block calls the callee's block (the dispatcher linked it to the CALL's
 * static exit the first time the block left there) and goes on here when it
 * returns (Emitter.nestedCall). In the steady shell loop four block exits
 * in five were a CALL or a RET, most of them a function on another page
 * and its return, each a trip through the dispatcher.
 */
function emitNestedCall(e: Emitter, d: Insn, k: number, after: number, page: number, label: number | undefined): boolean {
  const rel = after + jumpDisplacement(d);
  const site = e.eipAt(after);
  e.emit(`t${k} = ${pc(rel, true)}; v${k} = ${site};`);
  e.emit(e.gpPastCsLimit(`t${k}`));
  emitPush(e, k, `v${k}`, 4);
  e.emit(e.nestedCall(k, `t${k}`, rel, page, `v${k}`, e.exitNumber(e.relOf(rel))));
  // A return address decoded before the CALL (the head of a loop, say) is jumped to.
  if (label !== undefined) e.emit(e.exit(site, label, e.relOf(after)));
  return true;
}

/**
 * A JMP through an absolute pointer the translator followed to where the
 * pointer held (BlockShape.pointerJumps), which comes next in the block:
 * the block goes on there while the pointer holds it still (and a target
 * on another page, `page`, is mapped as decoded); otherwise it leaves as
 * emitNearIndirect's.
 */
function emitPointerJump(e: Emitter, d: Insn, k: number, page: number): boolean {
  e.emit(`t${k} = ${memRead(e, k, d, 4)} >>> 0;`);
  const guard = page !== 0 && page !== e.page ? ` && ${e.guard(page)}` : '';
  e.emit(`if (!(t${k} === ${e.next}${guard})) { ${e.gpPastCsLimit(`t${k}`)} ${e.leave(`t${k}`)} }`);
  return true;
}

/** Jcc, JMP or CALL rel: a transfer whose target is known from the instruction. */
function isDirectTransfer(d: Insn): boolean {
  return isConditionalJump(d) || d.op === 0xeb || d.op === 0xe9 || d.op === 0xe8;
}

/**
 * Whether instruction k is a JMP or CALL rel the translator followed: its
 * target comes next in the block, so nothing jumps (CALL only pushes).
 */
function isFollowed(b: BlockShape, k: number, wide: boolean): boolean {
  const d = b.insns[k]!;
  if (k === b.insns.length - 1 || (d.op !== 0xe8 && d.op !== 0xe9 && d.op !== 0xeb) || d.o32 !== wide) return false;
  return b.rel[k]! + d.len + jumpDisplacement(d) === b.rel[k + 1];
}

/** Displacement of a Jcc/JMP/CALL rel from the next instruction (control.ts's jumpRelative). */
export function jumpDisplacement(d: Insn): number {
  const dispSize = d.op === 0xeb || (d.op >= 0x70 && d.op <= 0x7f) ? 1 : d.o32 ? 4 : 2;
  return dispSize === 1 ? (d.imm << 24) >> 24 : dispSize === 2 ? (d.imm << 16) >> 16 : d.imm | 0;
}

/** Target of a Jcc/JMP rel ending `next` bytes into the block, as an expression of E (wrapped to the operand size). */
function jumpTarget(d: Insn, next: number): string {
  return pc(next + jumpDisplacement(d), d.o32);
}

/**
 * Offset from the entry of the instruction the Jcc/JMP/CALL rel `d` (ending
 * `next` bytes into the block) goes to, when that is an instruction of the
 * block whatever EIP the block is entered at; else undefined. Within the
 * block EIPs do not wrap (fitsSegment), so a 32-bit target is entry +
 * offset in either mode, and a 16-bit one in 16-bit code (in 32-bit code it
 * wraps to 64 KiB).
 */
function jumpWithin(b: BlockShape, d: Insn, next: number, wide: boolean): number | undefined {
  if (!isDirectTransfer(d) || (!d.o32 && wide)) return undefined;
  const rel = next + jumpDisplacement(d);
  return b.rel.includes(rel) ? rel : undefined;
}

/**
 * The labels (with their offsets) that a jump or a run's end goes back to:
 * every loop in the block passes one (code falls only forward).
 */
function loopHeads(b: BlockShape, labels: ReadonlyMap<number, number>, wide: boolean): Map<number, number> {
  const heads = new Map<number, number>();
  b.insns.forEach((d, k) => {
    if (isFollowed(b, k, wide)) return;
    const after = b.rel[k]! + d.len;
    const nestedSite = isNestedCallAt(b, k) ? after : undefined;
    for (const rel of [jumpWithin(b, d, after, wide) ?? returnSite(b, k, wide) ?? nestedSite, continuesBlock(d) ? after : undefined]) {
      const label = rel === undefined ? undefined : labels.get(rel);
      if (label !== undefined && b.rel.indexOf(rel!) <= k) heads.set(label, rel!);
    }
  });
  return heads;
}

/** The case number of each instruction (by offset) that jumps and runs falling through within the block go to, in block order; the entry is case 0. */
function jumpLabels(b: BlockShape, wide: boolean): Map<number, number> {
  const targets = new Set<number>();
  const last = b.insns.length - 1;
  b.insns.forEach((d, k) => {
    if (isFollowed(b, k, wide)) return;
    const after = b.rel[k]! + d.len;
    const rel = jumpWithin(b, d, after, wide);
    if (rel !== undefined) targets.add(rel);
    // A nested call's return address, also where it comes next: the dispatcher may enter the
    // block there, when the callee returns through it (Translator.lookup).
    if (isNestedCallAt(b, k)) targets.add(after);
    const site = returnSite(b, k, wide);
    if (site !== undefined && site !== b.rel[k + 1]) targets.add(site);
    // A run that falls into an instruction decoded before (k + 1 starts another run, or none).
    if (continuesBlock(d) && (k === last || b.rel[k + 1] !== after) && b.rel.includes(after)) targets.add(after);
  });
  const labels = new Map<number, number>();
  if (targets.size === 0) return labels;
  labels.set(0, 0);
  // Once per offset: were an offset listed twice, numbering it again would give the next target its number.
  for (const rel of b.rel) if (targets.has(rel) && !labels.has(rel)) labels.set(rel, labels.size);
  return labels;
}

/**
 * The labels of block `b` it may be entered at (block.ts's entryBlock), as
 * [offset from the entry, case]: those on the entry's page (whose mapping
 * the dispatcher's lookup has just checked, as the entry's).
 */
export function entryLabels(b: BlockShape): [number, number][] {
  return [...jumpLabels(b, b.mode === 1)].filter(([rel, label]) => label > 0 && pageOf(b, rel) === 0);
}

// ---- operand expressions ------------------------------------------------------

/** Whether the operand expression `v` is an integer literal (folded at translation time). */
function isLiteral(v: string): boolean {
  return /^-?\d+$/.test(v);
}

/** The operator wrapping a result to its size: int32 bits for 32 bits, the unsigned value for 8 and 16. */
function mask(size: number): string {
  return size === 4 ? '| 0' : size === 2 ? '& 0xffff' : '& 0xff';
}

/** Sign bit of `size` bytes, as int32 bits (a small integer to V8). */
function sign(size: number): number {
  return size === 4 ? -0x8000_0000 : size === 2 ? 0x8000 : 0x80;
}

/** Signed value of a `size`-byte operand (32-bit operands are int32 bits already). */
function signed(v: string, size: number): string {
  return size === 4 ? v : size === 2 ? `((${v} << 16) >> 16)` : `((${v} << 24) >> 24)`;
}

/**
 * Whether operand `a` is below `b` as unsigned `size`-byte numbers. For 32
 * bits (int32 bits) both sides get their sign bit flipped, which turns the
 * unsigned order into the signed one without making a uint32.
 */
function below(a: string, b: string, size: number, orEqual = false): string {
  const flip = (v: string): string => (size !== 4 ? v : isLiteral(v) ? String(Number(v) ^ -0x8000_0000) : `(${v} ^ -2147483648)`);
  return `${flip(a)} ${orEqual ? '<=' : '<'} ${flip(b)}`;
}

/** The immediate of `d` as its operand: int32 bits for 32 bits. */
function immediate(d: Insn): string {
  return String(d.size === 4 ? d.imm | 0 : d.imm);
}

/** The memory operand's offset before wrapping: displacement plus base plus scaled index. */
function eaSum(e: Emitter, d: Insn): string {
  const parts: string[] = [];
  if (d.disp !== 0 || (d.base < 0 && d.index < 0)) parts.push(String(d.a32 ? d.disp | 0 : d.disp));
  if (d.base >= 0) parts.push(e.local(d.base));
  if (d.index >= 0) parts.push(d.scale ? `(${e.local(d.index)} << ${d.scale})` : e.local(d.index));
  return parts.join(' + ');
}

/**
 * The memory operand's offset (Cpu.ea with the record's fields folded in):
 * int32 bits for a 32-bit address (fastAccessAt makes it unsigned where it
 * must be). The sum is truncated (`| 0`): V8 then adds without an overflow
 * check, which it otherwise emits (with its deopt exit) wherever feedback
 * saw only small offsets.
 */
function eaExpr(e: Emitter, d: Insn): string {
  return d.a32 ? `(${eaSum(e, d)} | 0)` : `((${eaSum(e, d)}) & 0xffff)`;
}

// ---- memory operands: RAM through the fast path of memory.ts, else the interpreter -----

/** A load from guest RAM as an operand (32 bits as int32 bits). */
function ramLoad(index: string, size: number): string {
  return size === 1 ? `M[${index}]` : size === 2 ? `V.getUint16(${index}, true)` : `V.getInt32(${index}, true)`;
}

function ramStore(index: string, size: number, v: string): string {
  return size === 1 ? `M[${index}] = ${v};` : size === 2 ? `V.setUint16(${index}, ${v}, true);` : `V.setUint32(${index}, ${v}, true);`;
}

/**
 * Accesses through one base register (register `base` plus a displacement,
 * no index; PUSH and POP through ESP) in one flat segment, from the one of
 * instruction `first` (the line of its check in Emitter.out and its slow
 * exit) while the register keeps its value or moves by what PUSH and POP
 * add to it (`shift` so far): the bytes from `lo` to `hi` (relative to its
 * value at the first access), `accesses` of them, any of them written.
 * Such operands are mostly a function's locals and arguments in its stack
 * frame, or fields of one structure, on one page: one check of that page at
 * the first access serves them all.
 * In busybox's md5sum the hottest blocks went from 85 checks (each a TLB
 * load, a compare and a way out) to 30-38.
 */
interface Window {
  readonly base: number;
  readonly seg: number;
  /** Numbers its TLB entry's temporary, j<id>. */
  readonly id: number;
  readonly first: number;
  lo: number;
  hi: number;
  shift: number;
  write: boolean;
  accesses: number;
  readonly line: number;
  readonly exit: string;
}

/**
 * Bytes a window (Emitter.windowIndex) may span: the wider, the more often
 * it straddles two pages, where its check fails though each access would
 * pass, and the block leaves at its first access every time. A loop at a
 * fixed stack depth then leaves on every pass: with 256 and PUSH and POP in
 * ESP's windows, the steady shell loop of bench/tcg-phases.mjs ran 6.2 M
 * blocks of 28 instructions against 2 M of 88, 2.6% of its instructions
 * interpreted; with 64, as without windows. (A block that leaves that way
 * SLOW_EXITS_HOT times is translated again without windows: translator.ts.)
 */
const WINDOW_SPAN = 64;

/**
 * Instruction k's `size`-byte access on the RAM fast path: `ok`, whether the
 * fast path allows it (offset below the segment's fast end read at block entry,
 * within one page, TLB entry with the permission bits and, for writes, not a
 * page holding code: those writes go through the MMU, which invalidates), and
 * `index`, its RAM index then.
 */
interface FastAccess {
  ok: string;
  index: string;
}

/**
 * Instruction k's access (FastAccess) at offset `ea` (int32 bits, or a
 * 16-bit offset) in segment `seg`; with `stack`, a 32-bit stack access (SS.B set at block entry: its
 * own fastEnd). e<k> holds the offset: unsigned where it is compared with
 * the segment's end, else as int32 bits, as V8 keeps them in every tier (as
 * a uint32, the user half of the address space went through a check for
 * the sign in optimised code, and the kernel's half through doubles).
 * l<k> holds the linear address (as int32 bits; in a flat segment e<k> is
 * that) and p<k> its page's fast-path entry for the access at the CPL
 * (mmu.ts; U picks the CPL's half of the table): one compare checks that
 * the entry allows it (a page holding code is not writable there, so
 * writes that must invalidate go through the MMU) and that it stays in the
 * page, and the RAM index is the entry xor-ed with the address.
 */
function fastAccessAt(e: Emitter, k: number, seg: number, ea: string, size: number, write: boolean, stack: boolean): FastAccess {
  const end = e.useSegment(seg, write, stack);
  const table = write ? 'TW' : 'TR';
  // In a flat segment the offset is the linear address.
  const l = end === undefined ? `e${k}` : `l${k}`;
  e.emit(end === undefined ? `e${k} = ${ea};` : `e${k} = ${ea} >>> 0; l${k} = SB${seg} + e${k} | 0;`);
  e.emit(`p${k} = ${table}[U | (${l} >>> 12)];`);
  // mmu.ts's fastOk: a byte checks only the entry.
  const inPage = size === 1 ? `(p${k} & 0xfff) === 0` : `((p${k} | ${l}) & 0xfff) <= ${0x1000 - size}`;
  return {
    ok: end === undefined ? inPage : `e${k} < ${end} && ${inPage}`,
    index: e.highRam ? `((p${k} ^ ${l}) >>> 0)` : `(p${k} ^ ${l})`,
  };
}

/** Leaves the block before the current instruction (Emitter.slowExit) unless the fast path allows access `a`. */
function leaveUnlessFast(e: Emitter, a: FastAccess): void {
  e.emit(`if (!(${a.ok})) { ${e.slowExit()} }`);
}

/**
 * PUSH of `v` (a local or constant) as Cpu.push: a 32-bit push on a 32-bit
 * stack goes straight to RAM when the fast path allows, else the
 * interpreter runs the instruction; other pushes call Cpu.push (which
 * stores before moving ESP, so a fault leaves ESP as it was).
 */
function emitPush(e: Emitter, k: number, v: string, size: number): void {
  if (size !== 4) {
    e.flushFlags();
    e.storeRegisters();
    e.sync();
    e.emit(`c.push(${v}, ${size});`);
    e.emit(e.deadExit());
    e.reload(4);
    return;
  }
  e.emit(`${ramStore(stackIndex(e, k, -4, true), 4, v)} R4 = e${k} | 0;`);
  e.wrote(4, -4);
}

/** POP r32 on a 32-bit stack from RAM when the fast path allows (else the interpreter runs it); returns the local holding the value. */
function emitPop(e: Emitter, k: number): string {
  e.emit(`v${k} = ${ramLoad(stackIndex(e, k, 0, false), 4)}; R4 = (e${k} + 4) | 0;`);
  e.wrote(4, 4);
  return e.markInt32(`v${k}`);
}

/**
 * The RAM index of instruction k's 4-byte access at ESP + `disp` (0 or -4)
 * on a 32-bit stack, after the check that the fast path allows it, with its
 * offset in e<k>: through ESP's window when SS is flat (operandIndex).
 */
function stackIndex(e: Emitter, k: number, disp: number, write: boolean): string {
  const ea = disp === 0 ? e.local(4) : `(${e.local(4)} - ${-disp} | 0)`;
  return checkedIndex(e, k, SS, ea, 4, write, true, 4, disp);
}

/**
 * F7 /6: DIV r/m32 of EDX:EAX by `src` (alu.ts's divUnsigned). With EDX 0
 * and a divisor other than 0 it is exact in doubles (the remainder, taken
 * first, makes the division exact); anything else (a divide error, a
 * dividend over 32 bits) the interpreter runs. No flags change.
 */
function emitDiv32(e: Emitter, k: number, src: string): void {
  e.emit(`s${k} = ${src} >>> 0; a${k} = ${e.local(0)} >>> 0;`);
  e.local(2);
  e.emit(`if (R2 === 0 && s${k} !== 0) { x${k} = a${k} % s${k}; R0 = ((a${k} - x${k}) / s${k}) | 0; R2 = x${k} | 0; }`);
  e.emit(`else { ${e.slowExit()} }`);
  e.wrote(0);
  e.wrote(2);
}

/**
 * C9: LEAVE with a 32-bit operand (control.ts's leave): EBP is popped from
 * the stack at EBP, ESP then pointing past it. From RAM on a 32-bit stack
 * when the fast path allows, else the interpreter runs it (a 16-bit stack,
 * a fault).
 */
function emitLeave(e: Emitter, k: number): void {
  const a = fastAccessAt(e, k, SS, e.local(5), 4, false, true);
  leaveUnlessFast(e, a);
  e.emit(`v${k} = ${ramLoad(a.index, 4)}; R4 = (e${k} + 4) | 0;`);
  e.wrote(4);
  e.emit(e.setReg(5, 4, e.markInt32(`v${k}`)));
}

/**
 * The RAM index of instruction k's `size`-byte access to its memory
 * operand, after the check that the fast path allows it (the block leaves
 * before the instruction otherwise): through the window of its base
 * register when the operand is a register plus a displacement in a flat
 * segment (Emitter.windowIndex), else checked alone.
 */
function operandIndex(e: Emitter, k: number, d: Insn, size: number, write: boolean): string {
  const base = d.a32 && d.index < 0 ? d.base : -1;
  return checkedIndex(e, k, d.seg, eaExpr(e, d), size, write, false, base, d.disp | 0);
}

/**
 * The RAM index of instruction k's access at offset `ea` of segment `seg`
 * (as fastAccessAt takes them), after its check: through the window of
 * register `base` (the offset being that register plus `disp`; -1: none)
 * when the block has windows and the segment is flat, else alone.
 */
function checkedIndex(e: Emitter, k: number, seg: number, ea: string, size: number, write: boolean, stack: boolean, base: number, disp: number): string {
  if (e.windowed && base >= 0 && e.useSegment(seg, write, stack) === undefined) {
    e.emit(`e${k} = ${ea};`);
    return e.windowIndex(k, base, seg, disp, size, write);
  }
  const a = fastAccessAt(e, k, seg, ea, size, write, stack);
  leaveUnlessFast(e, a);
  return a.index;
}

/** Emits the read of instruction k's memory operand (`size` bytes); returns the local holding the value. */
function memRead(e: Emitter, k: number, d: Insn, size: number): string {
  return loadOperand(e, k, operandIndex(e, k, d, size, false), size);
}

/** Emits the load of instruction k's `size`-byte operand at RAM index `index` into m<k>, which it returns. */
function loadOperand(e: Emitter, k: number, index: string, size: number): string {
  e.emit(`m${k} = ${ramLoad(index, size)};`);
  return size === 4 ? e.markInt32(`m${k}`) : `m${k}`;
}

/** Emits the read of `size` bytes at offset `ea` (as fastAccessAt takes it) of segment `seg`; returns the local holding the value. */
function memReadAt(e: Emitter, k: number, seg: number, ea: string, size: number): string {
  const a = fastAccessAt(e, k, seg, ea, size, false, false);
  leaveUnlessFast(e, a);
  return loadOperand(e, k, a.index, size);
}

/** Emits the write of `v` (a side-effect-free expression) to instruction k's memory operand. */
function memWrite(e: Emitter, k: number, d: Insn, size: number, v: string): void {
  e.emit(ramStore(operandIndex(e, k, d, size, true), size, v));
}

/** Emits the write of `v` to `size` bytes at offset `ea` (as fastAccessAt takes it) of segment `seg`. */
function memWriteAt(e: Emitter, k: number, seg: number, ea: string, size: number, v: string): void {
  const a = fastAccessAt(e, k, seg, ea, size, true, false);
  leaveUnlessFast(e, a);
  e.emit(ramStore(a.index, size, v));
}

/**
 * A4/A5, AC/AD, AE/AF without REP and with a 32-bit address: one MOVS,
 * LODS or SCAS (string.ts's steps). The source is seg:ESI, the destination
 * ES:EDI; each index then moves by the operand size, down when EFLAGS.DF is
 * set, and only once the accesses are done (a fault leaves them).
 */
function emitString(e: Emitter, d: Insn, k: number): void {
  const size = d.size;
  e.emit(`t${k} = c.flags & ${DF} ? ${-size} : ${size};`);
  const advance = (r: number): void => e.emit(e.setReg(r, 4, `${e.local(r)} + t${k}`));
  if (d.op === 0xae || d.op === 0xaf) {
    const v = memReadAt(e, k, ES, e.local(7), size);
    emitAlu(e, k, AluOp.Cmp, e.reg(0, size), v, size, undefined);
    advance(7);
    return;
  }
  const v = memReadAt(e, k, d.seg, e.local(6), size);
  if (d.op === 0xac || d.op === 0xad) {
    e.emit(e.setReg(0, size, v));
    advance(6);
    return;
  }
  memWriteAt(e, k, ES, e.local(7), size, v);
  advance(6);
  advance(7);
}

// ---- specialised forms -----------------------------------------------------------

/**
 * Emits `d` as inline JavaScript if it is one of the specialised forms;
 * returns false (emitting nothing) otherwise.
 */
function emitSpecialised(e: Emitter, d: Insn, k: number, next: number, wide: boolean, labels: Map<number, number>): boolean {
  // The decoder may have given the record another handler (#UD for a misplaced LOCK): that one is the semantics.
  if (d.exec !== OPCODES[d.op]?.exec) return false;
  const op = d.op;
  const size = d.size;
  const mem = d.mod >= 0 && d.mod !== 3;
  if (op < 0x40 && (op & 7) < 6) {
    const aluOp = (op >> 3) & 7;
    switch (op & 7) {
      case 0:
      case 1:
        return emitAluE(e, d, k, aluOp, e.reg(d.reg, size));
      case 2:
      case 3:
        return emitAlu(e, k, aluOp, e.reg(d.reg, size), mem ? memRead(e, k, d, size) : e.reg(d.rm, size), size, (x) => e.setReg(d.reg, size, x));
      default:
        return emitAlu(e, k, aluOp, e.reg(0, size), immediate(d), size, (x) => e.setReg(0, size, x));
    }
  }
  switch (op) {
    case 0x80:
    case 0x81:
    case 0x83:
      return emitAluE(e, d, k, d.reg, immediate(d));
    case 0x84:
    case 0x85:
      return emitAlu(e, k, AluOp.And, mem ? memRead(e, k, d, size) : e.reg(d.rm, size), e.reg(d.reg, size), size, undefined);
    case 0xa8:
    case 0xa9:
      return emitAlu(e, k, AluOp.And, e.reg(0, size), immediate(d), size, undefined);
    case 0x88:
    case 0x89:
      if (!mem) e.emit(e.setReg(d.rm, size, e.reg(d.reg, size)));
      else memWrite(e, k, d, size, e.reg(d.reg, size));
      return true;
    case 0x8a:
    case 0x8b:
      if (!mem) e.emit(e.setReg(d.reg, size, e.reg(d.rm, size)));
      else e.emit(e.setReg(d.reg, size, memRead(e, k, d, size)));
      return true;
    case 0xa0:
    case 0xa1:
      // MOV AL/eAX, moffs: the decoder leaves the offset in disp with no base or index.
      e.emit(e.setReg(0, size, memRead(e, k, d, size)));
      return true;
    case 0xa2:
    case 0xa3:
      memWrite(e, k, d, size, e.reg(0, size));
      return true;
    case 0x8d:
      if (!mem) return false;
      // A 32-bit LEA of a 32-bit address is the sum as int32 bits; otherwise the offset, cut to the size.
      e.emit(e.setReg(d.reg, size, size === 4 && d.a32 ? eaSum(e, d) : eaExpr(e, d)));
      return true;
    case 0xc6:
    case 0xc7:
      if (d.reg !== 0) return false;
      if (!mem) e.emit(e.setReg(d.rm, size, immediate(d)));
      else memWrite(e, k, d, size, immediate(d));
      return true;
    case 0x1b6:
    case 0x1b7:
    case 0x1be:
    case 0x1bf:
      return emitMovExtend(e, d, k);
    case 0xeb:
    case 0xe9:
      emitJump(e, d, k, next, wide, 'true', labels);
      return true;
    case 0xe8:
      emitCall(e, d, k, next, wide, labels);
      return true;
    case 0xc3:
    case 0xc2:
      emitRet(e, d, k);
      return true;
  }
  if ((op === 0xc0 || op === 0xc1 || op === 0xd0 || op === 0xd1) && d.mod === 3 && d.reg >= 4) {
    return emitShift(e, k, d.reg, d.rm, size, (op <= 0xc1 ? d.imm : 1) & 0x1f);
  }
  if (op === 0xd3 && d.mod === 3 && (d.reg === 4 || d.reg === 5 || d.reg === 7) && size === 4) return emitShiftByCl32(e, k, d.reg, d.rm);
  if ((op === 0xc1 || op === 0xd1) && d.mod === 3 && d.reg <= 1 && size === 4) {
    return emitRotate32(e, k, d.reg === 1, d.rm, (op === 0xc1 ? d.imm : 1) & 0x1f);
  }
  if ((op === 0x1af || op === 0x69 || op === 0x6b) && size === 4) {
    const src = mem ? memRead(e, k, d, 4) : e.reg(d.rm, 4);
    return emitImul32(e, k, d.reg, op === 0x1af ? e.reg(d.reg, 4) : src, op === 0x1af ? src : immediate(d));
  }
  if (op >= 0xb0 && op <= 0xbf) {
    e.emit(e.setReg(op & 7, size, immediate(d)));
    return true;
  }
  if (op >= 0x40 && op <= 0x4f) return emitIncDec(e, k, e.reg(op & 7, size), size, (op & 8) !== 0, (x) => e.setReg(op & 7, size, x));
  if ((op === 0xfe || op === 0xff) && d.reg <= 1) {
    return emitReadModifyWrite(e, d, k, (load, store) => emitIncDec(e, k, load, size, d.reg === 1, store));
  }
  if ((op === 0xf6 || op === 0xf7) && d.reg <= 1) {
    // TEST Eb/Ev, imm (/1 is its undocumented alias, as in alu.ts's group3).
    return emitAlu(e, k, AluOp.And, mem ? memRead(e, k, d, size) : e.reg(d.rm, size), immediate(d), size, undefined);
  }
  if ((op === 0xf6 || op === 0xf7) && (d.reg === 2 || d.reg === 3)) return emitNotNeg(e, d, k);
  if (op === 0xf7 && (d.reg === 4 || d.reg === 5) && size === 4) {
    emitMul32(e, k, mem ? memRead(e, k, d, 4) : e.reg(d.rm, 4), d.reg === 5);
    return true;
  }
  if (op === 0xf7 && d.reg === 6 && size === 4) {
    emitDiv32(e, k, mem ? memRead(e, k, d, 4) : e.reg(d.rm, 4));
    return true;
  }
  if (op === 0x1ba && d.reg === 4) {
    // BT Ev, imm8 (bitops.ts's bitOp): CF is the bit, the offset taken modulo the operand size.
    const v = mem ? memRead(e, k, d, size) : e.reg(d.rm, size);
    e.emit(`f${k} = (${v} >>> ${d.imm & (size * 8 - 1)}) & 1;`);
    e.amendFlags(`c.flags = (c.flags & ${~CF}) | f${k}, c.lazy &= ${~CF}`);
    return true;
  }
  if (op === 0x90) return true; // NOP, PAUSE (F3 90) and XCHG AX, AX: nothing changes
  if (op >= 0x91 && op <= 0x97) {
    // XCHG eAX, r (datamov.ts's xchgAR).
    e.emit(`v${k} = ${e.reg(0, size)}; x${k} = ${e.reg(op & 7, size)};`);
    e.emit(e.setReg(0, size, `x${k}`));
    e.emit(e.setReg(op & 7, size, `v${k}`));
    return true;
  }
  if (op === 0xf8 || op === 0xf9) {
    // CLC, STC (datamov.ts's flagOp): CF over the pending record, as the rotates do.
    e.amendFlags(`c.flags = (c.flags & ${~CF}) | ${op === 0xf9 ? CF : 0}, c.lazy &= ${~CF}`);
    return true;
  }
  if (op === 0xfc || op === 0xfd) {
    // CLD, STD: DF is no arithmetic flag, so no flag record touches it.
    e.emit(op === 0xfc ? `c.flags &= ${~DF};` : `c.flags |= ${DF};`);
    return true;
  }
  if (op >= 0x1c8 && op <= 0x1cf && size === 4) {
    // BSWAP r32.
    const v = e.reg(op & 7, 4);
    e.emit(e.setReg(op & 7, 4, `(${v} << 24) | ((${v} & 0xff00) << 8) | ((${v} >>> 8) & 0xff00) | (${v} >>> 24)`));
    return true;
  }
  if (op >= 0x50 && op <= 0x57) {
    e.emit(`v${k} = ${e.reg(op & 7, size)};`); // PUSH ESP pushes ESP as it was
    emitPush(e, k, `v${k}`, size);
    return true;
  }
  if (op === 0x68 || op === 0x6a) {
    emitPush(e, k, immediate(d), size);
    return true;
  }
  if (op === 0xff && d.reg === 6 && mem && size === 4) {
    // PUSH Ev: the operand is read (and may fault) before the push, its address from ESP before it.
    emitPush(e, k, memRead(e, k, d, 4), 4);
    return true;
  }
  if (op === 0x86 || op === 0x87) {
    // XCHG Eb/Ev, Gb/Gv (datamov.ts's xchgEG): the operand is checked writable and read, then swapped.
    return emitReadModifyWrite(e, d, k, (load, store) => {
      e.emit(`x${k} = ${load}; v${k} = ${e.reg(d.reg, size)};`);
      // The register first: the store cannot fault once the load passed, and a store that kills
      // the block leaves with the instruction done.
      e.emit(e.setReg(d.reg, size, size === 4 ? e.markInt32(`x${k}`) : `x${k}`));
      e.emit(store(`v${k}`));
      return true;
    });
  }
  if ((op === 0xa4 || op === 0xa5 || (op >= 0xac && op <= 0xaf)) && d.rep === 0 && d.a32) {
    emitString(e, d, k);
    return true;
  }
  if (op === 0x1b0 || op === 0x1b1) return emitCmpxchg(e, d, k);
  if (op === 0x131) {
    emitRdtsc(e, k);
    return true;
  }
  if (isNearIndirect32(d)) {
    emitNearIndirect(e, d, k);
    return true;
  }
  if (op === 0xc9 && size === 4) {
    emitLeave(e, k);
    return true;
  }
  if (op >= 0x58 && op <= 0x5f && op !== 0x5c) {
    if (size === 4) e.emit(e.setReg(op & 7, 4, emitPop(e, k)));
    else {
      e.flushFlags();
      e.storeRegisters();
      e.sync();
      e.emit(`v${k} = c.pop(${size});`);
      e.reload(4);
      e.emit(e.setReg(op & 7, size, `v${k}`));
    }
    return true;
  }
  if (isConditionalJump(d)) {
    emitJump(e, d, k, next, wide, condition(e, op & 0xf), labels);
    return true;
  }
  if (op >= 0x190 && op <= 0x19f) {
    // SETcc Eb (datamov.ts's setcc).
    const v = `(${condition(e, op & 0xf)} ? 1 : 0)`;
    if (mem) memWrite(e, k, d, 1, v);
    else e.emit(e.setReg(d.rm, 1, v));
    return true;
  }
  if (op >= 0x140 && op <= 0x14f) {
    // CMOVcc Gv, Ev (datamov.ts's cmov): the source is read, and may fault, whatever the condition.
    const src = mem ? memRead(e, k, d, size) : e.reg(d.rm, size);
    e.local(d.reg); // the write is conditional
    e.emit(`if (${condition(e, op & 0xf)}) { ${e.setReg(d.reg, size, src)} }`);
    return true;
  }
  return false;
}

/** op Eb/Ev with source `b` (a read-modify-write of memory unless CMP), as alu.ts's aluToE. */
function emitAluE(e: Emitter, d: Insn, k: number, aluOp: number, b: string): boolean {
  if (d.mod !== 3 && aluOp === AluOp.Cmp) return emitAlu(e, k, aluOp, memRead(e, k, d, d.size), b, d.size, undefined);
  return emitReadModifyWrite(e, d, k, (load, store) => emitAlu(e, k, aluOp, load, b, d.size, store));
}

/**
 * Instruction k's read-modify-write of its r/m operand: `op` emits the
 * instruction from the operand's value (an expression) and the statement
 * storing a result back. Memory is RAM directly when the write fast path
 * allows it (a writable page and segment are readable too), else the
 * interpreter runs the instruction.
 */
function emitReadModifyWrite(e: Emitter, d: Insn, k: number, op: (load: string, store: (x: string) => string) => boolean): boolean {
  const size = d.size;
  if (d.mod === 3) return op(e.reg(d.rm, size), (x) => e.setReg(d.rm, size, x));
  e.emit(`i${k} = ${operandIndex(e, k, d, size, true)};`);
  return op(ramLoad(`i${k}`, size), (x) => ramStore(`i${k}`, size, x));
}

/** F6/F7 /2, /3: NOT (no flags) and NEG (the flags of 0 - operand: CF set unless it was 0). */
function emitNotNeg(e: Emitter, d: Insn, k: number): boolean {
  const size = d.size;
  return emitReadModifyWrite(e, d, k, (load, store) => {
    if (d.reg === 3) return emitAlu(e, k, AluOp.Sub, '0', load, size, store);
    e.emit(`x${k} = (~(${load})) ${mask(size)};`);
    if (size === 4) e.markInt32(`x${k}`);
    e.emit(store(`x${k}`));
    return true;
  });
}

/**
 * alu.ts's `alu`: result and lazy-flag record of `aluOp` on a and b,
 * stored through `store` unless CMP/TEST (store undefined).
 */
function emitAlu(e: Emitter, k: number, aluOp: number, a: string, b: string, size: number, store: ((x: string) => string) | undefined): boolean {
  const m = mask(size);
  let x: string;
  let flagOp: FlagOp;
  let plain = true;
  switch (aluOp) {
    case AluOp.Add:
      x = `(a${k} + b${k}) ${m}`;
      flagOp = FlagOp.Add;
      break;
    case AluOp.Or:
      x = `(a${k} | b${k}) ${m}`;
      flagOp = FlagOp.Logic;
      break;
    case AluOp.Adc:
      x = `(a${k} + b${k} + ${e.carry()}) ${m}`;
      flagOp = FlagOp.Add;
      plain = false;
      break;
    case AluOp.Sbb:
      x = `(a${k} - b${k} - ${e.carry()}) ${m}`;
      flagOp = FlagOp.Sub;
      plain = false;
      break;
    case AluOp.And:
      x = `(a${k} & b${k}) ${m}`;
      flagOp = FlagOp.Logic;
      break;
    case AluOp.Xor:
      x = `(a${k} ^ b${k}) ${m}`;
      flagOp = FlagOp.Logic;
      break;
    default: // Sub, Cmp
      x = `(a${k} - b${k}) ${m}`;
      flagOp = FlagOp.Sub;
  }
  e.emit(`a${k} = ${a}; b${k} = ${b}; x${k} = ${x};`);
  if (size === 4) e.markInt32(`x${k}`);
  const word = lazyWord(flagOp, size, ARITH_FLAGS);
  e.setFlags(
    `${recordOperands(`a${k}`, `b${k}`, size)}, c.lR = x${k}, c.lazy = ${word}`,
    { op: flagOp, plain, a: `a${k}`, b: `b${k}`, r: `x${k}`, size },
    { a: `a${k}`, b: `b${k}`, r: `x${k}`, word },
  );
  if (store && aluOp !== AluOp.Cmp) e.emit(store(`x${k}`));
  return true;
}

/** 40-4F, FE/FF /0 /1, as alu.ts's incDec: ADD/SUB 1 keeping CF, of operand `a`, the result stored by `store`. */
function emitIncDec(e: Emitter, k: number, a: string, size: number, dec: boolean, store: (x: string) => string): boolean {
  const flagOp = dec ? FlagOp.Sub : FlagOp.Add;
  e.emit(`f${k} = ${e.carry()}; a${k} = ${a}; x${k} = (a${k} ${dec ? '-' : '+'} 1) ${mask(size)};`);
  if (size === 4) e.markInt32(`x${k}`);
  e.setFlags(
    `${recordOperands(`a${k}`, '1', size)}, c.lR = x${k}, c.flags = (c.flags & ${~CF}) | f${k}, c.lazy = ${lazyWord(flagOp, size, ARITH_FLAGS & ~CF)}`,
    { op: flagOp, plain: false, a: `a${k}`, b: '1', r: `x${k}`, size },
  );
  e.emit(store(`x${k}`));
  return true;
}

/** The record Cpu.setResultFlags makes: ZF/SF/PF from the result, CF/OF/AF as computed (`cfOf`: an expression of CF|OF bits). */
function emitResultFlags(e: Emitter, x: string, size: number, cfOf: string): void {
  e.setFlags(resultFlagStores(x, size, cfOf), undefined);
}

/** The stores of that record, as a comma expression. */
function resultFlagStores(x: string, size: number, cfOf: string): string {
  return `c.lR = ${x}, c.flags = (c.flags & ${~(CF | OF | AF)}) | ${cfOf}, c.lazy = ${lazyWord(FlagOp.Logic, size, ZF | SF | PF)}`;
}

/**
 * The stores of a record's operands. A 32-bit operand may be a uint32 (a
 * slow-path read returns one) and is made int32 bits (flags.ts); 8- and
 * 16-bit operands are small integers already, as is every result.
 */
function recordOperands(a: string, b: string, size: number): string {
  return size === 4 ? `c.lA = ${a} | 0, c.lB = ${isLiteral(b) ? b : `${b} | 0`}` : `c.lA = ${a}, c.lB = ${b}`;
}

/** SHL/SAL/SHR/SAR r, imm (shift.ts's shift with a constant count; 0 changes nothing). */
function emitShift(e: Emitter, k: number, op: number, reg: number, size: number, count: number): boolean {
  if (op === 4 || op === 6 || op === 5 || op === 7) {
    if (count === 0) return true;
    const bits = size * 8;
    const s = sign(size);
    e.emit(`a${k} = ${e.reg(reg, size)};`);
    let x: string;
    let cf: string;
    let of: string;
    if (op === 5) {
      x = count >= bits ? '0' : `a${k} >>> ${count}`;
      cf = count > bits ? '0' : `((a${k} >>> ${count - 1}) & 1)`;
      of = count === 1 ? `(a${k} & ${s} ? ${OF} : 0)` : '0';
      e.emit(`x${k} = ${x}; f${k} = ${cf};`);
    } else if (op === 7) {
      e.emit(`v${k} = ${signed(`a${k}`, size)};`);
      e.emit(`x${k} = (v${k} >> ${Math.min(count, bits - 1)}) ${mask(size)}; f${k} = (v${k} >> ${Math.min(count - 1, 31)}) & 1;`);
      of = '0';
    } else {
      x = `(a${k} << ${count}) ${mask(size)}`;
      cf = count > bits ? '0' : `((a${k} >>> ${bits - count}) & 1)`;
      e.emit(`x${k} = ${x}; f${k} = ${cf};`);
      of = `(((x${k} & ${s} ? 1 : 0) ^ f${k}) ? ${OF} : 0)`;
    }
    emitResultFlags(e, `x${k}`, size, `f${k} | ${of}`);
    if (size === 4) e.markInt32(`x${k}`);
    e.emit(e.setReg(reg, size, `x${k}`));
    return true;
  }
  return false;
}

/**
 * SHL/SHR/SAR r32, CL (shift.ts's shift): a count of 0 (CL mod 32) changes
 * neither the register nor the flags, so the record is stored first and
 * the shift's own record is stored where it happens.
 */
function emitShiftByCl32(e: Emitter, k: number, op: number, reg: number): boolean {
  e.flushFlags();
  const a = `a${k}`;
  e.emit(`${a} = ${e.local(reg)}; n${k} = ${e.local(1)} & 31;`);
  let body: string;
  if (op === 5) body = `x${k} = (${a} >>> n${k}) | 0; f${k} = (${a} >>> (n${k} - 1)) & 1; o${k} = n${k} === 1 && ${a} & ${sign(4)} ? ${OF} : 0;`;
  else if (op === 7) body = `x${k} = ${a} >> n${k}; f${k} = (${a} >> (n${k} - 1)) & 1; o${k} = 0;`;
  else body = `x${k} = ${a} << n${k}; f${k} = (${a} >>> (32 - n${k})) & 1; o${k} = (x${k} >>> 31) ^ f${k} ? ${OF} : 0;`;
  e.emit(`if (n${k} !== 0) { ${body} ${resultFlagStores(`x${k}`, 4, `f${k} | o${k}`)}; ${e.setReg(reg, 4, e.markInt32(`x${k}`))} }`);
  e.flags = undefined;
  return true;
}

/**
 * ROL/ROR r32, imm (shift.ts's rotates with a constant count; 0 changes
 * nothing): only CF and OF change, so the other flags stay as recorded.
 */
function emitRotate32(e: Emitter, k: number, right: boolean, reg: number, count: number): boolean {
  if (count === 0) return true;
  const a = `a${k}`;
  e.emit(`${a} = ${e.local(reg)};`);
  let of: string;
  if (right) {
    e.emit(`x${k} = (${a} >>> ${count}) | (${a} << ${32 - count}); f${k} = x${k} >>> 31;`);
    of = `(x${k} >>> 30) & 1`;
  } else {
    e.emit(`x${k} = (${a} << ${count}) | (${a} >>> ${32 - count}); f${k} = x${k} & 1;`);
    of = `x${k} >>> 31`;
  }
  // CF and OF over the record still pending: rotates come in runs (hashes, ciphers), and storing the record for each cost more than the rotate.
  e.amendFlags(`c.flags = (c.flags & ${~(CF | OF)}) | f${k} | ((f${k} ^ (${of})) ? ${OF} : 0), c.lazy &= ${~(CF | OF)}`);
  e.emit(e.setReg(reg, 4, e.markInt32(`x${k}`)));
  return true;
}

/** IMUL r32, r/m32 (, imm): alu.ts's imulTruncated for 32 bits; CF=OF when the signed product does not fit. */
function emitImul32(e: Emitter, k: number, reg: number, a: string, b: string): boolean {
  e.emit(`a${k} = ${a}; b${k} = ${b}; x${k} = Math.imul(a${k}, b${k});`);
  emitResultFlags(e, `x${k}`, 4, `(a${k} * b${k} !== x${k} ? ${CF | OF} : 0)`);
  e.emit(e.setReg(reg, 4, e.markInt32(`x${k}`)));
  return true;
}

/**
 * F7 /4, /5: MUL and one-operand IMUL r/m32 (alu.ts's mulUnsigned and
 * mulSigned for 32 bits): EDX:EAX = EAX * src. The high half comes from
 * the 16-bit partial products, each sum exact as a double; the signed one
 * takes off the other operand (mod 2^32) for each negative operand. CF=OF
 * when EDX is not the zero (sign) extension of EAX.
 */
function emitMul32(e: Emitter, k: number, src: string, signedMul: boolean): void {
  e.emit(`a${k} = ${e.local(0)}; b${k} = ${src} | 0; x${k} = Math.imul(a${k}, b${k}); l${k} = (a${k} & 0xffff) * (b${k} & 0xffff);`);
  e.emit(`m${k} = (a${k} >>> 16) * (b${k} & 0xffff) + (a${k} & 0xffff) * (b${k} >>> 16) + (l${k} >>> 16);`);
  const high = `(a${k} >>> 16) * (b${k} >>> 16) + Math.floor(m${k} / 65536)`;
  e.emit(`o${k} = (${signedMul ? `${high} - (a${k} < 0 ? b${k} : 0) - (b${k} < 0 ? a${k} : 0)` : high}) | 0;`);
  emitResultFlags(e, `x${k}`, 4, `(o${k} !== ${signedMul ? `x${k} >> 31` : '0'} ? ${CF | OF} : 0)`);
  e.emit(e.setReg(0, 4, e.markInt32(`x${k}`)));
  e.emit(e.setReg(2, 4, e.markInt32(`o${k}`)));
}

/** 0F B6/B7/BE/BF, as datamov.ts's movExtend. */
function emitMovExtend(e: Emitter, d: Insn, k: number): boolean {
  const srcSize = d.op & 1 ? 2 : 1;
  let v: string;
  v = d.mod === 3 ? e.reg(d.rm, srcSize) : memRead(e, k, d, srcSize);
  if (d.op >= 0x1be) v = signed(v, srcSize);
  e.emit(e.setReg(d.reg, d.size, d.size === 4 ? v : `(${v} ${mask(d.size)})`));
  return true;
}

/**
 * Jcc/JMP: when `cond` holds, goes to the target's label if it is in the
 * block, else leaves for it (#GP past the CS limit, as Cpu.setEip).
 */
function emitJump(e: Emitter, d: Insn, k: number, next: number, wide: boolean, cond: string, labels: Map<number, number>): void {
  // Falling through into a label needs the flag record stored, as the jump does: once, before the branch.
  if (labels.has(next)) e.flushFlags();
  const target = jumpTarget(d, next);
  const rel = e.relOf(next + jumpDisplacement(d), d.o32);
  const label = d.o32 || !wide ? labels.get(next + jumpDisplacement(d)) : undefined;
  let taken: string;
  if (label !== undefined) taken = e.exit(target, label, rel);
  else {
    const check = e.gpPastCsLimit(`j${k}`);
    taken = check === '' ? e.exit(target, undefined, rel) : `j${k} = ${target}; ${check} ${e.exit(`j${k}`, undefined, rel)}`;
  }
  e.emit(cond === 'true' ? `{ ${taken} }` : `if (${cond}) { ${taken} }`);
}

/**
 * E8: CALL rel16/32 (control.ts's callNear): #GP past the CS limit before
 * the push, then a static exit, or the jump to the target's label when it
 * is in the block (then within the limit).
 */
function emitCall(e: Emitter, d: Insn, k: number, next: number, wide: boolean, labels: Map<number, number>): void {
  const label = d.o32 || !wide ? labels.get(next + jumpDisplacement(d)) : undefined;
  e.emit(`t${k} = ${pc(next + jumpDisplacement(d), d.o32)}; v${k} = ${e.eipAt(next, d.o32)};`);
  if (label === undefined) e.emit(e.gpPastCsLimit(`t${k}`));
  emitPush(e, k, `v${k}`, d.size);
  e.emit(e.exit(`t${k}`, label, e.relOf(next + jumpDisplacement(d), d.o32)));
}

/**
 * 0F 31: RDTSC (system.ts's rdtsc) into EDX:EAX. With CR4.TSD outside ring
 * 0 the interpreter runs it (#GP); the translator gives a CPU model without
 * a TSC the #UD handler instead (translator.ts), so no form is emitted for
 * it.
 */
function emitRdtsc(e: Emitter, k: number): void {
  e.emit(`if (c.cr4 & ${CR4_TSD} && c.cpl !== 0) { ${e.slowExit()} }`);
  e.emit(`t${k} = c.readTsc();`);
  e.emit(e.setReg(0, 4, `t${k} % 4294967296`));
  e.emit(e.setReg(2, 4, `Math.floor(t${k} / 4294967296)`));
}

/**
 * 0F B0/B1: CMPXCHG Eb/Ev, Gb/Gv (datamov.ts's cmpxchg): the flags of CMP
 * eAX with the operand; equal, the operand gets the register, else eAX gets
 * the operand, which is written back unchanged (the locked cycle always
 * writes). eAX first: the store cannot fault once the load passed, and a
 * store that kills the block leaves with the instruction done.
 */
function emitCmpxchg(e: Emitter, d: Insn, k: number): boolean {
  const size = d.size;
  return emitReadModifyWrite(e, d, k, (load, store) => {
    e.emit(`v${k} = ${load};`);
    emitAlu(e, k, AluOp.Cmp, e.reg(0, size), `v${k}`, size, undefined);
    const equal = store(e.reg(d.reg, size));
    const differ = `${e.setReg(0, size, `v${k}`)} ${store(`v${k}`)}`;
    e.emit(`if (a${k} === v${k}) { ${equal} } else { ${differ} }`);
    return true;
  });
}

/**
 * FF /4, /2: JMP or CALL Ev with a 32-bit operand (control.ts's
 * group5Control): the target is read (and may fault), #GP past the CS limit
 * before anything moves, CALL then pushes its return address. EIP then
 * comes from the operand: an exit the dispatcher looks up, as after RET.
 */
function emitNearIndirect(e: Emitter, d: Insn, k: number): void {
  const target = d.mod === 3 ? e.reg(d.rm, 4) : memRead(e, k, d, 4);
  e.emit(`t${k} = ${target} >>> 0;`);
  e.emit(e.gpPastCsLimit(`t${k}`));
  if (d.reg === 2) {
    e.emit(`v${k} = ${e.next};`);
    emitPush(e, k, `v${k}`, 4);
  }
  e.emit(e.leave(`t${k}`));
}

/**
 * C3/C2: RET near (control.ts's retNear). A 32-bit return on a 32-bit stack
 * pops its target straight from RAM when the fast path allows (#GP past the
 * CS limit with ESP unmoved); otherwise the interpreter runs it. A 16-bit
 * one calls the handler. EIP then comes from the stack: an exit the
 * dispatcher looks up (or finds in the block's inline cache of its last
 * target).
 */
function emitRet(e: Emitter, d: Insn, k: number): void {
  if (d.size !== 4) {
    e.emit(`${e.pendingStores()}c.insnEip = ${e.eip}; c.eip = ${e.next}; c.insnEsp = r[4]; h${k}(c, d${k}); B.exit = ${INDIRECT_EXIT}; return n + ${e.done};`);
    return;
  }
  emitRet32(e, d, k, fastAccessAt(e, k, SS, e.local(4), 4, false, true));
}

/** The rest of a 32-bit RET (emitRet), its return address at stack access `a` (fastAccessAt, emitted already). */
function emitRet32(e: Emitter, d: Insn, k: number, a: FastAccess): void {
  const pop = d.op === 0xc2 ? 4 + d.imm : 4;
  leaveUnlessFast(e, a);
  e.emit(`t${k} = V.getUint32(${a.index}, true);`);
  e.emit(e.gpPastCsLimit(`t${k}`));
  e.emit(`R4 = (e${k} + ${pop}) | 0; ${e.leave(`t${k}`)}`);
  e.wroteOnExit(4);
}

/**
 * Where instruction k, a 32-bit RET of a callee the block follows, goes on
 * when it pops its CALL's return address: that address's offset from the
 * entry (BlockShape.returns), else undefined.
 */
function returnSite(b: BlockShape, k: number, wide: boolean): number | undefined {
  const d = b.insns[k]!;
  if (!wide || !isRet32(d)) return undefined;
  return b.returns.get(b.rel[k]!);
}

/**
 * A RET of a callee the block took in (returnSite): when it pops the return
 * address of the call, with the fast path allowed, the block goes on there
 * with its registers and flags still in locals (so a short function costs
 * its caller a push, a pop and a compare): the next instruction (`label`
 * undefined; on another page, `page`, after its guard) or the return
 * address's label. Any other return leaves as emitRet's, through the
 * same stack access.
 */
function emitInlinedRet(e: Emitter, d: Insn, k: number, site: number, page: number, label: number | undefined): boolean {
  const a = fastAccessAt(e, k, SS, e.local(4), 4, false, true);
  const pop = d.op === 0xc2 ? 4 + d.imm : 4;
  const returnEip = e.eipAt(site);
  if (label === undefined) {
    const guard = page !== 0 && page !== e.page ? ` && ${e.guard(page)}` : '';
    e.emit(`if (!(${a.ok} && V.getUint32(${a.index}, true) === ${returnEip}${guard})) {`);
    emitRet32(e, d, k, a);
    e.emit(`}`);
    e.emit(e.setReg(4, 4, `e${k} + ${pop}`));
    return true;
  }
  e.emit(`if (${a.ok} && V.getUint32(${a.index}, true) === ${returnEip}) {`);
  e.emit(e.setReg(4, 4, `e${k} + ${pop}`));
  e.emit(e.exit(returnEip, label, e.relOf(site)));
  e.emit(`}`);
  emitRet32(e, d, k, a);
  return true;
}

/**
 * The condition `cc` (flags.ts's condition) as an expression: straight from
 * the operands when the previous instruction's flags are in locals, else
 * through the lazy-flag record.
 */
function condition(e: Emitter, cc: number): string {
  const f = e.flags;
  const negate = (cc & 1) !== 0;
  let t: string | undefined;
  if (f !== undefined) {
    const s = sign(f.size);
    switch (cc >> 1) {
      case 1: // B
        if (f.op === FlagOp.Sub && f.plain) t = below(f.a, f.b, f.size);
        else if (f.op === FlagOp.Logic) t = 'false';
        break;
      case 2: // Z
        t = `${f.r} === 0`;
        break;
      case 3: // BE
        if (f.op === FlagOp.Sub && f.plain) t = below(f.a, f.b, f.size, true);
        else if (f.op === FlagOp.Logic) t = `${f.r} === 0`;
        break;
      case 4: // S
        t = f.size === 4 ? `${f.r} < 0` : `(${f.r} & ${s}) !== 0`;
        break;
      case 6: // L
        if (f.op === FlagOp.Sub && f.plain) t = `${signed(f.a, f.size)} < ${signed(f.b, f.size)}`;
        else if (f.op === FlagOp.Logic) t = `(${f.r} & ${s}) !== 0`;
        break;
      case 7: // LE
        if (f.op === FlagOp.Sub && f.plain) t = `${signed(f.a, f.size)} <= ${signed(f.b, f.size)}`;
        else if (f.op === FlagOp.Logic) t = `(${f.r} === 0 || (${f.r} & ${s}) !== 0)`;
        break;
    }
  }
  if (t === undefined) {
    e.flushFlags();
    return `c.condition(${cc})`;
  }
  return negate ? `!(${t})` : t;
}
