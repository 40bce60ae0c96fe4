/**
 * `-chardev file,path=...[,append=on]`: guest output to a file. Writes are
 * synchronous so nothing the guest wrote is lost however tsvm ends; a
 * console log is small and a regular file never blocks for long.
 */
import * as fs from 'node:fs';
import { BaseChardev } from './base.js';
import { couldNotOpen } from '../host-errors.js';

export class FileChardev extends BaseChardev {
  private fd: number | undefined;

  constructor(id: string, readonly path: string, append: boolean) {
    super(id);
    try {
      this.fd = fs.openSync(path, append ? 'a' : 'w');
    } catch (err) {
      throw couldNotOpen(path, err);
    }
  }

  write(data: Uint8Array): void {
    if (this.fd === undefined) return;
    let done = 0;
    while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done);
  }

  async close(): Promise<void> {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
