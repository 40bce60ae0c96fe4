/**
 * gdb under TCG: while gdb has breakpoints, watchpoints or a single step
 * pending, the accelerator's debugRunner replaces the translator and runs
 * the interpreter one instruction at a time, checking the breakpoint set
 * before each instruction and the watchpoints around it. Write watchpoints
 * compare the watched bytes after each instruction (gdb's own software
 * watchpoints work the same way). Read and access watchpoints look at the
 * instruction's ModR/M memory operand before it runs and stop after it, as
 * x86 data breakpoints do; accesses without a ModR/M operand (string
 * instructions, pushes and pops) are not seen by them.
 */
import type { TcgAccelerator } from '../accel/tcg/tcg.js';
import { StopReason } from '../accel/tcg/interp.js';
import { CS } from '../accel/tcg/constants.js';
import type { Insn } from '../accel/tcg/insn.js';
import type { DebugBackend, DebugPoint, StopCause } from './debug-backend.js';

/** Opcodes whose ModR/M memory operand is only written (MOV stores, MOV r/m,Sreg, POP r/m, SETcc): no read. */
const PURE_STORES = new Set([0x88, 0x89, 0x8c, 0x8f, 0xc6, 0xc7, ...Array.from({ length: 16 }, (_, i) => 0x190 + i)]);

interface Watch {
  addr: bigint;
  len: number;
  last: string;
}

export class TcgDebug implements DebugBackend {
  private breakpoints = new Set<number>();
  private watches: Watch[] = [];
  /** Read and access watchpoints. */
  private accessWatches: DebugPoint[] = [];
  private singleStep = false;

  constructor(
    private readonly accel: TcgAccelerator,
    private readonly onStop: (cause: StopCause) => void,
  ) {}

  setPoints(points: readonly DebugPoint[]): boolean {
    this.accessWatches = points.filter((p) => p.kind === 'read' || p.kind === 'access');
    this.breakpoints = new Set(points.filter((p) => p.kind === 'sw' || p.kind === 'hw').map((p) => Number(p.addr & 0xffff_ffffn)));
    this.watches = points.filter((p) => p.kind === 'write').map((p) => ({ addr: p.addr, len: p.len, last: '' }));
    for (const w of this.watches) w.last = this.peek(w);
    this.install();
    return true;
  }

  setSingleStep(on: boolean): void {
    this.singleStep = on;
    this.install();
  }

  release(): void {
    this.breakpoints.clear();
    this.watches = [];
    this.accessWatches = [];
    this.singleStep = false;
    this.install();
  }

  private install(): void {
    const active = this.singleStep || this.breakpoints.size > 0 || this.watches.length > 0 || this.accessWatches.length > 0;
    this.accel.debugRunner = active ? (budget) => this.run(budget) : undefined;
  }

  private run(budget: number): StopReason {
    const { cpu, interp } = this.accel;
    const lifecycle = cpu.bus.lifecycle;
    for (let i = 0; i < budget; i++) {
      if (this.breakpoints.has((cpu.segBase[CS]! + cpu.eip) >>> 0)) return this.stop({ kind: 'breakpoint' });
      const touched = this.accessWatches.length > 0 ? this.operandWatch() : undefined;
      interp.step();
      if (cpu.halted) interp.checkInterrupts();
      if (this.singleStep) {
        this.singleStep = false;
        this.install();
        return this.stop({ kind: 'step' });
      }
      const hit = this.changedWatch();
      if (hit) return this.stop({ kind: 'watch', access: 'write', addr: hit.addr });
      if (touched) return this.stop({ kind: 'watch', access: touched.kind === 'read' ? 'read' : 'access', addr: touched.addr });
      if (cpu.halted) return StopReason.Halted;
      if (lifecycle?.hasRequest) return StopReason.Request;
    }
    return StopReason.Budget;
  }

  /** Reports the stop; the caller pauses the accelerator, so its run loop returns 'paused'. */
  private stop(cause: StopCause): StopReason {
    this.onStop(cause);
    return StopReason.Request;
  }

  /** The read/access watchpoint the next instruction's memory operand overlaps, if any. */
  private operandWatch(): DebugPoint | undefined {
    const { cpu, interp } = this.accel;
    let d: Insn;
    try {
      d = interp.cache.fetch(cpu);
    } catch {
      return undefined; // The fetch faults: step() delivers that, no data is touched.
    }
    if (d.mod < 0 || d.mod === 3) return undefined;
    const lin = BigInt((cpu.segBase[d.seg]! + cpu.ea(d)) >>> 0);
    const end = lin + BigInt(d.size);
    return this.accessWatches.find(
      (w) => !(w.kind === 'read' && PURE_STORES.has(d.op)) && lin < w.addr + BigInt(w.len) && w.addr < end,
    );
  }

  private changedWatch(): Watch | undefined {
    for (const w of this.watches) {
      const now = this.peek(w);
      if (now !== w.last) {
        w.last = now;
        return w;
      }
    }
    return undefined;
  }

  /** The watched bytes as a string ('' when unmapped), read through the guest's current paging. */
  private peek(w: Watch): string {
    const vcpu = this.accel.vcpus[0]!;
    let out = '';
    for (let i = 0; i < w.len; i++) {
      const phys = vcpu.translate(w.addr + BigInt(i));
      out += phys === undefined ? '-' : String.fromCharCode(this.accel.cpu.bus.mem.read8(Number(phys)));
    }
    return out;
  }
}
