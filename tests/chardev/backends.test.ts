import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChardevConfig } from '../../src/config.js';
import type { Chardev } from '../../src/chardev/chardev.js';
import { createChardev } from '../../src/chardev/create.js';
import { SocketChardev } from '../../src/chardev/socket.js';
import { bytes, Recorder } from './recorder.js';
import { requireTool } from '../helpers/tools.js';

let dir: string;
const open: Chardev[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvm-chr-'));
});
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const noHooks = { requestQuit: () => {} };

async function make(backend: ChardevConfig['backend'], notices: string[] = []): Promise<Chardev> {
  const chr = await createChardev({ id: 'c0', backend, mux: false }, { ...noHooks, notice: (l) => notices.push(l) });
  open.push(chr);
  return chr;
}

requireTool('socat', 'socat');

function readSome(socket: net.Socket, until: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes(until)) {
        socket.removeListener('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
  });
}

function connected(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('file chardev', () => {
  it('writes guest output to the file, truncating or appending', async () => {
    const file = path.join(dir, 'out.log');
    fs.writeFileSync(file, 'old\n');
    const a = await make({ kind: 'file', path: file, append: false });
    a.write(bytes('first\n'));
    await a.close();
    expect(fs.readFileSync(file, 'latin1')).toBe('first\n');
    const b = await make({ kind: 'file', path: file, append: true });
    b.write(bytes('second\n'));
    await b.close();
    expect(fs.readFileSync(file, 'latin1')).toBe('first\nsecond\n');
  });

  it('fails with QEMU\'s message when the file cannot be created', async () => {
    await expect(make({ kind: 'file', path: path.join(dir, 'no/such/dir'), append: false })).rejects.toThrow(
      `Could not open '${path.join(dir, 'no/such/dir')}': No such file or directory`,
    );
  });

  it('copies output to a logfile', async () => {
    const out = path.join(dir, 'o');
    const log = path.join(dir, 'l');
    const chr = await createChardev({ id: 'c', backend: { kind: 'file', path: out, append: false }, mux: false, logfile: log }, noHooks);
    chr.write(bytes('both'));
    await chr.close();
    expect(fs.readFileSync(log, 'latin1')).toBe('both');
    expect(fs.readFileSync(out, 'latin1')).toBe('both');
  });
});

describe('null chardev', () => {
  it('swallows output and gives no input', async () => {
    const chr = await make({ kind: 'null' });
    const rec = new Recorder();
    chr.attach(rec);
    chr.write(bytes('gone'));
    expect(rec.chunks).toEqual([]);
  });
});

describe('pipe chardev', () => {
  it('reads path.in and writes path.out', async () => {
    const base = path.join(dir, 'p');
    execFileSync('mkfifo', [`${base}.in`, `${base}.out`]);
    const chr = await make({ kind: 'pipe', path: base });
    const rec = new Recorder();
    chr.attach(rec);
    // The host side: a writer on .in and a reader on .out.
    const toGuest = fs.openSync(`${base}.in`, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    fs.writeSync(toGuest, 'to the guest');
    fs.closeSync(toGuest);
    await rec.waitFor('to the guest');
    const fromGuestFd = fs.openSync(`${base}.out`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const fromGuest = new net.Socket({ fd: fromGuestFd, readable: true, writable: false });
    const got = readSome(fromGuest, 'from the guest');
    chr.write(bytes('from the guest'));
    expect(await got).toBe('from the guest');
    fromGuest.destroy();
  });

  it('fails clearly for a missing pipe', async () => {
    await expect(make({ kind: 'pipe', path: path.join(dir, 'none') })).rejects.toThrow(/Could not open '.*none': No such file or directory/);
  });
});

describe('socket chardev, TCP server', () => {
  it('round-trips bytes with a client, drops output while nobody is connected, takes a new client after a disconnect', async () => {
    const chr = (await make({ kind: 'socket', host: '127.0.0.1', port: 0, server: true, wait: false, telnet: false })) as SocketChardev;
    const rec = new Recorder();
    chr.attach(rec);
    chr.write(bytes('lost '));
    const port = chr.boundPort!;
    const c1 = net.connect(port, '127.0.0.1');
    await connected(c1);
    c1.write('hello guest');
    await rec.waitFor('hello guest');
    expect(rec.events).toContain('opened');
    const got = readSome(c1, 'hello host');
    chr.write(bytes('hello host'));
    expect(await got).toBe('hello host');
    c1.destroy();
    while (chr.connected) await new Promise((r) => setTimeout(r, 5));
    const c2 = net.connect(port, '127.0.0.1');
    await connected(c2);
    const got2 = readSome(c2, 'again');
    chr.write(bytes('again'));
    expect(await got2).toBe('again');
    c2.write('second client');
    await rec.waitFor('second client');
    c2.destroy();
  });

  it('serves one client at a time: a second one waits until the first leaves', async () => {
    const chr = (await make({ kind: 'socket', host: '127.0.0.1', port: 0, server: true, wait: false, telnet: false })) as SocketChardev;
    const rec = new Recorder();
    chr.attach(rec);
    const c1 = net.connect(chr.boundPort!, '127.0.0.1');
    await connected(c1);
    c1.write('one;');
    await rec.waitFor('one;');
    const c2 = net.connect(chr.boundPort!, '127.0.0.1');
    await connected(c2);
    c2.write('two;');
    const c1Got = readSome(c1, 'for one');
    chr.write(bytes('for one'));
    expect(await c1Got).toBe('for one');
    expect(rec.text).toBe('one;');
    c1.destroy();
    await rec.waitFor('two;');
    const c2Got = readSome(c2, 'for two');
    chr.write(bytes('for two'));
    expect(await c2Got).toBe('for two');
    c2.destroy();
  });

  it('with wait=on resolves only once a client connects, after saying where it waits', async () => {
    const port = await freePort();
    const notices: string[] = [];
    let ready = false;
    const pending = make({ kind: 'socket', host: '127.0.0.1', port, server: true, wait: true, telnet: false }, notices).then((c) => {
      ready = true;
      return c;
    });
    while (notices.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(notices).toEqual([`tsvm waiting for connection on: disconnected:tcp:127.0.0.1:${port},server=on`]);
    expect(ready).toBe(false);
    const client = net.connect(port, '127.0.0.1');
    await connected(client);
    const chr = await pending;
    const got = readSome(client, 'hi');
    chr.write(bytes('hi'));
    expect(await got).toBe('hi');
    client.destroy();
  });

  it('reports a port already in use as QEMU does', async () => {
    const first = (await make({ kind: 'socket', host: '127.0.0.1', port: 0, server: true, wait: false, telnet: false })) as SocketChardev;
    await expect(make({ kind: 'socket', host: '127.0.0.1', port: first.boundPort, server: true, wait: false, telnet: false })).rejects.toThrow(
      'Failed to find an available port: Address already in use',
    );
  });

  it('speaks telnet when telnet=on: offers options and strips commands from input', async () => {
    const chr = (await make({ kind: 'socket', host: '127.0.0.1', port: 0, server: true, wait: false, telnet: true })) as SocketChardev;
    const rec = new Recorder();
    chr.attach(rec);
    const c = net.connect(chr.boundPort!, '127.0.0.1');
    const greeting = new Promise<Buffer>((r) => c.once('data', r));
    await connected(c);
    expect(Array.from(await greeting).slice(0, 3)).toEqual([0xff, 0xfb, 0x01]);
    // IAC DO ECHO, a literal FFh (IAC IAC), IAC BREAK, and a subnegotiation.
    c.write(Buffer.from([0x61, 0xff, 0xfd, 0x01, 0x62, 0xff, 0xff, 0xff, 0xf3, 0xff, 0xfa, 0x18, 0x00, 0xff, 0xf0, 0x63]));
    await rec.waitFor('c');
    expect(Array.from(Buffer.concat(rec.chunks))).toEqual([0x61, 0x62, 0xff, 0x63]);
    expect(rec.events).toContain('break');
    c.destroy();
  });
});

describe('socket chardev, Unix and client modes', () => {
  it('serves a Unix socket that socat can talk to', async () => {
    const sock = path.join(dir, 's.sock');
    const chr = await make({ kind: 'socket', path: sock, server: true, wait: false, telnet: false });
    const rec = new Recorder();
    chr.attach(rec);
    const socat = spawn('socat', ['-', `UNIX-CONNECT:${sock}`], { stdio: ['pipe', 'pipe', 'inherit'] });
    socat.stdin.write('from socat\n');
    await rec.waitFor('from socat\n');
    const out = new Promise<string>((resolve) => {
      let s = '';
      socat.stdout.on('data', (d: Buffer) => {
        s += d.toString();
        if (s.includes('to socat')) resolve(s);
      });
    });
    chr.write(bytes('to socat'));
    expect(await out).toBe('to socat');
    socat.kill();
    await chr.close();
    expect(fs.existsSync(sock)).toBe(false);
  });

  it('connects as a client and round-trips bytes', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const peer = new Promise<net.Socket>((r) => server.once('connection', r));
    const port = (server.address() as net.AddressInfo).port;
    const chr = await make({ kind: 'socket', host: '127.0.0.1', port, server: false, wait: false, telnet: false });
    const rec = new Recorder();
    chr.attach(rec);
    const s = await peer;
    s.write('to guest');
    await rec.waitFor('to guest');
    const got = readSome(s, 'to server');
    chr.write(bytes('to server'));
    expect(await got).toBe('to server');
    s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('with reconnect=N keeps dialling until the server is there, and again after it goes', async () => {
    const sock = path.join(dir, 'later.sock');
    const chr = (await make({ kind: 'socket', path: sock, server: false, wait: false, telnet: false, reconnect: 1 })) as SocketChardev;
    expect(chr.connected).toBe(false);
    const server = net.createServer();
    const peers: net.Socket[] = [];
    const nextPeer = () => new Promise<net.Socket>((r) => server.once('connection', (s) => { peers.push(s); r(s); }));
    let peer = nextPeer();
    await new Promise<void>((r) => server.listen(sock, r));
    const first = await peer;
    while (!chr.connected) await new Promise((r) => setTimeout(r, 10));
    const got = readSome(first, 'one');
    chr.write(bytes('one'));
    expect(await got).toBe('one');
    peer = nextPeer();
    first.destroy();
    const second = await peer;
    while (!chr.connected) await new Promise((r) => setTimeout(r, 10));
    const got2 = readSome(second, 'two');
    chr.write(bytes('two'));
    expect(await got2).toBe('two');
    await chr.close();
    for (const p of peers) p.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('reports a refused connection as QEMU does', async () => {
    const port = await freePort();
    await expect(make({ kind: 'socket', host: '127.0.0.1', port, server: false, wait: false, telnet: false })).rejects.toThrow(
      `Failed to connect to '127.0.0.1:${port}': Connection refused`,
    );
  });
});

describe('input flow control', () => {
  it('holds input until the frontend has room and delivers it in order on pump()', async () => {
    const chr = (await make({ kind: 'socket', host: '127.0.0.1', port: 0, server: true, wait: false, telnet: false })) as SocketChardev;
    const rec = new Recorder(0);
    chr.attach(rec);
    const c = net.connect(chr.boundPort!, '127.0.0.1');
    await connected(c);
    c.write('abcdefghij');
    await new Promise((r) => setTimeout(r, 50));
    expect(rec.text).toBe('');
    rec.room = 4;
    chr.pump();
    expect(rec.text).toBe('abcd');
    rec.room = 100;
    chr.pump();
    expect(rec.text).toBe('abcdefghij');
    c.destroy();
  });
});
