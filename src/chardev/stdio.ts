/**
 * `-chardev stdio` (and -nographic's console): guest output to stdout,
 * host input from stdin.
 *
 * When stdin is a terminal it is put in raw mode (tty.ts restores it).
 * QEMU keeps ISIG with signal=on, so Ctrl-C interrupts QEMU itself; Node's
 * raw mode turns ISIG off, so with signal=on tsvm raises SIGINT itself when
 * Ctrl-C arrives, and with signal=off passes the byte to the guest. QEMU
 * also keeps output post-processing (OPOST/ONLCR) so a lone "\n" from the
 * guest still starts a new line; libuv's raw mode leaves OPOST on as well.
 * QEMU allows only one stdio chardev, and so does tsvm.
 */
import type { ReadStream } from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import { BaseChardev } from './base.js';
import { enterRawMode, restoreTerminal } from './tty.js';

const CTRL_C = 0x03;

let stdioInUse = false;

export interface StdioStreams {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
}

export class StdioChardev extends BaseChardev {
  private readonly stdin: StdioStreams['stdin'];
  private readonly stdout: StdioStreams['stdout'];
  private readonly onData = (data: Buffer): void => this.fromHost(data);
  private closed = false;

  constructor(
    id: string,
    private readonly signal: boolean,
    streams: StdioStreams = { stdin: process.stdin, stdout: process.stdout },
  ) {
    super(id);
    if (stdioInUse) throw new Error('cannot use stdio by multiple character devices');
    stdioInUse = true;
    this.stdin = streams.stdin;
    this.stdout = streams.stdout;
    if (this.stdin.isTTY) enterRawMode(this.stdin as ReadStream);
    this.stdin.on('data', this.onData);
    // Whoever reads our stdout may go away (EPIPE); like QEMU, keep running and drop the output.
    this.stdout.on('error', () => {});
  }

  write(data: Uint8Array): void {
    if (this.closed) return;
    this.stdout.write(Buffer.from(data));
  }

  /** Stops reading stdin, waits for stdout to take all output, restores the terminal. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.removeListener('data', this.onData);
    this.stdin.pause();
    restoreTerminal();
    await new Promise<void>((resolve) => this.stdout.write('', () => resolve()));
    stdioInUse = false;
  }

  protected override pauseHostInput(): void {
    this.stdin.pause();
  }

  protected override resumeHostInput(): void {
    this.stdin.resume();
  }

  private fromHost(data: Uint8Array): void {
    const interrupt = this.signal && this.stdin.isTTY === true ? data.indexOf(CTRL_C) : -1;
    if (interrupt < 0) {
      this.input.push(data);
      return;
    }
    this.input.push(data.subarray(0, interrupt));
    process.kill(process.pid, 'SIGINT');
  }
}
