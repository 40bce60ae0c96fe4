/**
 * What every chardev backend shares: the input queue that implements the
 * flow control of chardev.ts, the attached frontend, and bounded output to
 * a Node stream.
 */
import type { Writable } from 'node:stream';
import type { CharFrontend, Chardev, ChardevEvent } from './chardev.js';

/** Input held for a frontend beyond which the host source is paused. */
const INPUT_HIGH_WATER = 64 * 1024;
/** Output buffered toward a slow stream beyond which guest output is dropped rather than grow without end. */
const OUTPUT_LIMIT = 1024 * 1024;

/**
 * Bytes from the host waiting for the frontend to have room. `deliver()`
 * offers as much as canReceive() allows; the owner calls it on push and
 * whenever the frontend pumps.
 */
export class InputQueue {
  private chunks: Uint8Array[] = [];
  private held = 0;
  private paused = false;
  frontend: CharFrontend | undefined;

  constructor(
    /** Called when the queue grows past its high-water mark: stop reading the host. */
    private readonly pause: () => void = () => {},
    /** Called once the queue has drained after a pause: read the host again. */
    private readonly resume: () => void = () => {},
  ) {}

  get length(): number {
    return this.held;
  }

  push(data: Uint8Array): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.held += data.length;
    this.deliver();
    if (this.held > INPUT_HIGH_WATER && !this.paused) {
      this.paused = true;
      this.pause();
    }
  }

  deliver(): void {
    const fe = this.frontend;
    while (fe && this.chunks.length > 0) {
      const room = fe.canReceive();
      if (room <= 0) break;
      const chunk = this.chunks[0]!;
      const n = Math.min(room, chunk.length);
      if (n === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(n);
      this.held -= n;
      fe.receive(chunk.subarray(0, n));
    }
    if (this.paused && this.held === 0) {
      this.paused = false;
      this.resume();
    }
  }
}

export abstract class BaseChardev implements Chardev {
  protected readonly input = new InputQueue(
    () => this.pauseHostInput(),
    () => this.resumeHostInput(),
  );

  constructor(readonly id: string) {}

  abstract write(data: Uint8Array): void;
  abstract close(): Promise<void>;

  attach(frontend: CharFrontend): void {
    this.input.frontend = frontend;
    this.input.deliver();
  }

  pump(): void {
    this.input.deliver();
  }

  protected emit(event: ChardevEvent): void {
    this.input.frontend?.event?.(event);
  }

  /** Stops reading the host side while the frontend is not keeping up (backends with a readable source override). */
  protected pauseHostInput(): void {}

  protected resumeHostInput(): void {}
}

/**
 * Writes guest output to a stream without blocking the guest. Past
 * OUTPUT_LIMIT buffered bytes (nobody is reading) output is dropped, as
 * QEMU drops output a disconnected or stalled peer cannot take.
 */
export function writeBounded(stream: Writable, data: Uint8Array): void {
  if (stream.destroyed || !stream.writable || stream.writableLength > OUTPUT_LIMIT) return;
  stream.write(Buffer.from(data));
}

/** Ends a stream once what was written has been handed to the OS. */
export function endStream(stream: Writable): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('error', () => resolve());
    stream.end(() => resolve());
  });
}
