/**
 * Running images/guests/ata-writer.asm under bin/tsvm on a disk image, the
 * sector pattern it writes (recomputed here so tests can look for it in
 * image files), and the qemu-img steps around a run: make an image, check
 * it, convert it to raw to read it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, onTestFinished } from 'vitest';
import { guestPath } from '../kvm/harness.js';
import { qemuImg, tempDir } from '../img/helpers.js';
import { runTsvm, startTsvm, type TsvmRun } from '../helpers/tsvm-process.js';

export const SECTOR = 512;

/** isa-debug-exit statuses the guest ends with (QEMU's (value << 1) | 1). */
export const GUEST_PASS = 33;
export const GUEST_FAIL = 35;

/** The guest's constants (ata-writer.asm) for what verify mode writes. */
const LBA28_FIRST = 16;
const LBA28_COUNT = 4;
const MULT_FIRST = 100;
const MULT_COUNT = 10;
const EXT_COUNT = 4;
/** Loop mode: sector n goes to LOOP_BASE + n * LOOP_STRIDE. */
const LOOP_BASE = 2048;
const LOOP_STRIDE = 17;

export type Accel = 'tcg' | 'kvm';
export type Mode = 'verify' | 'unflushed' | 'loop' | 'probe';

/** Sector `lba` as the guest writes it: dword i holds (lba*128 + i) XOR A5A5A5A5h. */
export function sectorPattern(lba: number): Buffer {
  const b = Buffer.alloc(SECTOR);
  for (let i = 0; i < SECTOR / 4; i++) b.writeUInt32LE(((Math.imul(lba, 128) + i) ^ 0xa5a5a5a5) >>> 0, i * 4);
  return b;
}

/** The sectors verify mode writes on a disk of `sectors` sectors (LBA28, multiple, and LBA48 at the end). */
export function verifySectors(sectors: number): number[] {
  const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);
  return [...range(LBA28_FIRST, LBA28_COUNT), ...range(MULT_FIRST, MULT_COUNT), ...range(sectors - EXT_COUNT, EXT_COUNT)];
}

/** The sector loop mode writes as its n-th (from 0). */
export function loopSector(n: number): number {
  return LOOP_BASE + n * LOOP_STRIDE;
}

/** The command line for the guest on `drive` (a -drive value, or several options). */
export function guestArgs(accel: Accel, drive: readonly string[], mode: Mode = 'verify'): string[] {
  return [
    '-accel', accel, '-kernel', guestPath('ata-writer'), '-nographic',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
    ...drive,
    ...(mode === 'verify' ? [] : ['-append', mode]),
  ];
}

export interface GuestRun {
  status: number;
  serial: string;
  stderr: string;
}

/** Runs the guest to its debug-exit under tsvm. */
export async function runGuest(accel: Accel, drive: readonly string[], mode: Mode = 'verify'): Promise<GuestRun> {
  const r = await runTsvm(guestArgs(accel, drive, mode), 120_000);
  return { status: r.status, serial: r.stdout.replace(/\r\n/g, '\n'), stderr: r.stderr };
}

/** Starts the guest in loop mode; see flushedCount() for what it has made durable. */
export function startLoop(accel: Accel, drive: readonly string[]): TsvmRun {
  return startTsvm(guestArgs(accel, drive, 'loop'));
}

/** The count in the last complete "flushed N" line: sectors 0..N-1 of the loop are on stable storage. */
export function flushedCount(serial: string): number {
  const counts = [...serial.replace(/\r\n/g, '\n').matchAll(/^flushed ([0-9a-f]{8})\n/gm)].map((m) => parseInt(m[1]!, 16));
  return counts.length ? counts[counts.length - 1]! : 0;
}

/** Reads sector `lba` of a raw image file. */
export function readSector(file: string, lba: number): Buffer {
  const b = Buffer.alloc(SECTOR);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, b, 0, SECTOR, lba * SECTOR);
  } finally {
    fs.closeSync(fd);
  }
  return b;
}

/** A temporary directory removed when the current test ends: the images in it run to hundreds of MiB. */
export function scratchDir(): string {
  const dir = tempDir();
  onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh qcow2 image of `size` bytes made by qemu-img create, in `dir` (default cluster size: 64 KiB). */
export function qcow2Disk(dir: string, size: number, clusterSize?: number): string {
  const file = path.join(dir, 'disk.qcow2');
  const options = clusterSize === undefined ? [] : ['-o', `cluster_size=${clusterSize}`];
  const r = qemuImg(['create', '-f', 'qcow2', ...options, file, String(size)]);
  expect(r.status, r.stderr).toBe(0);
  return file;
}

/**
 * A qcow2 overlay (qemu-img create -b) on a qcow2 base holding `data`, in
 * `dir`: the guest writes the overlay, the base must stay as it is.
 */
export function qcow2Overlay(dir: string, data: Uint8Array): { top: string; base: string } {
  const raw = path.join(dir, 'base.raw');
  const base = path.join(dir, 'base.qcow2');
  const top = path.join(dir, 'top.qcow2');
  fs.writeFileSync(raw, data);
  for (const args of [['convert', '-f', 'raw', '-O', 'qcow2', raw, base], ['create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top]]) {
    const r = qemuImg(args);
    expect(r.status, r.stderr).toBe(0);
  }
  return { top, base };
}

/** qemu-img convert -O raw of `file`, read back. */
export function convertedToRaw(file: string): Buffer {
  const raw = `${file}.converted.raw`;
  const r = qemuImg(['convert', '-O', 'raw', file, raw]);
  expect(r.status, r.stderr).toBe(0);
  return fs.readFileSync(raw);
}


/** `qemu-img check` finds nothing at all: exit 0 (qemu-img(1): 0 no errors, 2 corruption, 3 leaked clusters). */
export function expectCleanCheck(file: string): void {
  const check = qemuImg(['check', file]);
  expect(check.stdout, check.stderr).toContain('No errors were found on the image.');
  expect(check.status).toBe(0);
}
