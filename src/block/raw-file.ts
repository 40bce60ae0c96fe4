/**
 * The raw image format: the guest's sector N is at byte N*512 of the file.
 * See block-backend.ts for why the I/O is synchronous.
 */
import * as fs from 'node:fs';
import type { CacheMode } from '../config.js';
import { BlockReadOnlyError, checkRange, type BlockBackend } from './block-backend.js';
import { readFully, writeFully } from './file-io.js';

export class RawFileBackend implements BlockBackend {
  readonly length: number;
  private fd: number | undefined;

  /**
   * @param fd an open descriptor (read-write unless `readOnly`); the backend owns it
   * @param cache writethrough/directsync fsync after every write, unsafe never fsyncs
   */
  constructor(
    readonly path: string,
    fd: number,
    readonly readOnly: boolean,
    private readonly cache: CacheMode = 'writeback',
  ) {
    this.fd = fd;
    this.length = fs.fstatSync(fd).size;
  }

  read(offset: number, buf: Uint8Array): void {
    checkRange(this.path, offset, buf.length, this.length);
    // The tail of a file that is not a whole number of sectors reads as zeros.
    readFully(this.openFd(), buf, offset);
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockReadOnlyError(this.path);
    checkRange(this.path, offset, data.length, this.length);
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

  private openFd(): number {
    if (this.fd === undefined) throw new Error(`${this.path}: block backend used after close`);
    return this.fd;
  }
}
