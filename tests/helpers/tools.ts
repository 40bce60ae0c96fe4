/**
 * The host tools the tests compare against or build guests with. scripts/setup.sh
 * installs them (CI runs it first), so a missing one is a broken setup: the test
 * fails saying what to install, instead of quietly skipping.
 */
import { spawnSync } from 'node:child_process';

/** Throws unless `cmd` is on PATH. */
export function requireTool(cmd: string, debianPackage: string): void {
  if (spawnSync('which', [cmd]).status !== 0) {
    throw new Error(`${cmd} is not installed: run scripts/setup.sh (it installs Debian's ${debianPackage})`);
  }
}
