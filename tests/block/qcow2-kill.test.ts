/**
 * Kill safety: a child process writes heavily through the qcow2 driver and
 * reports each flush; it is killed with SIGKILL at a random moment. Then
 * `qemu-img check` must find no corruption (a leaked cluster is allowed: it
 * is what QEMU itself leaves after a crash), and every write flushed before
 * the kill must read back.
 *
 * The writes follow a seeded schedule the test recomputes: write i puts
 * version i of a slot's pattern into a random slot. After the kill, each
 * sector of a slot must hold either its last flushed version or one written
 * after the last flush (the kill may land between sectors of a write).
 * TSVM_FULL_TESTS=1 runs many more kills.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { beforeAll, expect, test } from 'vitest';
import { openImage } from '../../src/block/qcow2-chain.js';
import { createQcow2 } from '../../src/block/qcow2-create.js';
import { buildCli, qemuImg, tempDir } from '../img/helpers.js';

const ITERATIONS = process.env.TSVM_FULL_TESTS === '1' ? 40 : 3;
const DISK = 16 * 1024 * 1024;
const SLOT = 12 * 1024; // not a divisor of the cluster size: writes straddle clusters
const SLOTS = Math.floor(DISK / SLOT);
const FLUSH_EVERY = 8;

/** The schedule, shared verbatim by the child (as source) and the checker. */
const scheduleSource = `
  function slotOf(i, seed) { let x = (i * 2654435761 + seed) >>> 0; x ^= x >>> 15; x = Math.imul(x, 2246822519) >>> 0; x ^= x >>> 13; return (x >>> 0) % ${SLOTS}; }
  function sectorPattern(version, sector) { const b = new Uint8Array(512); let x = (version * 7919 + sector * 104729 + 1) | 1; for (let k = 0; k < 512; k++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[k] = x & 0xff; } return b; }
  function slotData(version) { const out = new Uint8Array(${SLOT}); for (let s = 0; s < ${SLOT / 512}; s++) out.set(sectorPattern(version, s), s * 512); return out; }
`;
const schedule = new Function(`${scheduleSource}; return { slotOf, sectorPattern };`)() as {
  slotOf(i: number, seed: number): number;
  sectorPattern(version: number, sector: number): Uint8Array;
};

let build: string;
beforeAll(() => {
  build = buildCli();
});

/** Starts the writer; resolves with the last flushed write count once it has been killed. */
function writeUntilKilled(file: string, seed: number, killAfterMs: number): Promise<number> {
  const chain = path.join(build, 'src/block/qcow2-chain.js');
  const script = `
    import { openImage } from ${JSON.stringify(chain)};
    import { writeSync } from 'node:fs';
    ${scheduleSource}
    const image = openImage(${JSON.stringify(file)}, { readOnly: false, format: 'qcow2' });
    writeSync(1, 'ready\\n');
    for (let i = 1; ; i++) {
      image.write(slotOf(i, ${seed}) * ${SLOT}, slotData(i));
      if (i % ${FLUSH_EVERY} === 0) { image.flush(); writeSync(1, 'flushed ' + i + '\\n'); }
    }`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let flushed = 0;
  let stderr = '';
  let buffered = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') continue;
      // The kill clock starts at the first flush, so that every run has flushed writes to
      // verify however slowly a loaded machine gets the writer going.
      if (flushed === 0) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      flushed = Number(line.split(' ')[1]);
    }
  });
  return new Promise((resolve, reject) => {
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited on its own: ${stderr}`));
      else resolve(flushed);
    });
  });
}

function verify(file: string, seed: number, flushed: number): void {
  // Versions each slot may show: its last flushed one (0 = never written), and any written after.
  const candidates = new Map<number, number[]>();
  for (let i = 1; i <= flushed; i++) candidates.set(schedule.slotOf(i, seed), [i]);
  for (let i = flushed + 1; i <= flushed + FLUSH_EVERY * 64; i++) {
    const slot = schedule.slotOf(i, seed);
    candidates.set(slot, [...(candidates.get(slot) ?? [0]), i]);
  }
  const image = openImage(file, { readOnly: true });
  const sector = new Uint8Array(512);
  const zero = new Uint8Array(512);
  for (let slot = 0; slot < SLOTS; slot++) {
    const versions = candidates.get(slot) ?? [0];
    for (let s = 0; s < SLOT / 512; s++) {
      image.read(slot * SLOT + s * 512, sector);
      const ok = versions.some((v) => Buffer.compare(sector, v === 0 ? zero : schedule.sectorPattern(v, s)) === 0);
      if (!ok) {
        image.close();
        throw new Error(`slot ${slot} sector ${s} holds none of versions ${versions.join(',')} (last flush after write ${flushed})`);
      }
    }
  }
  image.close();
}

test(`SIGKILL during heavy writes leaves a valid image with every flushed write (${ITERATIONS} kills)`, async () => {
  for (let iteration = 0; iteration < ITERATIONS; iteration++) {
    const file = path.join(tempDir(), 'victim.qcow2');
    createQcow2(file, { size: DISK, clusterSize: iteration % 2 === 0 ? 65536 : 4096 });
    const seed = 1000 + iteration;
    const flushed = await writeUntilKilled(file, seed, 150 + Math.floor(Math.random() * 600));
    expect(flushed).toBeGreaterThan(0);
    const check = qemuImg(['check', file]);
    expect(check.stdout + check.stderr).not.toMatch(/ERROR|\d+ errors were found/);
    expect([0, 3]).toContain(check.status);
    verify(file, seed, flushed);
  }
});
