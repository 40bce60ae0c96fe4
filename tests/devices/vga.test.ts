import { describe, expect, it } from 'vitest';
import { AddressSpace } from '../../src/memory/address-space.js';
import { PortBus } from '../../src/io/port-bus.js';
import { PLANE_SIZE, Vga } from '../../src/devices/vga.js';

function seq(io: PortBus, index: number, value: number): void {
  io.write(0x3c4, 1, index);
  io.write(0x3c5, 1, value);
}

function gc(io: PortBus, index: number, value: number): void {
  io.write(0x3ce, 1, index);
  io.write(0x3cf, 1, value);
}

/** Plane 2 alone, sequential addressing, 64 KiB at 0xA0000: how a BIOS opens the font plane. */
function openFontPlane(io: PortBus): void {
  seq(io, 0x02, 0x04);
  seq(io, 0x04, 0x07);
  gc(io, 0x04, 0x02);
  gc(io, 0x05, 0x00);
  gc(io, 0x06, 0x04);
}

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

  it('stores text cells odd/even: characters in plane 0, attributes in plane 1, both at the even offset', () => {
    const { mem, vga } = machine();
    mem.write16(0xb8000 + 6, 0x1e41);
    expect(vga.state.vram[6]).toBe(0x41);
    expect(vga.state.vram[PLANE_SIZE + 6]).toBe(0x1e);
    expect(vga.state.vram[2 * PLANE_SIZE + 6]).toBe(0);
  });
});

describe('VGA planar memory', () => {
  it('puts font bytes in plane 2 through the font-loading setup, leaving the text planes alone, and reads them back by read map select', () => {
    const { mem, io, vga } = machine();
    mem.write16(0xb8000, 0x0748);
    openFontPlane(io);
    mem.write8(0xa0000 + 0x48 * 32 + 3, 0x7e);
    expect(vga.state.vram[2 * PLANE_SIZE + 0x48 * 32 + 3]).toBe(0x7e);
    expect(mem.read8(0xa0000 + 0x48 * 32 + 3)).toBe(0x7e);
    expect(mem.read8(0xb8000)).toBe(0xff); // outside the 64 KiB window the map select chose
    expect(vga.textDisplay().font[0x48 * 32 + 3]).toBe(0x7e);
    expect(vga.textScreen().cells[0]).toBe(0x0748);
  });

  it('maps the window the graphics controller selects: A0000h-BFFFFh, A0000h-AFFFFh, B0000h-B7FFFh, B8000h-BFFFFh', () => {
    const { mem, io } = machine();
    seq(io, 0x04, 0x06); // planar
    seq(io, 0x02, 0x01);
    gc(io, 0x05, 0x00);
    for (const [select, base, outside] of [[0, 0xa0000, -1], [1, 0xa0000, 0xb0000], [2, 0xb0000, 0xb8000], [3, 0xb8000, 0xb0000]] as const) {
      gc(io, 0x06, select << 2);
      mem.write8(base + 0x10, 0x40 + select);
      expect(mem.read8(base + 0x10)).toBe(0x40 + select);
      if (outside >= 0) expect(mem.read8(outside)).toBe(0xff);
    }
  });

  it('write mode 0 takes set/reset for enabled planes and the bit mask keeps latch bits; write mode 1 copies the latches', () => {
    const { mem, io, vga } = machine();
    seq(io, 0x04, 0x06);
    seq(io, 0x02, 0x0f);
    gc(io, 0x06, 0x05); // graphics, A0000h 64 KiB
    gc(io, 0x05, 0x00);
    mem.write8(0xa0000, 0xf0); // all four planes
    gc(io, 0x00, 0x05); // set/reset value: planes 0 and 2 ones
    gc(io, 0x01, 0x03); // enabled for planes 0 and 1
    gc(io, 0x08, 0x3c); // bit mask
    mem.read8(0xa0000); // latches = f0 in every plane
    mem.write8(0xa0000, 0x0f);
    const planes = [0, 1, 2, 3].map((p) => vga.state.vram[p * PLANE_SIZE]);
    // plane 0: set/reset ff -> (ff & 3c) | (f0 & c3) = fc; plane 1: 00 -> c0; planes 2, 3: CPU 0f -> 0c | c0 = cc.
    expect(planes).toEqual([0xfc, 0xc0, 0xcc, 0xcc]);
    gc(io, 0x05, 0x01);
    mem.read8(0xa0000);
    mem.write8(0xa0001, 0x00);
    expect([0, 1, 2, 3].map((p) => vga.state.vram[p * PLANE_SIZE + 1])).toEqual(planes);
  });

  it('write mode 2 spreads CPU bit p over plane p; write mode 3 masks set/reset with the rotated CPU byte; logical operations use the latch', () => {
    const { mem, io, vga } = machine();
    seq(io, 0x04, 0x06);
    seq(io, 0x02, 0x0f);
    gc(io, 0x06, 0x05);
    gc(io, 0x08, 0xff);
    gc(io, 0x05, 0x02);
    mem.write8(0xa0000, 0x05);
    expect([0, 1, 2, 3].map((p) => vga.state.vram[p * PLANE_SIZE])).toEqual([0xff, 0x00, 0xff, 0x00]);
    gc(io, 0x05, 0x03);
    gc(io, 0x00, 0x0f);
    gc(io, 0x03, 0x01); // rotate right by 1, replace
    mem.read8(0xa0002);
    mem.write8(0xa0002, 0x06); // rotated: 03
    expect(vga.state.vram[PLANE_SIZE * 3 + 2]).toBe(0x03);
    gc(io, 0x03, 0x18); // XOR with the latch, no rotation
    gc(io, 0x05, 0x00);
    gc(io, 0x01, 0x00);
    mem.read8(0xa0000); // latches ff 00 ff 00
    mem.write8(0xa0000, 0x0f);
    expect([0, 1, 2, 3].map((p) => vga.state.vram[p * PLANE_SIZE])).toEqual([0xf0, 0x0f, 0xf0, 0x0f]);
  });

  it('read mode 1 compares the planes with colour compare where colour don\'t care says so', () => {
    const { mem, io } = machine();
    seq(io, 0x04, 0x06);
    seq(io, 0x02, 0x0f);
    gc(io, 0x06, 0x05);
    gc(io, 0x05, 0x02);
    mem.write8(0xa0000, 0x05); // colour 5 in all eight pixels
    gc(io, 0x05, 0x08);
    gc(io, 0x02, 0x05);
    gc(io, 0x07, 0x0f);
    expect(mem.read8(0xa0000)).toBe(0xff);
    gc(io, 0x02, 0x04);
    expect(mem.read8(0xa0000)).toBe(0x00);
    gc(io, 0x07, 0x0e); // plane 0 ignored
    expect(mem.read8(0xa0000)).toBe(0xff);
  });

  it('chain-4 addresses plane (address & 3) at the address with those bits clear', () => {
    const { mem, io, vga } = machine();
    seq(io, 0x04, 0x0e);
    seq(io, 0x02, 0x0f);
    gc(io, 0x05, 0x40);
    gc(io, 0x06, 0x05);
    mem.write32(0xa0010, 0x44332211);
    expect([0, 1, 2, 3].map((p) => vga.state.vram[p * PLANE_SIZE + 0x10])).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(mem.read32(0xa0010)).toBe(0x44332211);
  });

  it('describes the text display from the registers: 9-dot or 8-dot cells, the character maps, the palette through the DAC', () => {
    const { io, vga } = machine();
    let d = vga.textDisplay();
    expect([d.cols, d.rows, d.cellWidth, d.cellHeight, d.fontOffsets, d.lineGraphics, d.blanked]).toEqual([80, 25, 9, 16, [0, 0], true, false]);
    expect(d.colours[1]).toEqual([0, 0, 0xa8]);
    expect(d.colours[14]).toEqual([0xff, 0xff, 0x57]);
    seq(io, 0x01, 0x01);
    seq(io, 0x03, 0x24); // map A = 5 (24 KiB), map B = 0
    io.write(0x3c8, 1, 1);
    for (const v of [0x3f, 0x00, 0x00]) io.write(0x3c9, 1, v);
    d = vga.textDisplay();
    expect([d.cellWidth, d.fontOffsets]).toEqual([8, [0, 0x6000]]);
    expect(d.colours[1]).toEqual([0xff, 0, 0]);
    io.read(0x3da, 1);
    io.write(0x3c0, 1, 0x00); // palette address source off: the screen blanks
    expect(vga.textDisplay().blanked).toBe(true);
  });
});
