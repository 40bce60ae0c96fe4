/**
 * A minimal GDB remote-protocol client for tests that need exact packets
 * (Ctrl-C, garbage) or a breakpoint without a gdb process.
 */
import * as net from 'node:net';

function checksum(s: string): string {
  let sum = 0;
  for (const c of s) sum = (sum + c.charCodeAt(0)) & 0xff;
  return sum.toString(16).padStart(2, '0');
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

export class RspClient {
  private buffer = '';
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number, ms = 20_000): Promise<RspClient> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        const s = await new Promise<net.Socket>((resolve, reject) => {
          const sock = net.connect(port, '127.0.0.1');
          sock.once('connect', () => resolve(sock));
          sock.once('error', reject);
        });
        return new RspClient(s);
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  sendRaw(text: string): void {
    this.socket.write(Buffer.from(text, 'latin1'));
  }

  /** Sends a packet and resolves with the next reply packet's payload (acks skipped). */
  async command(payload: string, ms = 20_000): Promise<string> {
    this.sendRaw(`$${payload}#${checksum(payload)}`);
    return this.reply(ms);
  }

  async reply(ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = /\$([^#]*)#[0-9a-f]{2}/.exec(this.buffer);
      if (m) {
        this.buffer = this.buffer.slice(m.index + m[0].length);
        this.sendRaw('+');
        return m[1]!;
      }
      if (Date.now() > deadline) throw new Error(`no reply; buffer: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
