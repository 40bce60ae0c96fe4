/**
 * The qcow2 driver against the real qemu-img, both ways: what QEMU writes
 * reads back byte-identical through tsvm, and what tsvm writes passes
 * `qemu-img check` and `qemu-img compare` against a raw reference.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { BlockBackend } from '../../src/block/block-backend.js';
import { openImage } from '../../src/block/qcow2-chain.js';
import { createQcow2 } from '../../src/block/qcow2-create.js';
import { applySnapshot, createSnapshot, deleteSnapshot } from '../../src/block/qcow2-snapshot.js';
import { Qcow2Image } from '../../src/block/qcow2.js';
import { pattern, qemuImg, qemuIo, rng, tempDir } from '../img/helpers.js';

const MiB = 1024 * 1024;

function readAll(image: BlockBackend): Uint8Array {
  const out = new Uint8Array(image.length);
  image.read(0, out);
  return out;
}

/** What QEMU says the guest sees: `qemu-img convert -O raw`. */
function qemuView(file: string, extra: string[] = []): Buffer {
  const out = `${file}.view.raw`;
  const r = qemuImg(['convert', ...extra, '-O', 'raw', file, out]);
  expect(r.stderr).toBe('');
  const data = fs.readFileSync(out);
  fs.rmSync(out);
  return data;
}

function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  // Buffer.compare keeps a failure message short for megabytes of data.
  expect(Buffer.compare(Buffer.from(actual), Buffer.from(expected))).toBe(0);
}

function qemuWrites(file: string, commands: string[], format = 'qcow2'): void {
  const r = qemuIo(['-f', format, ...commands.flatMap((c) => ['-c', c]), file]);
  expect(r.status).toBe(0);
}

describe.each(['0.10', '1.1'])('images qemu-img makes (compat=%s) read back through tsvm', (compat) => {
  test('with a raw backing file, partial clusters and zero writes', () => {
    const dir = tempDir();
    const base = path.join(dir, 'base.raw');
    const top = path.join(dir, 'top.qcow2');
    expect(qemuImg(['create', '-f', 'raw', base, '8M']).status).toBe(0);
    qemuWrites(base, ['write -P 0x11 0 3M', 'write -P 0x22 5M 100k'], 'raw');
    expect(qemuImg(['create', '-f', 'qcow2', '-o', `compat=${compat},cluster_size=4096`, '-b', 'base.raw', '-F', 'raw', top]).status).toBe(0);
    qemuWrites(top, ['write -P 0x33 1000k 9k', 'write -P 0x44 7M 512', 'write -z 64k 128k', 'write -P 0x55 8388096 512']);
    const image = openImage(top, { readOnly: true });
    expectSameBytes(readAll(image), qemuView(top));
    image.close();
  });

  test('compressed with qemu-img convert -c', () => {
    const dir = tempDir();
    const raw = path.join(dir, 'src.raw');
    const packed = path.join(dir, 'packed.qcow2');
    const data = new Uint8Array(3 * MiB + 12345);
    data.set(new Uint8Array(MiB).fill(0x5a), 0); // compresses well
    data.set(pattern(MiB, 7), MiB + 4096); // does not compress
    data.set(new TextEncoder().encode('tail'.repeat(1000)), 2 * MiB + 77);
    fs.writeFileSync(raw, data);
    expect(qemuImg(['convert', '-c', '-O', 'qcow2', '-o', `compat=${compat}`, raw, packed]).status).toBe(0);
    const image = openImage(packed, { readOnly: true });
    const out = readAll(image);
    image.close();
    expectSameBytes(out.subarray(0, data.length), data);
  });

  test('internal snapshots from qemu-img snapshot -c are listed and readable', () => {
    const dir = tempDir();
    const file = path.join(dir, 'snap.qcow2');
    expect(qemuImg(['create', '-f', 'qcow2', '-o', `compat=${compat}`, file, '4M']).status).toBe(0);
    qemuWrites(file, ['write -P 1 0 1M']);
    expect(qemuImg(['snapshot', '-c', 'first', file]).status).toBe(0);
    qemuWrites(file, ['write -P 2 512k 1M']);
    expect(qemuImg(['snapshot', '-c', 'second', file]).status).toBe(0);
    qemuWrites(file, ['write -P 3 0 64k']);
    const active = openImage(file, { readOnly: true }) as Qcow2Image;
    expect(active.snapshots.map((s) => s.name)).toEqual(['first', 'second']);
    expectSameBytes(readAll(active), qemuView(file));
    active.close();
    for (const name of ['first', 'second']) {
      const snap = openImage(file, { readOnly: true, snapshot: name });
      expectSameBytes(readAll(snap), qemuView(file, ['-l', `snapshot.name=${name}`]));
      snap.close();
    }
  });
});

test('a qcow2 backing chain of three images reads as QEMU reads it', () => {
  const dir = tempDir();
  const [a, b, c] = ['a.qcow2', 'b.qcow2', 'c.qcow2'].map((n) => path.join(dir, n));
  expect(qemuImg(['create', '-f', 'qcow2', a!, '2M']).status).toBe(0);
  qemuWrites(a!, ['write -P 0xa 0 2M']);
  expect(qemuImg(['create', '-f', 'qcow2', '-b', 'a.qcow2', '-F', 'qcow2', b!]).status).toBe(0);
  qemuWrites(b!, ['write -P 0xb 100k 300k']);
  fs.mkdirSync(path.join(dir, 'sub'));
  const cSub = path.join(dir, 'sub', 'c.qcow2');
  expect(qemuImg(['create', '-f', 'qcow2', '-b', '../b.qcow2', '-F', 'qcow2', cSub]).status).toBe(0);
  qemuWrites(cSub, ['write -P 0xc 200k 10k']);
  void c;
  const image = openImage(cSub, { readOnly: true });
  expectSameBytes(readAll(image), qemuView(cSub));
  image.close();
});

interface Layout {
  compat: '0.10' | '1.1';
  clusterSize: number;
  backing?: 'raw' | 'qcow2';
}

const layouts: Layout[] = [
  { compat: '1.1', clusterSize: 65536 },
  { compat: '0.10', clusterSize: 65536, backing: 'raw' },
  { compat: '1.1', clusterSize: 4096, backing: 'qcow2' },
  { compat: '0.10', clusterSize: 512 },
];

describe.each(layouts)('images tsvm writes pass qemu-img check and compare (%o)', (layout) => {
  test('random writes of every size and alignment', () => {
    const dir = tempDir();
    const size = 6 * MiB + 1536;
    const reference = new Uint8Array(size);
    const file = path.join(dir, 'disk.qcow2');
    let backingName: string | undefined;
    if (layout.backing === 'raw') {
      backingName = 'base.raw';
      const base = pattern(4 * MiB, 99);
      fs.writeFileSync(path.join(dir, backingName), base);
      reference.set(base);
    } else if (layout.backing === 'qcow2') {
      backingName = 'base.qcow2';
      expect(qemuImg(['create', '-f', 'qcow2', path.join(dir, backingName), '5M']).status).toBe(0);
      qemuWrites(path.join(dir, backingName), ['write -P 0x77 1M 3M']);
      reference.fill(0x77, MiB, 4 * MiB);
    }
    createQcow2(file, { size, clusterSize: layout.clusterSize, compat: layout.compat, backingFile: backingName, backingFormat: layout.backing });
    const image = openImage(file, { readOnly: false });
    const random = rng(layout.clusterSize + (layout.backing?.length ?? 0));
    for (let i = 0; i < 300; i++) {
      const length = 1 + Math.floor(random() * (random() < 0.2 ? 200_000 : 9000));
      const offset = Math.floor(random() * (size - length));
      const data = pattern(length, i + 1);
      image.write(offset, data);
      reference.set(data, offset);
    }
    expectSameBytes(readAll(image), reference);
    image.close();
    const refFile = path.join(dir, 'reference.raw');
    fs.writeFileSync(refFile, reference);
    const check = qemuImg(['check', file]);
    expect(check.stdout + check.stderr).toContain('No errors were found on the image.');
    expect(check.status).toBe(0);
    const compare = qemuImg(['compare', '-f', 'qcow2', '-F', 'raw', file, refFile]);
    expect(compare.stdout).toContain('Images are identical.');
    expect(compare.status).toBe(0);
  });
});

test('the refcount table grows when the file outgrows it, and qemu-img agrees', () => {
  const dir = tempDir();
  const file = path.join(dir, 'small-clusters.qcow2');
  // 512-byte clusters, 16-bit refcounts: one refcount table cluster covers 64 blocks x 256 clusters = 8 MiB of file.
  createQcow2(file, { size: 24 * MiB, clusterSize: 512 });
  const image = openImage(file, { readOnly: false }) as Qcow2Image;
  const tableBefore = image.refcounts.tableOffset;
  const data = pattern(MiB, 5);
  for (let i = 0; i < 20; i++) image.write(i * MiB, data);
  expect(image.refcounts.tableOffset).not.toBe(tableBefore);
  image.close();
  const check = qemuImg(['check', file]);
  expect(check.stdout).toContain('No errors were found on the image.');
  const view = qemuView(file);
  for (let i = 0; i < 20; i++) expectSameBytes(view.subarray(i * MiB, (i + 1) * MiB), data);
});

test('snapshots tsvm takes: copy-on-write keeps them intact, revert and delete leave a clean image', () => {
  const dir = tempDir();
  const file = path.join(dir, 'snap.qcow2');
  createQcow2(file, { size: 2 * MiB, clusterSize: 65536 });
  const first = pattern(2 * MiB, 1);
  let image = openImage(file, { readOnly: false }) as Qcow2Image;
  image.write(0, first);
  createSnapshot(image, 'before');
  const overwrite = pattern(100_000, 2);
  image.write(50_000, overwrite);
  image.close();

  expect(qemuImg(['check', file]).status).toBe(0);
  expectSameBytes(qemuView(file, ['-l', 'snapshot.name=before']), first);
  const changed = Buffer.from(first);
  changed.set(overwrite, 50_000);
  expectSameBytes(qemuView(file), changed);
  expect(qemuImg(['snapshot', '-l', file]).stdout).toMatch(/1\s+before/);

  image = openImage(file, { readOnly: false }) as Qcow2Image;
  applySnapshot(image, 'before');
  expectSameBytes(readAll(image), first);
  deleteSnapshot(image, 'before');
  image.write(0, overwrite); // now the only owner again: written in place
  image.close();
  const check = qemuImg(['check', file]);
  expect(check.stdout).toContain('No errors were found on the image.');
  const final = Buffer.from(first);
  final.set(overwrite, 0);
  expectSameBytes(qemuView(file), final);
  expect(qemuImg(['snapshot', '-l', file]).stdout).toBe('');
});

test('tsvm writing over what QEMU left (compressed, zero, snapshot-shared and backing clusters) matches qemu-io doing the same', () => {
  const dir = tempDir();
  const base = path.join(dir, 'base.raw');
  fs.writeFileSync(base, pattern(4 * MiB, 61));
  const raw = path.join(dir, 'content.raw');
  const content = new Uint8Array(4 * MiB);
  content.fill(0x31, 0, 2 * MiB); // compressible
  fs.writeFileSync(raw, content);
  const mine = path.join(dir, 'mine.qcow2');
  const theirs = path.join(dir, 'theirs.qcow2');
  expect(qemuImg(['convert', '-c', '-O', 'qcow2', '-B', 'base.raw', '-F', 'raw', raw, mine]).status).toBe(0);
  qemuWrites(mine, ['write -z 2M 256k', 'write -P 0x44 3M 128k']);
  expect(qemuImg(['snapshot', '-c', 'shared', mine]).status).toBe(0);
  fs.copyFileSync(mine, theirs);

  const writes: Array<[number, number, number]> = [
    [100, 5000, 1], // inside a compressed cluster
    [2 * MiB + 70_000, 100_000, 2], // zero clusters
    [3 * MiB + 1000, 200_000, 3], // snapshot-shared data, then unallocated (backing)
    [4 * MiB - 700, 700, 4], // the last sector
  ];
  const image = openImage(mine, { readOnly: false });
  for (const [offset, length, seed] of writes) image.write(offset, pattern(length, seed));
  image.close();
  for (const [offset, length, seed] of writes) {
    const chunk = path.join(dir, `chunk${seed}`);
    fs.writeFileSync(chunk, pattern(length, seed));
    const r = qemuIo(['-c', `write -s ${chunk} ${offset} ${length}`, theirs]);
    expect(r.status).toBe(0);
  }
  expect(qemuImg(['check', mine]).stdout).toContain('No errors were found on the image.');
  expectSameBytes(qemuView(mine), qemuView(theirs));
  expectSameBytes(qemuView(mine, ['-l', 'snapshot.name=shared']), qemuView(theirs, ['-l', 'snapshot.name=shared']));
});
