/**
 * Shared by the tsvm-img and qcow2 tests: a compiled tsvm-img (built once
 * per source version into a temp dir, so tests do not depend on dist/), and
 * runners for it and for the real qemu-img.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Compiles src/img/main.ts (and extra entry points) unless this source version was already compiled. */
export function buildCli(extraEntries: string[] = []): string {
  const entries = ['src/img/main.ts', ...extraEntries];
  const hash = createHash('sha256');
  for (const dir of ['src/block', 'src/img', ...extraEntries.map((e) => path.dirname(e))]) {
    for (const f of fs.readdirSync(path.join(ROOT, dir)).sort()) {
      if (f.endsWith('.ts')) hash.update(f).update(fs.readFileSync(path.join(ROOT, dir, f)));
    }
  }
  const out = path.join(os.tmpdir(), `tsvm-img-test-${hash.digest('hex').slice(0, 16)}`);
  if (fs.existsSync(path.join(out, 'done'))) return out;
  const staging = `${out}.${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    execFileSync(
      path.join(ROOT, 'node_modules/.bin/tsc'),
      [...entries, '--outDir', staging, '--rootDir', '.', '--module', 'nodenext', '--moduleResolution', 'nodenext',
        '--target', 'es2022', '--strict', '--skipLibCheck', '--types', 'node'],
      { cwd: ROOT, stdio: 'pipe' },
    );
  } catch (err) {
    // Type errors elsewhere still emit JavaScript; only a missing output is fatal.
    if (!fs.existsSync(path.join(staging, 'src/img/main.js'))) throw err;
  }
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(staging, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(staging, 'node_modules'));
  fs.writeFileSync(path.join(staging, 'done'), '');
  try {
    fs.renameSync(staging, out);
  } catch {
    fs.rmSync(staging, { recursive: true, force: true }); // another worker won the race
  }
  return out;
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
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tsvm-img-'));
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
