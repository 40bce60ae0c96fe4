/**
 * QEMU's human monitor (HMP) on a chardev: the banner, the `(qemu) `
 * prompt, a minimal line editor (printable characters, backspace, Enter;
 * escape sequences such as arrow keys are swallowed), and the command
 * table in hmp-commands.ts. A bad command prints QEMU's message and never
 * touches the guest.
 */
import type { CharFrontend, Chardev, ChardevEvent } from '../chardev/chardev.js';
import { VERSION_STRING } from './control.js';
import { runHmpCommand, type HmpContext } from './hmp-commands.js';

const PROMPT = '(qemu) ';
const MAX_LINE = 4096;
/** Typed-ahead bytes held while a command runs; beyond this the chardev holds them. */
const INBOX_LIMIT = 4096;

export interface HmpOptions {
  /** Print the banner now (stdio, a connected socket) or wait for 'opened'/'focus-in' (sockets, mux slots). */
  openNow: boolean;
}

export class Hmp implements CharFrontend {
  private line = '';
  /** Inside an ESC [ ... sequence (arrow keys): swallowed. */
  private escape: 0 | 1 | 2 = 0;
  private bannerShown = false;
  private busy = false;
  private readonly inbox: number[] = [];
  private lastWasCr = false;

  constructor(
    private readonly chr: Chardev,
    private readonly ctx: Omit<HmpContext, 'print'>,
    opts: HmpOptions,
  ) {
    chr.attach(this);
    if (opts.openNow) this.open();
  }

  canReceive(): number {
    return Math.max(0, INBOX_LIMIT - this.inbox.length);
  }

  receive(data: Uint8Array): void {
    for (const b of data) this.inbox.push(b);
    this.processInput();
  }

  /** Keys are handled in order; typed-ahead input waits while a command runs, so output follows input as in QEMU. */
  private processInput(): void {
    while (!this.busy && this.inbox.length > 0) this.key(this.inbox.shift()!);
  }

  event(event: ChardevEvent): void {
    if (event === 'opened') {
      this.bannerShown = false;
      this.line = '';
      this.open();
    } else if (event === 'focus-in') {
      if (this.bannerShown) this.print(PROMPT);
      else this.open();
    }
  }

  private open(): void {
    this.bannerShown = true;
    this.print(`QEMU ${VERSION_STRING} monitor - type 'help' for more information\n${PROMPT}`);
  }

  private key(b: number): void {
    // CR LF from a terminal or a script is one Enter.
    const afterCr = this.lastWasCr;
    this.lastWasCr = b === 0x0d;
    if (b === 0x0a && afterCr) return;
    if (this.escape === 1) {
      this.escape = b === 0x5b || b === 0x4f ? 2 : 0;
      return;
    }
    if (this.escape === 2) {
      if (b >= 0x40 && b <= 0x7e) this.escape = 0;
      return;
    }
    if (b === 0x1b) this.escape = 1;
    else if (b === 0x0d || b === 0x0a) this.enter();
    else if (b === 0x7f || b === 0x08) this.backspace();
    else if (b >= 0x20 && b < 0x7f && this.line.length < MAX_LINE) {
      this.line += String.fromCharCode(b);
      this.chr.write(Uint8Array.of(b));
    }
  }

  private enter(): void {
    const line = this.line;
    this.line = '';
    this.print('\n');
    void this.execute(line);
  }

  private backspace(): void {
    if (this.line.length === 0) return;
    this.line = this.line.slice(0, -1);
    this.print('\b \b');
  }

  private async execute(line: string): Promise<void> {
    this.busy = true;
    try {
      if (await runHmpCommand(line, { ...this.ctx, print: (text) => this.print(text) })) this.print(PROMPT);
    } finally {
      this.busy = false;
    }
    this.processInput();
    // Room again for input the chardev held back while the command ran.
    this.chr.pump();
  }

  /** Output with QEMU's monitor line endings (LF becomes CR LF). */
  private print(text: string): void {
    this.chr.write(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1'));
  }
}
