/**
 * The translator's cache and dispatcher.
 *
 * Blocks are found by physical RAM page, offset and CS.D, so every linear
 * alias of a page shares them (their code is position-independent:
 * codegen.ts) and paging changes need no flush; the entry EIP need only keep
 * the block within the CS limit. A direct-mapped jump cache over linear
 * addresses (QEMU's tb_jmp_cache) answers most lookups with one array load.
 *
 * Code starts in the interpreter; a block start reached HOT_THRESHOLD
 * times is translated. Where a block's code has a label (a case of its
 * function: a loop's head, a jump's target, a call's return address) the
 * dispatcher enters it there too, through an entry block sharing its
 * function (block.ts's entryBlock), rather than translating that code
 * again as a block of its own.
 *
 * A write to a page holding translated code marks every block of that
 * page dead (the interpreter's code-page tracking tells us: CPU stores, DMA
 * and loaders alike), but keeps it: the next lookup of a dead block
 * compares its guest bytes with RAM and revives it when they are
 * unchanged. Kernel pages mix code and written data, and most such writes
 * miss the code, so this saves interpreting and translating the block
 * again (QEMU keeps a bitmap of the code bytes of a page for the same
 * reason). The cache is bounded: past MAX_BLOCKS it is flushed whole, as
 * QEMU does when its code buffer fills.
 *
 * Interrupts are taken between blocks. STI/MOV SS shadows and EFLAGS.TF
 * hand single instructions to the interpreter, which implements them.
 *
 * Debugging: -d in_asm and -d op log each translated block (its
 * instructions as the monitor's x/i prints them, its JavaScript), -d exec
 * each block run, -d nochain turns chaining off.
 */
import type { Cpu } from '../cpu.js';
import type { Insn, InsnRun } from '../insn.js';
import { type Interpreter, StopReason } from '../interp.js';
import { decodeInRam, MAX_INSN_LEN } from '../decoder.js';
import { undefinedOpcode } from '../system.js';
import { CpuFault } from '../exceptions.js';
import { CS, DOUBLE_ZERO, ESP, IF, RF, TF } from '../constants.js';
import { ramPage, TLB_GLOBAL, TLB_NX } from '../mmu.js';
import { log, logOn } from '../../../log.js';
import { disassembleOne } from '../../../monitor/disasm.js';
import { CPUID_CMOV, CPUID_TSC } from '../../cpu-models.js';
import { continuesBlock, isConditionalJump, isNestedCall, isRet32 } from './block-rules.js';
import { Block, blockName, compileBlock, WASM_SOURCE, dropBlock, entryBlock, fitsCsLimit, fitsSegment, frameOfPage } from './block.js';
import { entryLabels, INDIRECT_EXIT, isRareExit, jumpDisplacement, REFUSED, SLOW_EXIT } from './codegen.js';

/**
 * Entries of a block start before it is translated (the default; tests
 * translate at once). Translating costs about a millisecond of the main
 * thread (codegen, new Function), then V8 runs the block in its baseline
 * tier until its optimising compiler, on the other core, gets to it: about
 * 20 ms per block there, and booting Linux queues thousands at once. 600
 * against 200, booting the i386 guest to its shell: 2,084 blocks against
 * 3,309, 2.7 s of translating against 3.9 s, and the boot 34.6-36.2 s
 * against 37.2-38.7 s in three alternating rounds; the 200,000-iteration
 * shell loop that followed took 1-4% longer, md5sum of 16 MiB moved
 * within the noise. (16 had translated twice the blocks of 200 for the
 * same CPU time.) 1200 against 600, later (one compile thread, exits
 * through one epilogue): boot to the shell 0.82-1.03 of the time in six
 * alternating pairs, five of them 0.96 or less; 300 was 1.06-1.18 in three,
 * and 2400 against 1200 went either way in two.
 */
const HOT_THRESHOLD = 1200;
const MAX_BLOCK_INSNS = 160;
/** Pages besides its entry's a block may hold code of. */
const MAX_FOREIGN_PAGES = 4;
/** Instructions of a callee short enough to be taken into its caller's block, RET included. */
const SHORT_LEAF = 24;
const MAX_BLOCKS = 1 << 15;
/**
 * Calls into other blocks (codegen.ts's nested calls) a block run from the
 * dispatcher may make, its callees' own included, before the calls leave
 * for the dispatcher instead: interrupts wait for the dispatcher, and each
 * call is a frame on the host's stack.
 */
const NESTED_CALLS = 64;
/** Slots of the jump cache and of the heat table, both by linear address (slotOf). */
const SLOT_BITS = 16;
const SLOT_MASK = (1 << SLOT_BITS) - 1;

/**
 * A way out of a conditional jump that the interpreter took less than once
 * in this many of the times it ran the jump is left out of the block: the
 * block leaves there (translate()). V8 optimises a block after a few runs
 * and compiles code those runs never reached as a deoptimisation (its
 * operations have no type feedback): such a way, taken later, throws the
 * optimised block away until it is compiled again. Leaving the rare ways
 * out, booting to the shell and running bench/tcg-phases.mjs's commands
 * deoptimised blocks 8-15% less often, translated 15-35% faster (shorter
 * runs), and took 0.76-0.92 of the time on the steady 30,000-iteration
 * shell loop in five alternating pairs.
 */
const RARE_WAY = 32;
/**
 * Times a block may leave by a way it left out as rare before its start is
 * translated again with every way (the first runs misjudged it). Without
 * this the boot's xz decompressor, whose ways change as its input does,
 * left its blocks 46 M times, against 16.5 M with it and 18 M before
 * blocks left rare ways out; the boot then ran 33.7 M blocks against
 * 35.3 M before, in 0.97-1.00 of the time in one round of
 * bench/tcg-phases.mjs, translating in 0.80 of the time.
 */
const RARE_EXITS_HOT = 8192;
/**
 * Times a block may leave by SLOW_EXIT before its start is translated again
 * without windows (codegen.ts): a window straddling two pages fails its
 * check on every run, where the accesses checked one by one would pass.
 */
const SLOW_EXITS_HOT = 4096;

/** A run of straight-line code translate() is to decode, from position `pos`. */
interface DecodeRun {
  pos: number;
  /** The CALLs the block followed into the run, innermost first. */
  calls: FollowedCall | undefined;
}

/** A CALL rel the block follows into its callee: the position of its return address, the CALL it is in, and whether its return address is among the runs. */
interface FollowedCall {
  site: number;
  outer: FollowedCall | undefined;
  queued: boolean;
}

/** Whether a way out of a conditional jump seen `way` times, the other way `other` times, is rare enough to leave out (never, before either was seen). */
function rareWay(way: number, other: number): boolean {
  return way * RARE_WAY < way + other;
}

/** Where a block of the page may be entered other than at its first instruction: its label (a case of its code) and the label's offset from the first instruction. */
interface Entry {
  readonly block: Block;
  readonly label: number;
  readonly rel: number;
}

/** Blocks of one RAM page, by blockKey, and the blocks of other pages that also run code of this one. */
interface CodePage {
  readonly blocks: Map<number, Block>;
  /** The labels of the page's blocks on the page, by blockKey: lookup makes an entry block (entryBlock) where no block starts. */
  readonly entries: Map<number, Entry>;
  readonly guests: Set<Block>;
  /** Block starts (blockKey) translated with every way of their Jcc: the rare ways of their last block were taken often. */
  readonly everyWay: Set<number>;
  /** Block starts translated without windows (codegen.ts): their last block left by SLOW_EXIT often. */
  readonly unwindowed: Set<number>;
}

/** A block's key in its page: the offset of its first byte and the CS.D it was decoded for. */
function blockKey(offset: number, mode: number): number {
  return offset | (mode << 12);
}

export interface JitStats {
  translated: number;
  invalidated: number;
  /** Dead blocks found unchanged and run again. */
  revived: number;
  flushes: number;
  blocksRun: number;
  /** Translated blocks in the cache, and their instructions. */
  liveBlocks: number;
  insnsInBlocks: number;
  /** Host milliseconds spent decoding and compiling blocks. */
  translateMs: number;
  /** Guest instructions executed inside translated blocks. */
  insnsRun: number;
  /** Block runs that left before an access their fast path does not allow, for the interpreter to run it (SLOW_EXIT). */
  slowExits: number;
  /** Blocks made to enter another block's code at one of its labels (entryBlock) rather than translated. */
  entries: number;
  /** Blocks translated to WebAssembly (wasm-block.ts) rather than JavaScript. */
  wasm: number;
}

export class Translator {
  private readonly pages: (CodePage | undefined)[];
  private readonly jumpCache: (Block | undefined)[] = new Array(1 << SLOT_BITS).fill(undefined);
  /**
   * Entry counts of interpreted block starts: a two-way table by linear
   * address (slotOf picks the pair), each way tagged with its start's RAM
   * page and blockKey (below 8192). A start missing from both ways takes
   * the one with the lower count and counts from 1. With one way, two hot
   * starts sharing a slot reset each other's count for good and both stayed
   * interpreted: in one of six counted runs of a 50,000-iteration shell
   * loop, a busybox block start was entered 100,000 times and never
   * translated. (A Map per page cost about 5% of the boot's main thread in
   * hashing.)
   */
  private readonly heatTags = new Float64Array(2 << SLOT_BITS).fill(-1);
  private readonly heatCounts = new Int32Array(2 << SLOT_BITS);
  /** Blocks in the cache, entry blocks included (MAX_BLOCKS bounds them all). */
  private liveBlocks = 0;
  /** Guest instructions executed inside translated blocks. */
  executed = DOUBLE_ZERO;
  readonly stats: JitStats = { translated: 0, invalidated: 0, revived: 0, flushes: 0, blocksRun: 0, liveBlocks: 0, insnsInBlocks: 0, translateMs: 0, insnsRun: 0, slowExits: 0, entries: 0, wasm: 0 };

  constructor(
    readonly cpu: Cpu,
    readonly interp: Interpreter,
    private readonly hotThreshold = HOT_THRESHOLD,
  ) {
    this.pages = new Array(cpu.mmu.codePages.length);
    interp.cache.onInvalidate = (frame) => this.invalidatePage(frame);
  }

  /** Runs up to about `budget` instructions, like Interpreter.run. */
  run(budget: number): StopReason {
    const c = this.cpu;
    const interp = this.interp;
    const lifecycle = c.bus.lifecycle;
    const intr = c.bus.intr;
    const chain = !logOn.nochain;
    let left = budget;
    // The block that just ran, and the CS base and EIP it ran from (int32 bits, as Block keeps
    // them): its successor may be linked.
    let prev: Block | undefined;
    let prevCs = 0;
    let prevEip = 0;
    // Blocks run and their instructions, added to the statistics once, on the way out: updating
    // a field of another object and `executed` (a double) at every block cost about 1 ns of the
    // 21 a block run takes in bench/tcg-transitions.mjs.
    let blocks = 0;
    let insns = 0;
    try {
      while (left > 0) {
        // One instruction at a time through the interpreter where it does per-instruction work
        // blocks skip: the STI/MOV SS shadow, single-step (TF), RF (cleared after the next
        // instruction) and armed debug registers (checked around each instruction).
        if (c.interruptShadow || c.flags & (TF | RF) || c.debugArmed) {
          interp.step();
          left--;
          prev = undefined;
        } else {
          if (c.nmiPending || (c.flags & IF && intr !== undefined && intr.hasInterrupt())) {
            interp.checkInterrupts();
            prev = undefined;
          }
          if (c.halted || interp.shutdown) return StopReason.Halted;
          const b =
            prev === undefined ? this.lookup(c) : prev.exit >= 0 ? this.successor(prev, prevCs, prevEip) : prev.exit === INDIRECT_EXIT ? this.target(prev) : this.lookup(c);
          const cs = c.segBase[CS]! | 0;
          const eip = c.eip | 0;
          const n = b === undefined ? REFUSED : this.runBlock(b);
          if (n >= 0) {
            blocks++;
            insns += n;
            left -= n > 0 ? n : 1;
            // Where a nested call's callee left by an exit of its own, the next block is found
            // from that exit, as if the callee had run from here (it has the same CS).
            const callee = c.nestedLeft;
            prevCs = cs;
            prevEip = callee === undefined ? eip : c.nestedLeftEip;
            prev = n > 0 && chain ? (callee ?? b) : undefined;
          } else {
            left -= this.interpretBlock();
            prev = undefined;
          }
        }
        if (c.halted) {
          interp.checkInterrupts();
          if (c.halted) return StopReason.Halted;
        }
        if (interp.shutdown) return StopReason.Halted;
        if (lifecycle !== undefined && lifecycle.hasRequest) return StopReason.Request;
      }
      return StopReason.Budget;
    } finally {
      this.stats.blocksRun += blocks;
      this.executed += insns;
    }
  }

  /**
   * The block `prev` (entered at csBase:eip, as int32 bits) leaves for by its static exit:
   * linked, or looked up and then linked. A link stays valid while `prev`
   * runs from the same address (its exits then lead to the same EIPs) and
   * the target is alive; static exits change neither CS nor CPL, nor the
   * mapping. A target on the entry's own linear page comes from the same
   * physical page whatever the page tables say (the entry was just fetched
   * from it), so such links outlive TLB flushes, as QEMU's do within a
   * page; the others hold only until the next flush (a CR3 write: every
   * context switch; for targets on global pages, until a flush that drops
   * those) or CPL change.
   */
  private successor(prev: Block, csBase: number, eip: number): Block | undefined {
    const c = this.cpu;
    const mmu = c.mmu;
    const exit = prev.exit;
    if (isRareExit(exit) && ++prev.rareExitsTaken === RARE_EXITS_HOT) {
      this.translateEveryWay(prev);
      return this.lookup(c);
    }
    const sameEntry = prev.linkCs === csBase && prev.linkEip === eip;
    if (sameEntry) {
      if (prev.linkGen !== mmu.generationFor(prev.linkGlobal) || prev.linkCpl !== c.cpl) {
        dropCrossPageLinks(prev, mmu.globalGeneration, c.cpl);
      }
      const linked = exit === prev.lastExit ? prev.lastLink : prev.links[exit];
      if (linked !== undefined && !linked.dead) {
        if (exit !== prev.lastExit) {
          prev.lastExit = exit;
          prev.lastLink = linked;
        }
        return linked;
      }
    }
    const b = this.lookup(c);
    if (b !== undefined) {
      if (!sameEntry) {
        prev.links.fill(undefined);
        prev.samePage.length = 0;
        prev.linkGen = mmu.globalGeneration;
        prev.linkGlobal = true;
        prev.linkCpl = c.cpl;
        prev.linkCs = csBase;
        prev.linkEip = eip;
      }
      prev.links[exit] = b;
      prev.lastExit = exit;
      prev.lastLink = b;
      const lin = (csBase + c.eip) >>> 0;
      const samePage = ((csBase + eip) ^ lin) >>> 12 === 0;
      prev.samePage[exit] = samePage;
      if (!samePage && prev.linkGlobal && !onGlobalPage(c, lin)) {
        // The links made so far hold now: from here on they are checked against every flush.
        prev.linkGlobal = false;
        prev.linkGen = mmu.generation;
      }
    }
    return b;
  }

  /**
   * Drops `b`, which left by a way it had left out as rare RARE_EXITS_HOT
   * times: its start is translated again, once hot, with every way.
   */
  private translateEveryWay(b: Block): void {
    this.codePage(b.frame).everyWay.add(blockKey(b.offset, b.mode));
    this.drop(b);
  }

  /**
   * Drops `b`, which left by SLOW_EXIT SLOW_EXITS_HOT times: its start is
   * translated again, once hot, without windows, whose checks may fail
   * where each access alone would pass (a window straddling two pages).
   */
  private translateWithoutWindows(b: Block): void {
    this.codePage(b.frame).unwindowed.add(blockKey(b.offset, b.mode));
    this.drop(b);
  }

  /**
   * The block at CS:EIP after `prev`, which ended in a near RET or indirect
   * JMP/CALL: from its inline cache when one of its last two runs left for
   * the same linear address under the same TLB generation and CPL (so the
   * same physical bytes), decoded for this CS.D and fitting the CS limit;
   * else looked up and cached. With one way, 27% of the RETs and indirect
   * jumps of the steady shell loop missed (bench/tcg-phases.mjs): a function
   * called from two places alternates.
   */
  private target(prev: Block): Block | undefined {
    const c = this.cpu;
    const mmu = c.mmu;
    const lin = (c.segBase[CS]! + c.eip) | 0;
    const t = prev.targetLin === lin ? prev.target : prev.otherTargetLin === lin ? prev.otherTarget : undefined;
    const cached = prev.targetGen === mmu.generationFor(prev.targetGlobal) && prev.targetCpl === c.cpl;
    if (t !== undefined && !t.dead && cached && t.mode === (c.cs32 ? 1 : 0) && fitsSegment(t, c.eip, c.segLimit[CS]!)) return t;
    const b = this.lookup(c);
    if (b !== undefined) {
      // The last way becomes the other while the cache holds; both are then stamped with this generation.
      const keep = cached && prev.target !== undefined;
      prev.otherTarget = keep ? prev.target : undefined;
      prev.otherTargetLin = keep ? prev.targetLin : -1;
      prev.target = b;
      prev.targetLin = lin;
      prev.targetGlobal = onGlobalPage(c, lin) && (!keep || prev.targetGlobal);
      prev.targetGen = mmu.generationFor(prev.targetGlobal);
      prev.targetCpl = c.cpl;
    }
    return b;
  }

  /**
   * Runs `b`, delivering a fault it raises as the interpreter would, and
   * has the interpreter run the instruction it left before when it left by
   * SLOW_EXIT (an access its fast path does not allow); returns the
   * instructions the block completed (0 after a fault), or, having run nothing,
   * REFUSED when a segment it took as flat no longer is (it is then dropped,
   * and its code is translated again for the segments as they are once hot)
   * or UNMAPPED when its first instruction runs into a page not mapped as it
   * was (the interpreter runs that; the block stays, for when the TLB holds
   * the page again).
   */
  private runBlock(b: Block): number {
    const c = this.cpu;
    if (logOn.exec) log.exec({ eip: hex(c.eip), insns: b.insns.length }, 'block');
    try {
      c.nestedCalls = NESTED_CALLS;
      c.nestedLeft = undefined;
      const n = b.fn(c, b);
      if (n === REFUSED) this.drop(b);
      else if (n >= 0) {
        // A SLOW_EXIT is charged to the block that left by it, a nested callee rather than its callers.
        const left = c.nestedLeft ?? b;
        if (left.exit === SLOW_EXIT) {
          this.stats.slowExits++;
          if (++left.slowExitsTaken === SLOW_EXITS_HOT && left.windowed) this.translateWithoutWindows(left);
          this.interpretOne();
        }
      }
      return n;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      c.eip = c.insnEip;
      c.regs[ESP] = c.insnEsp;
      this.interp.deliverException(e.vector, e.errorCode);
      return 0;
    }
  }

  /** The translated block at CS:EIP, if there is one valid for the current state. */
  private lookup(c: Cpu): Block | undefined {
    const eip = c.eip;
    const lin = (c.segBase[CS]! + eip) >>> 0;
    const frame = executableFrame(c, lin);
    if (frame < 0) return undefined;
    const mode = c.cs32 ? 1 : 0;
    const offset = lin & 0xfff;
    const slot = slotOf(lin);
    let b = this.jumpCache[slot];
    if (b === undefined || b.frame !== frame || b.offset !== offset || b.mode !== mode || b.dead) {
      const key = blockKey(offset, mode);
      b = this.pages[frame]?.blocks.get(key) ?? this.enter(frame, key);
      if (b === undefined) return undefined;
      if (b.dead && !this.revive(b)) return undefined;
      this.jumpCache[slot] = b;
    }
    return fitsSegment(b, eip, c.segLimit[CS]!) ? b : undefined;
  }

  /**
   * A new block entering, at its label, the code of a block of RAM page
   * `frame` with a label at `key` (the page's entries), unless that block's
   * code is no longer the page's (it is dead, and its bytes changed) or the
   * start is to be translated with every way or without windows. The
   * return address of a call a block made (codegen.ts's nested calls) is
   * such a label: where the callee returned through the dispatcher, the
   * code after the call was otherwise interpreted and then translated again
   * as a block of its own. Booting the i386 guest to its shell, 424 of
   * 1,543 blocks started at a return address inside another block and 212
   * at another label (16,600 and 11,500 of the 75,000 instructions
   * translated). With entries the boot translated 931 blocks against
   * 1,541 (1.3-1.8 s of translating against 2.0-2.2) and peaked at 444 MB
   * against 473; TurboFan's work (its zone bytes) fell only 3%, as most of
   * those blocks never ran hot enough to be optimised, and the boot's time
   * and the steady shell loop's moved within the noise.
   */
  private enter(frame: number, key: number): Block | undefined {
    const p = this.pages[frame];
    const at = p?.entries.get(key);
    if (at === undefined || p!.everyWay.has(key) || p!.unwindowed.has(key) || (at.block.dead && !this.revive(at.block))) return undefined;
    const b = entryBlock(at.block, at.label, at.rel);
    this.add(b);
    this.stats.entries++;
    return b;
  }

  /**
   * Brings back dead block `b` if its page still holds the bytes its
   * instructions were decoded from (writes elsewhere on the page do not
   * matter), else drops it for good. Its page is then watched for writes
   * again.
   */
  private revive(b: Block): boolean {
    const bytes = instructionBytes(this.cpu.mmu.ram, b.insns, b.phys, b.offset, b.rel, (page) => frameOfPage(b, page));
    if (Buffer.compare(bytes, b.code) !== 0) {
      this.drop(b);
      return false;
    }
    b.dead = false;
    this.watch(b);
    this.stats.revived++;
    return true;
  }

  /**
   * Interprets from CS:EIP to the end of the basic block, counting entries
   * of the block start and translating it once hot.
   */
  private interpretBlock(): number {
    const c = this.cpu;
    const lin = (c.segBase[CS]! + c.eip) >>> 0;
    const frame = executableFrame(c, lin);
    if (frame >= 0 && this.heated(lin, frame, c.cs32 ? 1 : 0)) {
      const b = this.translate(frame, lin);
      const n = b === undefined ? REFUSED : this.runBlock(b);
      if (n >= 0) {
        this.stats.blocksRun++;
        this.executed += n;
        return Math.max(n, 1);
      }
    }
    // The basic block from its decoded list, then (past the CS limit, or from an instruction that
    // runs into the next page, which the list cannot hold) one instruction at a time.
    let i = 0;
    const run = frame >= 0 ? this.runAt(frame, lin & 0xfff, c.cs32 ? 1 : 0) : undefined;
    if (run !== undefined && fitsCsLimit(c.eip, c.eip + run.bytes - 1, c.segLimit[CS]!, c.cs32)) {
      const end = c.cs32 ? (c.eip + run.bytes) >>> 0 : (c.eip + run.bytes) & 0xffff;
      i = this.interpretRun(run);
      if (!run.open || c.eip !== end) return i;
    }
    while (i < MAX_BLOCK_INSNS) {
      const eip = c.eip;
      const at = c.segBase[CS]! + eip;
      const d = this.interpretOne();
      const next = eip + (d?.len ?? 0);
      if (d !== undefined) {
        if (c.eip === next) d.fell++;
        else d.jumped++;
      }
      i++;
      if (d === undefined || !continuesBlock(d) || c.eip !== next || c.halted || c.interruptShadow) break;
      // The next page starts a block of its own, which can be translated: also after an
      // instruction that crossed into it (interpreted here: 16-bit code, or the TLB did not
      // map the next page when the block could have taken it in).
      if ((at ^ (c.segBase[CS]! + next)) >>> 12 !== 0 || c.flags & TF) break;
    }
    return i;
  }

  /**
   * Interprets the instruction at CS:EIP as a block would run it, taking no
   * interrupt before it; returns its record, or undefined when fetching it
   * faulted (step() then raises the fault again and delivers it).
   */
  private interpretOne(): Insn | undefined {
    let d: Insn | undefined;
    try {
      d = this.interp.cache.fetch(this.cpu);
    } catch {
      d = undefined;
    }
    if (d === undefined) this.interp.step();
    else this.interp.execute(d);
    return d;
  }

  /**
   * The basic block at byte `off` of RAM page `frame` for code mode `mode`,
   * kept on its first decoded instruction: up to the first instruction a
   * block cannot continue past (Jcc goes on along its fall-through path), the
   * end of the page or MAX_BLOCK_INSNS; `open` when it ends before an
   * instruction it cannot hold, one running into the next page (or not
   * decodable: its fetch raises the fault). Undefined when not even its
   * first instruction fits the page.
   */
  private runAt(frame: number, off: number, mode: number): InsnRun | undefined {
    const cache = this.interp.cache;
    const first = cache.peek(frame, off, mode);
    if (first === undefined) return undefined;
    if (first.run !== undefined) return first.run;
    const insns = [first];
    let at = off + first.len;
    let d = first;
    let open = false;
    while (insns.length < MAX_BLOCK_INSNS && continuesBlock(d) && at < 4096) {
      const next = cache.peek(frame, at, mode);
      if (next === undefined) {
        open = true;
        break;
      }
      insns.push((d = next));
      at += d.len;
    }
    return (first.run = { insns, bytes: at - off, open });
  }

  /**
   * Interprets `run` from CS:EIP, its first instruction: on to the next
   * instruction while EIP goes there (not after a fault or a Jcc taken), no
   * code page was written (its records may be stale then) and no STI shadow
   * began. Decoding and the per-instruction checks of the fetch were done
   * once, when it was built: the kernel's early code, interpreted alone,
   * took 41 ns an instruction this way against 55 fetched one at a time
   * (bench/tcg-interp.mjs).
   */
  private interpretRun(run: InsnRun): number {
    const c = this.cpu;
    const interp = this.interp;
    const cache = interp.cache;
    const written = cache.invalidated;
    const insns = run.insns;
    let i = 0;
    while (i < insns.length) {
      const d = insns[i++]!;
      const next = d.mode ? (c.eip + d.len) >>> 0 : (c.eip + d.len) & 0xffff;
      interp.execute(d);
      if (c.eip !== next) {
        d.jumped++;
        break;
      }
      d.fell++;
      // After STI the dispatcher steps the instruction in its shadow.
      if (cache.invalidated !== written || c.interruptShadow) break;
    }
    return i;
  }

  /**
   * Counts an entry of the block start at `lin` (RAM page `frame`, CS.D
   * `mode`); true when it makes the start hot. Its count then starts again:
   * after the block is dropped or, when not even its first instruction fits
   * (it crosses the page or the CS limit), before decoding is tried again.
   */
  private heated(lin: number, frame: number, mode: number): boolean {
    const pair = slotOf(lin) << 1;
    const tag = frame * 8192 + blockKey(lin & 0xfff, mode);
    const counts = this.heatCounts;
    let way = this.heatTags[pair] === tag ? pair : this.heatTags[pair + 1] === tag ? pair + 1 : -1;
    if (way < 0) {
      way = counts[pair]! <= counts[pair + 1]! ? pair : pair + 1;
      this.heatTags[way] = tag;
      counts[way] = 0;
    }
    if (++counts[way]! < this.hotThreshold) return false;
    counts[way] = 0;
    return true;
  }

  private codePage(frame: number): CodePage {
    let p = this.pages[frame];
    if (p === undefined) p = this.pages[frame] = { blocks: new Map(), entries: new Map(), guests: new Set(), everyWay: new Set(), unwindowed: new Set() };
    return p;
  }

  /**
   * Decodes and compiles the block at `lin` (in RAM page `frame`); undefined
   * when not even one instruction fits.
   *
   * A block is a region of code reached from the entry: runs of
   * straight-line code, each from the entry, from the target of a Jcc in an
   * earlier run (on the Jcc's own page) or from the return address of a
   * short callee it took in. A run follows a JMP or CALL rel on its page to
   * a target not yet decoded, and ends after an instruction the block
   * cannot continue past, at the end of its page, or where it reaches an
   * instruction already decoded (codegen.ts then jumps there). On the
   * entry's page the bytes are there whatever the mapping. A way out of a
   * Jcc that the interpreted runs took rarely (RARE_WAY) is not followed:
   * a rare jump is an exit, a rare fall-through ends the run. Before either
   * way was seen (a block translated on its first entry) both are followed,
   * and so they are for a start whose last block left by its rare ways
   * often (RARE_EXITS_HOT).
   *
   * A CALL rel is followed to a callee on its page, and to a short leaf
   * function (isShortLeaf) on any page the TLB maps to executable RAM now.
   * The return address is decoded after the run that goes into the callee,
   * and the callee's RETs go on there (codegen.ts) when they pop it: then
   * the loop of the steady shell loop (bench/tcg-phases.mjs) ran 16.2 M
   * blocks against 17.1 M, in 0.83 and 0.94 of the time in two alternating
   * in-process rounds (bench/tcg-ab.mjs). On another page the block checks
   * at run time that the linear page still maps to the same RAM page
   * before going there (a guard: the block's bytes are its physical
   * pages'). Longer callees on other pages stay out: taking every callee
   * in made the blocks several times larger and translating twice as slow,
   * for a quarter fewer block exits.
   *
   * A JMP through a pointer at an absolute address (a PLT entry) goes on,
   * as a followed JMP does, at the address the pointer holds when the block
   * is translated (pointerTarget); the block checks the pointer still holds
   * it each time.
   */
  private translate(frame: number, lin: number): Block | undefined {
    const c = this.cpu;
    const t0 = performance.now();
    const ram = c.mmu.ram;
    const mode = c.cs32 ? 1 : 0;
    const wrap = mode === 1 ? 0xffff_ffff : 0xffff;
    const limit = c.segLimit[CS]!;
    const first = c.eip;
    const offset = lin & 0xfff;
    const cmov = c.model.hasFeature(CPUID_CMOV);
    const tsc = c.model.hasFeature(CPUID_TSC);
    const insns: Insn[] = [];
    const rel: number[] = [];
    const phys: number[] = [];
    // RAM page of each linear page the block reads, by its distance from the entry's page.
    const frames = new Map<number, number>([[0, frame]]);
    const decoded = new Set<number>();
    // Positions are byte offsets from the start of the entry's page (outside 0..4095 on other pages).
    const runs: DecodeRun[] = [{ pos: offset, calls: undefined }];
    // Each followed callee's RET, with the return address it goes on at (both relative to the entry).
    const returns = new Map<number, number>();
    const key = blockKey(offset, mode);
    const profiled = this.pages[frame]?.everyWay.has(key) !== true;
    const rareWays = new Set<number>();
    const pointerJumps = new Map<number, number>();
    let lo = 0;
    let hi = 0;
    for (let r = 0; r < runs.length && insns.length < MAX_BLOCK_INSNS; r++) {
      let pos = runs[r]!.pos;
      let calls = runs[r]!.calls;
      // A run stays on one page, one the block has (it reached the page by a jump, a guard's
      // place; a CALL's return address may lie on the next page).
      let page = Math.floor(pos / 4096);
      while (insns.length < MAX_BLOCK_INSNS && !decoded.has(pos) && Math.floor(pos / 4096) === page && frames.has(page)) {
        const at = pos;
        // Not wrapped: a block whose EIPs would wrap (past 0 after a jump back, or past the
        // 64 KiB of a 16-bit segment) ends before.
        const eip = first + (at - offset);
        if (eip < 0) break;
        const start = frames.get(page)! * 4096 + (at - page * 4096);
        // Not decoded: it crosses the CS limit, or a page the block may not have, or is too long
        // (left to the interpreter). One that runs into the next page goes on in the RAM page
        // that maps there now; the block checks that mapping before it (codegen.ts).
        let d = decodeInRam(ram, start, eip, limit, mode === 1, -1, undefinedOpcode);
        const next = d === undefined && (start & 0xfff) > 4096 - MAX_INSN_LEN ? this.pageFrame(frames, page + 1, lin - offset, mode) : -1;
        if (next >= 0) d = decodeInRam(ram, start, eip, limit, true, next * 4096, undefinedOpcode);
        if (d === undefined) break;
        if (eip + d.len - 1 > wrap) break; // wraps around the 64 KiB segment
        if (next >= 0) frames.set(page + 1, next);
        // Without CMOV or a TSC in the CPU model CMOVcc or RDTSC is #UD: its record gets that handler, not the inline form.
        if ((!cmov && d.op >= 0x140 && d.op <= 0x14f) || (!tsc && d.op === 0x131)) d.exec = undefinedOpcode;
        insns.push(d);
        rel.push(at - offset);
        phys.push(start);
        decoded.add(at);
        lo = Math.min(lo, at - offset);
        hi = Math.max(hi, at - offset + d.len - 1);
        pos += d.len;
        // The run goes on on the page the instruction ran into.
        if (next >= 0) page++;
        if (calls !== undefined && isRet32(d)) {
          returns.set(at - offset, calls.site - offset);
          // The return address is decoded after the ways into the callee found so far.
          if (!calls.queued) runs.push({ pos: calls.site, calls: calls.outer });
          calls.queued = true;
        }
        if (isConditionalJump(d)) {
          const seen = this.interp.cache.cached(start >>> 12, start & 0xfff, mode);
          const fell = seen?.fell ?? 0;
          const jumped = seen?.jumped ?? 0;
          const target = pos + jumpDisplacement(d);
          const rareJump = profiled && rareWay(jumped, fell);
          if (rareJump) rareWays.add(target - offset);
          else if (Math.floor(target / 4096) === page && (d.o32 || mode === 0)) runs.push({ pos: target, calls });
          if (profiled && rareWay(fell, jumped)) {
            rareWays.add(pos - offset);
            break;
          }
        }
        if (continuesBlock(d)) continue;
        // A JMP through a pointer, a short leaf's CALL: on any page the block may have; others on this page.
        const pointed = this.pointerTarget(d, mode, first - offset);
        const target = pointed ?? followedTarget(d, mode, pos);
        if (target === undefined) break;
        const leaf = d.op === 0xe8 && mode === 1 && this.isShortLeaf(target, lin - offset, first - offset, limit);
        const follow = (Math.floor(target / 4096) === page || leaf || pointed !== undefined) && this.mapPage(frames, Math.floor(target / 4096), lin - offset, mode);
        if (!follow) {
          // A CALL the block does not follow calls the callee's block from the block, which
          // goes on at the return address when it returns there (codegen.ts's nested calls):
          // the return address comes next, when on the CALL's page (the code falls into it
          // with no guard for another page).
          if (isNestedCall(d, mode) && Math.floor(pos / 4096) === page) runs.splice(r + 1, 0, { pos, calls });
          break;
        }
        if (pointed !== undefined) pointerJumps.set(at - offset, pointed - offset);
        // A short leaf's return address comes next, so that its RET can go on there (codegen.ts).
        if (d.op === 0xe8 && mode === 1 && d.o32) {
          if (leaf) runs.splice(r + 1, 0, { pos, calls });
          calls = { site: pos, outer: calls, queued: leaf };
        }
        pos = target;
        page = Math.floor(pos / 4096);
      }
    }
    if (insns.length === 0) return undefined;
    if (this.liveBlocks >= MAX_BLOCKS) this.flush();
    const foreign = [...frames].filter(([page]) => page !== 0).map(([page, f]) => ({ page, frame: f }));
    const code = instructionBytes(ram, insns, phys, offset, rel, (page) => frames.get(page)!);
    // A RET goes on at its return address only where the block reached that.
    for (const [ret, site] of returns) if (!decoded.has(site + offset)) returns.delete(ret);
    const b = new Block(mode, frame, offset, insns, rel, lo, hi, phys, foreign, c.flat, code, rareWays, pointerJumps, returns);
    b.windowed = this.pages[frame]?.unwindowed.has(key) !== true;
    const source = compileBlock(b, c.mmu);
    if (source === WASM_SOURCE) this.stats.wasm++;
    if (logOn.in_asm) log.in_asm({ eip: hex(first), insns: disassembly(b, first) }, 'translated block');
    if (logOn.op) log.op({ eip: hex(first), fn: blockName(b), js: source }, 'block source');
    const old = this.pages[frame]?.blocks.get(key);
    if (old !== undefined) this.drop(old);
    this.add(b);
    const entries = this.codePage(frame).entries;
    for (const [rel, label] of entryLabels(b)) entries.set(blockKey(offset + rel, mode), { block: b, label, rel });
    this.stats.translated++;
    this.stats.translateMs += performance.now() - t0;
    return b;
  }

  /**
   * Whether the block being decoded may go to linear page `page` (relative
   * to the entry's, whose linear address is `entryPage`): the entry's own
   * page or one already in `frames`, or, in 32-bit code and up to
   * MAX_FOREIGN_PAGES, one the TLB maps to executable RAM for this CPL now
   * (then added). The TLB is read, not filled: a page walk would set
   * accessed bits for code that may never run.
   */
  private mapPage(frames: Map<number, number>, page: number, entryPage: number, mode: number): boolean {
    const frame = this.pageFrame(frames, page, entryPage, mode);
    if (frame < 0) return false;
    frames.set(page, frame);
    return true;
  }

  /** The RAM page linear page `page` would have in the block mapPage describes, or -1 where it may not go there. */
  private pageFrame(frames: ReadonlyMap<number, number>, page: number, entryPage: number, mode: number): number {
    const known = frames.get(page);
    if (known !== undefined) return known;
    if (mode !== 1 || frames.size > MAX_FOREIGN_PAGES) return -1;
    return tlbExecutableFrame(this.cpu, (entryPage + page * 4096) >>> 12);
  }

  /**
   * Whether the code at position `pos` (from the start of the entry's linear
   * page `entryPage`, at EIP `eip0` + pos) is a short leaf function: at most
   * SHORT_LEAF instructions of straight-line code on one page the TLB maps
   * executable now, the last a 32-bit RET.
   */
  private isShortLeaf(pos: number, entryPage: number, eip0: number, limit: number): boolean {
    const lin = (entryPage + pos) >>> 0;
    const frame = tlbExecutableFrame(this.cpu, lin >>> 12);
    if (frame < 0) return false;
    const ram = this.cpu.mmu.ram;
    const base = frame * 4096;
    let at = lin & 0xfff;
    let eip = eip0 + pos;
    for (let n = 0; n < SHORT_LEAF; n++) {
      const d = decodeInRam(ram, base + at, eip, limit, true, -1, undefinedOpcode);
      if (d === undefined) return false;
      if (isRet32(d)) return true;
      if (!continuesBlock(d) || isConditionalJump(d)) return false;
      at += d.len;
      eip += d.len;
    }
    return false;
  }

  /**
   * For a 32-bit JMP through a pointer at an absolute address (FF /4, mod 0
   * rm 5: a PLT entry, the way a static glibc calls the memcpy or strlen it
   * picked at startup), the position (from the start of the entry's page,
   * at EIP `pageEip`) of the address the pointer holds now; undefined for
   * any other instruction, or when the TLB does not map the pointer for
   * reading at this CPL now (it is read, not filled). The block goes on
   * there while the pointer still holds it (codegen.ts): in the steady shell
   * loop one block run in twenty was such a JMP alone.
   */
  private pointerTarget(d: Insn, mode: number, pageEip: number): number | undefined {
    if (mode !== 1 || d.op !== 0xff || d.reg !== 4 || d.size !== 4 || d.mod !== 0 || d.base >= 0 || d.index >= 0 || !d.a32) return undefined;
    const c = this.cpu;
    const lin = (c.segBase[d.seg]! + d.disp) >>> 0;
    if ((lin & 0xfff) > 0xffc) return undefined;
    const info = c.mmu.info[lin >>> 12]!;
    if ((info & c.tlbReadNeed) !== c.tlbReadNeed) return undefined;
    return c.mmu.view.getUint32(ramPage(info) * 4096 + (lin & 0xfff), true) - pageEip;
  }

  /** Puts `b` in the cache, watched. */
  private add(b: Block): void {
    this.codePage(b.frame).blocks.set(blockKey(b.offset, b.mode), b);
    this.watch(b);
    this.liveBlocks++;
  }

  /** Watches every RAM page `b` was decoded from: a write to any of them kills it. */
  private watch(b: Block): void {
    this.cpu.mmu.markCode(b.frame);
    for (const { frame } of b.foreign) {
      this.codePage(frame).guests.add(b);
      this.cpu.mmu.markCode(frame);
    }
  }

  /** Takes `b` out of the cache for good, with the entries into its code that lookup may make. */
  private drop(b: Block): void {
    const p = this.pages[b.frame];
    p?.blocks.delete(blockKey(b.offset, b.mode));
    if (b.entryCase === 0) for (const [key, at] of p?.entries ?? []) if (at.block === b) p!.entries.delete(key);
    for (const { frame } of b.foreign) this.pages[frame]?.guests.delete(b);
    dropBlock(b);
    this.liveBlocks--;
  }

  /** Marks every block decoded from RAM page `frame` dead (its bytes may be about to change); lookup may revive them. */
  invalidatePage(frame: number): void {
    const p = this.pages[frame];
    if (p === undefined) return;
    for (const b of [...p.blocks.values(), ...p.guests]) {
      if (!b.dead) this.stats.invalidated++;
      b.dead = true;
    }
  }

  /** Drops every block (cache full, or the CPU state was replaced). */
  flush(): void {
    for (let f = 0; f < this.pages.length; f++) {
      const p = this.pages[f];
      if (p === undefined) continue;
      for (const b of p.blocks.values()) dropBlock(b);
      this.pages[f] = undefined;
    }
    this.jumpCache.fill(undefined);
    this.liveBlocks = 0;
    this.stats.flushes++;
  }

  /** The counters, with the translated blocks in the cache (entry blocks share their code) and their instructions. */
  snapshotStats(): JitStats {
    let blocks = 0;
    let insns = 0;
    for (const p of this.pages) {
      if (p === undefined) continue;
      for (const b of p.blocks.values()) {
        if (b.entryCase !== 0) continue;
        blocks++;
        insns += b.insns.length;
      }
    }
    return { ...this.stats, liveBlocks: blocks, insnsInBlocks: insns, insnsRun: this.executed };
  }
}

/**
 * Forgets `b`'s links to other linear pages: the mapping (MMU
 * globalGeneration now `globalGen`) or the CPL (now `cpl`, which decides
 * whether they may be run) changed.
 */
function dropCrossPageLinks(b: Block, globalGen: number, cpl: number): void {
  for (let i = 0; i < b.links.length; i++) if (!b.samePage[i]) b.links[i] = undefined;
  b.lastExit = -1;
  b.linkGen = globalGen;
  b.linkGlobal = true;
  b.linkCpl = cpl;
}

/** The jump cache and heat table slot of the block start at linear address `lin`. */
function slotOf(lin: number): number {
  return (lin ^ (lin >>> SLOT_BITS)) & SLOT_MASK;
}

/** Whether linear address `lin` is on a global page the TLB holds (its entry outlives CR3 writes). */
function onGlobalPage(c: Cpu, lin: number): boolean {
  return (c.mmu.info[lin >>> 12]! & TLB_GLOBAL) !== 0;
}

/**
 * The RAM page linear page `page` maps to in the TLB now, executable at the
 * current CPL; else -1 (the TLB is read, not filled).
 */
function tlbExecutableFrame(c: Cpu, page: number): number {
  const info = c.mmu.info[page]!;
  return (info & (c.tlbReadNeed | TLB_NX)) === c.tlbReadNeed ? ramPage(info) : -1;
}

/**
 * The bytes of a block's instructions, one after another in block order:
 * instruction k at RAM index phys[k] and `rel[k]` bytes from the entry at
 * `offset` in its page; one that runs past its page goes on at the start of
 * the RAM page frameOf gives for the next linear page (relative to the
 * entry's).
 */
function instructionBytes(
  ram: Uint8Array,
  insns: readonly Insn[],
  phys: readonly number[],
  offset: number,
  rel: readonly number[],
  frameOf: (page: number) => number,
): Uint8Array {
  const code = new Uint8Array(insns.reduce((n, d) => n + d.len, 0));
  let i = 0;
  insns.forEach((d, k) => {
    const start = phys[k]!;
    const head = Math.min(d.len, 4096 - (start & 0xfff));
    code.set(ram.subarray(start, start + head), i);
    if (head < d.len) {
      const tail = frameOf(Math.floor((offset + rel[k]!) / 4096) + 1) * 4096;
      code.set(ram.subarray(tail, tail + d.len - head), i + head);
    }
    i += d.len;
  });
  return code;
}

/**
 * Position of the instruction a block may follow `d` to, when `d` is a JMP
 * or CALL rel of the code's own operand size ending at position `after`
 * (a 16-bit target in 32-bit code wraps to 64 KiB: not followed); else
 * undefined.
 */
function followedTarget(d: Insn, mode: number, after: number): number | undefined {
  if (d.op !== 0xe8 && d.op !== 0xe9 && d.op !== 0xeb) return undefined;
  if (d.o32 !== (mode === 1)) return undefined;
  return after + jumpDisplacement(d);
}

/**
 * The RAM page index `lin` (at CS:EIP) is in when the current CPL may
 * execute there, filling the TLB as the fetch would (after a TLB flush, the
 * first entry of every page would otherwise go to the interpreter); else -1:
 * the interpreter's fetch raises the fault (#GP past the CS limit comes
 * before the page walk, so that is checked first).
 */
function executableFrame(c: Cpu, lin: number): number {
  const frame = tlbExecutableFrame(c, lin >>> 12);
  if (frame >= 0) return frame;
  if (c.eip > c.segLimit[CS]! || !c.mmu.fillForFetch(lin)) return -1;
  return tlbExecutableFrame(c, lin >>> 12);
}

/** Block `b`, entered at EIP `first`, as -d in_asm shows it: each instruction's EIP and its disassembly, in block order. */
function disassembly(b: Block, first: number): string[] {
  let at = 0;
  return b.insns.map((d, k) => {
    const eip = b.mode === 1 ? (first + b.rel[k]!) >>> 0 : (first + b.rel[k]!) & 0xffff;
    const bytes = b.code.subarray(at, at + d.len);
    at += d.len;
    return `${hex(eip)}:  ${disassembleOne(bytes, BigInt(eip), b.mode === 1 ? 32 : 16).text}`;
  });
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16);
}
