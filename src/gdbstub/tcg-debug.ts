/**
 * gdb under TCG: while gdb has breakpoints, watchpoints or a single step
 * pending, the accelerator's debugRunner replaces the translator and runs
 * the interpreter one instruction at a time, checking the breakpoint set
 * before each instruction and the watched bytes after it. Write
 * watchpoints compare the watched bytes (as gdb's software watchpoints
 * do); read and access watchpoints would need a hook in the MMU's load
 * path and are refused.
 */
import type { TcgAccelerator } from '../accel/tcg/tcg.js';
import { StopReason } from '../accel/tcg/interp.js';
import { CS } from '../accel/tcg/constants.js';
import type { DebugBackend, DebugPoint, StopCause } from './debug-backend.js';

interface Watch {
  addr: bigint;
  len: number;
  last: string;
}

export class TcgDebug implements DebugBackend {
  private breakpoints = new Set<number>();
  private watches: Watch[] = [];
  private singleStep = false;

  constructor(
    private readonly accel: TcgAccelerator,
    private readonly onStop: (cause: StopCause) => void,
  ) {}

  setPoints(points: readonly DebugPoint[]): boolean {
    if (points.some((p) => p.kind === 'read' || p.kind === 'access')) return false;
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
    this.singleStep = false;
    this.install();
  }

  private install(): void {
    const active = this.singleStep || this.breakpoints.size > 0 || this.watches.length > 0;
    this.accel.debugRunner = active ? (budget) => this.run(budget) : undefined;
  }

  private run(budget: number): StopReason {
    const { cpu, interp } = this.accel;
    const lifecycle = cpu.bus.lifecycle;
    for (let i = 0; i < budget; i++) {
      if (this.breakpoints.has((cpu.segBase[CS]! + cpu.eip) >>> 0)) return this.stop({ kind: 'breakpoint' });
      interp.step();
      if (cpu.halted) interp.checkInterrupts();
      if (this.singleStep) {
        this.singleStep = false;
        this.install();
        return this.stop({ kind: 'step' });
      }
      const hit = this.changedWatch();
      if (hit) return this.stop({ kind: 'watch', access: 'write', addr: hit.addr });
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
