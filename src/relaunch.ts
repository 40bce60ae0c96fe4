/**
 * Puts tsvm under the V8 flags the translator needs when Node was started
 * without them (`node bin/tsvm`, or the shebang, which cannot pass flags
 * portably): V8 reads these flags only when it starts, so the process
 * execve()s Node again with them, keeping its pid, its open files and
 * terminal, its environment and arguments (what Node 23's process.execve
 * does; Node 20 has none, so through koffi, already a dependency).
 *
 * --concurrent-recompilation-queue-length: V8 queues at most 8 functions
 * for its optimising compiler and drops further requests until the function
 * has run hot again. Booting Linux makes thousands of translated blocks hot
 * at once, so with the default most blocks ran unoptimised for tens of
 * seconds: a loop through 600 small generated functions took 480 ns per call
 * with the default and 36 ns with a queue of 64.
 *
 * --interrupt-budget=16384 (V8's default 67584): how much a function runs
 * before V8 considers optimising it. Blocks that run warm rather than hot
 * (the kernel's initcalls) otherwise spend most of their time in V8's
 * baseline code, whose every operation is a builtin call: over a boot,
 * baseline builtins and ICs took about a quarter of the samples of `perf
 * record`. With a quarter of the budget, two alternating rounds on a
 * 2-core machine gave boot to the shell 43-45 s against 50-65 s (main
 * thread 39-40 s of CPU against 47-62 s), the first 20,000-iteration shell
 * loop 5.6-6.9 s against 8.3-10.2 s and md5sum of 16 MiB 2.1-2.2 s against
 * 2.5-3.9 s; 8192 was no better for the boot and worse for md5sum.
 *
 * --bytecode-size-allowance-per-tick=100000 and --no-reset-ticks-on-ic-update:
 * V8 optimises a function once it has used up its interrupt budget 3 times
 * plus once per 150 bytes of its bytecode (V8's default allowance), and
 * starts counting again whenever one of its inline caches changes state. A
 * translated block's bytecode is kilobytes long and its ICs change each time
 * a path through it runs for the first time, so blocks of the kernel's
 * initcalls stayed in the baseline tier for most of their runs: while the
 * kernel initialised, 4 in 100 of the main thread's samples were optimised
 * blocks and 36 baseline code and its builtins. With both flags a block is
 * optimised after 3 budgets whatever its size. Alternating pairs on a
 * busy 2-core machine, as with/without ratios: the boot's main-thread CPU
 * 0.77-0.98 in seven pairs (wall time 0.84-1.02: the second core compiles
 * more); a 50,000-iteration shell loop run right after the boot 0.52-0.54
 * in three pairs and 1.23 in a fourth; a 200,000-iteration loop 0.96-1.34
 * in three pairs (0.76 in a traced run): the long loop's time moves by a
 * third from run to run either way, and about as many blocks were deoptimised
 * during it (66 against 57).
 *
 * --v8-pool-size (a Node option): the worker threads V8 compiles and
 * collects garbage on, Node's default 4. TurboFan works on as many blocks
 * at once as there are workers, and on a 2-core machine four of them took
 * the second core and much of the first from the guest's thread: booting
 * the i386 guest to its shell with one worker against four, 25.3-31.5 s
 * against 29.1-38.7 s in four alternating pairs (the shell loop and md5sum
 * after it within the noise). So one core is left to the guest: a worker per
 * other core, at least one and at most Node's four.
 *
 * Where execve() is not to be had, tsvm runs on without the flags (slower).
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

export const V8_FLAGS = [
  '--concurrent-recompilation-queue-length=256',
  '--interrupt-budget=16384',
  '--bytecode-size-allowance-per-tick=100000',
  '--no-reset-ticks-on-ic-update',
  `--v8-pool-size=${Math.min(4, Math.max(1, availableParallelism() - 1))}`,
];

const F_SETFD = 2;

export function hasV8Flags(): boolean {
  return V8_FLAGS.every((f) => process.execArgv.includes(f));
}

/** Replaces this process with Node under V8_FLAGS running the same script and arguments; returns only if that failed. */
export function execWithV8Flags(): void {
  let libc;
  try {
    libc = createRequire(import.meta.url)('koffi').load('libc.so.6');
  } catch {
    return;
  }
  const fcntl = libc.func('int fcntl(int, int, ...)');
  const execve = libc.func('int execve(const char *path, const char **argv, const char **envp)');
  // Node opens stdin, stdout and stderr close-on-exec: the new image must keep them.
  for (const fd of [0, 1, 2]) fcntl(fd, F_SETFD, 'int', 0);
  const argv = [process.execPath, ...V8_FLAGS, ...process.execArgv, ...process.argv.slice(1), null];
  const env = [...Object.entries(process.env).map(([k, v]) => `${k}=${v}`), null];
  execve(process.execPath, argv, env);
}
