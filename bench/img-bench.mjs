#!/usr/bin/env node
/**
 * Disk image speed, side by side in one run (build first: npm run build):
 *   1. 4 KiB sequential and random reads and writes through tsvm's qcow2
 *      driver and its raw driver, on the same workload;
 *   2. `tsvm-img convert` vs `qemu-img convert` on the same 1 GiB image,
 *      raw -> qcow2 and qcow2 -> raw.
 * Prints times, MiB/s and ratios. Both converts run without a final fsync
 * (qemu-img's default; tsvm-img's is to fsync, so it gets -t unsafe here). BENCH_IMG_SIZE (bytes) shrinks the convert image.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
if (!fs.existsSync(path.join(dist, 'img/main.js'))) {
  console.error("img-bench: dist/ is not built: run 'npm run build' first");
  process.exit(1);
}
const { openImage } = await import(path.join(dist, 'block/qcow2-chain.js'));
const { createQcow2 } = await import(path.join(dist, 'block/qcow2-create.js'));

const MiB = 1024 * 1024;
const BLOCK = 4096;
const DRIVER_SPAN = 256 * MiB;
const RANDOM_OPS = 20000;
const CONVERT_SIZE = Number(process.env.BENCH_IMG_SIZE ?? 1024 * MiB);
const dir = fs.mkdtempSync(path.join(fs.existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir(), 'tsvm-img-bench-'));

function seconds(fn) {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function randomOffsets(count, span, seed) {
  let x = seed;
  return Array.from({ length: count }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) % (span / BLOCK)) * BLOCK;
  });
}

/** One driver workload: fresh image, then seq write, seq read, random write, random read. */
function driverRun(format) {
  const file = path.join(dir, `driver.${format}`);
  if (format === 'raw') fs.writeFileSync(file, ''), fs.truncateSync(file, DRIVER_SPAN);
  else createQcow2(file, { size: DRIVER_SPAN });
  const image = openImage(file, { format, readOnly: false });
  const buf = new Uint8Array(BLOCK).fill(0x5a);
  const offsets = randomOffsets(RANDOM_OPS, DRIVER_SPAN, 12345);
  const results = {
    'seq write': seconds(() => {
      for (let at = 0; at < DRIVER_SPAN; at += BLOCK) image.write(at, buf);
      image.flush();
    }),
    'seq read': seconds(() => {
      for (let at = 0; at < DRIVER_SPAN; at += BLOCK) image.read(at, buf);
    }),
    'rand write': seconds(() => {
      for (const at of offsets) image.write(at, buf);
      image.flush();
    }),
    'rand read': seconds(() => {
      for (const at of offsets) image.read(at, buf);
    }),
  };
  image.close();
  fs.rmSync(file);
  return results;
}

function bytesOf(test) {
  return test.startsWith('seq') ? DRIVER_SPAN : RANDOM_OPS * BLOCK;
}

/** A source image with what disks hold: incompressible data, compressible text, and zeros. */
function makeSource(file) {
  const fd = fs.openSync(file, 'w');
  const chunk = new Uint8Array(4 * MiB);
  for (let at = 0; at < CONVERT_SIZE; at += chunk.length) {
    const kind = (at / chunk.length) % 4;
    if (kind === 3) continue; // left as a hole: zeros
    if (kind === 0) for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761 + at) >>> 24;
    else chunk.fill(0x20 + kind);
    fs.writeSync(fd, chunk, 0, chunk.length, at);
  }
  fs.ftruncateSync(fd, CONVERT_SIZE);
  fs.closeSync(fd);
}

function timeCommand(cmd, args) {
  return seconds(() => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] }));
}

function row(cells) {
  console.log(cells.map((c, i) => String(c).padEnd(i === 0 ? 22 : 14)).join(''));
}

try {
  console.log(`tsvm block drivers, ${BLOCK / 1024} KiB requests (${DRIVER_SPAN / MiB} MiB sequential, ${RANDOM_OPS} random)`);
  const raw = driverRun('raw');
  const qcow2 = driverRun('qcow2');
  row(['', 'raw MiB/s', 'qcow2 MiB/s', 'qcow2/raw']);
  for (const test of Object.keys(raw)) {
    const mibs = (t) => (bytesOf(test) / MiB / t).toFixed(1);
    row([test, mibs(raw[test]), mibs(qcow2[test]), (raw[test] / qcow2[test]).toFixed(2)]);
  }

  console.log(`\nconvert, ${(CONVERT_SIZE / MiB).toFixed(0)} MiB image (1/4 random, 1/2 repeated bytes, 1/4 zeros)`);
  const source = path.join(dir, 'source.raw');
  makeSource(source);
  const tsvmImg = [path.join(root, 'bin/tsvm-img')];
  const cases = [
    ['raw -> qcow2', ['convert', '-f', 'raw', '-O', 'qcow2', source]],
    ['qcow2 -> raw', ['convert', '-f', 'qcow2', '-O', 'raw']],
    ['raw -> qcow2 -c', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', source]],
  ];
  row(['', 'qemu-img s', 'tsvm-img s', 'tsvm/qemu']);
  const qcow2Source = path.join(dir, 'source.qcow2');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', source, qcow2Source]);
  for (const [name, args] of cases) {
    const input = args.includes(source) ? [] : [qcow2Source];
    const qemu = timeCommand('qemu-img', [...args, ...input, path.join(dir, 'out.qemu')]);
    // qemu-img convert does not fsync its output (cache=unsafe); -t unsafe makes tsvm-img do the same work.
    const tsvm = timeCommand(process.execPath, [...tsvmImg, ...args, '-t', 'unsafe', ...input, path.join(dir, 'out.tsvm')]);
    const same = execFileSync('qemu-img', ['compare', path.join(dir, 'out.qemu'), path.join(dir, 'out.tsvm')], { encoding: 'utf8' }).trim();
    row([name, qemu.toFixed(2), tsvm.toFixed(2), (tsvm / qemu).toFixed(2) + (same === 'Images are identical.' ? '' : '  (OUTPUT DIFFERS)')]);
    fs.rmSync(path.join(dir, 'out.qemu'));
    fs.rmSync(path.join(dir, 'out.tsvm'));
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
