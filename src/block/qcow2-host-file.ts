/**
 * The host file under a qcow2 image: positional synchronous I/O that keeps
 * track of the file's length, which is where fresh clusters are appended.
 */
import * as fs from 'node:fs';
import { readFully, writeFully } from './file-io.js';
import { ImageFormatError } from './qcow2-format.js';

export class HostFile {
  length: number;

  constructor(
    readonly path: string,
    readonly fd: number,
  ) {
    this.length = fs.fstatSync(fd).size;
  }

  read(position: number, buf: Uint8Array): void {
    readFully(this.fd, buf, position);
  }

  /** Reads metadata that must lie wholly inside the file. */
  readInside(position: number, buf: Uint8Array, what: string): void {
    if (position + buf.length > this.length) {
      throw new ImageFormatError(`${what} at 0x${position.toString(16)} points past the end of the file; image may be corrupt`);
    }
    readFully(this.fd, buf, position);
  }

  write(position: number, data: Uint8Array): void {
    writeFully(this.fd, data, position);
    this.length = Math.max(this.length, position + data.length);
  }

  /** Extends the file (with zeros, as a hole) so that it covers `end`. */
  extendTo(end: number): void {
    if (end <= this.length) return;
    fs.ftruncateSync(this.fd, end);
    this.length = end;
  }

  truncate(length: number): void {
    fs.ftruncateSync(this.fd, length);
    this.length = length;
  }

  sync(): void {
    fs.fsyncSync(this.fd);
  }
}
