/**
 * A QMP client written against the protocol (no QEMU library): connects
 * to a unix or TCP socket, splits the CRLF-terminated lines, and keeps
 * events apart from command replies.
 */
import * as net from 'node:net';
import { existsSync } from 'node:fs';

export type QmpMessage = Record<string, unknown>;

export class QmpClient {
  /** Every message in arrival order (greeting, replies, events). */
  readonly messages: QmpMessage[] = [];
  /** Raw lines, to check the line endings. */
  readonly rawLines: string[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let at = this.buffer.indexOf('\n'); at >= 0; at = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, at + 1);
        this.buffer = this.buffer.slice(at + 1);
        this.rawLines.push(line);
        this.messages.push(JSON.parse(line) as QmpMessage);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** Connects, retrying until the server listens (tsvm may still be starting). */
  static async connect(where: string | number, ms = 20_000): Promise<QmpClient> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        if (typeof where === 'string' && !existsSync(where)) throw new Error('no socket yet');
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = typeof where === 'string' ? net.connect(where) : net.connect(where, '127.0.0.1');
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        return new QmpClient(socket);
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first message from index `from` on that satisfies `pred`. */
  async waitFor(pred: (m: QmpMessage) => boolean, from = 0, ms = 20_000): Promise<QmpMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.slice(from).find(pred);
      if (found) return found;
      if (this.closed || Date.now() > deadline) throw new Error(`no such message; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  greeting(): Promise<QmpMessage> {
    return this.waitFor((m) => 'QMP' in m);
  }

  sendRaw(text: string): void {
    this.socket.write(text);
  }

  /** Sends a command; resolves with its reply (`return` or `error`); events stay in `messages`. */
  execute(command: string, args?: object, id?: unknown): Promise<QmpMessage> {
    const msg: QmpMessage = { execute: command };
    if (args) msg['arguments'] = args;
    if (id !== undefined) msg['id'] = id;
    const from = this.messages.length;
    this.sendRaw(JSON.stringify(msg) + '\n');
    return this.nextReply(from);
  }

  nextReply(from: number): Promise<QmpMessage> {
    return this.waitFor((m) => 'return' in m || 'error' in m, from);
  }

  events(name?: string): QmpMessage[] {
    return this.messages.filter((m) => 'event' in m && (name === undefined || m['event'] === name));
  }

  waitEvent(name: string): Promise<QmpMessage> {
    return this.waitFor((m) => m['event'] === name);
  }

  close(): void {
    this.socket.destroy();
  }
}
