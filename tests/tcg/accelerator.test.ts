import { describe, expect, it } from 'vitest';
import { AddressSpace } from '../../src/memory/address-space.js';
import { PortBus } from '../../src/io/port-bus.js';
import { IrqRouter } from '../../src/io/irq.js';
import { A20Gate } from '../../src/io/a20.js';
import { TimerQueue, VirtualClock } from '../../src/machine/clock.js';
import { Lifecycle } from '../../src/machine/lifecycle.js';
import type { MachineBus } from '../../src/accel/accel.js';
import { TcgAccelerator } from '../../src/accel/tcg/tcg.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { I8254Pit } from '../../src/devices/i8254.js';
import { assemble, pagingOn } from './harness.js';
import { flatState, makeBus } from './accelerator-bus.js';

describe('TcgAccelerator', () => {
  it('runs until the guest posts a lifecycle request; getState reflects the guest registers', async () => {
    const { bus } = makeBus(assemble('mov ebx, 0x1234\nmov al, 7\nout 0xf4, al\njmp $'));
    const acc = new TcgAccelerator(bus, { oneInsnPerTb: true });
    acc.vcpus[0]!.setState(flatState(0x10000));
    expect(await acc.run()).toBe('request');
    expect(bus.lifecycle.take()).toMatchObject({ kind: 'exit', status: 7 });
    const st = acc.vcpus[0]!.getState();
    expect(st.gpr[3]).toBe(0x1234n);
    expect(st.seg.cs.selector).toBe(0x08);
    expect(st.seg.cs.db).toBe(true);
    acc.destroy();
  });

  it('pause() stops a spinning guest; HLT sleeps until an IRQ line change wakes it for the interrupt', async () => {
    const { bus, intr } = makeBus(
      assemble(`
        lidt [idtr]
        sti
        hlt
        mov al, 3
        out 0xf4, al
      handler:
        mov ecx, 0x77
        iretd
      idtr: dw 0x7ff
        dd 0x1000`),
    );
    // IDT at 0x1000: vector 0x20 -> handler (32-bit interrupt gate), written below.
    const acc = new TcgAccelerator(bus, { oneInsnPerTb: true });
    const state = flatState(0x10000);
    acc.vcpus[0]!.setState(state);
    // Find the handler offset from the assembled code: it follows "out 0xf4, al" (E6 F4).
    const code = bus.mem.readBytes(0x10000, 64);
    let off = 0;
    while (!(code[off] === 0xe6 && code[off + 1] === 0xf4)) off++;
    const target = 0x10000 + off + 2;
    bus.mem.write32(0x1000 + 0x20 * 8, (0x08 << 16) | (target & 0xffff));
    bus.mem.write32(0x1000 + 0x20 * 8 + 4, (target & 0xffff0000) | 0x8e00);
    const running = acc.run();
    await new Promise((r) => setTimeout(r, 50));
    expect(acc.vcpus[0]!.getState().halted).toBe(true);
    intr.vector = 0x20;
    bus.irq.set(0, true);
    expect(await running).toBe('request');
    expect(bus.lifecycle.take()).toMatchObject({ kind: 'exit', status: 3 });
    expect(acc.vcpus[0]!.getState().gpr[1]).toBe(0x77n);

    const spin = makeBus(assemble('jmp $'));
    const acc2 = new TcgAccelerator(spin.bus, { oneInsnPerTb: true });
    acc2.vcpus[0]!.setState(flatState(0x10000));
    const r2 = acc2.run();
    setTimeout(() => acc2.pause(), 20);
    expect(await r2).toBe('paused');
  });

  it('getState/setState round-trip every architectural field; translate follows the page tables', async () => {
    const { bus } = makeBus(
      assemble(`
        mov dword [0x100000], 0x83       ; 4 MiB identity page
        mov dword [0x100004], 0x83       ; 4-8 MiB -> 0-4 MiB
        ${pagingOn(0x10)}
        mov esi, 0x12345678
        std
        mov al, 1
        out 0xf4, al`),
    );
    const acc = new TcgAccelerator(bus, { oneInsnPerTb: true });
    acc.vcpus[0]!.setState(flatState(0x10000));
    await acc.run();
    const st = acc.vcpus[0]!.getState();
    expect(st.cr0 & 0x80000000n).toBe(0x80000000n);
    expect(st.rflags & 0x400n).toBe(0x400n);
    expect(acc.vcpus[0]!.translate(0x401234n)).toBe(0x1234n);
    expect(acc.vcpus[0]!.translate(0x801234n)).toBeUndefined();
    const other = new TcgAccelerator(makeBus(new Uint8Array(1)).bus, { oneInsnPerTb: true });
    other.vcpus[0]!.setState(st);
    expect(other.vcpus[0]!.getState()).toEqual(st);
  });

  it('a triple fault asks the machine for a reset', async () => {
    const { bus } = makeBus(assemble('lidt [idtr]\nud2\nidtr: dw 0\ndd 0'));
    const acc = new TcgAccelerator(bus, { oneInsnPerTb: true });
    acc.vcpus[0]!.setState(flatState(0x10000));
    expect(await acc.run()).toBe('request');
    expect(bus.lifecycle.take()).toMatchObject({ kind: 'reset', cause: 'triple fault' });
  });

  it('PIT interrupts through the i8259 wake a HLT loop: 20 ticks at 1 kHz', async () => {
    const mem = new AddressSpace(2 << 20);
    const io = new PortBus();
    const pic = new I8259Pair(io);
    const irq = new IrqRouter(pic);
    const clock = new VirtualClock();
    const timers = new TimerQueue(clock);
    const lifecycle = new Lifecycle();
    new I8254Pit(io, timers, irq.line(0));
    io.register('exit', 0xf4, 1, { read: () => 0, write: (_p, _s, v) => lifecycle.request({ kind: 'exit', status: v, cause: 'test' }) });
    const code = assemble(`
      lidt [idtr]
      mov al, 0x11                ; ICW1: edge, cascade, ICW4
      out 0x20, al
      mov al, 0x20                ; ICW2: vectors 0x20-0x27
      out 0x21, al
      mov al, 0x04
      out 0x21, al
      mov al, 0x01
      out 0x21, al
      mov al, 0xfe                ; unmask IRQ 0 only
      out 0x21, al
      mov al, 0x34                ; PIT channel 0, mode 2
      out 0x43, al
      mov ax, 1193                ; 1 kHz
      out 0x40, al
      mov al, ah
      out 0x40, al
      xor ebx, ebx
      sti
    idle:
      hlt
      cmp ebx, 20
      jb idle
      mov al, bl
      out 0xf4, al
    tick:
      inc ebx
      mov al, 0x20                ; EOI
      out 0x20, al
      iretd
    idtr: dw 0x7ff
      dd 0x1000`);
    mem.writeBytes(0x10000, code);
    mem.write32(0x808, 0x0000ffff);
    mem.write32(0x80c, 0x00cf9a00);
    mem.write32(0x810, 0x0000ffff);
    mem.write32(0x814, 0x00cf9200);
    let tick = 0;
    while (!(code[tick] === 0xe6 && code[tick + 1] === 0xf4)) tick++;
    const target = 0x10000 + tick + 2;
    mem.write32(0x1000 + 0x20 * 8, (0x08 << 16) | (target & 0xffff));
    mem.write32(0x1000 + 0x20 * 8 + 4, (target & 0xffff0000) | 0x8e00);
    const bus: MachineBus = { mem, io, irq, intr: pic, a20: new A20Gate(), clock, timers, lifecycle, cpuModel: 'qemu32', smp: 1 };
    const acc = new TcgAccelerator(bus, { oneInsnPerTb: true });
    acc.vcpus[0]!.setState(flatState(0x10000));
    expect(await acc.run()).toBe('request');
    expect(lifecycle.take()).toMatchObject({ kind: 'exit', status: 20 });
  });
});
