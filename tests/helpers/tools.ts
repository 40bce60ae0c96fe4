/**
 * The host tools the tests compare against or build guests with. scripts/setup.sh
 * installs them (CI runs it first), so a missing one is a broken setup: the test
 * fails saying what to install, instead of quietly skipping.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Throws unless `cmd` is on PATH. */
export function requireTool(cmd: string, debianPackage: string): void {
  if (spawnSync('which', [cmd]).status !== 0) {
    throw new Error(`${cmd} is not installed: run scripts/setup.sh (it installs Debian's ${debianPackage})`);
  }
}

/** Throws unless the data file `file` (firmware, headers) exists. */
export function requireFile(file: string, debianPackage: string): void {
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run scripts/setup.sh (it installs Debian's ${debianPackage})`);
  }
}
