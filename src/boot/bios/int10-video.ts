/**
 * INT 10h, video services for the 80x25 colour text mode (mode 3) the VGA
 * starts in (Ralf Brown's Interrupt List, INT 10h). A mode set programs the
 * VGA's registers and DAC from the mode-3 tables and loads the 8x16 font
 * into plane 2, as a VGA BIOS does; characters go to the text buffer at
 * 0xB8000, the cursor to the BDA and the CRTC, and under -nographic
 * teletype output is mirrored to COM1 (as SeaBIOS's sercon does), so a
 * user on the serial console sees what the guest prints. A kernel booted
 * directly (-kernel) gets the same POST mode set (postTextScreen()).
 */
import type { AddressSpace } from '../../memory/address-space.js';
import type { PortBus } from '../../io/port-bus.js';
import { BDA } from './bda.js';
import { linear, isRamRange, type RegisterFrame } from './frame.js';
import type { ServiceResult } from './trap-port.js';
import { egaPaletteRgb, GLYPH_STRIDE, MODE3_REGISTERS, VGA_WINDOW_BASE } from '../../devices/vga.js';
import { FONT_HEIGHT, VGA_FONT_8X16 } from './font/vga-font-8x16.js';

const TEXT_BASE = 0xb8000;
const COLS = 80;
const ROWS = 25;
const PAGE_BYTES = 0x1000;
const PAGES = 8;
const CRTC_INDEX = 0x3d4;
const CRTC_DATA = 0x3d5;
const MISC_WRITE = 0x3c2;
const SEQ_INDEX = 0x3c4;
const GC_INDEX = 0x3ce;
const ATTR_INDEX = 0x3c0;
const INPUT_STATUS_1 = 0x3da;
const DAC_WRITE_INDEX = 0x3c8;
const DAC_DATA = 0x3c9;
/** Attribute index bit 5: the palette is in use by the display again. */
const ATTR_PALETTE_SOURCE = 0x20;
/** Plane 2 bytes between font blocks (INT 10h/11h block numbers 0-7 in BL). */
const FONT_BLOCK_OFFSETS = [0x0000, 0x4000, 0x8000, 0xc000, 0x2000, 0x6000, 0xa000, 0xe000];
const SCREEN_LINES = 400;
const COM1_THR = 0x3f8;
const DEFAULT_ATTR = 0x07;
/** Cursor scan lines 13-14 of a 16-line cell, the mode-3 default. */
const CURSOR_SHAPE = 0x0d0e;

export class Video {
  constructor(
    private readonly mem: AddressSpace,
    private readonly io: PortBus,
    /** -nographic: teletype output is also sent to COM1. */
    private readonly serialConsole: boolean,
  ) {}

  /** Mode 3, cleared, cursor home: what POST leaves on the screen. */
  initialize(): void {
    this.setMode(3);
  }

  /** Text for the user from the BIOS itself (boot messages). */
  print(text: string): void {
    for (const ch of text) this.teletype(ch.charCodeAt(0) & 0xff, this.activePage());
  }

  service(f: RegisterFrame): ServiceResult {
    const page = f.get8('bh') % PAGES;
    switch (f.get8('ah')) {
      case 0x00:
        this.setMode(f.get8('al'));
        f.set8('al', 0x30);
        break;
      case 0x01:
        this.mem.write16(BDA.cursorShape, f.get('cx'));
        this.writeCrtc(0x0a, f.get8('ch'));
        this.writeCrtc(0x0b, f.get8('cl'));
        break;
      case 0x02:
        this.setCursor(page, f.get8('dh'), f.get8('dl'));
        break;
      case 0x03: {
        const [row, col] = this.cursor(page);
        f.set('cx', this.mem.read16(BDA.cursorShape));
        f.set8('dh', row);
        f.set8('dl', col);
        break;
      }
      case 0x05:
        this.setActivePage(f.get8('al') % PAGES);
        break;
      case 0x06:
      case 0x07:
        this.scroll(f.get8('ah') === 0x06 ? 1 : -1, f.get8('al'), f.get8('bh'), f.get8('ch'), f.get8('cl'), f.get8('dh'), f.get8('dl'));
        break;
      case 0x08: {
        const [row, col] = this.cursor(page);
        f.set('ax', this.mem.read16(this.cellAddress(page, row, col)));
        break;
      }
      case 0x09:
      case 0x0a:
        this.writeRepeated(page, f.get8('al'), f.get8('ah') === 0x09 ? f.get8('bl') : undefined, f.get('cx'));
        break;
      case 0x0e:
        this.teletype(f.get8('al'), this.activePage());
        break;
      case 0x0f:
        f.set8('al', this.mem.read8(BDA.videoMode));
        f.set8('ah', COLS);
        f.set8('bh', this.activePage());
        break;
      case 0x11:
        this.characterGenerator(f);
        break;
      case 0x12:
        if (f.get8('bl') === 0x10) this.egaInfo(f);
        break;
      case 0x13:
        this.writeString(f);
        break;
      case 0x1a:
        // Display combination: VGA with colour analog display, no secondary.
        if (f.get8('al') === 0x00) {
          f.set8('al', 0x1a);
          f.set('bx', 0x0008);
        }
        break;
      default:
        // Palette and the rest are ignored. VESA: a VBE BIOS answers AL=4Fh; AX=0100h says there is none.
        if (f.get8('ah') === 0x4f) f.set('ax', 0x0100);
        break;
    }
    return 'done';
  }

  private setMode(mode: number): void {
    this.programMode3Registers();
    this.loadFont(VGA_FONT_8X16, 0, 256, FONT_HEIGHT, 0);
    const m = this.mem;
    m.write8(BDA.videoMode, mode & 0x7f);
    m.write16(BDA.videoColumns, COLS);
    m.write16(BDA.videoPageSize, PAGE_BYTES);
    m.write16(BDA.videoPageStart, 0);
    m.write16(BDA.crtcBase, CRTC_INDEX);
    m.write8(BDA.videoRows, ROWS - 1);
    m.write16(BDA.charHeight, 16);
    m.write16(BDA.cursorShape, CURSOR_SHAPE);
    for (let p = 0; p < PAGES; p++) m.write16(BDA.cursorPos + 2 * p, 0);
    this.writeCrtc(0x0a, CURSOR_SHAPE >> 8);
    this.writeCrtc(0x0b, CURSOR_SHAPE & 0xff);
    this.setActivePage(0);
    // Bit 7 of the mode asks to keep the screen's contents.
    if ((mode & 0x80) === 0) {
      for (let i = 0; i < (PAGE_BYTES * PAGES) / 2; i++) m.write16(TEXT_BASE + 2 * i, (DEFAULT_ATTR << 8) | 0x20);
    }
  }

  private activePage(): number {
    return this.mem.read8(BDA.videoPage) % PAGES;
  }

  private setActivePage(page: number): void {
    this.mem.write8(BDA.videoPage, page);
    this.mem.write16(BDA.videoPageStart, page * PAGE_BYTES);
    const startWord = (page * PAGE_BYTES) / 2;
    this.writeCrtc(0x0c, startWord >> 8);
    this.writeCrtc(0x0d, startWord & 0xff);
    const [row, col] = this.cursor(page);
    this.setCursor(page, row, col);
  }

  private cursor(page: number): [row: number, col: number] {
    const pos = this.mem.read16(BDA.cursorPos + 2 * page);
    return [pos >> 8, pos & 0xff];
  }

  private setCursor(page: number, row: number, col: number): void {
    this.mem.write16(BDA.cursorPos + 2 * page, (row << 8) | col);
    if (page !== this.activePage()) return;
    const at = (page * PAGE_BYTES) / 2 + Math.min(row, ROWS - 1) * COLS + Math.min(col, COLS - 1);
    this.writeCrtc(0x0e, at >> 8);
    this.writeCrtc(0x0f, at & 0xff);
  }

  private cellAddress(page: number, row: number, col: number): number {
    return TEXT_BASE + page * PAGE_BYTES + 2 * (Math.min(row, ROWS - 1) * COLS + Math.min(col, COLS - 1));
  }

  private writeCrtc(index: number, value: number): void {
    this.writeIndexed(CRTC_INDEX, index, value);
  }

  /** AH=0Eh: BEL, BS, LF and CR act; other bytes are written (with `attr`, or keeping the cell's) and advance the cursor, scrolling at the bottom. */
  private teletype(ch: number, page: number, attr?: number): void {
    if (this.serialConsole) this.io.write(COM1_THR, 1, ch);
    let [row, col] = this.cursor(page);
    switch (ch) {
      case 0x07:
        return;
      case 0x08:
        if (col > 0) col--;
        break;
      case 0x0a:
        row++;
        break;
      case 0x0d:
        col = 0;
        break;
      default: {
        const at = this.cellAddress(page, row, col);
        this.mem.write16(at, attr === undefined ? (this.mem.read16(at) & 0xff00) | ch : (attr << 8) | ch);
        if (++col >= COLS) {
          col = 0;
          row++;
        }
      }
    }
    if (row >= ROWS) {
      this.scrollPage(page, 1, ROWS - 1);
      row = ROWS - 1;
    }
    this.setCursor(page, row, col);
  }

  private scrollPage(page: number, lines: number, lastRow: number): void {
    const attr = this.mem.read8(this.cellAddress(page, lastRow, 0) + 1) || DEFAULT_ATTR;
    this.scrollWindow(page, lines, attr, 0, 0, lastRow, COLS - 1);
  }

  /** AH=06h/07h: scrolls the window up (dir 1) or down (-1) by `lines`; 0 lines clears it. */
  private scroll(dir: 1 | -1, lines: number, attr: number, top: number, left: number, bottom: number, right: number): void {
    bottom = Math.min(bottom, ROWS - 1);
    right = Math.min(right, COLS - 1);
    if (top > bottom || left > right) return;
    this.scrollWindow(this.activePage(), dir * lines, attr, top, left, bottom, right);
  }

  private scrollWindow(page: number, lines: number, attr: number, top: number, left: number, bottom: number, right: number): void {
    const height = bottom - top + 1;
    const n = lines === 0 || Math.abs(lines) >= height ? height : Math.abs(lines);
    const rows = Array.from({ length: height }, (_, i) => top + i);
    if (lines < 0) rows.reverse();
    for (const row of rows) {
      const from = lines < 0 ? row - n : row + n;
      const inside = lines !== 0 && from >= top && from <= bottom;
      for (let col = left; col <= right; col++) {
        const cell = inside ? this.mem.read16(this.cellAddress(page, from, col)) : (attr << 8) | 0x20;
        this.mem.write16(this.cellAddress(page, row, col), cell);
      }
    }
  }

  /** AH=09h/0Ah: CX copies of the character (with attribute for 09h) from the cursor on; the cursor stays. */
  private writeRepeated(page: number, ch: number, attr: number | undefined, count: number): void {
    const [row, col] = this.cursor(page);
    const cells = Math.min(count, (ROWS - row) * COLS - col);
    for (let i = 0; i < cells; i++) {
      const at = this.cellAddress(page, row + Math.floor((col + i) / COLS), (col + i) % COLS);
      this.mem.write16(at, attr === undefined ? (this.mem.read16(at) & 0xff00) | ch : (attr << 8) | ch);
    }
  }

  /** AH=13h: CX characters from ES:BP at DH/DL; AL bit 1 = (char, attr) pairs, bit 0 = leave the cursor after. */
  private writeString(f: RegisterFrame): void {
    const mode = f.get8('al');
    const page = f.get8('bh') % PAGES;
    const count = f.get('cx');
    const withAttrs = (mode & 2) !== 0;
    const addr = linear(f.get('es'), f.get('bp'));
    if (!isRamRange(this.mem, addr, count * (withAttrs ? 2 : 1))) return;
    const saved = this.cursor(page);
    this.setCursor(page, f.get8('dh'), f.get8('dl'));
    for (let i = 0; i < count; i++) {
      const ch = this.mem.read8(addr + (withAttrs ? 2 * i : i));
      this.teletype(ch, page, withAttrs ? this.mem.read8(addr + 2 * i + 1) : f.get8('bl'));
    }
    if ((mode & 1) === 0) this.setCursor(page, saved[0], saved[1]);
  }

  /**
   * AH=11h, the character generator: AL=00h/10h a user font from ES:BP
   * (CX glyphs from DX on, BH bytes each, into block BL; 10h also makes BH
   * the character height), 04h/14h the BIOS's 8x16 font into block BL,
   * 03h the block specifier (sequencer character map select), 30h font
   * information (CX = bytes per character, DL = rows - 1; no pointer, as
   * the 8x16 table is not in the BIOS ROM).
   */
  private characterGenerator(f: RegisterFrame): void {
    const block = f.get8('bl') & 7;
    switch (f.get8('al')) {
      case 0x00:
      case 0x10:
        this.loadUserFont(f, block);
        break;
      case 0x04:
      case 0x14:
        this.loadFont(VGA_FONT_8X16, 0, 256, FONT_HEIGHT, block);
        if (f.get8('al') === 0x14) this.setCharacterHeight(FONT_HEIGHT);
        break;
      case 0x03:
        this.writeIndexed(SEQ_INDEX, 0x03, f.get8('bl'));
        break;
      case 0x30:
        f.set('cx', this.mem.read16(BDA.charHeight));
        f.set8('dl', this.mem.read8(BDA.videoRows));
        break;
    }
  }

  private loadUserFont(f: RegisterFrame, block: number): void {
    const height = f.get8('bh');
    const count = f.get('cx');
    const first = f.get('dx');
    const table = linear(f.get('es'), f.get('bp'));
    if (height === 0 || height > GLYPH_STRIDE || first + count > 256 || !isRamRange(this.mem, table, count * height)) return;
    const glyphs = new Uint8Array(count * height);
    for (let i = 0; i < glyphs.length; i++) glyphs[i] = this.mem.read8(table + i);
    this.loadFont(glyphs, first, count, height, block);
    if (f.get8('al') === 0x10) this.setCharacterHeight(height);
  }

  /** CRTC maximum scan line and the BDA's character height and row count for `height`-line characters. */
  private setCharacterHeight(height: number): void {
    this.io.write(CRTC_INDEX, 1, 0x09);
    this.io.write(CRTC_DATA, 1, (this.io.read(CRTC_DATA, 1) & 0xe0) | (height - 1));
    this.mem.write16(BDA.charHeight, height);
    this.mem.write8(BDA.videoRows, Math.floor(SCREEN_LINES / height) - 1);
  }

  /** Misc output, sequencer (under synchronous reset), CRTC, graphics controller, attribute controller and DAC for mode 3. */
  private programMode3Registers(): void {
    const r = MODE3_REGISTERS;
    this.writeIndexed(SEQ_INDEX, 0x00, 0x01);
    this.io.write(MISC_WRITE, 1, r.misc);
    r.seq.forEach((v, i) => i > 0 && this.writeIndexed(SEQ_INDEX, i, v));
    this.writeIndexed(SEQ_INDEX, 0x00, r.seq[0]);
    r.crtc.forEach((v, i) => this.writeCrtc(i, v));
    r.gc.forEach((v, i) => this.writeIndexed(GC_INDEX, i, v));
    this.io.read(INPUT_STATUS_1, 1); // the attribute flip-flop to "index"
    r.attr.forEach((v, i) => {
      this.io.write(ATTR_INDEX, 1, i);
      this.io.write(ATTR_INDEX, 1, v);
    });
    this.io.write(ATTR_INDEX, 1, ATTR_PALETTE_SOURCE);
    this.io.write(DAC_WRITE_INDEX, 1, 0);
    for (let i = 0; i < 256; i++) for (const v of i < 64 ? egaPaletteRgb(i) : [0, 0, 0]) this.io.write(DAC_DATA, 1, v);
  }

  /**
   * Glyphs into plane 2 as every VGA BIOS does it: the sequencer writes
   * plane 2 alone with sequential addressing, the graphics controller maps
   * 64 KiB at 0xA0000 in write mode 0, the glyphs go in 32 bytes apart
   * (rows past `height` cleared), then the text-mode settings come back.
   */
  private loadFont(glyphs: Uint8Array, first: number, count: number, height: number, block: number): void {
    const r = MODE3_REGISTERS;
    this.writeIndexed(SEQ_INDEX, 0x02, 0x04);
    this.writeIndexed(SEQ_INDEX, 0x04, 0x07);
    this.writeIndexed(GC_INDEX, 0x04, 0x02);
    this.writeIndexed(GC_INDEX, 0x05, 0x00);
    this.writeIndexed(GC_INDEX, 0x06, 0x04);
    const base = VGA_WINDOW_BASE + FONT_BLOCK_OFFSETS[block]!;
    for (let c = 0; c < count; c++) {
      for (let row = 0; row < GLYPH_STRIDE; row++) {
        this.mem.write8(base + (first + c) * GLYPH_STRIDE + row, row < height ? glyphs[c * height + row]! : 0);
      }
    }
    this.writeIndexed(SEQ_INDEX, 0x02, r.seq[0x02]);
    this.writeIndexed(SEQ_INDEX, 0x04, r.seq[0x04]);
    this.writeIndexed(GC_INDEX, 0x04, r.gc[0x04]);
    this.writeIndexed(GC_INDEX, 0x05, r.gc[0x05]);
    this.writeIndexed(GC_INDEX, 0x06, r.gc[0x06]);
  }

  private writeIndexed(indexPort: number, index: number, value: number): void {
    this.io.write(indexPort, 1, index);
    this.io.write(indexPort + 1, 1, value);
  }

  /** AH=12h/BL=10h: colour mode, 256 KiB of video memory, no feature bits. */
  private egaInfo(f: RegisterFrame): void {
    f.set('bx', 0x0003);
    f.set('cx', 0x0009);
  }
}

/**
 * What Video.initialize() leaves at POST, for a kernel booted directly
 * (-kernel), before which no BIOS runs: under QEMU SeaBIOS's VGA BIOS has
 * set mode 3 by then (registers, palette, font), and a kernel's VGA
 * console (Linux's vgacon) draws with the font it finds in plane 2.
 */
export function postTextScreen(mem: AddressSpace, io: PortBus): void {
  // Nothing is printed here, so there is no teletype output to mirror to COM1.
  new Video(mem, io, false).initialize();
}
