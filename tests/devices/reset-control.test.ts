import { describe, expect, it } from 'vitest';
import { ResetControl } from '../../src/devices/reset-control.js';
import { PortBus } from '../../src/io/port-bus.js';
import { Lifecycle } from '../../src/machine/lifecycle.js';

describe('PIIX reset control register (0xCF9)', () => {
  it('keeps the reset type bit and resets when bit 2 is written', () => {
    const io = new PortBus();
    const lifecycle = new Lifecycle();
    new ResetControl(io, lifecycle);
    io.write(0xcf9, 1, 0x0a);
    expect(io.read(0xcf9, 1)).toBe(0x02);
    expect(lifecycle.hasRequest).toBe(false);
    io.write(0xcf9, 1, 0x06); // hard reset, as Linux's reboot=pci writes
    expect(lifecycle.take()).toMatchObject({ kind: 'reset', cause: '0xcf9 hard reset' });
    io.write(0xcf9, 1, 0x04);
    expect(lifecycle.take()).toMatchObject({ kind: 'reset', cause: '0xcf9 soft reset' });
  });
});
