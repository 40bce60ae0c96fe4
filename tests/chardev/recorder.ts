/**
 * The two ends of a chardev for tests: a frontend that records what it
 * receives, and a backend the test types into and whose output it reads.
 */
import type { CharFrontend, Chardev, ChardevEvent } from '../../src/chardev/chardev.js';

/** A frontend that records what it receives, with a room the test controls (like a UART's FIFO). */
export class Recorder implements CharFrontend {
  readonly chunks: Uint8Array[] = [];
  readonly events: ChardevEvent[] = [];
  private waiters: (() => void)[] = [];

  constructor(public room = Infinity) {}

  canReceive(): number {
    return this.room === Infinity ? 4096 : this.room;
  }

  receive(data: Uint8Array): void {
    if (data.length > this.canReceive()) throw new Error(`got ${data.length} bytes with room for ${this.canReceive()}`);
    if (this.room !== Infinity) this.room -= data.length;
    this.chunks.push(data.slice());
    for (const w of this.waiters.splice(0)) w();
  }

  event(event: ChardevEvent): void {
    this.events.push(event);
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  /** Resolves once the received text includes `s`. */
  async waitFor(s: string): Promise<void> {
    while (!this.text.includes(s)) await new Promise<void>((r) => this.waiters.push(r));
  }
}

export const bytes = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** A backend the test types into and whose output it reads, like a terminal; typed bytes wait until the frontend has room. */
export class FakeTerminal implements Chardev {
  readonly id = 'term';
  /** What the frontend wrote, as latin1 text. */
  output = '';
  /** Typed bytes the frontend has had no room for yet. */
  readonly held: number[] = [];
  closed = false;
  private frontend: CharFrontend | undefined;

  write(data: Uint8Array): void {
    this.output += Buffer.from(data).toString('latin1');
  }
  attach(frontend: CharFrontend): void {
    this.frontend = frontend;
  }
  pump(): void {
    while (this.frontend && this.held.length > 0) {
      const n = Math.min(this.frontend.canReceive(), this.held.length);
      if (n <= 0) return;
      this.frontend.receive(Uint8Array.from(this.held.splice(0, n)));
    }
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  type(s: string): void {
    this.held.push(...bytes(s));
    this.pump();
  }
}
