import { describe, expect, it } from 'vitest';
import { Port80 } from '../../src/devices/port80.js';
import { PortBus } from '../../src/io/port-bus.js';

describe('port 0x80', () => {
  it('accepts POST codes and reads all-ones at every width', () => {
    const io = new PortBus();
    new Port80(io);
    io.write(0x80, 1, 0x55);
    io.write(0x80, 4, 0x1234_5678);
    expect(io.owner(0x80)).toBe('ioport80');
    expect(io.read(0x80, 1)).toBe(0xff);
    expect(io.read(0x80, 2)).toBe(0xffff);
    expect(io.read(0x80, 4)).toBe(0xffff_ffff);
  });
});
