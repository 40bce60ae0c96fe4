/**
 * Runs tsvm again under the V8 flags the translator needs, when Node was
 * started without them (`node bin/tsvm`, or the shebang, which cannot pass
 * flags portably). V8 reads these flags only when it starts.
 *
 * --concurrent-recompilation-queue-length: V8 queues at most 8 functions
 * for its optimising compiler and drops further requests until the function
 * has run hot again. Booting Linux makes thousands of translated blocks hot
 * at once, so with the default most blocks ran unoptimised for tens of
 * seconds: a loop through 600 small generated functions took 480 ns per call
 * with the default and 36 ns with a queue of 64.
 *
 * The first process only waits: it passes signals on and ends as the second
 * does (its exit status, or the same signal). The second asks the kernel to
 * kill it if the first dies (PR_SET_PDEATHSIG), so `kill -9` of the pid a
 * script started leaves no machine running on.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

export const V8_FLAGS = ['--concurrent-recompilation-queue-length=256'];

/** Set in the second process: the first one's pid. */
const PARENT_ENV = 'TSVM_RELAUNCHED_BY';
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;

export function hasV8Flags(): boolean {
  return V8_FLAGS.every((f) => process.execArgv.includes(f));
}

/** Runs this command again with V8_FLAGS; resolves never (the process ends as the relaunched one does). */
export function relaunch(): Promise<never> {
  const child = spawn(process.execPath, [...V8_FLAGS, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [PARENT_ENV]: String(process.pid) },
  });
  // A terminal's Ctrl-C reaches both processes; the machine takes the first signal and ignores repeats.
  for (const s of FORWARDED) process.on(s, () => child.kill(s));
  return new Promise(() => {
    child.on('error', (err) => {
      process.stderr.write(`tsvm: cannot start ${process.execPath}: ${err.message}\n`);
      process.exit(1);
    });
    child.on('exit', (code, signal) => {
      if (signal === null) process.exit(code ?? 1);
      for (const s of FORWARDED) process.removeAllListeners(s);
      process.kill(process.pid, signal);
    });
  });
}

let launcherPid = 0;

/** The pid of the process the user started: -pidfile names it, as `$!` in a script does. */
export function userPid(): number {
  return launcherPid || process.pid;
}

/** In the relaunched process: die with the first one (see above). Linux only; elsewhere a no-op. */
export function followParent(): void {
  const parent = Number(process.env[PARENT_ENV]);
  if (!parent) return;
  launcherPid = parent;
  delete process.env[PARENT_ENV]; // not inherited by -daemonize's child, which outlives us by design
  try {
    const koffi = createRequire(import.meta.url)('koffi');
    const prctl = koffi.load('libc.so.6').func('int prctl(int, unsigned long, unsigned long, unsigned long, unsigned long)');
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  } catch {
    return; // no libc to ask: the first process still passes signals on
  }
  // The first process may have died before prctl() took effect.
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}
