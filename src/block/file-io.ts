/** Synchronous positional file I/O that never returns short (see block-backend.ts for why synchronous). */
import * as fs from 'node:fs';

/** Reads `buf.length` bytes at `position`; bytes past end of file read as zeros. */
export function readFully(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  buf.fill(0, done);
}

export function writeFully(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done);
}
