/**
 * tsvm sources compiled for tests that run them in a child process: the
 * entry points and what they import go to a temp dir named by a hash of the
 * checkout and its source folders, so tests do not depend on dist/ and later
 * runs of the same sources reuse the build. Layout: `<dir>/src/...js`, with
 * the project's package.json and a link to its node_modules beside it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Compiles `entries` (paths from the project root) unless the `sourceDirs` they come from were compiled as they are. */
export function compileSources(entries: readonly string[], sourceDirs: readonly string[]): string {
  // The checkout's path is in the key: the build links to that checkout's node_modules, and
  // /tmp outlives the checkout (a clone elsewhere of the same sources must not reuse the link).
  const hash = createHash('sha256').update(ROOT);
  for (const dir of sourceDirs) {
    for (const f of fs.readdirSync(path.join(ROOT, dir)).sort()) {
      if (f.endsWith('.ts')) hash.update(f).update(fs.readFileSync(path.join(ROOT, dir, f)));
    }
  }
  const out = path.join(os.tmpdir(), `tsvm-test-build-${hash.digest('hex').slice(0, 16)}`);
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
    if (!entries.every((e) => fs.existsSync(path.join(staging, e.replace(/\.ts$/, '.js'))))) throw err;
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
