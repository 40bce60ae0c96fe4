/**
 * Two VMs on one image: while tsvm runs a guest writing a disk, a
 * second tsvm given the same image must refuse to start, with the message
 * and status qemu-system-x86_64 gives in its place, and leave the image to
 * the first. Needs `npm run build` (npm test does it).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGuests } from '../kvm/harness.js';
import { runTsvm, type TsvmRun } from '../helpers/tsvm-process.js';
import { requireTool } from '../helpers/tools.js';
import { tempDir } from '../img/helpers.js';
import { expectCleanCheck, guestArgs, qcow2Disk, startLoop } from './ata-writer.js';

/** Thin, and large enough that the writing guest never reaches its end during the test. */
const DISK = 1 << 30;

requireTool('qemu-system-x86_64', 'qemu-system-x86');

beforeAll(() => buildGuests());

/** What qemu-system-x86_64 prints on stderr for the same command line, in tsvm's name. */
function qemuStderr(args: readonly string[]): string {
  const r = spawnSync('qemu-system-x86_64', ['-net', 'none', ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(1);
  return r.stderr.replace(/^qemu-system-x86_64: /gm, 'tsvm: ');
}

describe.each(['qcow2', 'raw'])('a second VM on a %s image in use', (format) => {
  let dir: string;
  let file: string;
  let first: TsvmRun;

  beforeAll(async () => {
    dir = tempDir();
    if (format === 'qcow2') {
      file = qcow2Disk(dir, DISK);
    } else {
      file = path.join(dir, 'disk.raw');
      fs.writeFileSync(file, '');
      fs.truncateSync(file, DISK);
    }
    first = startLoop('tcg', ['-drive', `file=${file},format=${format},if=ide`]);
    await first.waitFor(/^flushed /m);
    return async () => {
      // The first VM was never disturbed: it ends cleanly on SIGTERM and its image checks clean.
      first.child.kill('SIGTERM');
      await first.exited;
      expect(first.stderr()).toBe('tsvm: terminating on signal 15\n');
      if (format === 'qcow2') expectCleanCheck(file);
      fs.rmSync(dir, { recursive: true, force: true });
    };
  });

  it.each([
    { how: `-drive format=${format}`, drive: () => ['-drive', `file=${file},format=${format},if=ide`], lock: '"write"' },
    { how: '-hda (probed)', drive: () => ['-hda', file], lock: '"write"' },
    { how: 'readonly=on', drive: () => ['-drive', `file=${file},format=${format},if=ide,readonly=on`], lock: 'shared "write"' },
  ])('$how: exit 1 with QEMU\'s lock message, and the guest never runs', async ({ drive, lock }) => {
    const args = guestArgs('tcg', drive());
    const second = await runTsvm(args);
    expect(second.status).toBe(1);
    expect(second.stdout).toBe('');
    const option = drive().join(' ');
    expect(second.stderr).toBe(`tsvm: ${option}: Failed to get ${lock} lock\nIs another process using the image [${file}]?\n`);
    const qemu = qemuStderr(args);
    // QEMU words it the same for qcow2. For raw it names no option (its raw driver takes the lock when the
    // disk attaches, where the option's location is gone), and it refuses a read-only IDE disk before locking.
    if (format === 'qcow2') expect(second.stderr).toBe(qemu);
    else if (lock === '"write"') expect(qemu).toContain(`tsvm: Failed to get ${lock} lock\nIs another process using the image [${file}]?\n`);
    else expect(qemu).toBe('tsvm: Block node is read-only\n');
  });
});
