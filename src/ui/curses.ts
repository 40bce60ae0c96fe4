/**
 * `-display curses`: the VGA text screen in the host terminal, as QEMU's
 * curses display shows it, and the terminal's keys as PS/2 key presses.
 *
 * Output: full screen in the terminal's alternate screen buffer; each cell's
 * code page 437 character as Unicode, its attribute as ANSI colours (VGA
 * colour numbers reordered to ANSI's, foreground bit 3 as the bright
 * colours, bit 7 as blink); the hardware cursor where the CRTC puts it. A
 * host timer redraws every REFRESH_MS, and only the cells that changed,
 * so a guest writing the screen a character at a time costs nothing extra.
 *
 * Input: the terminal in raw mode (src/chardev/tty.ts, which also puts it
 * back on every way out, running leave() first). Bytes become key presses
 * on a US layout: printable ASCII (shifted where the character needs it),
 * control characters as Ctrl+letter (Ctrl-C goes to the guest, as in
 * QEMU's raw curses mode), the xterm/VT220 sequences for cursor, editing
 * and function keys, and Esc then a key as Alt+key. A lone Esc reaches
 * the guest after ESC_DELAY_MS, as curses' escape delay does.
 *
 * Esc then 1-9 (or Alt-1..9) selects a console as in QEMU: 1 is the VGA,
 * 2 and on the virtual consoles (src/chardev/vc.ts) in creation order, by
 * default the monitor (2) and the serial port (3). A virtual console gets
 * the typed bytes as they are.
 */
import type { ReadStream } from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import type { TextScreen } from '../devices/vga.js';
import { SET2_MAKE_CODES } from '../devices/i8042.js';
import { enterRawMode, onTerminalRestore, restoreTerminal } from '../chardev/tty.js';

const REFRESH_MS = 40;
/** QEMU sets curses' escape delay to 25 ms. */
const ESC_DELAY_MS = 25;
const ESC = 0x1b;

/** Code page 437 (the VGA's ROM font) in Unicode; 00h shows as a space. */
const CP437 =
  ' ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼' +
  ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~⌂' +
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»' +
  '░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';
const CP437_CHARS = [...CP437];

/** VGA colour number (blue=1, green=2, red=4) to ANSI's (red=1, green=2, blue=4). */
const VGA_TO_ANSI = [0, 4, 2, 6, 1, 5, 3, 7];

/** The terminal escape sequences for keys, by their bytes after ESC (xterm, VT220 and Linux console forms). */
// prettier-ignore
const SEQUENCES: Readonly<Record<string, string>> = {
  '[A': 'up', '[B': 'down', '[C': 'right', '[D': 'left', OA: 'up', OB: 'down', OC: 'right', OD: 'left',
  '[H': 'home', '[F': 'end', OH: 'home', OF: 'end', '[1~': 'home', '[4~': 'end', '[7~': 'home', '[8~': 'end',
  '[2~': 'insert', '[3~': 'delete', '[5~': 'pgup', '[6~': 'pgdn',
  OP: 'f1', OQ: 'f2', OR: 'f3', OS: 'f4', '[[A': 'f1', '[[B': 'f2', '[[C': 'f3', '[[D': 'f4', '[[E': 'f5',
  '[11~': 'f1', '[12~': 'f2', '[13~': 'f3', '[14~': 'f4', '[15~': 'f5', '[17~': 'f6', '[18~': 'f7',
  '[19~': 'f8', '[20~': 'f9', '[21~': 'f10', '[23~': 'f11', '[24~': 'f12', '[Z': 'shift-tab',
};

/** Characters typed with Shift on a US keyboard, by the key that carries them. */
// prettier-ignore
const SHIFTED: Readonly<Record<string, string>> = {
  '!': '1', '@': '2', '#': '3', $: '4', '%': '5', '^': '6', '&': '7', '*': '8', '(': '9', ')': '0',
  _: 'minus', '+': 'equal', '{': 'bracket_left', '}': 'bracket_right', ':': 'semicolon', '"': 'apostrophe',
  '~': 'grave_accent', '|': 'backslash', '<': 'comma', '>': 'dot', '?': 'slash',
};
// prettier-ignore
const UNSHIFTED: Readonly<Record<string, string>> = {
  '-': 'minus', '=': 'equal', '[': 'bracket_left', ']': 'bracket_right', ';': 'semicolon', "'": 'apostrophe',
  '`': 'grave_accent', '\\': 'backslash', ',': 'comma', '.': 'dot', '/': 'slash', ' ': 'spc',
};

/** What the display needs of the machine: the VGA's text screen and the keyboard. */
export interface CursesTarget {
  textScreen(): TextScreen;
  /** Presses the keys together and releases them in reverse (set 2 make codes). */
  pressChord(makes: readonly (readonly number[])[]): void;
}

/** A text console after the VGA: what it shows, and where typed bytes go. */
export interface VirtualConsole {
  textScreen(): TextScreen;
  type(data: Uint8Array): void;
}

export interface CursesStreams {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
}

export class CursesDisplay {
  private shown: Uint16Array | undefined;
  private cursor = '';
  private readonly timer: NodeJS.Timeout;
  private pendingEsc: NodeJS.Timeout | undefined;
  private readonly onData = (data: Buffer): void => this.fromTerminal(data);
  private closed = false;
  private left = false;
  /** The console shown: 0 the VGA, n > 0 virtual console n - 1. */
  private shownConsole = 0;

  constructor(
    private readonly target: CursesTarget,
    private readonly consoles: readonly VirtualConsole[] = [],
    private readonly streams: CursesStreams = { stdin: process.stdin, stdout: process.stdout },
  ) {
    if (streams.stdin.isTTY) enterRawMode(streams.stdin as ReadStream);
    // The terminal may go away (hangup): keep running and drop the output, as the stdio chardev does.
    streams.stdout.on('error', () => {});
    onTerminalRestore(() => this.leave());
    // Alternate screen, default colours, clear, no line wrap at the right margin.
    this.output('\x1b[?1049h\x1b[0m\x1b[2J\x1b[?7l');
    streams.stdin.on('data', this.onData);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.refresh();
  }

  /** Stops drawing and reading, and gives the terminal back (main screen, cursor, cooked mode). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.pendingEsc);
    this.streams.stdin.removeListener('data', this.onData);
    this.streams.stdin.pause();
    restoreTerminal();
    this.leave();
  }

  /** Back to the main screen with a visible cursor and line wrap. Idempotent; synchronous, for process 'exit'. */
  private leave(): void {
    if (this.left) return;
    this.left = true;
    this.output('\x1b[0m\x1b[?7h\x1b[?25h\x1b[?1049l');
  }

  /** Draws the cells that differ from what the terminal shows, then the cursor. */
  refresh(): void {
    if (this.closed) return;
    const screen = this.shownConsole === 0 ? this.target.textScreen() : this.consoles[this.shownConsole - 1]!.textScreen();
    const full = this.shown?.length !== screen.cells.length;
    let out = full ? '\x1b[0m\x1b[2J' : '';
    let attr = -1;
    let at = -1;
    for (let i = 0; i < screen.cells.length; i++) {
      const cell = screen.cells[i]!;
      if (!full && this.shown![i] === cell) continue;
      // Each row starts with a cursor move: without line wrap the cursor stays in the last column.
      if (i !== at || i % screen.cols === 0) out += `\x1b[${Math.floor(i / screen.cols) + 1};${(i % screen.cols) + 1}H`;
      if (cell >> 8 !== attr) {
        attr = cell >> 8;
        out += sgr(attr);
      }
      out += CP437_CHARS[cell & 0xff];
      at = i + 1;
    }
    this.shown = screen.cells.slice();
    const cursor = screen.cursorVisible ? `\x1b[${screen.cursorRow + 1};${screen.cursorCol + 1}H\x1b[?25h` : '\x1b[?25l';
    if (out === '' && cursor === this.cursor) return;
    this.cursor = cursor;
    this.output(out + cursor);
  }

  /** Node writes to a terminal synchronously (on Linux), so this also works from process 'exit'. */
  private output(text: string): void {
    this.streams.stdout.write(text);
  }

  private fromTerminal(data: Uint8Array): void {
    let bytes = data;
    if (this.pendingEsc) {
      clearTimeout(this.pendingEsc);
      this.pendingEsc = undefined;
      bytes = Uint8Array.of(ESC, ...data);
    }
    if (bytes.length === 1 && bytes[0] === ESC) {
      this.pendingEsc = setTimeout(() => {
        this.pendingEsc = undefined;
        this.deliver(Uint8Array.of(ESC));
      }, ESC_DELAY_MS);
      return;
    }
    // Esc-N selects console N; the bytes around it go to the console shown at the time.
    let start = 0;
    for (let i = 0; i + 1 < bytes.length; i++) {
      const n = bytes[i + 1]! - 0x30;
      if (bytes[i] !== ESC || n < 1 || n > 9) continue;
      this.deliver(bytes.subarray(start, i));
      this.selectConsole(n - 1);
      start = i + 2;
      i++;
    }
    this.deliver(bytes.subarray(start));
  }

  private deliver(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.shownConsole > 0) return this.consoles[this.shownConsole - 1]!.type(bytes);
    for (const keys of decodeKeys(bytes)) this.target.pressChord(keys.map((k) => SET2_MAKE_CODES[k]!));
  }

  /** Consoles that do not exist are not selected, as in QEMU. */
  private selectConsole(index: number): void {
    if (index > this.consoles.length || index === this.shownConsole) return;
    this.shownConsole = index;
    this.shown = undefined;
    this.refresh();
  }
}

/** SGR for a VGA attribute: foreground bits 3-0, background bits 6-4, blink bit 7. */
function sgr(attr: number): string {
  const fg = VGA_TO_ANSI[attr & 7]! + (attr & 8 ? 90 : 30);
  const bg = VGA_TO_ANSI[(attr >> 4) & 7]! + 40;
  return `\x1b[0;${attr & 0x80 ? '5;' : ''}${fg};${bg}m`;
}

/** Terminal input as key chords (QEMU key names, modifiers first). Unknown bytes and sequences are dropped. */
export function decodeKeys(bytes: Uint8Array): string[][] {
  const text = Buffer.from(bytes).toString('latin1');
  const chords: string[][] = [];
  let i = 0;
  while (i < text.length) {
    if (text.charCodeAt(i) === ESC && i + 1 < text.length) {
      const seq = matchSequence(text, i + 1);
      if (seq) {
        chords.push(seq.key === 'shift-tab' ? ['shift', 'tab'] : [seq.key]);
        i += 1 + seq.length;
        continue;
      }
      // Esc then a key: Alt+key (what a terminal sends for Meta).
      const key = charKeys(text[i + 1]!);
      if (key) chords.push(['alt', ...key]);
      i += 2;
      continue;
    }
    const key = charKeys(text[i]!);
    if (key) chords.push(key);
    i++;
  }
  return chords;
}

function matchSequence(text: string, from: number): { key: string; length: number } | undefined {
  // Longest match first: "[1~" before "[1", "[[A" before "[A".
  for (let length = Math.min(4, text.length - from); length >= 2; length--) {
    const key = SEQUENCES[text.slice(from, from + length)];
    if (key) return { key, length };
  }
  return undefined;
}

/** The keys that type one character: a name, Shift + name, or Ctrl + letter. */
function charKeys(ch: string): string[] | undefined {
  const code = ch.charCodeAt(0);
  if (ch === '\r' || ch === '\n') return ['ret'];
  if (ch === '\t') return ['tab'];
  if (code === 0x7f || code === 0x08) return ['backspace'];
  if (code === ESC) return ['esc'];
  if (code >= 1 && code <= 26) return ['ctrl', String.fromCharCode(0x60 + code)];
  if (/^[a-z0-9]$/.test(ch)) return [ch];
  if (/^[A-Z]$/.test(ch)) return ['shift', ch.toLowerCase()];
  if (UNSHIFTED[ch]) return [UNSHIFTED[ch]];
  if (SHIFTED[ch]) return ['shift', SHIFTED[ch]];
  return undefined;
}
