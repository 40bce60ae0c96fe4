/**
 * Block backends: where a drive's bytes live on the host.
 *
 * The IDE controller is called synchronously from the vCPU's IN/OUT
 * instructions and PIO needs its data before the instruction completes, so
 * backends do synchronous positional I/O (fs.readSync/writeSync at an
 * offset). That keeps every guest-visible step ordered with the file: a
 * WRITE has reached the kernel when its interrupt is raised, and FLUSH
 * fsyncs before it completes. Asynchronous I/O would only pay off for DMA
 * on a vCPU thread, which tsvm does not have yet.
 */

export const SECTOR_SIZE = 512;

export interface BlockBackend {
  /** Size of the medium in bytes. */
  readonly length: number;
  /** True when writes are refused (readonly=on, media=cdrom). */
  readonly readOnly: boolean;
  /**
   * Fills `buf` from `offset`. Bytes past the end of the image file but
   * inside its last (partial) sector read as zeros, as QEMU's raw driver does.
   */
  read(offset: number, buf: Uint8Array): void;
  /** Throws BlockReadOnlyError on a read-only backend, BlockRangeError outside the medium. */
  write(offset: number, data: Uint8Array): void;
  /** Makes every completed write durable (fsync). */
  flush(): void;
  /** Flushes, then releases the file. Idempotent. */
  close(): void;
}

/** A write to a read-only medium; a device reports it as a command abort. */
export class BlockReadOnlyError extends Error {
  constructor(what: string) {
    super(`${what}: write to a read-only medium`);
    this.name = 'BlockReadOnlyError';
  }
}

/** A write to block 0 of a probed raw image that would make it probe as another format (QEMU: EPERM). */
export class BlockProbeGuardError extends Error {
  constructor(what: string) {
    super(`${what}: write to block 0 would change the probed image format`);
    this.name = 'BlockProbeGuardError';
  }
}

/** An access outside the medium: a device bug, since devices bounds-check guest requests first. */
export class BlockRangeError extends RangeError {
  constructor(what: string, offset: number, length: number, size: number) {
    super(`${what}: access at ${offset}+${length} outside a medium of ${size} bytes`);
    this.name = 'BlockRangeError';
  }
}

/** The medium size rounded up to whole sectors: what a device may address. */
export function addressableBytes(length: number): number {
  return Math.ceil(length / SECTOR_SIZE) * SECTOR_SIZE;
}

/** Throws BlockRangeError unless [offset, offset+count) lies within the addressable medium. */
export function checkRange(what: string, offset: number, count: number, length: number): void {
  const limit = addressableBytes(length);
  if (!Number.isSafeInteger(offset) || offset < 0 || count < 0 || offset + count > limit) {
    throw new BlockRangeError(what, offset, count, limit);
  }
}
