/**
 * Hostile images: each gives one clear error line from tsvm-img, exit 1, and
 * leaves the file exactly as it was.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { openImage } from '../../src/block/qcow2-chain.js';
import { buildCli, qemuImg, qemuIo, sha256, tempDir, tsvmImg } from '../img/helpers.js';

let build: string;
beforeAll(() => {
  build = buildCli();
});

/** A small v3 image with data in its first clusters. */
function goodImage(dir: string, options = 'compat=1.1'): string {
  const file = path.join(dir, 'disk.qcow2');
  expect(qemuImg(['create', '-f', 'qcow2', '-o', options, file, '4M']).status).toBe(0);
  expect(qemuIo(['-c', 'write -P 0x61 0 200k', file]).status).toBe(0);
  return file;
}

function patch(file: string, offset: number, bytes: number[]): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.from(bytes), 0, bytes.length, offset);
  fs.closeSync(fd);
}

function u64be(value: number, flags = 0): number[] {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(value) | (BigInt(flags) << 32n));
  return [...b];
}

function readU64(file: string, offset: number): number {
  const b = Buffer.alloc(8);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, b, 0, 8, offset);
  fs.closeSync(fd);
  return Number(b.readBigUInt64BE() & 0x00ffffff_fffffe00n);
}

/** Runs tsvm-img and expects exactly one error line matching `message`, exit 1, the file untouched. */
function expectRefused(file: string, args: string[], message: RegExp): void {
  const before = sha256(file);
  const r = tsvmImg(build, args, path.dirname(file));
  expect(r.status).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^tsvm-img: /);
  expect(lines[0]).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(sha256(file)).toBe(before);
}

describe('a corrupt header', () => {
  test('truncated inside the header', () => {
    const file = goodImage(tempDir());
    fs.truncateSync(file, 50);
    expectRefused(file, ['info', file], /Could not open '.*disk\.qcow2': .*header truncated/);
  });

  test('truncated inside the v3 header fields', () => {
    const file = goodImage(tempDir());
    fs.truncateSync(file, 90);
    expectRefused(file, ['convert', '-O', 'raw', file, file + '.out'], /header truncated/);
    expect(fs.existsSync(file + '.out')).toBe(false);
  });

  test('truncated before the L1 table', () => {
    const file = goodImage(tempDir());
    fs.truncateSync(file, 65536 * 3);
    expectRefused(file, ['info', file], /L1 table .* past the end of the file/);
  });

  test('an unsupported cluster size', () => {
    const file = goodImage(tempDir());
    patch(file, 20, [0, 0, 0, 40]);
    expectRefused(file, ['info', file], /Unsupported cluster size: 2\^40/);
  });

  test('an L1 table too small for the virtual size', () => {
    const file = goodImage(tempDir());
    patch(file, 24, u64be(2 ** 50));
    expectRefused(file, ['info', file], /L1 table is too small/);
  });
});

describe('tables that point past the end of the file', () => {
  test('an L1 entry', () => {
    const file = goodImage(tempDir());
    const l1 = readU64(file, 40);
    patch(file, l1, u64be(0x4000_0000, 0x80000000));
    expectRefused(file, ['convert', '-O', 'raw', file, file + '.out'], /L2 table offset 0x40000000 .* past the end of the file/);
    expectRefused(file, ['snapshot', '-c', 's', file], /past the end of the file/);
    // check reports it as qemu-img does: a corruption (exit 2), not a failure to check.
    const check = tsvmImg(build, ['check', file]);
    expect(check.status).toBe(2);
    expect(qemuImg(['check', file]).status).toBe(2);
    expect(check.stderr).toContain('ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x40000000');
  });

  test('an L2 entry', () => {
    const file = goodImage(tempDir());
    const l2 = readU64(file, readU64(file, 40));
    patch(file, l2 + 8, u64be(0x7000_0000, 0x80000000));
    expectRefused(file, ['convert', '-O', 'raw', file, file + '.out'], /Cluster offset 0x70000000 .* past the end of the file/);
  });

  test('an L2 entry, met by a guest write through the driver', () => {
    const file = goodImage(tempDir());
    const l2 = readU64(file, readU64(file, 40));
    patch(file, l2 + 8, u64be(0x7000_0000, 0x80000000));
    const before = sha256(file);
    const image = openImage(file, { readOnly: false });
    expect(() => image.write(65536 + 100, new Uint8Array(10))).toThrow(/past the end of the file/);
    image.close();
    expect(sha256(file)).toBe(before);
  });

  test('a refcount table entry', () => {
    const file = goodImage(tempDir());
    const reftable = readU64(file, 48);
    patch(file, reftable, u64be(0x2000_0000));
    expectRefused(file, ['info', file], /Refcount block .* past the end of the file/);
  });
});

test('refcount overflow: a snapshot of an image with 1-bit refcounts is refused', () => {
  const file = goodImage(tempDir(), 'refcount_bits=1');
  expectRefused(file, ['snapshot', '-c', 'snap', file], /refcount overflow/);
  expect(qemuImg(['check', file]).status).toBe(0);
});

test('a loop in the backing chain', () => {
  const dir = tempDir();
  const a = path.join(dir, 'a.qcow2');
  const b = path.join(dir, 'b.qcow2');
  expect(qemuImg(['create', '-f', 'qcow2', b, '1M']).status).toBe(0);
  expect(qemuImg(['create', '-f', 'qcow2', '-b', 'b.qcow2', '-F', 'qcow2', a]).status).toBe(0);
  expect(qemuImg(['rebase', '-u', '-b', 'a.qcow2', '-F', 'qcow2', b]).status).toBe(0);
  const bBefore = sha256(b);
  expectRefused(a, ['convert', '-O', 'raw', a, path.join(dir, 'out.raw')], /backing chain loop/);
  expect(sha256(b)).toBe(bBefore);
  expectRefused(a, ['map', a], /backing chain loop/);
});

test('an image that is its own backing file', () => {
  const dir = tempDir();
  const a = path.join(dir, 'self.qcow2');
  expect(qemuImg(['create', '-f', 'qcow2', a, '1M']).status).toBe(0);
  expect(qemuImg(['rebase', '-u', '-b', 'self.qcow2', '-F', 'qcow2', a]).status).toBe(0);
  expectRefused(a, ['convert', '-O', 'raw', a, path.join(dir, 'out.raw')], /backing chain loop/);
});

test('the corrupt bit: readable, but refused for writing with QEMU\'s message', () => {
  const file = goodImage(tempDir());
  patch(file, 72, u64be(2)); // incompatible_features bit 1: corrupt
  expectRefused(file, ['snapshot', '-c', 's', file], /qcow2: Image is corrupt; cannot be opened read\/write/);
  const r = tsvmImg(build, ['info', '--output=json', file]);
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout)['format-specific'].data.corrupt).toBe(true);
});

test('unknown incompatible features are refused', () => {
  const file = goodImage(tempDir());
  patch(file, 72, u64be(0x100)); // a feature bit tsvm does not know
  expectRefused(file, ['info', file], /Unsupported qcow2 feature\(s\): 0x100/);
});

test('a compressed cluster that does not inflate', () => {
  const dir = tempDir();
  const raw = path.join(dir, 'src.raw');
  fs.writeFileSync(raw, Buffer.alloc(256 * 1024, 0x42));
  const file = path.join(dir, 'packed.qcow2');
  expect(qemuImg(['convert', '-c', '-O', 'qcow2', raw, file]).status).toBe(0);
  // The first L2 entry is compressed: overwrite its data with garbage.
  const l2 = readU64(file, readU64(file, 40));
  const entry = Buffer.alloc(8);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, entry, 0, 8, l2);
  fs.closeSync(fd);
  const dataOffset = Number(entry.readBigUInt64BE() & ((1n << 54n) - 1n));
  patch(file, dataOffset, Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff));
  expectRefused(file, ['convert', '-O', 'raw', file, path.join(dir, 'out.raw')], /Compressed cluster .* image is corrupt/);
});

test('the dirty bit (lazy refcounts after a crash): refcounts are recounted on a read-write open, as QEMU does', () => {
  const file = goodImage(tempDir(), 'lazy_refcounts=on');
  patch(file, 72, u64be(1)); // incompatible_features bit 0: dirty
  // Stale refcounts, as a crash with lazy_refcounts leaves them: the first data cluster counts 0.
  const reftable = readU64(file, 48);
  const block = readU64(file, reftable);
  const firstData = readU64(file, readU64(file, readU64(file, 40))) / 65536;
  patch(file, block + firstData * 2, [0, 0]);
  const before = sha256(file);
  expect(tsvmImg(build, ['convert', '-O', 'raw', file, file + '.raw']).status).toBe(0); // read-only: untouched
  expect(sha256(file)).toBe(before);
  expect(tsvmImg(build, ['snapshot', '-c', 's', file]).status).toBe(0);
  const info = JSON.parse(qemuImg(['info', '--output=json', file]).stdout);
  expect(info['dirty-flag']).toBe(false);
  expect(qemuImg(['check', file]).stdout).toContain('No errors were found on the image.');
});

describe('metadata a guest write could land on', () => {
  test('an L2 entry marked COPIED that points at the L1 table: the write is refused', () => {
    const file = goodImage(tempDir());
    const l2 = readU64(file, readU64(file, 40));
    // Offset 0 means "unallocated" in an L2 entry, so aim guest cluster 1 at the L1 table, marked "ours alone".
    patch(file, l2 + 8, u64be(readU64(file, 40), 0x80000000));
    const before = sha256(file);
    const image = openImage(file, { readOnly: false });
    expect(() => image.write(65536, new Uint8Array(512).fill(0xff))).toThrow(/overlaps the L1 table; refusing to write/);
    image.close();
    expect(sha256(file)).toBe(before);
  });

  test('an L1 table placed over the refcount table: refused for writing, readable', () => {
    const file = goodImage(tempDir());
    patch(file, 40, u64be(readU64(file, 48)));
    patch(file, 36, [0, 0, 0, 1]);
    expectRefused(file, ['snapshot', '-c', 's', file], /L1 table at 0x10000 overlaps the refcount structure/);
    expect(tsvmImg(build, ['info', file]).status).toBe(0);
  });
});
