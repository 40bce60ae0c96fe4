/**
 * screendump as a user takes it: the vga-text boot sector prints known text
 * (teletype, coloured cells, line-drawing characters, the cursor at row 3
 * column 2), then QMP `screendump` over a unix socket and HMP `screendump`
 * over a unix socket (socat as the client) save the screen.
 *
 * Under the built-in BIOS the glyphs must be the BIOS's 8x16 font, which it
 * loaded into VGA plane 2 at POST, pixel for pixel, in the colours QEMU
 * shows the mode-3 palette in. Under SeaBIOS (whose VGA BIOS loads its own
 * font through the VGA registers) tsvm's picture must equal
 * qemu-system-i386's of the same guest, apart from the cursor cell, which
 * QEMU blinks.
 *
 * Linux booted with -kernel runs after no BIOS, so tsvm leaves the VGA as
 * POST would (tests/boot/direct-boot-vga.test.ts compares that state with
 * QEMU's): with console=tty0, the picture must show the kernel's messages
 * in that font, read back cell by cell and found in what the serial console
 * printed. The boot stops once vgacon has started (half a minute on TCG).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { startTsvm } from '../helpers/tsvm-process.js';
import { requireFile, requireTool } from '../helpers/tools.js';
import { buildGuests, guestPath } from '../kvm/harness.js';
import { QmpClient } from './qmp-client.js';
import { ensureLinuxGuest } from '../boot/guest-images.js';
import { VGA_FONT_8X16 } from '../../src/boot/bios/font/vga-font-8x16.js';
import { scratchDir } from '../helpers/scratch.js';

requireTool('socat', 'socat');
requireTool('qemu-system-i386', 'qemu-system-x86');
const SEABIOS = '/usr/share/seabios/bios-256k.bin';
requireFile(SEABIOS, 'seabios');
const ACCELS = existsSync('/dev/kvm') ? ['tcg', 'kvm'] : ['tcg'];

type Rgb = [number, number, number];
const BLACK: Rgb = [0, 0, 0];
// The mode-3 palette as QEMU draws it: 6-bit DAC values 2Ah, 15h, 3Fh widen to A8h, 57h, FFh.
const GREY: Rgb = [0xa8, 0xa8, 0xa8];
const BLUE: Rgb = [0, 0, 0xa8];
const WHITE: Rgb = [0xff, 0xff, 0xff];
const YELLOW: Rgb = [0xff, 0xff, 0x57];

interface Picture {
  width: number;
  height: number;
  rgb: Buffer;
}

function parsePpm(file: string): Picture {
  const data = readFileSync(file);
  const header = /^P6\n(\d+) (\d+)\n255\n/.exec(data.subarray(0, 32).toString('latin1'))!;
  return { width: Number(header[1]), height: Number(header[2]), rgb: data.subarray(header[0].length) };
}

/** The pixels of an 8-bit RGB, non-interlaced PNG (what screendump writes), filter bytes dropped. */
function pngPixels(png: Buffer): Buffer {
  let at = 8;
  const idat: Buffer[] = [];
  let width = 0;
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    if (type === 'IHDR') width = png.readUInt32BE(at + 8);
    if (type === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + len));
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 3 + 1;
  const rows: Buffer[] = [];
  for (let y = 0; y * stride < raw.length; y++) {
    expect(raw[y * stride]).toBe(0); // filter type None
    rows.push(raw.subarray(y * stride + 1, (y + 1) * stride));
  }
  return Buffer.concat(rows);
}

function pixel(p: Picture, x: number, y: number): Rgb {
  const at = (y * p.width + x) * 3;
  return [p.rgb[at]!, p.rgb[at + 1]!, p.rgb[at + 2]!];
}

/** The 9x16 cell at (row, col) as rows of '#' (foreground) and '.' (background). */
function cellDots(p: Picture, row: number, col: number, fg: Rgb, bg: Rgb): string[] {
  const key = (c: Rgb) => c.join(',');
  return Array.from({ length: 16 }, (_, y) =>
    Array.from({ length: 9 }, (_, x) => {
      const c = key(pixel(p, col * 9 + x, row * 16 + y));
      return c === key(fg) ? '#' : c === key(bg) ? '.' : '?';
    }).join(''),
  );
}

/** What the font says the cell shows: 8 dots from the glyph, the ninth background or (line graphics) the eighth again. */
function fontDots(ch: number, repeatEighth: boolean): string[] {
  return Array.from({ length: 16 }, (_, y) => {
    const bits = VGA_FONT_8X16[ch * 16 + y]!;
    const eight = Array.from({ length: 8 }, (_, x) => ((bits >> (7 - x)) & 1 ? '#' : '.')).join('');
    return eight + (repeatEighth ? eight[7] : '.');
  });
}

/** Stands for a cell that shows no glyph of TEXT_CODES in grey on black (the cursor's). */
const NOT_A_GLYPH = '\0';
/** Printable ASCII, and the tab, which Linux's console output puts on the VGA as is (CP437 glyph 09h). */
const TEXT_CODES = [0x09, ...Array.from({ length: 0x7f - 0x20 }, (_, i) => 0x20 + i)];
const TEXT_BY_GLYPH = new Map(TEXT_CODES.map((ch) => [fontDots(ch, false).join(''), String.fromCharCode(ch)]));

/** Text row `row` read back from the picture: each cell's character by its glyph, NOT_A_GLYPH where none matches. */
function textRow(p: Picture, row: number): string {
  return Array.from({ length: p.width / 9 }, (_, col) => TEXT_BY_GLYPH.get(cellDots(p, row, col, GREY, BLACK).join('')) ?? NOT_A_GLYPH).join('');
}

let children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children = [];
});

beforeAll(() => buildGuests());

/** Starts an emulator on the vga-text guest with QMP on a unix socket, waits for the guest's ready line, returns a connected client. */
async function bootVgaText(command: 'tsvm' | 'qemu', dir: string, extra: string[]): Promise<QmpClient> {
  const socket = join(dir, `${command}.qmp`);
  const args = ['-snapshot', '-drive', `file=${guestPath('vga-text')},format=raw,if=ide`, '-display', 'none', '-serial', 'stdio',
    '-qmp', `unix:${socket},server=on,wait=off`, ...extra];
  let ready: Promise<void>;
  if (command === 'tsvm') {
    const run = startTsvm(args);
    children.push(run.child);
    ready = run.waitFor('vga-text ready');
  } else {
    const child = spawn('qemu-system-i386', ['-net', 'none', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    ready = new Promise((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')).includes('vga-text ready') && resolve());
      child.on('exit', () => reject(new Error(`qemu-system-i386 exited before the guest was ready: ${out}`)));
    });
  }
  await ready;
  return connectQmp(socket);
}

async function connectQmp(socket: string): Promise<QmpClient> {
  const qmp = await QmpClient.connect(socket);
  await qmp.greeting();
  await qmp.execute('qmp_capabilities');
  return qmp;
}

describe.each(ACCELS)('screendump of the text screen under the built-in BIOS, -accel %s', (accel) => {
  it('draws the BIOS font from plane 2 in the palette colours, the ninth-dot rule and the cursor; QMP PPM equals HMP PNG', async () => {
    const dir = scratchDir('tsvm-screendump-');
    const hmpSocket = join(dir, 'hmp.sock');
    const qmp = await bootVgaText('tsvm', dir, ['-accel', accel, '-monitor', `unix:${hmpSocket},server=on,wait=off`]);
    const ppmFile = join(dir, 'screen.ppm');
    expect(await qmp.execute('screendump', { filename: ppmFile })).toEqual({ return: {} });
    const p = parsePpm(ppmFile);
    expect([p.width, p.height]).toEqual([720, 400]);

    // Row 0 by teletype, grey on black: every glyph as the font draws it.
    for (const [col, ch] of [...'Hello, VGA!'].entries()) {
      expect(cellDots(p, 0, col, GREY, BLACK), `'${ch}'`).toEqual(fontDots(ch.charCodeAt(0), false));
    }
    // Row 1, written to B800h: attributes pick the colours; C4h repeats its eighth dot, 'A' does not.
    expect(cellDots(p, 1, 0, WHITE, BLUE)).toEqual(fontDots(0x41, false));
    expect(cellDots(p, 1, 4, YELLOW, BLACK)).toEqual(fontDots(0xc4, true));
    expect(cellDots(p, 1, 4, YELLOW, BLACK).some((line) => line === '#########')).toBe(true);
    // The cursor: scan lines 13-14 (the mode-3 shape) in the cell's foreground, over a blank cell.
    expect(cellDots(p, 3, 2, GREY, BLACK)).toEqual([...Array(13).fill('.........'), '#########', '#########', '.........']);

    const pngFile = join(dir, 'screen.png');
    const hmp = spawnSync('socat', ['-t', '2', '-', `UNIX-CONNECT:${hmpSocket}`], { input: `screendump ${pngFile} -f png\n`, encoding: 'latin1' });
    expect(hmp.stdout).toContain(`(qemu) screendump ${pngFile} -f png`);
    expect(pngPixels(readFileSync(pngFile))).toEqual(p.rgb);
    await qmp.execute('quit');
  });
});

describe('screendump under SeaBIOS and its VGA BIOS, against qemu-system-i386', () => {
  it('gives the same 720x400 picture, pixel for pixel outside the blinking cursor cell', async () => {
    const dir = scratchDir('tsvm-screendump-');
    const firmware = ['-accel', 'tcg', '-bios', SEABIOS];
    const pictures: Picture[] = [];
    for (const command of ['tsvm', 'qemu'] as const) {
      const qmp = await bootVgaText(command, dir, firmware);
      const file = join(dir, `${command}.ppm`);
      expect(await qmp.execute('screendump', { filename: file })).toEqual({ return: {} });
      pictures.push(parsePpm(file));
      await qmp.execute('quit');
    }
    const [ours, qemu] = pictures as [Picture, Picture];
    expect([ours.width, ours.height]).toEqual([qemu.width, qemu.height]);
    const differing: string[] = [];
    for (let y = 0; y < qemu.height; y++) {
      for (let x = 0; x < qemu.width; x++) {
        const cursorCell = Math.floor(y / 16) === 3 && Math.floor(x / 9) === 2;
        if (!cursorCell && pixel(ours, x, y).join() !== pixel(qemu, x, y).join()) differing.push(`${x},${y}`);
      }
    }
    expect(differing.slice(0, 10)).toEqual([]);
    // The guest's text is there in SeaBIOS's font: 'H' has foreground dots.
    expect(cellDots(ours, 0, 0, GREY, BLACK).join('')).toContain('#');
  });
});

describe('screendump of Linux booted with -kernel, its console on the VGA', () => {
  /** Boot to vgacon's start on a loaded two-core machine. */
  const CONSOLE_MS = 300_000;

  it('shows the kernel messages the serial console prints, in the built-in BIOS font', async () => {
    const guest = ensureLinuxGuest('i386');
    const dir = scratchDir('tsvm-screendump-');
    const socket = join(dir, 'linux.qmp');
    const run = startTsvm(['-accel', 'tcg', '-m', '256', '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', 'console=tty0 console=ttyS0',
      '-display', 'none', '-serial', 'stdio', '-qmp', `unix:${socket},server=on,wait=off`]);
    children.push(run.child);
    // By the time the serial console prints this, vgacon has been given the log so far (some 80 lines).
    await run.waitFor('printk: console [tty0] enabled', CONSOLE_MS);
    const qmp = await connectQmp(socket);
    const file = join(dir, 'linux.ppm');
    expect(await qmp.execute('screendump', { filename: file })).toEqual({ return: {} });
    const p = parsePpm(file);
    expect([p.width, p.height]).toEqual([720, 400]);

    const rows = Array.from({ length: p.height / 16 }, (_, row) => textRow(p, row));
    // Every cell shows a glyph of the text but the cursor's (vgacon's underline, after the last message).
    expect(rows.join('').split(NOT_A_GLYPH).length - 1, rows.join('\n')).toBeLessThanOrEqual(1);
    const lines = rows.map((r) => r.split(NOT_A_GLYPH)[0]!.trimEnd()).filter((line) => line !== '');
    expect(lines.length, rows.join('\n')).toBeGreaterThanOrEqual(20);
    // The serial console may be a message behind the VGA's.
    await run.waitFor(lines.at(-1)!, CONSOLE_MS);
    for (const line of lines) expect(run.stdout()).toContain(line);
    await qmp.execute('quit');
  }, CONSOLE_MS * 2);
});
