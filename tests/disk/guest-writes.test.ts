/**
 * A guest writing its disk through the ATA PIO path (images/guests/ata-writer.asm)
 * under `tsvm -accel tcg` and `-accel kvm`, checked where a user would look:
 * the bytes in the image file, `qemu-img check` and `convert`, the guest's
 * serial report and exit status, and QEMU running the same guest.
 * Needs `npm run build` (npm test does it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGuests, kvmUnavailable, runQemu } from '../kvm/harness.js';
import { pattern, sha256 } from '../img/helpers.js';
import { startTsvm } from '../helpers/tsvm-process.js';
import { requireTool } from '../helpers/tools.js';
import { convertedToRaw, expectCleanCheck, guestArgs, GUEST_PASS, qcow2Disk, qcow2Overlay, readSector, runGuest, scratchDir, SECTOR, sectorPattern, verifySectors, type Accel } from './ata-writer.js';

const DISK = 4 << 20;
const SECTORS = DISK / SECTOR;

requireTool('qemu-system-x86_64', 'qemu-system-x86');
const noKvm = kvmUnavailable();
if (noKvm) console.log(`skipping the -accel kvm disk tests and their comparison with qemu-system-x86_64 -accel kvm: ${noKvm}`);

beforeAll(() => buildGuests());

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0');

/** What verify mode prints on a disk of `sectors` sectors when every command succeeds. */
function verifyReport(sectors: number, model = 'TSVM HARDDISK'): string {
  const lba28 = Math.min(sectors, 0x0fff_ffff);
  const ranges = (dir: string) => [
    'set multiple mode 04: ok',
    `${dir} sectors lba 00000010 count 04: ok`,
    `${dir} multiple lba 00000064 count 0a: ok`,
    `${dir} sectors ext lba ${hex(sectors - 4, 8)} count 04: ok`,
  ];
  return [
    'identify: ok',
    `model: ${model}`,
    `lba28 sectors: ${hex(lba28, 8)}`,
    `lba48 sectors: ${hex(sectors, 16)}`,
    ...ranges('write'),
    'flush cache: ok',
    ...ranges('read'),
    'PASS',
    '',
  ].join('\n');
}

/** `before` with verify mode's sectors overwritten by their pattern: what the disk must hold afterwards. */
function withGuestWrites(before: Uint8Array, sectors: number): Buffer {
  const expected = Buffer.from(before);
  for (const lba of verifySectors(sectors)) sectorPattern(lba).copy(expected, lba * SECTOR);
  return expected;
}

/** The first sector where two disk contents differ, for a readable failure; undefined when equal. */
function firstDifferentSector(actual: Uint8Array, expected: Uint8Array): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  for (let off = 0; off < actual.length; off += SECTOR) {
    if (Buffer.compare(actual.subarray(off, off + SECTOR), expected.subarray(off, off + SECTOR)) !== 0) return `sector ${off / SECTOR}`;
  }
  return undefined;
}

function rawDisk(dir: string, seed: number, size = DISK): { file: string; before: Uint8Array } {
  const file = path.join(dir, 'disk.raw');
  const before = pattern(size, seed);
  fs.writeFileSync(file, before);
  return { file, before };
}

const ACCELS: { accel: Accel; skip: boolean }[] = [
  { accel: 'tcg', skip: false },
  { accel: 'kvm', skip: noKvm !== undefined },
];

describe.each(ACCELS)('-accel $accel', ({ accel, skip }) => {
  it.skipIf(skip)('raw: the guest reads back what it wrote, the file holds exactly those sectors and the rest is untouched', async () => {
    const { file, before } = rawDisk(scratchDir(), 1);
    const run = await runGuest(accel, ['-drive', `file=${file},format=raw,if=ide`]);
    expect(run.serial).toBe(verifyReport(SECTORS));
    expect(run.status).toBe(GUEST_PASS);
    expect(firstDifferentSector(fs.readFileSync(file), withGuestWrites(before, SECTORS))).toBeUndefined();
  });

  it.skipIf(skip)('raw beyond LBA28 (200 GiB sparse): WRITE/READ SECTORS EXT reach the sectors past 2^28', async () => {
    const file = path.join(scratchDir(), 'big.raw');
    const sectors = 200 * 2 ** 21; // 0x19000000: the last sectors need LBA bit 28
    fs.writeFileSync(file, '');
    fs.truncateSync(file, sectors * SECTOR);
    const run = await runGuest(accel, ['-drive', `file=${file},format=raw,if=ide`]);
    expect(run.serial).toBe(verifyReport(sectors));
    expect(run.status).toBe(GUEST_PASS);
    for (const lba of verifySectors(sectors)) expect(readSector(file, lba).equals(sectorPattern(lba)), `sector ${lba}`).toBe(true);
    // Where the EXT writes would land had bits 28 and up of the LBA been dropped: still a hole.
    expect(readSector(file, (sectors - 4) & 0x0fff_ffff).equals(Buffer.alloc(SECTOR))).toBe(true);
    expect(readSector(file, sectors - 5).equals(Buffer.alloc(SECTOR))).toBe(true);
  });

  it.skipIf(skip)('qcow2 from qemu-img create: the image passes qemu-img check and converts to the pattern at the right offsets', async () => {
    const file = qcow2Disk(scratchDir(), DISK);
    const run = await runGuest(accel, ['-drive', `file=${file},format=qcow2,if=ide`]);
    expect(run.serial).toBe(verifyReport(SECTORS));
    expect(run.status).toBe(GUEST_PASS);
    expectCleanCheck(file);
    expect(firstDifferentSector(convertedToRaw(file), withGuestWrites(new Uint8Array(DISK), SECTORS))).toBeUndefined();
  });

  it.skipIf(skip).each(['SIGTERM', 'SIGINT'] as const)('qcow2, writes never flushed by the guest: %s ends tsvm with status 0 and the writes in a clean image', async (signal) => {
    const file = qcow2Disk(scratchDir(), DISK);
    const vm = startTsvm(guestArgs(accel, ['-drive', `file=${file},format=qcow2,if=ide`], 'unflushed'));
    await vm.waitFor(/^written\r?\n/m);
    vm.child.kill(signal);
    expect(await vm.exited).toBe(0);
    expect(vm.stderr()).toBe(`tsvm: terminating on signal ${signal === 'SIGTERM' ? 15 : 2}\n`);
    expectCleanCheck(file);
    expect(firstDifferentSector(convertedToRaw(file), withGuestWrites(new Uint8Array(DISK), SECTORS))).toBeUndefined();
  });

  it.skipIf(skip)('qcow2 over a backing file: partly written clusters keep the backing data around the writes, the backing file is unchanged', async () => {
    const before = pattern(DISK, 6);
    const { top, base } = qcow2Overlay(scratchDir(), before);
    const hash = sha256(base);
    const run = await runGuest(accel, ['-drive', `file=${top},format=qcow2,if=ide`]);
    expect(run.serial).toBe(verifyReport(SECTORS));
    expect(run.status).toBe(GUEST_PASS);
    expect(sha256(base)).toBe(hash);
    expectCleanCheck(top);
    expect(firstDifferentSector(convertedToRaw(top), withGuestWrites(before, SECTORS))).toBeUndefined();
  });

  describe.each([
    { format: 'raw', how: '-snapshot', args: (file: string) => ['-snapshot', '-drive', `file=${file},format=raw,if=ide`] },
    { format: 'raw', how: 'snapshot=on', args: (file: string) => ['-drive', `file=${file},format=raw,if=ide,snapshot=on`] },
    { format: 'qcow2', how: '-snapshot', args: (file: string) => ['-snapshot', '-drive', `file=${file},format=qcow2,if=ide`] },
    { format: 'qcow2', how: 'snapshot=on', args: (file: string) => ['-drive', `file=${file},format=qcow2,if=ide,snapshot=on`] },
  ])('$format with $how', ({ format, args }) => {
    it.skipIf(skip)('the guest reads back its own writes and the image file is byte-identical afterwards', async () => {
      const dir = scratchDir();
      const file = format === 'raw' ? rawDisk(dir, 2).file : qcow2Disk(dir, DISK);
      const hash = sha256(file);
      const run = await runGuest(accel, args(file));
      expect(run.serial).toBe(verifyReport(SECTORS));
      expect(run.status).toBe(GUEST_PASS);
      expect(sha256(file)).toBe(hash);
    });
  });

  it.skipIf(skip).each(['raw', 'qcow2'])('%s, readonly=on: reads past the end fail with IDNF, every write aborts with ABRT, the file is unchanged', async (format) => {
    const dir = scratchDir();
    const file = format === 'raw' ? rawDisk(dir, 3).file : qcow2Disk(dir, DISK);
    const hash = sha256(file);
    const run = await runGuest(accel, ['-drive', `file=${file},format=${format},if=ide,readonly=on`], 'probe');
    // Status 51h: DRDY, DSC, ERR, as real drives report errors (QEMU leaves DSC out: 41h). Error 10h is IDNF
    // (ATA/ATAPI-6 lets a device report an address outside the medium with IDNF or ABRT; tsvm names the
    // cause, QEMU says ABRT); 04h is ABRT. QEMU 7.2 refuses a read-only IDE disk at start ("Block node is read-only").
    expect(run.serial).toBe([
      'identify: ok',
      'model: TSVM HARDDISK',
      'lba28 sectors: 00002000',
      'lba48 sectors: 0000000000002000',
      'read sectors past end lba 00002000 count 01: status 51 error 10',
      'read sectors ext past end lba 00002000 count 01: status 51 error 10',
      'write sectors lba 00000010 count 01: status 51 error 04',
      'write multiple lba 00000064 count 04: status 51 error 04',
      'write sectors ext lba 00001fff count 01: status 51 error 04',
      'PASS',
      '',
    ].join('\n'));
    expect(run.status).toBe(GUEST_PASS);
    expect(sha256(file)).toBe(hash);
  });
});

/** A raw disk whose last sector is partial: both grow the file to whole sectors when the guest writes it. */
const PARTIAL = (1 << 20) + 300;

describe.skipIf(noKvm !== undefined)('the same guest under qemu-system-x86_64 -accel kvm', () => {
  it.each([
    { disk: 'raw', format: 'raw', make: (dir: string) => rawDisk(dir, 4).file, sectors: SECTORS },
    { disk: 'qcow2', format: 'qcow2', make: (dir: string) => qcow2Disk(dir, DISK), sectors: SECTORS },
    { disk: 'raw with a partial last sector', format: 'raw', make: (dir: string) => rawDisk(dir, 5, PARTIAL).file, sectors: Math.ceil(PARTIAL / SECTOR) },
  ])('$disk: the serial report matches tsvm -accel kvm (but for the model) and so does the disk', async ({ format, make, sectors }) => {
    const ours = make(scratchDir());
    const theirs = make(scratchDir());
    const tsvm = await runGuest('kvm', ['-drive', `file=${ours},format=${format},if=ide`]);
    const qemu = await runQemu('ata-writer', ['-drive', `file=${theirs},format=${format},if=ide`], 60_000);
    expect(qemu.serial).toBe(verifyReport(sectors, 'QEMU HARDDISK'));
    expect(qemu.status).toBe(GUEST_PASS);
    expect(tsvm.serial).toBe(verifyReport(sectors));
    expect(tsvm.status).toBe(qemu.status);
    const disk = (file: string) => (format === 'raw' ? fs.readFileSync(file) : convertedToRaw(file));
    expect(firstDifferentSector(disk(ours), disk(theirs))).toBeUndefined();
  });
});
