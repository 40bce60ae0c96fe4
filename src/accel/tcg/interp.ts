/**
 * The interpreter: fetch (through the decode cache), execute, deliver
 * exceptions and interrupts. Decoded instructions are cached per physical
 * RAM page and dropped when the page is written (CPU writes through the
 * MMU's code-page check, DMA and loaders through AddressSpace.onRamWrite)
 * or stops being what the CPU fetches there (AddressSpace.onRemap).
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import type { CpuInterruptSource } from '../../io/irq.js';
import { decode, decodeInRam, type ByteSource } from './decoder.js';
import { Access, ramPage, TLB_NX, TLB_RAM } from './mmu.js';
import { CpuFault, gpFault, hasErrorCode, isContributory } from './exceptions.js';
import { ATTR_DB, CS, DB, DFV, DOUBLE_ZERO, ESP, IF, NMI, PFV, RF, TF } from './constants.js';
import { DR6_BS, enterDebugHandler, instructionBreakpointHits, reportInDr6 } from './debug.js';
import { deliverInterrupt, EventKind } from './interrupts.js';
import { undefinedOpcode } from './system.js';
import { OPTABLE_READY } from './optable.js';
import { log, logOn } from '../../log.js';

void OPTABLE_READY;

/**
 * Pages of decoded instructions kept at most (each holds a 4096-slot array):
 * past this the whole cache is dropped and refilled from what runs, as QEMU
 * flushes its code buffer when it fills up.
 */
const MAX_CODE_PAGES = 2048;

export class CodeCache {
  private readonly pages: (Insn[] | undefined)[];
  private cachedPages = 0;
  decoded = 0;
  invalidated = 0;
  /** Told of every dropped page (the translator drops its blocks from it too). */
  onInvalidate: (frame: number) => void = () => {};
  // The page instructions were last fetched from: its linear page, CPL and
  // the MMU generation it was translated under, and its cached records.
  private curPage = -1;
  private curCpl = -1;
  private curGen = -1;
  private curInsns: Insn[] | undefined;

  constructor(private readonly cpu: Cpu) {
    const mmu = cpu.mmu;
    this.pages = new Array(mmu.codePages.length);
    mmu.onCodeWrite = (f) => this.invalidatePage(f);
    cpu.bus.mem.onRamWrite((phys, len) => this.invalidateRange(phys, len));
    cpu.bus.mem.onRemap((phys, len) => this.invalidateRange(phys, len));
  }

  invalidatePage(frame: number): void {
    this.curPage = -1;
    if (this.pages[frame]) this.cachedPages--;
    this.pages[frame] = undefined;
    this.cpu.mmu.codePages[frame] = 0;
    this.invalidated++;
    this.onInvalidate(frame);
  }

  /** Drops code decoded from the DRAM at [phys, phys + len), mapped there now or not (a PAM shadow under ROM). */
  invalidateRange(phys: number, len: number): void {
    const mem = this.cpu.bus.mem;
    for (let a = phys - (phys % 4096); a < phys + len; a += 4096) {
      const off = mem.dramOffset(a);
      if (off >= 0 && this.cpu.mmu.codePages[off >>> 12]) this.invalidatePage(off >>> 12);
    }
  }

  clear(): void {
    for (let f = 0; f < this.pages.length; f++) if (this.pages[f]) this.invalidatePage(f);
  }

  /** The instruction at CS:EIP, decoded or from the cache. Small so that it inlines into the run loop. */
  fetch(c: Cpu): Insn {
    const eip = c.eip;
    const lin = (c.segBase[CS]! + eip) >>> 0;
    if (lin >>> 12 === this.curPage && c.mmu.generation === this.curGen && c.cpl === this.curCpl) {
      const cached = this.curInsns![lin & 0xfff];
      if (cached !== undefined && cached.mode === (c.segAttr[CS]! & ATTR_DB ? 1 : 0) && eip + cached.len - 1 <= c.segLimit[CS]!) {
        return cached;
      }
    }
    return this.fetchSlow(c, eip, lin);
  }

  /**
   * The instruction at byte `off` of RAM page `frame` in code mode `mode`
   * (CS.D), from the cache or decoded into it; undefined when it does not
   * end on the page or cannot be decoded (the fetch then decides what
   * happens). Segment limits and page permissions are the caller's.
   */
  peek(frame: number, off: number, mode: number): Insn | undefined {
    const cached = this.pages[frame]?.[off];
    if (cached !== undefined && cached.mode === mode) return cached;
    // EIP 0 and a 4 GiB limit: no segment limit applies here.
    const d = decodeInRam(this.cpu.mmu.ram, frame * 4096 + off, 0, 0xffff_ffff, mode === 1, -1, undefinedOpcode);
    if (d === undefined) return undefined;
    this.decoded++;
    this.pageArray(frame)[off] = d;
    return d;
  }

  /** The record cached for byte `off` of RAM page `frame` in code mode `mode`, if any (nothing is decoded). */
  cached(frame: number, off: number, mode: number): Insn | undefined {
    const d = this.pages[frame]?.[off];
    return d !== undefined && d.mode === mode ? d : undefined;
  }

  /** The cache's array of page `frame`, created (and the page watched for writes) if need be. */
  private pageArray(frame: number): Insn[] {
    let arr = this.pages[frame];
    if (!arr) {
      if (this.cachedPages >= MAX_CODE_PAGES) this.clear();
      arr = this.pages[frame] = new Array<Insn>(4096);
      this.cachedPages++;
      this.cpu.mmu.markCode(frame);
    }
    return arr;
  }

  private fetchSlow(c: Cpu, eip: number, lin: number): Insn {
    const mmu = c.mmu;
    const page = lin >>> 12;
    const need = c.tlbReadNeed;
    let info = mmu.info[page]!;
    if ((info & need) !== need || info & TLB_NX) {
      if (eip > c.segLimit[CS]!) throw gpFault(0);
      mmu.physFor(lin, Access.Exec);
      info = mmu.info[page]!;
    }
    const mode = c.cs32 ? 1 : 0;
    const ram = (info & TLB_RAM) !== 0;
    const frame = ramPage(info);
    const off = lin & 0xfff;
    if (ram) {
      const insns = this.pages[frame];
      if (insns) {
        this.curPage = page;
        this.curGen = mmu.generation;
        this.curCpl = c.cpl;
        this.curInsns = insns;
      }
      const cached = insns?.[off];
      if (cached && cached.mode === mode) {
        if (eip + cached.len - 1 > c.segLimit[CS]!) throw gpFault(0);
        return cached;
      }
    }
    const limit = c.segLimit[CS]!;
    const src: ByteSource = {
      fetch(i: number): number {
        if (eip + i > limit) throw gpFault(0);
        return mmu.fetch8((lin + i) >>> 0);
      },
    };
    const d = decode(src, mode === 1, undefinedOpcode);
    this.decoded++;
    if (ram && off + d.len <= 4096) this.pageArray(frame)[off] = d;
    return d;
  }
}

/** What stopped `run`. */
export const enum StopReason {
  Budget,
  Halted,
  Request,
}

export class Interpreter {
  readonly cache: CodeCache;
  executed = DOUBLE_ZERO;
  /** Set by a triple fault when no lifecycle is attached (bare test CPUs). */
  shutdown = false;

  private readonly intr: CpuInterruptSource | undefined;

  constructor(readonly cpu: Cpu) {
    this.cache = new CodeCache(cpu);
    this.intr = cpu.bus.intr;
  }

  /**
   * Executes one instruction (taking a pending interrupt first if allowed).
   * Around it, the debug checks of SDM Vol. 3B 17.3: an instruction
   * breakpoint faults before it unless EFLAGS.RF is set; RF is cleared once
   * it starts (a fault sets it again in the image it pushes); data and I/O
   * breakpoint hits and single-stepping (TF as it was before the
   * instruction) are reported after it in one #DB trap.
   */
  step(): void {
    const c = this.cpu;
    if (c.interruptShadow) c.interruptShadow = false;
    else if (c.nmiPending || (c.flags & IF && this.intr !== undefined && this.intr.hasInterrupt())) this.checkInterrupts();
    if (c.halted || this.shutdown) return;
    const tf = c.flags & TF;
    this.begin();
    try {
      if (c.flags & RF) c.flags &= ~RF;
      else if (c.execBreakpoints !== 0 && this.instructionBreakpoint()) return;
      this.complete(this.cache.fetch(c));
    } catch (e) {
      this.abort(e);
      return;
    }
    const traps = c.debugTraps | (tf ? DR6_BS : 0);
    if (traps === 0) return;
    if (c.debugShadow) c.debugTraps = traps;
    else this.debugTrap(traps);
  }

  /**
   * Executes `d`, the instruction at CS:EIP, without what step() does around
   * it: for the translator's interpretBlock, which runs only where none of
   * it applies (no STI/MOV SS shadow, TF, RF or armed debug register, which
   * only instructions that end its run can change) and takes interrupts
   * between runs, as translated blocks do.
   */
  execute(d: Insn): void {
    this.begin();
    try {
      this.complete(d);
    } catch (e) {
      this.abort(e);
    }
  }

  /** The state a fault of the next instruction restarts from. */
  private begin(): void {
    const c = this.cpu;
    c.insnEip = c.eip;
    c.insnEsp = c.regs32[ESP]!;
    c.debugShadow = false;
  }

  /** Runs `d` from CS:EIP to its end. */
  private complete(d: Insn): void {
    const c = this.cpu;
    c.eip = d.mode ? (c.eip + d.len) >>> 0 : (c.eip + d.len) & 0xffff;
    if (logOn.exec) log.exec({ eip: hex(c.insnEip), op: hex(d.op) }, 'insn');
    d.exec(c, d);
    this.executed++;
  }

  /** Delivers the fault `e` an instruction raised (anything else is rethrown), EIP and ESP back at its start. */
  private abort(e: unknown): void {
    if (!(e instanceof CpuFault)) throw e;
    const c = this.cpu;
    c.eip = c.insnEip;
    c.regs[ESP] = c.insnEsp;
    c.debugTraps = 0; // a faulting instruction did not complete: its accesses do not count
    this.deliverException(e.vector, e.errorCode);
  }

  /** An enabled instruction breakpoint at CS:EIP: reports it and delivers the #DB fault (no RF in the image). */
  private instructionBreakpoint(): boolean {
    const c = this.cpu;
    const hits = instructionBreakpointHits(c, (c.segBase[CS]! + c.eip) >>> 0);
    if (hits === 0) return false;
    reportInDr6(c, hits);
    this.deliverException(DB, -1, false);
    return true;
  }

  /** Delivers the debug traps `bits` (DR6 B0-B3/BS) of the instruction that just completed. */
  private debugTrap(bits: number): void {
    const c = this.cpu;
    c.debugTraps = 0;
    reportInDr6(c, bits);
    c.insnEip = c.eip;
    c.insnEsp = c.regs32[ESP]!;
    this.deliverException(DB, -1, false);
  }

  /** Runs up to `budget` instructions; stops early on HLT or a lifecycle request. */
  run(budget: number): StopReason {
    const c = this.cpu;
    const lifecycle = c.bus.lifecycle;
    for (let i = 0; i < budget; i++) {
      this.step();
      if (c.halted) {
        // An interrupt may already be waiting (HLT with IF=1 and INTR high).
        this.checkInterrupts();
        if (c.halted) return StopReason.Halted;
      }
      if (this.shutdown) return StopReason.Halted;
      if ((i & 255) === 255 && lifecycle?.hasRequest) return StopReason.Request;
    }
    return lifecycle?.hasRequest ? StopReason.Request : StopReason.Budget;
  }

  /** NMI, then INTR when EFLAGS.IF allows (the STI/MOV SS shadow is handled in step). */
  checkInterrupts(): void {
    const c = this.cpu;
    if (c.nmiPending && !c.nmiBlocked) {
      c.nmiPending = false;
      c.nmiBlocked = true;
      this.deliverEvent(NMI, EventKind.External);
      return;
    }
    const intr = c.bus.intr;
    if (c.flags & IF && intr && intr.hasInterrupt()) {
      const vector = intr.acknowledge() & 0xff;
      if (logOn.int) log.int({ vector, eip: hex(c.eip), cs: hex(c.segSel[CS]!) }, 'hardware interrupt');
      this.deliverEvent(vector, EventKind.External);
    }
  }

  private deliverEvent(vector: number, kind: EventKind): void {
    const c = this.cpu;
    c.insnEip = c.eip;
    c.insnEsp = c.regs32[ESP]!;
    try {
      deliverInterrupt(c, vector, kind);
      c.debugTraps = 0;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      c.eip = c.insnEip;
      c.regs[ESP] = c.insnEsp;
      this.deliverException(e.vector, e.errorCode);
    }
  }

  /**
   * Delivers an exception, escalating per SDM Vol. 3A Table 6-5: a
   * contributory fault or #PF while delivering a contributory fault or #PF
   * becomes #DF; a fault while delivering #DF is a triple fault (shutdown,
   * which the PC turns into a reset).
   */
  deliverException(vector: number, errorCode: number, fault = true): void {
    const c = this.cpu;
    // Faults push EFLAGS with RF set, so that the return does not hit an
    // instruction breakpoint again (SDM Vol. 3B 17.3.1.1); #DB traps and
    // instruction-breakpoint faults do not.
    if (fault) c.flags |= RF;
    if (vector === DB) enterDebugHandler(c);
    let v = vector;
    let code = errorCode;
    for (let depth = 0; ; depth++) {
      if (logOn.int) log.int({ vector: v, code, eip: hex(c.eip), cr2: hex(c.cr2) }, 'exception');
      try {
        deliverInterrupt(c, v, EventKind.Exception, hasErrorCode(v) ? Math.max(code, 0) : -1);
        c.debugTraps = 0; // the delivery's own stack writes are not the handler's
        return;
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        c.eip = c.insnEip;
        c.regs[ESP] = c.insnEsp;
        if (v === DFV || depth > 4) {
          this.tripleFault();
          return;
        }
        const second = e.vector;
        if ((isContributory(v) || v === PFV) && (isContributory(second) || second === PFV) && !(v !== PFV && second === PFV)) {
          v = DFV;
          code = 0;
        } else {
          v = second;
          code = e.errorCode;
        }
      }
    }
  }

  private tripleFault(): void {
    const c = this.cpu;
    if (logOn.int || logOn.guest_errors) log.guest_errors({ eip: hex(c.eip) }, 'triple fault');
    c.halted = true;
    if (c.bus.lifecycle) c.bus.lifecycle.request({ kind: 'reset', cause: 'triple fault' });
    else this.shutdown = true;
  }
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16);
}
