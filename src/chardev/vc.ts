/**
 * `vc`: QEMU's virtual console, a text terminal that a display shows as one
 * of its consoles (under `-display curses`, Esc-2 / Alt-2 and on; the VGA
 * is console 1). QEMU puts the default monitor and serial port on vcs when
 * there is a display. Without a display nothing shows it, as in QEMU.
 *
 * Output from the frontend goes into an 80x25 screen with a cursor, as a
 * plain terminal takes it: printable characters, CR, LF, backspace, tab,
 * scrolling at the bottom, and the few ANSI sequences line-oriented
 * programs use (CSI K erase line, CSI J erase screen, CSI H cursor
 * position); other sequences are dropped. Input is what the user types
 * while the display shows this console.
 */
import { BaseChardev } from './base.js';
import type { TextScreen } from '../devices/vga.js';

const COLS = 80;
const ROWS = 25;
/** A space in light grey on black, as a VGA text cell. */
const BLANK = 0x0720;
const GREY_ON_BLACK = 0x0700;

export class VcChardev extends BaseChardev {
  private readonly cells = new Uint16Array(COLS * ROWS).fill(BLANK);
  private row = 0;
  private col = 0;
  /** The escape sequence being read (after ESC), or undefined. */
  private escape: string | undefined;

  write(data: Uint8Array): void {
    for (const b of data) this.put(b);
  }

  async close(): Promise<void> {}

  /** What the user typed while this console was shown. */
  type(data: Uint8Array): void {
    this.input.push(data.slice());
  }

  textScreen(): TextScreen {
    return { cols: COLS, rows: ROWS, cells: this.cells, cursorRow: this.row, cursorCol: this.col, cursorVisible: true };
  }

  private put(b: number): void {
    if (this.escape !== undefined) return this.continueEscape(b);
    switch (b) {
      case 0x1b:
        this.escape = '';
        return;
      case 0x0d:
        this.col = 0;
        return;
      case 0x0a:
        this.lineFeed();
        return;
      case 0x08:
        this.col = Math.max(0, this.col - 1);
        return;
      case 0x09:
        this.col = Math.min(COLS - 1, (this.col & ~7) + 8);
        return;
    }
    if (b < 0x20) return;
    if (this.col >= COLS) {
      this.col = 0;
      this.lineFeed();
    }
    this.cells[this.row * COLS + this.col++] = GREY_ON_BLACK | b;
  }

  private lineFeed(): void {
    if (this.row < ROWS - 1) {
      this.row++;
      return;
    }
    this.cells.copyWithin(0, COLS);
    this.cells.fill(BLANK, (ROWS - 1) * COLS);
  }

  /** ESC [ parameters final: the final byte (40h-7Eh) ends a CSI; anything but '[' after ESC ends it at once. */
  private continueEscape(b: number): void {
    const seq = this.escape + String.fromCharCode(b);
    if (!seq.startsWith('[') || (seq.length > 1 && b >= 0x40 && b <= 0x7e)) {
      this.escape = undefined;
      if (seq.startsWith('[')) this.control(seq.slice(1, -1), seq.at(-1)!);
      return;
    }
    this.escape = seq.length < 16 ? seq : undefined;
  }

  private control(params: string, final: string): void {
    const [a = 0, b = 0] = params.split(';').map((p) => Number.parseInt(p, 10) || 0);
    const at = this.row * COLS + this.col;
    switch (final) {
      case 'K':
        if (a === 0) this.cells.fill(BLANK, at, (this.row + 1) * COLS);
        else if (a === 1) this.cells.fill(BLANK, this.row * COLS, at + 1);
        else this.cells.fill(BLANK, this.row * COLS, (this.row + 1) * COLS);
        break;
      case 'J':
        if (a === 0) this.cells.fill(BLANK, at);
        else if (a === 1) this.cells.fill(BLANK, 0, at + 1);
        else this.cells.fill(BLANK);
        break;
      case 'H':
        this.row = Math.min(ROWS - 1, Math.max(1, a) - 1);
        this.col = Math.min(COLS - 1, Math.max(1, b) - 1);
        break;
    }
  }
}
