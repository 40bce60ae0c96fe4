/**
 * Runs bin/tsvm as a user would (a child process with the QEMU-style
 * command line) and watches what it prints. Tests need `npm run build`
 * first; `npm test` does it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TSVM = join(ROOT, 'bin', 'tsvm');

export interface TsvmRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout contains `text` (rejects after `ms`). */
  waitFor(text: string | RegExp, ms?: number): Promise<void>;
  /** Resolves with the exit status (signal deaths give 128 + n). */
  exited: Promise<number>;
  write(text: string): void;
}

export interface TsvmSpawnOptions {
  cwd?: string;
  /** A command to run tsvm under, as `setpriv ...` to run it with fewer privileges. */
  wrapper?: readonly string[];
}

export function startTsvm(args: readonly string[], opts: TsvmSpawnOptions = {}): TsvmRun {
  const [command, ...argv] = [...(opts.wrapper ?? []), process.execPath, TSVM, ...args];
  const child = spawn(command!, argv, { cwd: opts.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString('latin1')));
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? signalNumber(signal) : 0))),
  );
  const matches = (text: string | RegExp) => (typeof text === 'string' ? out.includes(text) : text.test(out));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    write: (text) => child.stdin!.write(text),
    waitFor(text, ms = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${String(text)}; stdout so far:\n${out}\nstderr:\n${err}`)), ms);
        const check = () => {
          if (matches(text)) {
            clearTimeout(timer);
            resolve();
          } else {
            waiters.push(check);
          }
        };
        exited.then(() => {
          if (!matches(text)) {
            clearTimeout(timer);
            reject(new Error(`tsvm exited before printing ${String(text)}; stdout:\n${out}\nstderr:\n${err}`));
          }
        });
        check();
      });
    },
  };
}

/** Runs tsvm to completion (killing it after `ms`). */
export async function runTsvm(args: readonly string[], ms = 60_000, opts: TsvmSpawnOptions = {}) {
  const run = startTsvm(args, opts);
  run.child.stdin!.end();
  const timer = setTimeout(() => run.child.kill('SIGKILL'), ms);
  const status = await run.exited;
  clearTimeout(timer);
  return { status, stdout: run.stdout(), stderr: run.stderr() };
}

function signalNumber(signal: NodeJS.Signals): number {
  return { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal as string] ?? 0;
}
