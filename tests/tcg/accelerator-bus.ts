/**
 * A bare MachineBus for accelerator tests: 2 MiB of RAM with a flat GDT,
 * the guest's code at 0x10000, an exit port at 0xf4 that posts a lifecycle
 * request with the value written, and a one-line interrupt controller.
 */
import { AddressSpace } from '../../src/memory/address-space.js';
import { PortBus } from '../../src/io/port-bus.js';
import { IrqRouter, type CpuInterruptSource } from '../../src/io/irq.js';
import { A20Gate } from '../../src/io/a20.js';
import { TimerQueue, VirtualClock } from '../../src/machine/clock.js';
import { Lifecycle } from '../../src/machine/lifecycle.js';
import { flatSegment, resetCpuState, type CpuState } from '../../src/accel/cpu-state.js';
import type { MachineBus } from '../../src/accel/accel.js';

/** A one-line interrupt controller: a pending vector that INTA takes. */
export class OneShotIntr implements CpuInterruptSource {
  vector = -1;
  hasInterrupt(): boolean {
    return this.vector >= 0;
  }
  acknowledge(): number {
    const v = this.vector;
    this.vector = -1;
    return v;
  }
}

export function makeBus(code: Uint8Array): { bus: MachineBus; intr: OneShotIntr } {
  const mem = new AddressSpace(2 << 20);
  const io = new PortBus();
  const intr = new OneShotIntr();
  const irq = new IrqRouter({ setIrq: () => {} });
  const clock = new VirtualClock();
  const lifecycle = new Lifecycle();
  io.register('exit', 0xf4, 1, { read: () => 0, write: (_p, _s, v) => lifecycle.request({ kind: 'exit', status: v, cause: 'test' }) });
  mem.writeBytes(0x10000, code);
  // GDT at 0x800: null, 0x08 flat code, 0x10 flat data.
  mem.write32(0x808, 0x0000ffff);
  mem.write32(0x80c, 0x00cf9a00);
  mem.write32(0x810, 0x0000ffff);
  mem.write32(0x814, 0x00cf9200);
  const bus: MachineBus = { mem, io, irq, intr, a20: new A20Gate(), clock, timers: new TimerQueue(clock), lifecycle, cpuModel: 'qemu32', smp: 1 };
  return { bus, intr };
}

/** 32-bit protected mode, flat segments, ESP 0x8000, paging off. */
export function flatState(eip: number): CpuState {
  const s = resetCpuState();
  s.cr0 = 0x11n;
  s.rip = BigInt(eip);
  s.seg.cs = flatSegment(0x08, true);
  for (const n of ['ds', 'es', 'ss', 'fs', 'gs'] as const) s.seg[n] = flatSegment(0x10, false);
  s.gpr[4] = 0x8000n;
  s.gdtr = { base: 0x800n, limit: 0x17 };
  return s;
}
