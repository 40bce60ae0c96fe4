/**
 * The same QMP session sent to qemu-system-x86_64 and to tsvm (both under
 * TCG, the same guest) gives replies and events of the same shape,
 * compared message by message and key by key: the same keys in the same
 * order, the same JSON types, and the same values where they are not
 * host- or build-specific (error classes and texts, statuses, event names
 * and data).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startTsvm } from '../helpers/tsvm-process.js';
import { requireTool } from '../helpers/tools.js';
import { buildGuests, guestPath } from '../kvm/harness.js';
import { QmpClient, type QmpMessage } from './qmp-client.js';
import { scratchDir } from '../helpers/scratch.js';

requireTool('qemu-system-x86_64', 'qemu-system-x86');

/** One step of the session: a command (with arguments) or raw text. */
const SESSION: (string | [string, object?, unknown?])[] = [
  ['query-status'],
  ['qmp_capabilities'],
  ['qmp_capabilities'],
  ['query-status', undefined, 7],
  ['stop'],
  ['query-status'],
  ['cont'],
  'garbage\n',
  '[1]\n',
  '{"foo": 1}\n',
  ['no-such-command'],
  ['query-name'],
  ['query-kvm'],
  ['query-version'],
  ['query-cpus-fast'],
  ['pmemsave', { val: 0 }],
  ['pmemsave', { val: 'x', size: 1, filename: '/dev/null' }],
  ['stop', { now: true }],
  ['human-monitor-command', { 'command-line': 'info status' }],
  ['human-monitor-command', { 'command-line': 'no-such-command' }],
  ['system_reset'],
  ['system_powerdown'],
  ['quit'],
];

/** Values compared exactly; everything else by JSON type. */
const EXACT_KEYS = new Set(['class', 'desc', 'status', 'running', 'singlestep', 'event', 'data', 'name', 'enabled', 'id', 'major', 'minor', 'target', 'cpu-index']);

function shape(v: unknown, key = ''): unknown {
  if (EXACT_KEYS.has(key) || (key === 'return' && typeof v === 'string')) return v;
  if (Array.isArray(v)) return v.map((x) => shape(x));
  if (v !== null && typeof v === 'object') return Object.entries(v).map(([k, x]) => [k, shape(x, k)]);
  return v === null ? 'null' : typeof v;
}

async function runSession(client: QmpClient): Promise<QmpMessage[]> {
  await client.greeting();
  for (const step of SESSION) {
    const from = client.messages.length;
    if (typeof step === 'string') {
      client.sendRaw(step);
      await client.nextReply(from);
    } else {
      await client.execute(...step);
    }
  }
  // The last reply (quit) may precede nothing else; give events a moment.
  await new Promise((r) => setTimeout(r, 300));
  return client.messages;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

beforeAll(() => buildGuests());

describe('QMP: tsvm and qemu-system-x86_64 answer alike', () => {
  it('gives the same replies and events, key by key', async () => {
    const dir = scratchDir('tsvm-qmpcmp-');
    const common = ['-kernel', guestPath('idle'), '-display', 'none', '-serial', 'null', '-monitor', 'none', '-name', 'cmp', '-accel', 'tcg'];
    const qemu = spawn('qemu-system-x86_64', [...common, '-qmp', `unix:${join(dir, 'qemu.sock')},server=on,wait=off`], { stdio: 'ignore' });
    const tsvm = startTsvm([...common, '-qmp', `unix:${join(dir, 'tsvm.sock')},server=on,wait=off`]);
    children.push(qemu, tsvm.child);
    const [fromQemu, fromTsvm] = await Promise.all([
      QmpClient.connect(join(dir, 'qemu.sock')).then(runSession),
      QmpClient.connect(join(dir, 'tsvm.sock')).then(runSession),
    ]);
    // Greeting, a reply per step, and the STOP, RESUME, RESET, POWERDOWN and SHUTDOWN events.
    expect(fromQemu.length).toBe(1 + SESSION.length + 5);
    expect(fromTsvm.length).toBe(fromQemu.length);
    fromQemu.forEach((q, i) => expect(shape(fromTsvm[i]), `message ${i}: ${JSON.stringify(fromTsvm[i])} vs QEMU ${JSON.stringify(q)}`).toEqual(shape(q)));
    expect(await tsvm.exited).toBe(0);
  });

  it('system_powerdown: the ACPI guest powers off; under -no-shutdown the VM stops in state shutdown', async () => {
    const dir = scratchDir('tsvm-qmpcmp-');
    const common = ['-kernel', guestPath('powerdown'), '-display', 'none', '-serial', 'null', '-monitor', 'none', '-accel', 'tcg', '-no-shutdown'];
    const qemu = spawn('qemu-system-x86_64', [...common, '-qmp', `unix:${join(dir, 'qemu.sock')},server=on,wait=off`], { stdio: 'ignore' });
    const tsvm = startTsvm([...common, '-qmp', `unix:${join(dir, 'tsvm.sock')},server=on,wait=off`]);
    children.push(qemu, tsvm.child);
    const session = async (client: QmpClient) => {
      await client.greeting();
      await client.execute('qmp_capabilities');
      // Let the guest enable the power button before pressing it.
      await new Promise((r) => setTimeout(r, 1000));
      await client.execute('system_powerdown');
      await client.waitEvent('STOP');
      await client.execute('query-status');
      await client.execute('quit');
      await client.waitFor((m) => m['event'] === 'SHUTDOWN' && (m['data'] as { guest: boolean }).guest === false);
      return client.messages;
    };
    const [fromQemu, fromTsvm] = await Promise.all([
      QmpClient.connect(join(dir, 'qemu.sock')).then(session),
      QmpClient.connect(join(dir, 'tsvm.sock')).then(session),
    ]);
    expect(fromQemu.map((m) => m['event'] ?? Object.keys(m)[0])).toEqual(['QMP', 'return', 'POWERDOWN', 'return', 'SHUTDOWN', 'STOP', 'return', 'SHUTDOWN', 'return']);
    expect(fromTsvm.map((m) => shape(m))).toEqual(fromQemu.map((m) => shape(m)));
    expect(await tsvm.exited).toBe(0);
  });
});
