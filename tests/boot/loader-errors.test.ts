/**
 * A -kernel boot that cannot load ends tsvm with one line naming the option
 * whose argument is at fault, and exit status 1: the initrd's problems are
 * -initrd's and the command line's are -append's, not the kernel's.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLinuxGuest } from './guest-images.js';
import { buildGuests, guestPath } from '../kvm/harness.js';
import { tempDir } from '../img/helpers.js';
import { requireTool } from '../helpers/tools.js';
import { runTsvm } from '../helpers/tsvm-process.js';

requireTool('qemu-system-x86_64', 'qemu-system-x86');

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const RAM_MIB = 64;
const HEADLESS = ['-display', 'none', '-serial', 'none', '-monitor', 'none'];

/** `text` with the number after `word` ("max: 123", "needs 33") as N: it depends on the kernel and the RAM layout. */
function withoutLimit(text: string, word: string): string {
  return text.replace(new RegExp(`${word}(:?) \\d+`), `${word}$1 N`);
}

/** A sparse file of `bytes` bytes. */
function sparseFile(name: string, bytes: number): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, bytes);
  return file;
}

describe('Linux -kernel', () => {
  const { kernel } = ensureLinuxGuest('i386');

  it('an initrd as large as RAM: -initrd is named, as QEMU names the initrd, and both exit 1', async () => {
    const initrd = sparseFile('big.initrd', RAM_MIB << 20);
    const args = ['-m', String(RAM_MIB), '-kernel', kernel, '-initrd', initrd, ...HEADLESS];
    const tsvm = await runTsvm(['-accel', 'tcg', ...args]);
    expect(withoutLimit(tsvm.stderr, 'max')).toBe(`tsvm: -initrd ${initrd}: initrd is too large, cannot support (max: N, need ${RAM_MIB << 20})\n`);
    expect(tsvm.status).toBe(1);
    // QEMU's line has no space before "(max", and its maximum leaves room for its ACPI tables at the top of RAM.
    const qemu = spawnSync('qemu-system-x86_64', ['-net', 'none', ...args], { encoding: 'utf8', timeout: 60_000 });
    expect(withoutLimit(qemu.stderr, 'max')).toBe(`qemu: initrd is too large, cannot support.(max: N, need ${RAM_MIB << 20})\n`);
    expect(qemu.status).toBe(1);
  });

  it('a missing initrd: -initrd is named with the reason', async () => {
    const missing = path.join(dir, 'no-such.initrd');
    const tsvm = await runTsvm(['-accel', 'tcg', '-kernel', kernel, '-initrd', missing, ...HEADLESS]);
    expect(tsvm.stderr).toBe(`tsvm: -initrd ${missing}: No such file or directory\n`);
    expect(tsvm.status).toBe(1);
  });

  // QEMU 7.2 boots with a command line longer than the kernel's cmdline_size, which the kernel then cuts short.
  it('a command line longer than the kernel accepts: -append is named', async () => {
    const append = 'x'.repeat(3000);
    const tsvm = await runTsvm(['-accel', 'tcg', '-kernel', kernel, '-append', append, ...HEADLESS]);
    expect(withoutLimit(tsvm.stderr, 'accepts')).toBe(`tsvm: -append ${append}: kernel command line too long (3000 bytes, this kernel accepts N)\n`);
    expect(tsvm.status).toBe(1);
  });

  it('a kernel that needs more RAM than there is: -kernel is named', async () => {
    const tsvm = await runTsvm(['-accel', 'tcg', '-m', '8', '-kernel', kernel, ...HEADLESS]);
    expect(withoutLimit(tsvm.stderr, 'needs')).toBe(`tsvm: -kernel ${kernel}: not enough RAM for this kernel (it needs N MiB)\n`);
    expect(tsvm.status).toBe(1);
  });
});

describe('multiboot -kernel', () => {
  beforeAll(() => buildGuests());

  it('an empty module name in the -initrd list: -initrd is named, no internal error', async () => {
    const tsvm = await runTsvm(['-accel', 'tcg', '-kernel', guestPath('hello'), '-initrd', 'mod1,', ...HEADLESS]);
    expect(tsvm.stderr).toBe(`tsvm: -initrd mod1,: empty module name in 'mod1,'\n`);
    expect(tsvm.status).toBe(1);
  });
});
