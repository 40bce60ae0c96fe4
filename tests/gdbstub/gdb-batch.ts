/**
 * Running Debian's gdb in batch mode against a tsvm started with -gdb and
 * -S (stopped) on one of the test guests.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTsvm, type TsvmRun } from '../helpers/tsvm-process.js';
import { guestPath } from '../kvm/harness.js';
import { freePort } from './rsp-client.js';
import { scratchDir } from '../helpers/scratch.js';

const DEBUG_EXIT = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=4'];

/** tsvm on `guest`, stopped, its gdbstub on a free TCP port. */
export async function startStopped(accel: string, guest: string): Promise<{ run: TsvmRun; port: number }> {
  const port = await freePort();
  const run = startTsvm(['-accel', accel, '-kernel', guestPath(guest), '-display', 'none', '-serial', 'stdio', ...DEBUG_EXIT,
    '-gdb', `tcp:127.0.0.1:${port}`, '-S']);
  return { run, port };
}

/** gdb -batch connected to the stub, running `commands`; its stdout and stderr together. */
export function gdbBatch(port: number, commands: string[]): string {
  const dir = scratchDir('tsvm-gdb-');
  const script = join(dir, 'cmds.gdb');
  writeFileSync(script, ['set pagination off', 'set confirm off', `target remote 127.0.0.1:${port}`, ...commands].join('\n') + '\n');
  const r = spawnSync('gdb', ['-batch', '-nx', '-x', script], { encoding: 'utf8', timeout: 60_000 });
  return r.stdout + r.stderr;
}
