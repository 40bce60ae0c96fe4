/**
 * The VGA a directly booted kernel (-kernel) finds. Under QEMU, SeaBIOS and
 * its VGA BIOS run before -kernel's option ROM: the kernel finds text mode
 * 3 programmed, its palette in the DAC and an 8x16 font in plane 2. tsvm
 * runs no firmware there, so it must leave the same state itself.
 *
 * The vga-state guest (multiboot) prints the registers, DAC, the BDA's
 * video fields and font block 0; under tsvm and under qemu-system-i386 they
 * must agree, except where SeaBIOS's own boot messages moved the cursor and
 * where the fonts differ (tsvm's is the built-in BIOS's, QEMU's SeaBIOS's):
 * the font block must hold tsvm's font glyph for glyph, 32 bytes apart, and
 * QEMU's must be laid out alike.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runTsvm } from '../helpers/tsvm-process.js';
import { requireTool } from '../helpers/tools.js';
import { buildGuests, guestPath } from '../kvm/harness.js';
import { GLYPH_STRIDE } from '../../src/devices/vga.js';
import { FONT_HEIGHT, VGA_FONT_8X16 } from '../../src/boot/bios/font/vga-font-8x16.js';

requireTool('qemu-system-i386', 'qemu-system-x86');
requireTool('nasm', 'nasm');
const ACCELS = existsSync('/dev/kvm') ? ['tcg', 'kvm'] : ['tcg'];
const DEBUG_EXIT = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=4'];
/** The guest's exit through isa-debug-exit: (10h << 1) | 1. */
const GUEST_STATUS = 33;
/** CRTC cursor location high and low. */
const CURSOR_LOCATION = [0x0e, 0x0f];
/** The BDA fields a mode set writes, as [address, bytes]: mode, columns, page size and start, active page, CRTC base, rows - 1, character height. */
const BDA_MODE_FIELDS: [number, number][] = [[0x449, 1], [0x44a, 2], [0x44c, 2], [0x44e, 2], [0x462, 1], [0x463, 2], [0x484, 1], [0x485, 2]];
/** Where the guest's "bda" line starts. */
const BDA_DUMP_BASE = 0x449;

type VgaState = Record<string, Buffer>;

/** The guest's "label hexbytes" lines. */
function parseState(serial: string): VgaState {
  const state: VgaState = {};
  for (const [, label, hex] of serial.matchAll(/^([a-z-]+) ([0-9a-f]+)$/gm)) state[label!] = Buffer.from(hex!, 'hex');
  return state;
}

function underQemu(): VgaState {
  const r = spawnSync('qemu-system-i386', ['-accel', 'tcg', '-kernel', guestPath('vga-state'), '-display', 'none', '-serial', 'stdio', '-net', 'none', ...DEBUG_EXIT],
    { timeout: 30_000, encoding: 'latin1' });
  expect(r.stdout).toContain('vga-state done');
  expect(r.status).toBe(GUEST_STATUS);
  return parseState(r.stdout);
}

async function underTsvm(accel: string): Promise<VgaState> {
  const r = await runTsvm(['-accel', accel, '-kernel', guestPath('vga-state'), '-display', 'none', '-serial', 'stdio', ...DEBUG_EXIT]);
  expect(r.stdout).toContain('vga-state done');
  expect(r.status).toBe(GUEST_STATUS);
  return parseState(r.stdout);
}

function withoutCursorLocation(crtc: Buffer): number[] {
  return [...crtc].filter((_, i) => !CURSOR_LOCATION.includes(i));
}

function bdaModeFields(bda: Buffer): number[] {
  return BDA_MODE_FIELDS.map(([addr, bytes]) => bda.readUIntLE(addr - BDA_DUMP_BASE, bytes));
}

/** Glyph c's 32 bytes in plane 2. */
function glyph(font: Buffer, c: number): Buffer {
  return font.subarray(c * GLYPH_STRIDE, (c + 1) * GLYPH_STRIDE);
}

let qemu: VgaState;
beforeAll(() => {
  buildGuests();
  qemu = underQemu();
});

describe.each(ACCELS)('the VGA a -kernel boot leaves, -accel %s', (accel) => {
  it('is the mode-3 state SeaBIOS leaves under qemu-system-i386 -kernel, with the built-in BIOS font in plane 2', async () => {
    const ours = await underTsvm(accel);
    for (const regs of ['attr-index', 'misc', 'seq', 'gc', 'attr', 'dac']) expect(ours[regs], regs).toEqual(qemu[regs]);
    expect(withoutCursorLocation(ours.crtc!)).toEqual(withoutCursorLocation(qemu.crtc!));
    // A cleared screen with the cursor home, as the zero page's screen_info tells Linux.
    expect(CURSOR_LOCATION.map((i) => ours.crtc![i])).toEqual([0, 0]);
    expect(bdaModeFields(ours.bda!)).toEqual(bdaModeFields(qemu.bda!));

    for (let c = 0; c < 256; c++) {
      const expected = Buffer.alloc(GLYPH_STRIDE);
      expected.set(VGA_FONT_8X16.subarray(c * FONT_HEIGHT, (c + 1) * FONT_HEIGHT));
      expect(glyph(ours.font!, c), `glyph ${c.toString(16)}`).toEqual(expected);
      // SeaBIOS's font: 16 scan lines a glyph too, and a printable ASCII character is never blank.
      expect(glyph(qemu.font!, c).subarray(FONT_HEIGHT).every((b) => b === 0), `QEMU glyph ${c.toString(16)}`).toBe(true);
      if (c > 0x20 && c < 0x7f) expect(glyph(qemu.font!, c).some((b) => b !== 0), `QEMU glyph ${c.toString(16)}`).toBe(true);
    }
  });
});
