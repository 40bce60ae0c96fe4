/**
 * Shared by the tsvm-img and qcow2 tests: a compiled tsvm-img (built once
 * per source version into a temp dir, so tests do not depend on dist/), and
 * runners for it and for the real qemu-img.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compileSources } from '../helpers/compile.js';
import { scratchDir } from '../helpers/scratch.js';

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Compiles src/img/main.ts (and extra entry points) unless this source version was already compiled. */
export function buildCli(extraEntries: string[] = []): string {
  return compileSources(['src/img/main.ts', ...extraEntries], ['src/block', 'src/img', ...extraEntries.map((e) => path.dirname(e))]);
}

export function tsvmImg(build: string, args: string[], cwd?: string): Run {
  return run(process.execPath, [path.join(build, 'src/img/main.js'), ...args], cwd);
}

export function qemuImg(args: string[], cwd?: string): Run {
  return run('qemu-img', args, cwd);
}

export function qemuIo(args: string[], cwd?: string): Run {
  return run('qemu-io', args, cwd);
}

function run(cmd: string, args: string[], cwd?: string): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(): string {
  return scratchDir('tsvm-img-');
}

export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function rng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}
