/**
 * Builds every test guest once, in vitest's main process, before any test
 * file starts. The builds take minutes on a fresh machine (Debian packages
 * fetched, initramfs packed); done inside a test worker, they block its event
 * loop long enough for vitest's worker RPC to time out, which fails the run
 * even when every test passes. The workers' own build calls then find the
 * images up to date and return at once.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function build(script: string, ...args: string[]): void {
  execFileSync('bash', [path.join(ROOT, script), ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export default function setup(): void {
  build('images/guests/build.sh');
  build('images/linux/build.sh', 'i386');
  build('images/linux/build.sh', 'amd64');
  build('images/disk/build.sh');
  if (process.env.TSVM_SLOW_TESTS === '1') build('images/linux/build.sh', 'd-i');
}
