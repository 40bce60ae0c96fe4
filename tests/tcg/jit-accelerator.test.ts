/**
 * The accelerator's default path: guest code through the translator, with
 * timers, interrupts and lifecycle requests between blocks.
 */
import { describe, expect, it } from 'vitest';
import { AddressSpace } from '../../src/memory/address-space.js';
import { PortBus } from '../../src/io/port-bus.js';
import { IrqRouter, type CpuInterruptSource } from '../../src/io/irq.js';
import { A20Gate } from '../../src/io/a20.js';
import { TimerQueue, VirtualClock } from '../../src/machine/clock.js';
import { Lifecycle } from '../../src/machine/lifecycle.js';
import { flatSegment, resetCpuState } from '../../src/accel/cpu-state.js';
import type { MachineBus } from '../../src/accel/accel.js';
import { TcgAccelerator } from '../../src/accel/tcg/tcg.js';
import { assemble } from './harness.js';

/** A one-line interrupt controller: a pending vector that INTA takes. */
class OneShotIntr implements CpuInterruptSource {
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

function makeBus(code: Uint8Array): { bus: MachineBus; intr: OneShotIntr } {
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

function flatState(eip: number) {
  const s = resetCpuState();
  s.cr0 = 0x11n;
  s.rip = BigInt(eip);
  s.seg.cs = flatSegment(0x08, true);
  for (const n of ['ds', 'es', 'ss', 'fs', 'gs'] as const) s.seg[n] = flatSegment(0x10, false);
  s.gpr[4] = 0x8000n;
  s.gdtr = { base: 0x800n, limit: 0x17 };
  return s;
}

describe('TcgAccelerator with the translator (the default)', () => {
  it('translates a hot loop and gets the interpreter\'s result', async () => {
    const { bus } = makeBus(
      assemble(`
        xor eax, eax
        mov ecx, 100000
      top:
        add eax, ecx
        xor eax, 0x5a5a
        dec ecx
        jnz top
        mov ebx, eax
        mov al, 9
        out 0xf4, al
        jmp $`),
    );
    const results: bigint[] = [];
    for (const oneInsnPerTb of [true, false]) {
      const b = oneInsnPerTb ? bus : makeBus(bus.mem.readBytes(0x10000, 64)).bus;
      const acc = new TcgAccelerator(b, { oneInsnPerTb });
      acc.vcpus[0]!.setState(flatState(0x10000));
      expect(await acc.run()).toBe('request');
      expect(b.lifecycle.take()).toMatchObject({ kind: 'exit', status: 9 });
      results.push(acc.vcpus[0]!.getState().gpr[3]!);
      if (!oneInsnPerTb) {
        expect(acc.jitStats()!.translated).toBeGreaterThan(0);
        expect(acc.executed).toBeGreaterThan(400000);
      } else {
        expect(acc.jitStats()).toBeUndefined();
      }
      acc.destroy();
    }
    expect(results[1]).toBe(results[0]);
  });

  it('takes an interrupt that arrives while translated code spins', async () => {
    const { bus, intr } = makeBus(
      assemble(`
        lidt [idtr]
        sti
      spin:
        inc edx
        cmp ecx, 0x77
        jne spin
        mov al, 3
        out 0xf4, al
      handler:
        mov ecx, 0x77
        iretd
      idtr: dw 0x7ff
        dd 0x1000`),
    );
    const acc = new TcgAccelerator(bus, { oneInsnPerTb: false });
    acc.vcpus[0]!.setState(flatState(0x10000));
    const code = bus.mem.readBytes(0x10000, 64);
    let off = 0;
    while (!(code[off] === 0xe6 && code[off + 1] === 0xf4)) off++;
    const target = 0x10000 + off + 2;
    bus.mem.write32(0x1000 + 0x20 * 8, (0x08 << 16) | (target & 0xffff));
    bus.mem.write32(0x1000 + 0x20 * 8 + 4, (target & 0xffff0000) | 0x8e00);
    const running = acc.run();
    await new Promise((r) => setTimeout(r, 100));
    intr.vector = 0x20;
    expect(await running).toBe('request');
    expect(bus.lifecycle.take()).toMatchObject({ kind: 'exit', status: 3 });
    expect(acc.jitStats()!.translated).toBeGreaterThan(0);
    acc.destroy();
  });
});
