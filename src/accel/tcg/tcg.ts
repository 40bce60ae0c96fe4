/**
 * The TCG accelerator: tsvm's software x86 CPU behind the Accelerator
 * interface. One vCPU (the PC's BSP; -smp > 1 still runs a single CPU and
 * says so under -d guest_errors). `run` executes the guest in slices of a few
 * milliseconds, runs expired timers between chunks, and yields to Node's
 * event loop after each slice so chardevs, monitors and Ctrl-A x keep
 * working. A halted CPU (HLT) sleeps until the next timer deadline or an IRQ
 * line change, so an idle guest costs next to no host CPU.
 */
import type { Accelerator, MachineBus, RunStop, Vcpu } from '../accel.js';
import type { CpuState, SegmentState } from '../cpu-state.js';
import { SEGMENT_NAMES } from '../cpu-state.js';
import { Cpu, type CpuBus } from './cpu.js';
import { cpuModelInfo } from './cpuid.js';
import { Interpreter, StopReason } from './interp.js';
import { attachX87 } from './x87.js';
import { Translator, type JitStats } from './jit/translator.js';
import { ATTR_UNUSABLE, CS } from './constants.js';
import { log, logOn } from '../../log.js';

export interface TcgOptions {
  /** Interpret one instruction at a time (no translated blocks: the reference path). */
  oneInsnPerTb: boolean;
}

/** Creates a CPU (with its x87 and interpreter) over a bus; what the accelerator and tests use. */
export function createCpu(bus: CpuBus, model?: string): { cpu: Cpu; interp: Interpreter } {
  const cpu = new Cpu(bus, cpuModelInfo(model));
  attachX87(cpu);
  cpu.fpu.reset();
  return { cpu, interp: new Interpreter(cpu) };
}

const SLICE_MS = 8;
const CHUNK = 4096;

class TcgVcpu implements Vcpu {
  constructor(
    readonly index: number,
    readonly cpu: Cpu,
    private readonly interp: Interpreter,
    private readonly jit: Translator | undefined,
  ) {}

  getState(): CpuState {
    return exportState(this.cpu);
  }

  setState(state: CpuState): void {
    importState(this.cpu, state);
    this.interp.cache.clear();
    this.jit?.flush();
  }

  translate(linear: bigint): bigint | undefined {
    const p = this.cpu.mmu.translate(Number(linear & 0xffff_ffffn));
    return p < 0 ? undefined : BigInt(p);
  }
}

export class TcgAccelerator implements Accelerator {
  readonly name = 'tcg' as const;
  readonly vcpus: readonly Vcpu[];
  readonly cpu: Cpu;
  readonly interp: Interpreter;
  /** The translator; undefined with one-insn-per-tb=on (the interpreter alone). */
  readonly jit: Translator | undefined;
  /**
   * The gdbstub's runner (src/gdbstub/tcg-debug.ts): while set, it runs the
   * guest instead of the translator, one instruction at a time, to stop at
   * breakpoints, watchpoints and after a single step.
   */
  debugRunner: ((budget: number) => StopReason) | undefined;
  private pauseRequested = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly bus: MachineBus,
    readonly options: TcgOptions,
  ) {
    const { cpu, interp } = createCpu(bus, bus.cpuModel);
    this.cpu = cpu;
    this.interp = interp;
    this.jit = options.oneInsnPerTb ? undefined : new Translator(cpu, interp);
    this.vcpus = [new TcgVcpu(0, cpu, interp, this.jit)];
    if (bus.smp > 1) log.guest_errors({ smp: bus.smp }, 'tcg runs one vCPU; -smp > 1 ignored');
    cpu.mmu.a20Mask = bus.a20.mask;
    bus.a20.onChange(() => {
      cpu.mmu.a20Mask = bus.a20.mask;
      cpu.mmu.flush();
    });
    const kick = (): void => this.wake?.();
    bus.irq.onChange(kick);
    bus.lifecycle.onRequest(kick);
  }

  async run(): Promise<RunStop> {
    const { bus, cpu, interp } = this;
    for (;;) {
      if (bus.lifecycle.hasRequest) return 'request';
      if (this.pauseRequested) {
        this.pauseRequested = false;
        return 'paused';
      }
      bus.timers.runExpired();
      if (cpu.halted) {
        interp.checkInterrupts();
        if (cpu.halted) {
          await this.sleepUntil(bus.timers.nextDeadline());
          continue;
        }
      }
      const sliceEnd = performance.now() + SLICE_MS;
      try {
        do {
          const stop = this.runChunk(CHUNK);
          if (stop !== StopReason.Budget) break;
          if (bus.clock.now() >= bus.timers.nextDeadline()) bus.timers.runExpired();
        } while (performance.now() < sliceEnd && !this.pauseRequested);
      } catch (e) {
        // A bug in tsvm (never a guest action) must still end with one clear line, not a stack trace.
        const message = e instanceof Error ? e.message : String(e);
        bus.lifecycle.request({ kind: 'error', message: `tcg: internal error at eip 0x${cpu.eip.toString(16)}: ${message}` });
        return 'request';
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Runs about `budget` guest instructions, translated or interpreted. */
  runChunk(budget: number): StopReason {
    if (this.debugRunner) return this.debugRunner(budget);
    // The translator steps through the interpreter itself while DR7 arms a breakpoint.
    return this.jit ? this.jit.run(budget) : this.interp.run(budget);
  }

  /** Guest instructions executed so far. */
  get executed(): number {
    return this.interp.executed + (this.jit?.executed ?? 0);
  }

  /** Translator counters (for `info jit` and -d jit); undefined without the translator. */
  jitStats(): JitStats | undefined {
    return this.jit?.snapshotStats();
  }

  /** Sleeps until `deadline` (guest ns), an IRQ line change, a lifecycle request or pause(). */
  private sleepUntil(deadline: number): Promise<void> {
    const ms = Number.isFinite(deadline) ? Math.max(0, (deadline - this.bus.clock.now()) / 1e6) : 1000;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(ms, 1000));
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  /** Raises NMI on the vCPU (monitor `nmi`); delivered at the next instruction boundary unless an NMI handler is running. */
  injectNmi(): void {
    this.cpu.nmiPending = true;
    this.wake?.();
  }

  pause(): void {
    this.pauseRequested = true;
    this.wake?.();
  }

  resetVcpus(): void {
    this.cpu.reset();
    this.interp.cache.clear();
    this.jit?.flush();
    this.interp.shutdown = false;
  }

  destroy(): void {
    if (logOn.jit) log.jit({ executed: this.executed, ...this.jitStats() }, 'translator statistics');
    this.wake?.();
  }
}

// ---- CpuState exchange -----------------------------------------------------

function segState(sel: number, base: number, limit: number, attr: number): SegmentState {
  return {
    selector: sel & 0xffff,
    base: BigInt(base >>> 0),
    limit: limit >>> 0,
    type: attr & 0xf,
    s: (attr & 0x10) !== 0,
    dpl: (attr >> 5) & 3,
    present: (attr & 0x80) !== 0,
    avl: (attr & 0x100) !== 0,
    l: (attr & 0x200) !== 0,
    db: (attr & 0x400) !== 0,
    g: (attr & 0x800) !== 0,
    unusable: (attr & ATTR_UNUSABLE) !== 0,
  };
}

function segAttr(s: SegmentState): number {
  return (
    (s.type & 0xf) |
    (s.s ? 0x10 : 0) |
    ((s.dpl & 3) << 5) |
    (s.present ? 0x80 : 0) |
    (s.avl ? 0x100 : 0) |
    (s.l ? 0x200 : 0) |
    (s.db ? 0x400 : 0) |
    (s.g ? 0x800 : 0) |
    (s.unusable ? ATTR_UNUSABLE : 0)
  );
}

export function exportState(c: Cpu): CpuState {
  const gpr = new Array<bigint>(16).fill(0n);
  for (let r = 0; r < 8; r++) gpr[r] = BigInt(c.regs[r]!);
  const seg = Object.fromEntries(
    SEGMENT_NAMES.map((n, i) => [n, segState(c.segSel[i]!, c.segBase[i]!, c.segLimit[i]!, c.segAttr[i]!)]),
  ) as CpuState['seg'];
  return {
    gpr,
    rip: BigInt(c.eip >>> 0),
    rflags: BigInt(c.getEflags()),
    seg,
    ldtr: segState(c.ldtrSel, c.ldtrBase, c.ldtrLimit, c.ldtrAttr),
    tr: segState(c.trSel, c.trBase, c.trLimit, c.trAttr),
    gdtr: { base: BigInt(c.gdtrBase >>> 0), limit: c.gdtrLimit },
    idtr: { base: BigInt(c.idtrBase >>> 0), limit: c.idtrLimit },
    cr0: BigInt(c.cr0 >>> 0),
    cr2: BigInt(c.cr2 >>> 0),
    cr3: BigInt(c.cr3 >>> 0),
    cr4: BigInt(c.cr4 >>> 0),
    efer: BigInt(c.efer >>> 0),
    halted: c.halted,
  };
}

function low32(v: bigint): number {
  return Number(v & 0xffff_ffffn);
}

export function importState(c: Cpu, s: CpuState): void {
  for (let r = 0; r < 8; r++) c.regs[r] = low32(s.gpr[r] ?? 0n);
  c.eip = low32(s.rip);
  c.cr0 = low32(s.cr0);
  c.cr2 = low32(s.cr2);
  c.cr3 = low32(s.cr3);
  c.cr4 = low32(s.cr4);
  c.efer = low32(s.efer);
  c.flags = (low32(s.rflags) | 2) >>> 0;
  c.lazy = 0;
  SEGMENT_NAMES.forEach((n, i) => {
    const g = s.seg[n];
    if (i !== CS) c.setSegCache(i, g.selector, low32(g.base), g.limit >>> 0, segAttr(g));
  });
  const cs = s.seg.cs;
  c.setSegCache(CS, cs.selector, low32(cs.base), cs.limit >>> 0, segAttr(cs));
  c.ldtrSel = s.ldtr.selector;
  c.ldtrBase = low32(s.ldtr.base);
  c.ldtrLimit = s.ldtr.limit >>> 0;
  c.ldtrAttr = segAttr(s.ldtr);
  c.trSel = s.tr.selector;
  c.trBase = low32(s.tr.base);
  c.trLimit = s.tr.limit >>> 0;
  c.trAttr = segAttr(s.tr);
  c.gdtrBase = low32(s.gdtr.base);
  c.gdtrLimit = s.gdtr.limit;
  c.idtrBase = low32(s.idtr.base);
  c.idtrLimit = s.idtr.limit;
  c.halted = s.halted;
  c.updateCpl();
  c.mmu.flush();
}
