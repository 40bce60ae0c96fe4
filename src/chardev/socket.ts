/**
 * `-chardev socket`: TCP or Unix-domain, server or client.
 *
 * As in QEMU, one peer at a time is connected. A server with wait=on is
 * only returned once its first client has connected; wait=off returns at
 * once. Further clients wait in the listen backlog and are taken when the
 * current one leaves. Guest output while nobody is connected is dropped. A
 * client with reconnect=N seconds dials again after losing its server.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { BaseChardev, endStream, writeBounded } from './base.js';
import type { ChardevBackend } from '../config.js';
import { strerror } from '../host-errors.js';
import { TELNET_GREETING, TelnetInputFilter } from './telnet.js';

export type SocketOptions = Omit<Extract<ChardevBackend, { kind: 'socket' }>, 'kind'>;

export class SocketChardev extends BaseChardev {
  private server: net.Server | undefined;
  private conn: net.Socket | undefined;
  private readonly waiting: net.Socket[] = [];
  private telnetFilter: TelnetInputFilter | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    id: string,
    private readonly opts: SocketOptions,
  ) {
    super(id);
  }

  /**
   * Opens the socket. `notice` receives the line QEMU prints before a
   * wait=on server blocks for its first client.
   */
  static async open(id: string, opts: SocketOptions, notice: (line: string) => void): Promise<SocketChardev> {
    const chr = new SocketChardev(id, opts);
    if (opts.server) await chr.listen(notice);
    else await chr.dial(!opts.reconnect);
    return chr;
  }

  /** The address in QEMU's `info chardev` form, e.g. `tcp:0.0.0.0:4444,server=on`. */
  get address(): string {
    const where = this.opts.path !== undefined ? `unix:${this.opts.path}` : `tcp:${this.opts.host || '0.0.0.0'}:${this.opts.port}`;
    return this.opts.server ? `${where},server=on` : where;
  }

  /** The TCP port actually bound (useful with port=0). */
  get boundPort(): number | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  get connected(): boolean {
    return this.conn !== undefined;
  }

  write(data: Uint8Array): void {
    if (this.conn) writeBounded(this.conn, data);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    for (const s of this.waiting.splice(0)) s.destroy();
    if (this.conn) await endStream(this.conn);
    this.conn?.destroy();
    this.conn = undefined;
    if (this.server) {
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
      if (this.opts.path !== undefined) fs.rmSync(this.opts.path, { force: true });
    }
  }

  protected override pauseHostInput(): void {
    this.conn?.pause();
  }

  protected override resumeHostInput(): void {
    this.conn?.resume();
  }

  private async listen(notice: (line: string) => void): Promise<void> {
    const server = net.createServer({ pauseOnConnect: false });
    this.server = server;
    // QEMU removes a stale socket file left by an earlier run before binding.
    if (this.opts.path !== undefined) removeStaleSocket(this.opts.path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(this.bindError(err)));
      if (this.opts.path !== undefined) server.listen(this.opts.path, resolve);
      else server.listen(this.opts.port ?? 0, this.opts.host || undefined, resolve);
    });
    server.on('connection', (s) => this.accept(s));
    // Later listener errors (e.g. out of descriptors on accept) must not end tsvm; the guest just sees no client.
    server.on('error', () => {});
    if (!this.opts.wait) return;
    notice(`tsvm waiting for connection on: disconnected:${this.address}`);
    await new Promise<void>((resolve) => server.once('connection', () => resolve()));
  }

  /** QEMU's wording: inet_listen() looks for a port, unix_listen() binds a path. */
  private bindError(err: unknown): Error {
    const message = this.opts.path !== undefined
      ? `Failed to bind socket to ${this.opts.path}: ${strerror(err)}`
      : `Failed to find an available port: ${strerror(err)}`;
    return new Error(message, { cause: err });
  }

  /** A new client: it takes the chardev, or waits in line while another is connected. */
  private accept(socket: net.Socket): void {
    socket.on('error', () => {});
    if (!this.conn && !this.closed) {
      this.connect(socket);
      return;
    }
    socket.pause();
    this.waiting.push(socket);
    socket.once('close', () => {
      const i = this.waiting.indexOf(socket);
      if (i >= 0) this.waiting.splice(i, 1);
    });
  }

  private async dial(failHard: boolean): Promise<void> {
    const socket = this.opts.path !== undefined
      ? net.connect(this.opts.path)
      : net.connect(this.opts.port ?? 0, this.opts.host || 'localhost');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
    } catch (err) {
      socket.destroy();
      if (failHard) throw new Error(`Failed to connect to '${this.describeTarget()}': ${strerror(err)}`, { cause: err });
      this.scheduleReconnect();
      return;
    }
    this.connect(socket);
  }

  private connect(socket: net.Socket): void {
    this.conn = socket;
    socket.setNoDelay?.(true);
    this.telnetFilter = this.opts.telnet ? new TelnetInputFilter() : undefined;
    if (this.opts.telnet) socket.write(TELNET_GREETING);
    socket.on('data', (data: Buffer) => this.fromPeer(data));
    socket.on('error', () => {});
    socket.once('close', () => this.disconnected(socket));
    this.emit('opened');
  }

  private fromPeer(data: Uint8Array): void {
    if (!this.telnetFilter) {
      this.input.push(data);
      return;
    }
    const { data: bytes, breaks } = this.telnetFilter.filter(data);
    for (let i = 0; i < breaks; i++) this.emit('break');
    this.input.push(bytes);
  }

  private disconnected(socket: net.Socket): void {
    if (this.conn !== socket) return;
    this.conn = undefined;
    if (this.closed) return;
    this.emit('closed');
    const next = this.waiting.shift();
    if (next) {
      this.connect(next);
      next.resume();
    } else if (!this.opts.server) {
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (!this.opts.reconnect || this.closed) return;
    this.reconnectTimer = setTimeout(() => void this.dial(false), this.opts.reconnect * 1000);
    this.reconnectTimer.unref();
  }

  private describeTarget(): string {
    return this.opts.path ?? `${this.opts.host || (this.opts.server ? '0.0.0.0' : 'localhost')}:${this.opts.port}`;
  }
}

function removeStaleSocket(path: string): void {
  try {
    if (fs.lstatSync(path).isSocket()) fs.unlinkSync(path);
  } catch {
    // Nothing there: nothing to remove.
  }
}
