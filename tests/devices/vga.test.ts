import { describe, expect, it } from 'vitest';
import { AddressSpace } from '../../src/memory/address-space.js';
import { PortBus } from '../../src/io/port-bus.js';
import { Vga } from '../../src/devices/vga.js';

function machine() {
  const mem = new AddressSpace(1 << 20);
  const io = new PortBus();
  const vga = new Vga(io, mem);
  return { mem, io, vga };
}

describe('VGA text mode', () => {
  it('shows the characters and attributes written at 0xB8000', () => {
    const { mem, vga } = machine();
    mem.write16(0xb8000, 0x0748); // 'H' grey on black
    mem.write16(0xb8002, 0x1f69); // 'i' white on blue
    const screen = vga.textScreen();
    expect(screen.cells[0]).toBe(0x0748);
    expect(screen.cells[1]).toBe(0x1f69);
    expect(mem.read16(0xb8002)).toBe(0x1f69);
  });

  it('places the cursor from CRTC registers 0x0E/0x0F', () => {
    const { io, vga } = machine();
    io.write(0x3d4, 1, 0x0e);
    io.write(0x3d5, 1, 0x00);
    io.write(0x3d4, 1, 0x0f);
    io.write(0x3d5, 1, 81); // row 1, column 1
    const screen = vga.textScreen();
    expect([screen.cursorRow, screen.cursorCol, screen.cursorVisible]).toEqual([1, 1, true]);
    io.write(0x3d4, 1, 0x0f);
    expect(io.read(0x3d5, 1)).toBe(81);
  });

  it('hides the cursor when CRTC 0x0A bit 5 is set', () => {
    const { io, vga } = machine();
    io.write(0x3d4, 1, 0x0a);
    io.write(0x3d5, 1, 0x20);
    expect(vga.textScreen().cursorVisible).toBe(false);
  });

  it('scrolls the view with the start address registers', () => {
    const { mem, io, vga } = machine();
    mem.write16(0xb8000 + 160, 0x0741); // first cell of row 1
    io.write(0x3d4, 1, 0x0d);
    io.write(0x3d5, 1, 80);
    expect(vga.textScreen().cells[0]).toBe(0x0741);
  });

  it('toggles vertical retrace in input status #1 and resets the attribute flip-flop', () => {
    const { io } = machine();
    const a = io.read(0x3da, 1) & 0x08;
    const b = io.read(0x3da, 1) & 0x08;
    expect(a).not.toBe(b);
    io.read(0x3da, 1);
    io.write(0x3c0, 1, 0x10); // index
    io.write(0x3c0, 1, 0x0c); // data
    io.write(0x3c0, 1, 0x10); // index again
    expect(io.read(0x3c1, 1)).toBe(0x0c);
  });

  it('reads back DAC entries in red, green, blue order', () => {
    const { io } = machine();
    io.write(0x3c8, 1, 5);
    for (const v of [1, 2, 3]) io.write(0x3c9, 1, v);
    io.write(0x3c7, 1, 5);
    expect([io.read(0x3c9, 1), io.read(0x3c9, 1), io.read(0x3c9, 1)]).toEqual([1, 2, 3]);
  });

  it('steps the DAC indices to the next colour after blue, wrapping from 255 to 0', () => {
    const { io } = machine();
    io.write(0x3c8, 1, 255);
    for (const v of [1, 2, 3, 4, 5, 6]) io.write(0x3c9, 1, v);
    expect(io.read(0x3c8, 1)).toBe(1);
    io.write(0x3c7, 1, 255);
    expect(Array.from({ length: 6 }, () => io.read(0x3c9, 1))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('moves the CRTC to 0x3B4 in mono mode', () => {
    const { io } = machine();
    io.write(0x3c2, 1, 0x66);
    io.write(0x3b4, 1, 0x0f);
    io.write(0x3b5, 1, 7);
    expect(io.read(0x3b5, 1)).toBe(7);
    expect(io.read(0x3d5, 1)).toBe(0xff);
  });
});
