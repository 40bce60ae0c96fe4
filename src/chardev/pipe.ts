/**
 * `-chardev pipe,path=P`: named pipes. As in QEMU, P.in (host to guest) and
 * P.out (guest to host) are used when both exist, else P itself for both
 * directions. The FIFOs are opened read-write so that opening never blocks
 * waiting for a peer and a peer that goes away does not end the stream.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { BaseChardev, endStream, writeBounded } from './base.js';
import { couldNotOpen } from '../host-errors.js';

export class PipeChardev extends BaseChardev {
  private readonly reader: net.Socket;
  private readonly writer: net.Socket;

  constructor(id: string, path: string) {
    super(id);
    const split = fs.existsSync(`${path}.in`) && fs.existsSync(`${path}.out`);
    const inFd = openFifo(split ? `${path}.in` : path);
    const outFd = split ? openFifo(`${path}.out`) : inFd;
    this.reader = new net.Socket({ fd: inFd, readable: true, writable: !split });
    this.writer = split ? new net.Socket({ fd: outFd, readable: false, writable: true }) : this.reader;
    this.reader.on('data', (data: Buffer) => this.input.push(data));
    this.reader.on('error', () => {});
    this.writer.on('error', () => {});
  }

  write(data: Uint8Array): void {
    writeBounded(this.writer, data);
  }

  async close(): Promise<void> {
    await endStream(this.writer);
    this.reader.destroy();
    this.writer.destroy();
  }

  protected override pauseHostInput(): void {
    this.reader.pause();
  }

  protected override resumeHostInput(): void {
    this.reader.resume();
  }
}

function openFifo(path: string): number {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw couldNotOpen(path, err);
  }
  if (!fs.fstatSync(fd).isFIFO()) {
    fs.closeSync(fd);
    throw new Error(`Could not open '${path}': not a named pipe`);
  }
  return fd;
}
