import { describe, expect, it } from 'vitest';
import { Port92 } from '../../src/devices/port92.js';
import { A20Gate } from '../../src/io/a20.js';
import { PortBus } from '../../src/io/port-bus.js';
import { Lifecycle } from '../../src/machine/lifecycle.js';

function setup() {
  const io = new PortBus();
  const a20 = new A20Gate();
  const lifecycle = new Lifecycle();
  const port92 = new Port92(io, a20, lifecycle);
  return { io, a20, lifecycle, port92 };
}

describe('port 0x92 (System Control Port A)', () => {
  it('drives A20 with bit 1 and reads the latch back', () => {
    const { io, a20 } = setup();
    io.write(0x92, 1, 0x00);
    expect(a20.enabled).toBe(false);
    expect(a20.mask).toBe(0xffef_ffff);
    io.write(0x92, 1, 0x02);
    expect(a20.enabled).toBe(true);
    expect(io.read(0x92, 1)).toBe(0x02);
  });

  it('resets on a 0-to-1 transition of bit 0 only', () => {
    const { io, lifecycle, port92 } = setup();
    io.write(0x92, 1, 0x03);
    expect(lifecycle.take()).toMatchObject({ kind: 'reset' });
    io.write(0x92, 1, 0x03);
    expect(lifecycle.hasRequest).toBe(false);
    port92.reset();
    expect(io.read(0x92, 1)).toBe(0x02);
    io.write(0x92, 1, 0x03);
    expect(lifecycle.take()).toMatchObject({ kind: 'reset' });
  });
});
