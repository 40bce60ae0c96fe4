/**
 * Translation blocks: decoded instructions reached from an entry (from its
 * page and pages it calls or jumps to), compiled into one JavaScript function with `new Function` so V8 optimises
 * it as a unit. The function calls each instruction's handler (the one
 * definition of its semantics) with its decoded record as a constant, which
 * makes every call site monomorphic and lets V8 inline the handlers.
 *
 * The hottest forms are emitted as specialised JavaScript instead
 * (codegen.ts).
 *
 * Precise exceptions: a fault thrown inside a block leaves exactly the state
 * the interpreter would leave (insnEip, ESP, EIP), and the dispatcher
 * delivers it the same way.
 *
 * Self-modifying code: after an instruction that may write memory the block
 * checks it has not been invalidated (a write to its own page) and returns
 * early if so, with EIP at the next instruction, which the dispatcher then
 * decodes afresh.
 */
import type { Cpu } from '../cpu.js';
import type { Insn } from '../insn.js';
import { gpFault } from '../exceptions.js';
import { blockSource } from './codegen.js';
import type { Mmu } from '../mmu.js';
import { wasmBlock } from './wasm-block.js';

/** A block's function, run as block `b` (the block itself or one of its entries: entryBlock). */
export type BlockFn = (c: Cpu, b: Block) => number;

export interface ForeignPage {
  /** Linear page, minus the entry's. */
  readonly page: number;
  readonly frame: number;
}

export class Block {
  // The fields the dispatcher reads at every block exit come first, so that they share the
  // object's first cache lines (V8 lays fields out in the order they are defined; without
  // pointer compression, as Node ships, each takes 8 bytes). First what it reads of the block
  // it goes to (dead, fn, and for an inline cache or lookup mode, lo and hi), then what it reads
  // of the block that left. Moving mode, lo and hi up from after the inline cache's fields made
  // the steady 30,000-iteration shell loop 0.55-0.92 of the time in five of six alternating
  // pairs (1.36 in the sixth) and the boot 0.82-0.98 in all six (bench/tcg-phases.mjs): half
  // of all block exits leave by a RET, whose target() reads all five of the block it finds.
  // EIPs and linear addresses among them are int32 bits: V8 keeps those in the object, where
  // an unsigned value from 2^31 up (every kernel address) is a heap number of its own to fetch.

  /** Set when a write reached the block's page: the block must not run again. */
  dead = false;
  fn: BlockFn = notCompiled;
  /** Static exit the last run left by (set by the block; -1: EIP came from elsewhere; INDIRECT_EXIT: from a near RET or indirect JMP/CALL, codegen.ts). */
  exit = -1;
  /** CS.D the block was decoded in. */
  readonly mode: number;
  /** Lowest and highest byte of the block relative to the entry: every EIP from entry + lo to entry + hi must fit CS. */
  readonly lo: number;
  readonly hi: number;
  /**
   * The exit the last chained run left by and its link (a copy of
   * links[lastExit]): most blocks leave the same way run after run, and
   * these fields share the block's cache lines, where the links array and
   * its elements are two more objects to fetch on every block exit.
   */
  lastExit = -1;
  lastLink: Block | undefined = undefined;
  /**
   * The static exits' links (below) are valid while the block is entered at
   * the same CS base and EIP, linkCs and linkEip (a block serves every
   * linear alias of its bytes; its exits' targets depend on which one), and,
   * for a target on another linear page, while the MMU generation is
   * linkGen and the CPL linkCpl (samePage[exit] says which). While every
   * such target is on a global page (linkGlobal), linkGen is the MMU's
   * globalGeneration: the links between kernel blocks outlive context
   * switches. This is chaining.
   */
  linkCs = -1;
  linkEip = -1;
  linkGen = -1;
  linkGlobal = true;
  linkCpl = -1;
  /**
   * Inline cache of a block ending in a near RET or indirect near JMP/CALL,
   * two ways: the block its last run left for and the one before that (a
   * function's RET called from two places), each valid for the same linear
   * target (targetLin, otherTargetLin) while the MMU generation
   * (globalGeneration when both are on global pages, targetGlobal) is
   * targetGen and the CPL targetCpl.
   */
  target: Block | undefined = undefined;
  targetLin = -1;
  otherTarget: Block | undefined = undefined;
  otherTargetLin = -1;
  targetGen = -1;
  targetGlobal = false;
  targetCpl = -1;
  /**
   * The blocks the static exits lead to (see linkCs), one slot per exit
   * number from when the block is compiled: a nested call reads its link
   * in the block's code, which V8 compiles for the reads it has seen, and a
   * read past the end of a shorter array (an entry's, sharing the code) was
   * a deoptimisation.
   */
  readonly links: (Block | undefined)[] = [];
  readonly samePage: boolean[] = [];
  /** RAM page index the block was decoded from. */
  readonly frame: number;
  /** Offset of its entry in that page (blocks are keyed by physical address). */
  readonly offset: number;
  readonly insns: readonly Insn[];
  /**
   * Where each instruction starts, relative to the entry: in order within
   * a run, a followed JMP or CALL rel's target after it, each run after
   * the one before (translator.ts).
   */
  readonly rel: readonly number[];
  /** RAM index of each instruction's first byte (one running past its page goes on in the next page's: translator.ts). */
  readonly phys: readonly number[];
  /**
   * The other pages the block holds code of: each linear page, by its
   * distance from the entry's, and the RAM page it was decoded from. The
   * block goes there only while the TLB maps one to the other (codegen.ts).
   */
  readonly foreign: readonly ForeignPage[];
  /**
   * The Cpu.flat bits when it was translated: its accesses through those
   * segments skip the segment checks, so it runs only while they hold.
   */
  readonly flat: number;
  /**
   * The bytes of its instructions, one after another in block order: a
   * block whose page was written is revived if they are unchanged.
   */
  readonly code: Uint8Array;
  /**
   * The case of the block's code it runs from (0 for its first
   * instruction), and that case's offset from the first instruction: an
   * entry made by entryBlock runs the code of the block it was made from
   * from one of its labels.
   */
  entryCase = 0;
  entryRel = 0;
  /** Whether its accesses through a base register share page checks (codegen.ts's windows); and the times it left by SLOW_EXIT. */
  windowed = true;
  slowExitsTaken = 0;
  /** Where the ways out of a Jcc it leaves out as rare go, relative to the entry; and the times it left for one of them. */
  readonly rareWays: ReadonlySet<number>;
  rareExitsTaken = 0;
  /** Where each JMP through an absolute pointer that the block follows went when translated, both relative to the entry (translator.ts's pointerTarget). */
  readonly pointerJumps: ReadonlyMap<number, number>;
  /** The RETs of callees the block follows, each with its CALL's return address, both relative to the entry (translator.ts). */
  readonly returns: ReadonlyMap<number, number>;

  constructor(
    mode: number,
    frame: number,
    offset: number,
    insns: readonly Insn[],
    rel: readonly number[],
    lo: number,
    hi: number,
    phys: readonly number[],
    foreign: readonly ForeignPage[],
    flat: number,
    code: Uint8Array,
    rareWays: ReadonlySet<number>,
    pointerJumps: ReadonlyMap<number, number>,
    returns: ReadonlyMap<number, number>,
  ) {
    this.mode = mode;
    this.lo = lo;
    this.hi = hi;
    this.frame = frame;
    this.offset = offset;
    this.insns = insns;
    this.rel = rel;
    this.phys = phys;
    this.foreign = foreign;
    this.flat = flat;
    this.code = code;
    this.rareWays = rareWays;
    this.pointerJumps = pointerJumps;
    this.returns = returns;
  }
}

/**
 * Another entry into block `b`'s code: its label `label` (a case of its
 * code, codegen.ts's entryLabels), `offset` bytes from its first instruction
 * and on its page. The entry shares `b`'s function, instructions and bytes;
 * it is a block of its own to the dispatcher (keyed by its own offset, with
 * its own links, caches and exit), so that code the dispatcher reaches in
 * the middle of a block (a return address after a call the block made, the
 * head of a loop) runs there without being translated again.
 */
export function entryBlock(b: Block, label: number, offset: number): Block {
  // As an int32: a number V8 keeps boxed (read from a field it once saw a non-Smi in) would
  // turn entryRel into a double field, a new map for every block, and every block function
  // reads its block's fields: hundreds of them were deoptimised as blocks moved to the new map.
  const rel = offset | 0;
  const shifted = (offsets: ReadonlyMap<number, number>): Map<number, number> => new Map([...offsets].map(([from, to]) => [from - rel, to - rel]));
  const e = new Block(
    b.mode,
    b.frame,
    b.offset + rel,
    b.insns,
    b.rel.map((r) => r - rel),
    b.lo - rel,
    b.hi - rel,
    b.phys,
    b.foreign,
    b.flat,
    b.code,
    new Set([...b.rareWays].map((r) => r - rel)),
    shifted(b.pointerJumps),
    shifted(b.returns),
  );
  e.fn = b.fn;
  addLinkSlots(e, b.links.length);
  e.windowed = b.windowed;
  e.entryCase = label;
  e.entryRel = rel;
  return e;
}

/**
 * Whether `b` may run from EIP `eip` under CS limit `limit`: every
 * instruction within the limit, and no EIP wrapping (past 0 or, in 16-bit
 * code, past 0xffff), so that its instructions sit where it was laid out.
 */
export function fitsSegment(b: Block, eip: number, limit: number): boolean {
  return fitsCsLimit(eip + b.lo, eip + b.hi, limit, b.mode === 1);
}

/** Whether code from EIP `first` to `last` (not wrapped) lies within CS limit `limit` and, in 16-bit code (`wide` false), 64 KiB. */
export function fitsCsLimit(first: number, last: number, limit: number, wide: boolean): boolean {
  return first >= 0 && last <= limit && (wide || last <= 0xffff);
}

/** The RAM page `b` has its code on linear page `page` (relative to its entry's) from. */
export function frameOfPage(b: Block, page: number): number {
  return page === 0 ? b.frame : b.foreign.find((f) => f.page === page)!.frame;
}

/** Lets go of the blocks `b` refers to (it is leaving the cache): a chain of dropped blocks would otherwise keep every one ever compiled alive. */
export function dropBlock(b: Block): void {
  b.dead = true;
  b.links.fill(undefined);
  b.samePage.length = 0;
  b.lastExit = -1;
  b.lastLink = undefined;
  b.target = undefined;
  b.otherTarget = undefined;
}

function notCompiled(): number {
  throw new Error('translation block run before it was compiled');
}

/** The name of `b`'s function (V8's traces and profiles show it): block_ and its entry's RAM index in hex. */
export function blockName(b: Block): string {
  return `block_${(b.frame * 4096 + b.offset).toString(16)}`;
}

/** What compileBlock returns for a block compiled to WebAssembly. */
export const WASM_SOURCE = '(WebAssembly)';

/**
 * Compiles `b` into its function; returns the factory source it compiled
 * (for `-d op`). Where RAM is in a WebAssembly arena (`-accel tcg,wasm=on`),
 * a block the WebAssembly backend takes (wasm-block.ts) becomes WebAssembly.
 */
export function compileBlock(b: Block, mmu: Mmu): string {
  const compiled = mmu.arena === undefined ? undefined : wasmBlock(b, mmu.arena);
  if (compiled !== undefined) {
    b.fn = compiled.fn;
    addLinkSlots(b, compiled.exitSlots);
    return WASM_SOURCE;
  }
  const params: string[] = ['G', 'M', 'V', 'I', 'TR', 'TW'];
  const args: unknown[] = [gpFault, mmu.ram, mmu.view, mmu.info, mmu.fastReads, mmu.fastWrites];
  b.insns.forEach((d, k) => {
    params.push(`h${k}`, `d${k}`);
    args.push(d.exec, d);
  });
  const { source, exitSlots } = blockSource(b, mmu.ram.length, blockName(b));
  const factory = new Function(...params, source) as (...a: unknown[]) => BlockFn;
  b.fn = factory(...args);
  addLinkSlots(b, exitSlots);
  return source;
}

/** Gives a new block `slots` empty links, as values rather than holes (V8 keeps the array packed). */
function addLinkSlots(b: Block, slots: number): void {
  for (let i = 0; i < slots; i++) b.links.push(undefined);
}
