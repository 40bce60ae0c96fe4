/**
 * QMP as a script drives it: a protocol client over a unix socket (and
 * TCP), and socat. Greeting, capability negotiation, stop/cont with their
 * events, errors for garbage and bad arguments that leave the guest
 * running, pmemsave/screendump files, several sessions one after another,
 * quit ending tsvm with status 0. Under TCG and, where the host has it, KVM.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { startTsvm, type TsvmRun } from '../helpers/tsvm-process.js';
import { requireTool } from '../helpers/tools.js';
import { buildGuests, guestPath, kvmUnavailable } from '../kvm/harness.js';
import { QmpClient } from './qmp-client.js';
import { scratchDir } from '../helpers/scratch.js';

requireTool('socat', 'socat');
const kvmReason = kvmUnavailable();
if (kvmReason) console.log(`QMP tests under -accel kvm skipped: ${kvmReason}`);
const ACCELS = kvmReason ? ['tcg'] : ['tcg', 'kvm'];

beforeAll(() => buildGuests());

let running: TsvmRun | undefined;
afterEach(() => {
  running?.child.kill('SIGKILL');
  running = undefined;
});

/** The RGB pixels of a PNG tsvm wrote (8-bit RGB, filter 0 rows): checks the header on the way. */
function pngPixels(png: Buffer): Buffer {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
  const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  expect([width, height, png[24], png[25]]).toEqual([720, 400, 8, 2]);
  const idatLength = png.readUInt32BE(33);
  expect(png.subarray(37, 41).toString('latin1')).toBe('IDAT');
  const raw = inflateSync(png.subarray(41, 41 + idatLength));
  const rows = Array.from({ length: height }, (_, y) => raw.subarray(y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1)));
  return Buffer.concat(rows);
}

function startWithQmp(accel: string, extra: string[] = []): { run: TsvmRun; socket: string; dir: string } {
  const dir = scratchDir('tsvm-qmp-');
  const socket = join(dir, 'qmp.sock');
  running = startTsvm(['-accel', accel, '-kernel', guestPath('idle'), '-display', 'none', '-serial', 'null', '-monitor', 'none',
    '-qmp', `unix:${socket},server=on,wait=off`, ...extra]);
  return { run: running, socket, dir };
}

describe.each(ACCELS)('QMP under -accel %s', (accel) => {
  it('negotiates, stops with a STOP event, continues with RESUME, and quit ends tsvm with 0', async () => {
    const { run, socket } = startWithQmp(accel);
    const qmp = await QmpClient.connect(socket);
    const greeting = await qmp.greeting();
    expect(greeting['QMP']).toMatchObject({ version: { qemu: { major: 7, minor: 2 } }, capabilities: ['oob'] });

    expect(await qmp.execute('query-status')).toEqual({
      error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" },
    });
    expect(await qmp.execute('qmp_capabilities')).toEqual({ return: {} });
    expect(await qmp.execute('query-status', undefined, 'a1')).toEqual({
      return: { status: 'running', singlestep: false, running: true },
      id: 'a1',
    });

    expect(await qmp.execute('stop')).toEqual({ return: {} });
    const stop = await qmp.waitEvent('STOP');
    expect(stop['timestamp']).toEqual({ seconds: expect.any(Number), microseconds: expect.any(Number) });
    expect((await qmp.execute('query-status'))['return']).toMatchObject({ status: 'paused', running: false });

    expect(await qmp.execute('cont')).toEqual({ return: {} });
    await qmp.waitEvent('RESUME');
    expect((await qmp.execute('query-status'))['return']).toMatchObject({ status: 'running', running: true });

    expect(await qmp.execute('quit')).toEqual({ return: {} });
    expect((await qmp.waitEvent('SHUTDOWN'))['data']).toEqual({ guest: false, reason: 'host-qmp-quit' });
    expect(await run.exited).toBe(0);
    expect(qmp.rawLines.every((l) => l.endsWith('}\r\n'))).toBe(true);
  });

  it('answers garbage and bad arguments with QEMU errors and the guest keeps running', async () => {
    const { run, socket } = startWithQmp(accel);
    const qmp = await QmpClient.connect(socket);
    await qmp.greeting();
    await qmp.execute('qmp_capabilities');
    let from = qmp.messages.length;
    qmp.sendRaw('garbage\n');
    expect((await qmp.nextReply(from))['error']).toMatchObject({ class: 'GenericError' });
    from = qmp.messages.length;
    qmp.sendRaw('[1, 2]\n');
    expect(await qmp.nextReply(from)).toEqual({ error: { class: 'GenericError', desc: 'QMP input must be a JSON object' } });
    expect(await qmp.execute('no-such-command')).toEqual({
      error: { class: 'CommandNotFound', desc: 'The command no-such-command has not been found' },
    });
    expect(await qmp.execute('qmp_capabilities')).toEqual({
      error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' },
    });
    expect(await qmp.execute('pmemsave', { val: 0 })).toEqual({ error: { class: 'GenericError', desc: "Parameter 'size' is missing" } });
    expect(await qmp.execute('pmemsave', { val: 'x', size: 1, filename: '/dev/null' })).toEqual({
      error: { class: 'GenericError', desc: "Invalid parameter type for 'val', expected: integer" },
    });
    expect(await qmp.execute('stop', { now: true })).toEqual({ error: { class: 'GenericError', desc: "Parameter 'now' is unexpected" } });
    // An oversized text and a string broken by a newline: one error each, then the client is back in step.
    from = qmp.messages.length;
    qmp.sendRaw(`{"a": "${'x'.repeat(2 << 20)}"}\n{"execute": "query-status", "arguments": {"x": "broken\n`);
    const second = qmp.messages.indexOf(await qmp.waitFor((m) => 'error' in m, from)) + 1;
    expect((await qmp.waitFor((m) => 'error' in m, second))['error']).toMatchObject({ class: 'GenericError' });
    expect((await qmp.execute('query-status'))['return']).toMatchObject({ status: 'running' });
    // Half a command, then the client vanishes: the next client is greeted and finds the guest running.
    qmp.sendRaw('{"execute": "sto');
    qmp.close();
    const again = await QmpClient.connect(socket);
    await again.greeting();
    await again.execute('qmp_capabilities');
    expect((await again.execute('query-status'))['return']).toMatchObject({ status: 'running' });
    await again.execute('quit');
    expect(await run.exited).toBe(0);
  });

  it('saves guest memory and the screen, reports name, kvm and version, runs HMP commands', async () => {
    const { run, socket, dir } = startWithQmp(accel, ['-name', 'qmp-test']);
    const qmp = await QmpClient.connect(socket);
    await qmp.greeting();
    await qmp.execute('qmp_capabilities');
    const mem = join(dir, 'mem.bin');
    expect(await qmp.execute('pmemsave', { val: 0x100000, size: 16, filename: mem })).toEqual({ return: {} });
    // The multiboot header the guest was loaded with.
    expect(readFileSync(mem).readUInt32LE(0)).toBe(0x1badb002);
    const virt = join(dir, 'virt.bin');
    expect(await qmp.execute('memsave', { val: 0x100000, size: 16, filename: virt })).toEqual({ return: {} });
    expect(readFileSync(virt)).toEqual(readFileSync(mem));
    const ppm = join(dir, 'screen.ppm');
    expect(await qmp.execute('screendump', { filename: ppm })).toEqual({ return: {} });
    expect(readFileSync(ppm).subarray(0, 15).toString('latin1')).toBe('P6\n720 400\n255\n');
    const png = join(dir, 'screen.png');
    expect(await qmp.execute('screendump', { filename: png, format: 'png' })).toEqual({ return: {} });
    expect(pngPixels(readFileSync(png))).toEqual(readFileSync(ppm).subarray(15));
    expect((await qmp.execute('screendump', { filename: png, format: 'bmp' }))['error']).toMatchObject({ class: 'GenericError' });
    expect(await qmp.execute('query-name')).toEqual({ return: { name: 'qmp-test' } });
    expect((await qmp.execute('query-kvm'))['return']).toMatchObject({ enabled: accel === 'kvm' });
    expect((await qmp.execute('query-version'))['return']).toMatchObject({ qemu: { major: 7, minor: 2, micro: 0 } });
    const names = ((await qmp.execute('query-commands'))['return'] as { name: string }[]).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining(['qmp_capabilities', 'query-status', 'human-monitor-command', 'screendump']));
    expect(await qmp.execute('human-monitor-command', { 'command-line': 'info status' })).toEqual({ return: 'VM status: running\r\n' });
    expect(await qmp.execute('human-monitor-command', { 'command-line': 'info kvm' })).toEqual({
      return: `kvm support: ${accel === 'kvm' ? 'enabled' : 'disabled'}\r\n`,
    });
    expect(await qmp.execute('system_reset')).toEqual({ return: {} });
    expect((await qmp.waitEvent('RESET'))['data']).toEqual({ guest: false, reason: 'host-qmp-system-reset' });
    expect(await qmp.execute('system_powerdown')).toEqual({ return: {} });
    await qmp.waitEvent('POWERDOWN');
    await qmp.execute('quit');
    expect(await run.exited).toBe(0);
  });
});

describe.each(ACCELS)('system_powerdown under -accel %s', (accel) => {
  it('presses the ACPI power button; the guest powers off and tsvm exits 0', async () => {
    const dir = scratchDir('tsvm-qmp-');
    const socket = join(dir, 'qmp.sock');
    const run = startTsvm(['-accel', accel, '-kernel', guestPath('powerdown'), '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
      '-qmp', `unix:${socket},server=on,wait=off`]);
    running = run;
    const qmp = await QmpClient.connect(socket);
    await qmp.greeting();
    await qmp.execute('qmp_capabilities');
    await run.waitFor('waiting for the power button');
    expect(await qmp.execute('system_powerdown')).toEqual({ return: {} });
    await qmp.waitEvent('POWERDOWN');
    expect((await qmp.waitEvent('SHUTDOWN'))['data']).toEqual({ guest: true, reason: 'guest-shutdown' });
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toContain('powering off');
  });
});

describe('several QMP monitors', () => {
  it('-qmp and -mon chardev=...,mode=control serve two clients at once; both see the events', async () => {
    const dir = scratchDir('tsvm-qmp-');
    const [socket, second] = [join(dir, 'first.sock'), join(dir, 'second.sock')];
    running = startTsvm(['-accel', 'tcg', '-kernel', guestPath('idle'), '-display', 'none', '-serial', 'null', '-monitor', 'none',
      '-qmp', `unix:${socket},server=on,wait=off`,
      '-chardev', `socket,id=qmp2,path=${second},server=on,wait=off`, '-mon', 'chardev=qmp2,mode=control']);
    const [a, b] = await Promise.all([QmpClient.connect(socket), QmpClient.connect(second)]);
    await Promise.all([a.greeting(), b.greeting()]);
    await a.execute('qmp_capabilities');
    await b.execute('qmp_capabilities');
    expect(await a.execute('stop')).toEqual({ return: {} });
    await Promise.all([a.waitEvent('STOP'), b.waitEvent('STOP')]);
    expect((await b.execute('query-status'))['return']).toMatchObject({ status: 'paused' });
    expect(await b.execute('cont')).toEqual({ return: {} });
    await Promise.all([a.waitEvent('RESUME'), b.waitEvent('RESUME')]);
    await b.execute('quit');
    expect(await running.exited).toBe(0);
  });
});

describe('QMP through socat', () => {
  it('runs a scripted session: query-status, stop, STOP, paused, cont, quit', async () => {
    const { run, socket } = startWithQmp('tcg');
    await QmpClient.connect(socket).then((c) => c.close()); // wait until it listens
    const script = [
      '{"execute":"qmp_capabilities"}',
      '{"execute":"query-status"}',
      '{"execute":"stop"}',
      '{"execute":"query-status"}',
      '{"execute":"cont"}',
      '{"execute":"quit"}',
    ].join('\n') + '\n';
    const r = spawnSync('socat', ['-t', '5', '-', `UNIX-CONNECT:${socket}`], { input: script, encoding: 'utf8', timeout: 20_000 });
    const lines = r.stdout.split('\r\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    const replies = lines.filter((m) => 'return' in m);
    expect(lines[0]).toHaveProperty('QMP');
    expect(replies.map((m) => (m['return'] as { status?: string }).status)).toEqual([undefined, 'running', undefined, 'paused', undefined, undefined]);
    expect(lines.filter((m) => 'event' in m).map((m) => m['event'])).toEqual(['STOP', 'RESUME', 'SHUTDOWN']);
    expect(await run.exited).toBe(0);
  });
});
