/**
 * The raw image format: the guest's sector N is at byte N*512 of the file.
 * See block-backend.ts for why the I/O is synchronous.
 */
import * as fs from 'node:fs';
import type { CacheMode } from '../config.js';
import { BlockProbeGuardError, BlockReadOnlyError, checkRange, type BlockBackend } from './block-backend.js';
import { detectFormat, PROBE_BYTES } from './probe.js';
import { readFully, writeFully } from './file-io.js';

export interface RawOptions {
  readOnly: boolean;
  /** writethrough/directsync fsync after every write, unsafe never fsyncs. */
  cache: CacheMode;
  /** The format was probed: refuse writes that would make block 0 probe as another format. */
  guardProbe: boolean;
}

export class RawFileBackend implements BlockBackend {
  readonly length: number;
  readonly readOnly: boolean;
  private readonly cache: CacheMode;
  private readonly guardProbe: boolean;
  private fd: number | undefined;

  /** @param fd an open descriptor (read-write unless `options.readOnly`); the backend owns it */
  constructor(
    readonly path: string,
    fd: number,
    options: RawOptions,
  ) {
    this.fd = fd;
    this.length = fs.fstatSync(fd).size;
    this.readOnly = options.readOnly;
    this.cache = options.cache;
    this.guardProbe = options.guardProbe;
  }

  read(offset: number, buf: Uint8Array): void {
    checkRange(this.path, offset, buf.length, this.length);
    // The tail of a file that is not a whole number of sectors reads as zeros.
    readFully(this.openFd(), buf, offset);
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockReadOnlyError(this.path);
    checkRange(this.path, offset, data.length, this.length);
    if (this.guardProbe && offset < PROBE_BYTES && this.wouldChangeFormat(offset, data)) {
      throw new BlockProbeGuardError(this.path);
    }
    const fd = this.openFd();
    writeFully(fd, data, offset);
    if (this.cache === 'writethrough' || this.cache === 'directsync') fs.fsyncSync(fd);
  }

  flush(): void {
    if (this.fd === undefined || this.readOnly || this.cache === 'unsafe') return;
    fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** True if block 0 with `data` written at `offset` would no longer probe as raw. */
  private wouldChangeFormat(offset: number, data: Uint8Array): boolean {
    const head = new Uint8Array(PROBE_BYTES);
    readFully(this.openFd(), head, 0);
    head.set(data.subarray(0, PROBE_BYTES - offset), offset);
    return detectFormat(head) !== 'raw';
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error(`${this.path}: block backend used after close`);
    return this.fd;
  }
}
