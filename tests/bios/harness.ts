/**
 * Running firmware test guests (images/disk/build.sh) under tsvm and under
 * qemu-system-i386, watching the serial console as a user would: a run
 * ends when the guest exits, when the expected text has appeared (then the
 * emulator is stopped), or at the time limit.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DISK_DIR = path.join(ROOT, 'images/build/disk');
/** The tsvm launcher under test (TSVM_BIN overrides it, e.g. for a private build). */
const TSVM = process.env.TSVM_BIN ?? path.join(ROOT, 'bin/tsvm');
export const SEABIOS = '/usr/share/seabios/bios-256k.bin';
export const DEBUG_EXIT = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=1'];

let built = false;
/** Builds the images once per test run (seconds; the Linux guest first if it is missing). */
export function ensureDiskImages(): void {
  if (built) return;
  execFileSync('bash', [path.join(ROOT, 'images/disk/build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  built = true;
}

export function image(name: string): string {
  return path.join(DISK_DIR, name);
}

/** A scratch copy of an image the guest may write to; removed by the returned cleanup. */
export function scratchCopy(name: string): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsvm-bios-'));
  const file = path.join(dir, name);
  copyFileSync(image(name), file);
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function readSector(file: string, lba: number): Buffer {
  return readFileSync(file).subarray(lba * 512, lba * 512 + 512);
}

export interface Run {
  /** Serial console output (stdout), CRs removed. */
  serial: string;
  stderr: string;
  /** Exit status, or null when the run was stopped (text seen or time limit). */
  status: number | null;
  /** True when `until` appeared. */
  matched: boolean;
}

export interface RunOptions {
  /** Stop the emulator as soon as the serial output matches. */
  until?: RegExp;
  timeoutMs: number;
  /** `text` typed on the serial console once `after` has appeared. */
  input?: { after: RegExp; text: string };
}

export function runTsvm(args: string[], opts: RunOptions): Promise<Run> {
  return run(process.execPath, [TSVM, ...args], opts);
}

export function runQemu(args: string[], opts: RunOptions): Promise<Run> {
  return run('qemu-system-i386', ['-net', 'none', ...args], opts);
}

function run(command: string, args: string[], opts: RunOptions): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let serial = '';
    let stderr = '';
    let matched = false;
    let typed = false;
    const stop = () => child.kill('SIGKILL');
    const timer = setTimeout(stop, opts.timeoutMs);
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => {
      serial += chunk.replace(/\r/g, '');
      if (opts.input && !typed && opts.input.after.test(serial)) {
        typed = true;
        child.stdin.write(opts.input.text);
      }
      if (opts.until && !matched && opts.until.test(serial)) {
        matched = true;
        stop();
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ serial, stderr, status: code, matched });
    });
  });
}
