/** A frontend that records what it receives, with a room the test controls (like a UART's FIFO). */
import type { CharFrontend, ChardevEvent } from '../../src/chardev/chardev.js';

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
