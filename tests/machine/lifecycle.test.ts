/**
 * The machine's lifecycle as a user sees it from the shell: exit statuses of
 * debug-exit, reset and -no-reboot, signals, -pidfile, and one-line errors
 * for bad input. Each runs under TCG and, where the host has it, KVM.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTsvm, startTsvm } from '../helpers/tsvm-process.js';
import { V8_FLAGS } from '../../src/relaunch.js';
import { buildGuests, guestPath, kvmUnavailable } from '../kvm/harness.js';
import { scratchDir } from '../helpers/scratch.js';

const kvmReason = kvmUnavailable();
if (kvmReason) console.log(`lifecycle tests under -accel kvm skipped: ${kvmReason}`);
const ACCELS = kvmReason ? ['tcg'] : ['tcg', 'kvm'];
const DEBUG_EXIT = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=4'];

beforeAll(() => buildGuests());

it('-D starts the log file afresh, as QEMU does', async () => {
  const log = join(scratchDir('tsvm-log-'), 'tsvm.log');
  writeFileSync(log, 'a line from an earlier run\n');
  const r = await runTsvm(['-accel', 'tcg', '-kernel', guestPath('hello'), '-nographic', ...DEBUG_EXIT, '-d', 'jit', '-D', log]);
  expect(r.status).toBe(33);
  const text = readFileSync(log, 'utf8');
  expect(text).toContain('translator statistics');
  expect(text).not.toContain('earlier run');
});

it('-d in_asm logs each block it translates, instruction by instruction as x/i prints them', async () => {
  const log = join(scratchDir('tsvm-log-'), 'tsvm.log');
  // The spin guest ends in `jmp .` with interrupts off: soon hot enough to be translated.
  const run = startTsvm(['-accel', 'tcg', '-kernel', guestPath('spin'), '-nographic', '-d', 'in_asm', '-D', log]);
  await run.waitFor(/spinning/);
  await waitUntil(() => existsSync(log) && readFileSync(log, 'utf8').includes('translated block'));
  run.child.kill('SIGTERM');
  expect(await run.exited).toBe(0);
  const blocks = readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.includes('translated block'))
    .map((l) => JSON.parse(l) as { eip: string; insns: string[] });
  const spin = blocks.find((b) => b.insns.length === 1 && /^0x[0-9a-f]+:  jmp /.test(b.insns[0]!));
  expect(spin?.insns).toEqual([`${spin?.eip}:  jmp    ${spin?.eip}`]);
});

describe.each(ACCELS)('-accel %s', (accel) => {
  it('ends with isa-debug-exit status (value << 1) | 1', async () => {
    const r = await runTsvm(['-accel', accel, '-kernel', guestPath('hello'), '-nographic', ...DEBUG_EXIT]);
    expect(r.stdout).toContain('Hello from a KVM guest');
    expect(r.status).toBe(33);
    expect(r.stderr).toBe('');
  });

  it('exits 0 on a triple fault under -no-reboot', async () => {
    const r = await runTsvm(['-accel', accel, '-kernel', guestPath('triple'), '-nographic', '-no-reboot']);
    expect(r.status).toBe(0);
    expect(r.stdout.split('about to triple fault').length - 1).toBe(1);
  });

  it('reboots the guest on a triple fault without -no-reboot', async () => {
    const run = startTsvm(['-accel', accel, '-kernel', guestPath('triple'), '-nographic']);
    await run.waitFor(/(about to triple fault[\s\S]*){3}/);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('ends cleanly on SIGTERM, saying so, and removes its -pidfile', async () => {
    const dir = scratchDir('tsvm-pid-');
    const pidfile = join(dir, 'tsvm.pid');
    const run = startTsvm(['-accel', accel, '-kernel', guestPath('idle'), '-nographic', '-pidfile', pidfile]);
    await waitUntil(() => existsSync(pidfile));
    expect(Number(readFileSync(pidfile, 'utf8').trim())).toBe(run.child.pid);
    // Under TCG, started without them, tsvm has exec'd Node again under the V8 flags its translator needs: same pid.
    if (accel === 'tcg') expect(readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(V8_FLAGS));
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.stderr()).toBe('tsvm: terminating on signal 15\n');
    expect(existsSync(pidfile)).toBe(false);
  });

  it('quits on Ctrl-A x typed on the -nographic console', async () => {
    const run = startTsvm(['-accel', accel, '-kernel', guestPath('idle'), '-nographic']);
    await new Promise((r) => setTimeout(r, 1000));
    run.write('\x01x');
    expect(await run.exited).toBe(0);
  });
});

describe('bad input', () => {
  async function oneLineError(args: string[], expected: RegExp) {
    const cwd = scratchDir('tsvm-bad-');
    const r = await runTsvm(args, 30_000, { cwd });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(expected);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(readdirSync(cwd)).toEqual([]);
  }

  it('names a missing -hda image', () =>
    oneLineError(['-hda', 'missing.img', '-nographic'], /^tsvm: -hda missing\.img: Could not open 'missing\.img': No such file or directory\n$/));

  it('names a missing -kernel', () =>
    oneLineError(['-kernel', 'nope', '-nographic'], /^tsvm: -kernel nope: No such file or directory\n$/));

  it('refuses a -kernel that is not a kernel', async () => {
    const dir = scratchDir('tsvm-notkernel-');
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'just some text\n'.repeat(100));
    await oneLineError(['-kernel', path, '-nographic'], /^tsvm: -kernel .*notes\.txt: .*bzImage.*\n$/);
  });

  it('names a missing -bios', () =>
    oneLineError(['-bios', 'nobios.bin', '-nographic'], /^tsvm: -bios nobios\.bin: No such file or directory\n$/));
});

/** Polls `done` every 50 ms, for up to 10 s. */
async function waitUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
}
