/**
 * QEMU's chardev multiplexer (`mux=on`, `mon:stdio`, -nographic): several
 * frontends (serial port, monitor, ...) share one backend.
 *
 * Output from every frontend goes to the backend. Input goes to the frontend
 * with the focus, except for escape sequences: the escape character
 * (Ctrl-A, or -echr) followed by
 *   h or ?  print the help below        x  quit tsvm
 *   s       commit -snapshot disks      b  send a break to the focused frontend
 *   c       move the focus to the next frontend
 *   Ctrl-A  a literal Ctrl-A (QEMU's key; tsvm also takes `a`, the screen(1) habit)
 * Any other character after the escape is dropped, as in QEMU. (QEMU's `t`,
 * timestamps on the console, is not implemented.)
 */
import type { CharFrontend, Chardev, ChardevEvent } from './chardev.js';
import { InputQueue } from './base.js';

/** Input held per frontend before the mux stops taking input from the backend (QEMU holds 32 bytes). */
const SLOT_BUFFER = 256;

export interface MuxHooks {
  /** Escape x: the user quits tsvm. */
  requestQuit(): void;
  /** Escape s: QEMU writes -snapshot overlays back to their base images. */
  commitDisks?(): void;
  /** The escape character (default 0x01, Ctrl-A). */
  escapeChar?: number;
}

class MuxSlot implements Chardev {
  readonly input = new InputQueue();

  constructor(
    private readonly mux: MuxChardev,
    readonly id: string,
  ) {}

  write(data: Uint8Array): void {
    this.mux.backend.write(data);
  }

  attach(frontend: CharFrontend): void {
    this.input.frontend = frontend;
    this.mux.pump();
  }

  pump(): void {
    this.mux.pump();
  }

  /** Closing one frontend's view leaves the shared backend open; the mux's own close() closes it. */
  async close(): Promise<void> {
    this.input.frontend = undefined;
  }
}

export class MuxChardev implements Chardev, CharFrontend {
  readonly id: string;
  private readonly slots: MuxSlot[] = [];
  private focus = 0;
  private gotEscape = false;
  private readonly escapeChar: number;

  constructor(
    readonly backend: Chardev,
    private readonly hooks: MuxHooks,
  ) {
    this.id = backend.id;
    this.escapeChar = hooks.escapeChar ?? 0x01;
    backend.attach(this);
  }

  /**
   * The Chardev frontend number `n` talks through (created on first use).
   * The mux itself acts as frontend 0, so a device that does not know about
   * muxes gets the first slot; QEMU likewise gives slots in attach order.
   * Frontend 0 has the focus at start.
   */
  frontend(n: number): Chardev {
    while (this.slots.length <= n) this.slots.push(new MuxSlot(this, `${this.id}#${this.slots.length}`));
    return this.slots[n]!;
  }

  get focusedFrontend(): number {
    return this.focus;
  }

  /** Moves the input focus, telling both frontends (a monitor prints its prompt on focus-in). */
  setFocus(n: number): void {
    if (n === this.focus || n >= this.slots.length) return;
    this.notify(this.focus, 'focus-out');
    this.focus = n;
    this.notify(n, 'focus-in');
    this.pump();
  }

  write(data: Uint8Array): void {
    this.frontend(0).write(data);
  }

  attach(frontend: CharFrontend): void {
    this.frontend(0).attach(frontend);
  }

  pump(): void {
    for (const slot of this.slots) slot.input.deliver();
    this.backend.pump();
  }

  async close(): Promise<void> {
    await this.backend.close();
  }

  // CharFrontend of the backend:

  canReceive(): number {
    const slot = this.slots[this.focus];
    return slot ? Math.max(SLOT_BUFFER - slot.input.length, 0) : SLOT_BUFFER;
  }

  receive(data: Uint8Array): void {
    let start = 0;
    for (let i = 0; i < data.length; i++) {
      const b = data[i]!;
      if (!this.gotEscape && b !== this.escapeChar) continue;
      this.toFocus(data.subarray(start, i));
      start = i + 1;
      if (this.gotEscape) this.runEscape(b);
      else this.gotEscape = true;
    }
    this.toFocus(data.subarray(start));
  }

  event(event: ChardevEvent): void {
    for (let i = 0; i < this.slots.length; i++) this.notify(i, event);
  }

  /** The character after the escape character. */
  private runEscape(b: number): void {
    this.gotEscape = false;
    if (b === this.escapeChar || b === 0x61 /* a */) {
      this.toFocus(Uint8Array.of(this.escapeChar));
      return;
    }
    switch (String.fromCharCode(b)) {
      case 'h':
      case '?':
        this.backend.write(new TextEncoder().encode(this.helpText()));
        break;
      case 'x':
        this.backend.write(new TextEncoder().encode('tsvm: Terminated\n\r'));
        this.hooks.requestQuit();
        break;
      case 's':
        this.hooks.commitDisks?.();
        break;
      case 'b':
        this.notify(this.focus, 'break');
        break;
      case 'c':
        this.setFocus((this.focus + 1) % Math.max(this.slots.length, 1));
        break;
    }
  }

  /** QEMU's mux_print_help(), with "C-a" for a control-character escape. */
  private helpText(): string {
    const e = this.escapeChar;
    const isCtrl = e > 0 && e < 26;
    const name = isCtrl ? `C-${String.fromCharCode(e - 1 + 0x61)}` : String.fromCharCode(e);
    const intro = isCtrl ? '\n\r' : `\n\rEscape-Char set to Ascii: 0x${e.toString(16).padStart(2, '0')}\n\r\n\r`;
    return (
      intro +
      `${name} h    print this help\n\r` +
      `${name} x    exit emulator\n\r` +
      `${name} s    save disk data back to file (if -snapshot)\n\r` +
      `${name} b    send break (magic sysrq)\n\r` +
      `${name} c    switch between console and monitor\n\r` +
      `${name} ${name}  sends ${name}\n\r`
    );
  }

  private toFocus(data: Uint8Array): void {
    if (data.length === 0) return;
    (this.frontend(this.focus) as MuxSlot).input.push(data.slice());
  }

  private notify(n: number, event: ChardevEvent): void {
    this.slots[n]?.input.frontend?.event?.(event);
  }
}
