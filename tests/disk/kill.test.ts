/**
 * Kill safety through the guest's ATA path: tsvm runs ata-writer's loop mode
 * on a qcow2 image, alone or over a backing file (one WRITE SECTORS per
 * numbered sector, FLUSH CACHE every eight, each flushed count printed on
 * COM1) and is killed with SIGKILL at a random moment after its first flush.
 * Then `qemu-img check` must find the image consistent, and every sector the
 * guest had seen flushed must hold its pattern. TSVM_FULL_TESTS=1 kills many
 * more times. Needs `npm run build` (npm test does it).
 */
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGuests, kvmUnavailable } from '../kvm/harness.js';
import { pattern, qemuImg, rng, tempDir } from '../img/helpers.js';
import { convertedToRaw, flushedCount, loopSector, qcow2Disk, qcow2Overlay, SECTOR, sectorPattern, startLoop, type Accel } from './ata-writer.js';

const ITERATIONS = process.env.TSVM_FULL_TESTS === '1' ? 25 : 3;
const DISK = 64 << 20;
/** The longest the guest keeps writing after its first flush before the kill. */
const MAX_KILL_DELAY_MS = 600;
const SIGKILL_STATUS = 128 + 9;

const noKvm = kvmUnavailable();
if (noKvm) console.log(`skipping the -accel kvm kill test: ${noKvm}`);

beforeAll(() => buildGuests());

/**
 * qemu-img check's exit status (qemu-img(1)): 0 no inconsistency, 1 the check
 * could not complete, 2 corruption, 3 leaked clusters only. A crash may leak
 * clusters (allocated, then the kill came before the L2 entry pointed at
 * them), as QEMU itself does; anything else is a broken image.
 */
function expectConsistent(file: string): void {
  const check = qemuImg(['check', file]);
  const report = check.stdout + check.stderr;
  expect(report).not.toMatch(/ERROR|\d+ errors were found/);
  if (check.status === 3) expect(report).toMatch(/\d+ leaked clusters were found on the image\./);
  else expect(check.status, report).toBe(0);
  if (check.status === 0) expect(report).toContain('No errors were found on the image.');
}

/** The image the guest writes, and what the disk held before (zeros, or a backing file's data). */
interface Victim {
  file: string;
  before: Buffer;
}

/**
 * The runs cycle through these: 64 KiB clusters; 4 KiB clusters, where each
 * loop sector (17 apart) allocates a cluster; and an overlay on a backing
 * file, where each first write to a cluster copies the backing data around it.
 */
const VICTIMS: ((dir: string) => Victim)[] = [
  (dir) => ({ file: qcow2Disk(dir, DISK, 65536), before: Buffer.alloc(DISK) }),
  (dir) => ({ file: qcow2Disk(dir, DISK, 4096), before: Buffer.alloc(DISK) }),
  (dir) => {
    const before = Buffer.from(pattern(DISK, 9));
    return { file: qcow2Overlay(dir, before).top, before };
  },
];

/**
 * Every loop sector below `flushed` holds its pattern; the ones written
 * after the last flush hold it or what was there before; no other sector changed.
 */
function expectFlushedSectors(disk: Buffer, before: Buffer, flushed: number): void {
  let n = 0;
  for (let lba = 0; lba < disk.length / SECTOR; lba++) {
    const sector = disk.subarray(lba * SECTOR, (lba + 1) * SECTOR);
    const old = before.subarray(lba * SECTOR, (lba + 1) * SECTOR);
    const isLoopSector = lba === loopSector(n);
    const ok = isLoopSector
      ? sector.equals(sectorPattern(lba)) || (n >= flushed && sector.equals(old))
      : sector.equals(old);
    if (!ok) throw new Error(`sector ${lba} (${isLoopSector ? `loop sector ${n}` : 'never written'}) is wrong; ${flushed} were flushed`);
    if (isLoopSector) n++;
  }
}

describe.each([
  { accel: 'tcg' as Accel, skip: false },
  { accel: 'kvm' as Accel, skip: noKvm !== undefined },
])('-accel $accel', ({ accel, skip }) => {
  it.skipIf(skip)(`SIGKILL while the guest writes and flushes a qcow2 disk: the image checks clean and keeps every flushed sector (${ITERATIONS} kills)`, async () => {
    const random = rng(accel === 'tcg' ? 71 : 73);
    for (let i = 0; i < ITERATIONS; i++) {
      const dir = tempDir();
      const { file, before } = VICTIMS[i % VICTIMS.length]!(dir);
      const vm = startLoop(accel, ['-drive', `file=${file},format=qcow2,if=ide`]);
      await vm.waitFor(/^flushed [0-9a-f]{8}\r?\n/m);
      await sleep(Math.floor(random() * MAX_KILL_DELAY_MS));
      vm.child.kill('SIGKILL');
      expect(await vm.exited, `tsvm ended on its own:\n${vm.stdout()}\n${vm.stderr()}`).toBe(SIGKILL_STATUS);
      const flushed = flushedCount(vm.stdout());
      expect(flushed).toBeGreaterThan(0);
      expectConsistent(file);
      expectFlushedSectors(convertedToRaw(file), before, flushed);
      // Each run leaves some 200 MiB of images; a failing one stays for a look.
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
