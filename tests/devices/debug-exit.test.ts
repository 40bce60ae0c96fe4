import { describe, expect, it } from 'vitest';
import { IsaDebugExit } from '../../src/devices/debug-exit.js';
import { PortBus } from '../../src/io/port-bus.js';
import { Lifecycle } from '../../src/machine/lifecycle.js';
import { Uart16550 } from '../../src/devices/uart16550.js';
import { IrqRouter } from '../../src/io/irq.js';
import { fakeTime } from './fake-clock.js';

function setup(iobase: number, iosize: 1 | 2 | 4) {
  const io = new PortBus();
  const lifecycle = new Lifecycle();
  new IsaDebugExit(io, iobase, iosize, lifecycle);
  return { io, lifecycle };
}

describe('isa-debug-exit', () => {
  it('placed on a UART\'s ports takes them over and leaves the UART the rest, as in QEMU', () => {
    const io = new PortBus();
    const lifecycle = new Lifecycle();
    new Uart16550(io, 0x3f8, new IrqRouter({ setIrq: () => {} }).line(4), fakeTime().timers);
    new IsaDebugExit(io, 0x3f8, 2, lifecycle);
    io.write(0x3ff, 1, 0x5a); // the UART's scratch register
    expect(io.read(0x3ff, 1)).toBe(0x5a);
    io.write(0x3f8, 1, 0x10);
    expect(lifecycle.take()).toMatchObject({ kind: 'exit', status: 0x21 });
  });

  it('exits with (value << 1) | 1 on a byte write', () => {
    const { io, lifecycle } = setup(0xf4, 1);
    expect(lifecycle.hasRequest).toBe(false);
    io.write(0xf4, 1, 0x10);
    expect(lifecycle.take()).toMatchObject({ kind: 'exit', status: 0x21 });
  });

  it('exits with status 1 for value 0 and keeps the low 8 bits of the status', () => {
    const { io, lifecycle } = setup(0x501, 2);
    io.write(0x501, 1, 0);
    expect(lifecycle.take()).toMatchObject({ kind: 'exit', status: 1 });
    io.write(0x501, 2, 0x0181); // (0x181 << 1) | 1 = 0x303: the shell sees 0x03
    expect(lifecycle.take()).toMatchObject({ kind: 'exit', status: 0x03 });
  });

  it('clips accesses running past the end of the region to the bytes inside it', () => {
    const { io, lifecycle } = setup(0xf4, 1);
    io.write(0xf4, 4, 0x1234_5603);
    expect(lifecycle.take()).toMatchObject({ kind: 'exit', status: 0x07 });
    const two = setup(0x501, 2);
    two.io.write(0x502, 2, 0x0140); // only the byte at 0x502 is inside
    expect(two.lifecycle.take()).toMatchObject({ kind: 'exit', status: 0x81 });
  });

  it('takes a dword write whole with iosize 4, and any port of the region exits', () => {
    const { io, lifecycle } = setup(0x500, 4);
    io.write(0x500, 4, 0x42);
    expect(lifecycle.take()).toMatchObject({ kind: 'exit', status: 0x85 });
    io.write(0x503, 1, 0x01);
    expect(lifecycle.take()).toMatchObject({ kind: 'exit', status: 0x03 });
  });
});
