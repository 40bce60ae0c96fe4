/**
 * tsvm as a user runs it: `node bin/tsvm ...` from a scratch directory.
 * Needs the build (`npm run build`, which `npm test` runs first).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scratchDir } from '../helpers/scratch.js';

const TSVM = resolve(import.meta.dirname, '../../bin/tsvm');

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'tsvm-run-'));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

function tsvm(...args: string[]) {
  // A line tsvm wrongly accepted would start a guest: the timeout ends that.
  const run = spawnSync(process.execPath, [TSVM, ...args], { cwd, encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('a bad command line: one line on stderr, status 1, no file written', () => {
  it.each([
    [['-foo'], 'tsvm: -foo: invalid option'],
    [['-m', '0'], 'tsvm: -m 0: ram size must be greater than 0'],
    [['-m', 'lots'], "tsvm: -m lots: Parameter 'size' expects a non-negative number below 2^64"],
    [['-accel', 'nonsense'], 'tsvm: -accel nonsense: invalid accelerator nonsense'],
    [['-accel', 'kvm', '-machine', 'accel=tcg'], 'tsvm: The -accel and "-machine accel=" options are incompatible'],
    [['-usbdevice', 'tablet'], 'tsvm: -usbdevice: option not supported by tsvm yet'],
    [['-pidfile', 'vm.pid', '-D', 'log.txt', '-serial', 'file:serial.txt', '-m', 'lots'], "tsvm: -m lots: Parameter 'size' expects a non-negative number below 2^64"],
    [['-m'], 'tsvm: -m: requires an argument'],
  ])('%j', (args, line) => {
    const run = tsvm(...args);
    expect(run.stderr).toBe(`${line}\n`);
    expect(run.stdout).toBe('');
    expect(run.status).toBe(1);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('a missing -hda image is the machine\'s error, reported the same way', () => {
    const run = tsvm('-hda', 'missing.img', '-display', 'none');
    expect(run.stderr).toMatch(/^tsvm: [^\n]*missing\.img[^\n]*\n$/);
    expect(run.status).toBe(1);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('a -kernel that is not a kernel', () => {
    const notKernel = join(scratchDir('tsvm-k-'), 'notakernel');
    writeFileSync(notKernel, 'just text, no setup header\n'.repeat(100));
    const run = tsvm('-kernel', notKernel, '-display', 'none');
    rmSync(notKernel);
    expect(run.stderr).toMatch(/^tsvm: [^\n]+\n$/);
    expect(run.status).toBe(1);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('texts printed instead of running: status 0, stdout only', () => {
  it.each([
    [['-version'], /^tsvm version \d+\.\d+\.\d+ \(QEMU-compatible command line\)\nCopyright .*\n$/],
    [['-h'], /^tsvm version [^]*\nusage: tsvm \[options\] \[disk_image\]\n[^]*Standard options:\n/],
    [['-machine', 'help'], /^Supported machines are:\npc {19}Standard PC \(i440FX \+ PIIX, 1996\) \(default\)\n/],
    [['-device', 'help'], /^Misc devices:\nname "isa-debug-exit", bus ISA\nname "isa-debugcon", bus ISA\n$/],
    [['-cpu', 'help'], /^Available CPUs:\n(x86 \S+ +.*\n)+$/],
    [['-d', 'help'], /^Log items \(comma separated\):\nin_asm {10}show target assembly/],
  ])('%j', (args, shape) => {
    const run = tsvm(...args);
    expect(run.stdout).toMatch(shape);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
  });
});
