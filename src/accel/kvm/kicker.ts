/**
 * The kick: bringing a vCPU back out of KVM_RUN on time.
 *
 * The boot vCPU calls KVM_RUN synchronously on the main thread, so its
 * PIO/MMIO exits reach the single-threaded device model without a thread
 * hop (that hop would cost more than the exit itself). While the main thread
 * is inside KVM_RUN nothing else runs on it: not the TimerQueue, not Node's
 * event loop (stdin, sockets, signals). A small worker thread watches the
 * clock instead: when the time the main thread asked to be woken at passes
 * (the next timer deadline, or the end of the current event-loop slice), it
 *
 *   1. sets kvm_run.immediate_exit (api.rst: if the main thread is about to
 *      enter KVM_RUN, the call returns EINTR at once — no lost wake-up), and
 *   2. sends SIGUSR2 to the main thread with tgkill; a signal pending on the
 *      thread makes a running KVM_RUN return EINTR.
 *
 * SIGUSR2 needs a handler (an ignored signal is discarded and would not
 * interrupt KVM_RUN; the default action kills the process), and that handler
 * must be native: a JavaScript callback cannot run inside a signal. libc's
 * getpid() serves as the no-op handler: it ignores its argument, has no side
 * effect and is async-signal-safe. SA_RESTART (glibc's signal()) keeps
 * Node's other blocking system calls restarting transparently. Neither Node
 * nor libuv uses SIGUSR2 (Node reserves SIGUSR1 for its inspector).
 *
 * Protocol over a SharedArrayBuffer: the main thread stores the wake time
 * (milliseconds on CLOCK_MONOTONIC, process.hrtime's clock, which both
 * threads share) and bumps a sequence number; it notifies the worker only
 * when the new time is earlier than the one the worker sleeps towards.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import koffi from 'koffi';
import { gettid, getpid } from './libc.js';

/** SIGUSR2: the signal that interrupts KVM_RUN in any of tsvm's vCPU threads. */
export const KICK_SIGNAL = 12;
const SEQ = 0;
const STOP = 1;
/** Float64 index of the wake time. */
const WAKE_AT = 1;

let handlerInstalled = false;

/** Installs the no-op SIGUSR2 handler once per process. */
export function installKickHandler(): void {
  if (handlerInstalled) return;
  const libc = koffi.load('libc.so.6');
  const dlsym = libc.func('void *dlsym(void *handle, const char *name)');
  const signal = libc.func('void *signal(int signum, void *handler)');
  // dlsym(RTLD_DEFAULT, ...): RTLD_DEFAULT is the null handle on glibc.
  signal(KICK_SIGNAL, dlsym(null, 'getpid'));
  handlerInstalled = true;
}

/** Milliseconds on the monotonic clock both threads read. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export class Kicker {
  private readonly shared = new SharedArrayBuffer(16);
  private readonly i32 = new Int32Array(this.shared, 0, 2);
  private readonly f64 = new Float64Array(this.shared);
  private readonly worker: Worker;
  private published = Infinity;

  /** Kicks the calling thread's vCPU whose kvm_run page is at offset 0 of `vcpuFd`. */
  constructor(vcpuFd: number, runSize: number) {
    installKickHandler();
    this.f64[WAKE_AT] = Infinity;
    const workerData = {
      koffiPath: createRequire(import.meta.url).resolve('koffi'),
      shared: this.shared,
      pid: getpid(),
      tid: gettid(),
      signal: KICK_SIGNAL,
      vcpuFd,
      runSize,
    };
    this.worker = new Worker(`(${kickerMain.toString()})(require('node:worker_threads').workerData)`, { eval: true, workerData });
    this.worker.unref();
  }

  /** Asks to be kicked out of KVM_RUN at `wakeAt` (monotonicMs clock). */
  wakeAt(wakeAt: number): void {
    if (wakeAt === this.published) return;
    const earlier = wakeAt < this.published;
    this.published = wakeAt;
    this.f64[WAKE_AT] = wakeAt;
    Atomics.add(this.i32, SEQ, 1);
    if (earlier) Atomics.notify(this.i32, SEQ);
  }

  destroy(): void {
    Atomics.store(this.i32, STOP, 1);
    Atomics.add(this.i32, SEQ, 1);
    Atomics.notify(this.i32, SEQ);
    void this.worker.terminate();
  }
}

interface KickerData {
  koffiPath: string;
  shared: SharedArrayBuffer;
  pid: number;
  tid: number;
  signal: number;
  vcpuFd: number;
  runSize: number;
}

/**
 * The worker's whole program. It is serialized with toString() and run with
 * `eval`, so it must not refer to anything outside itself (the worker loads
 * koffi by path).
 */
function kickerMain(data: KickerData): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const k = require(data.koffiPath) as typeof koffi;
  const libc = k.load('libc.so.6');
  const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
  const tgkill = libc.func('int tgkill(int tgid, int tid, int sig)');
  const PROT_RW = 3;
  const MAP_SHARED = 1;
  const IMMEDIATE_EXIT = 1;
  const run = new Uint8Array(k.view(mmap(null, data.runSize, PROT_RW, MAP_SHARED, data.vcpuFd, 0), data.runSize));
  const i32 = new Int32Array(data.shared, 0, 2);
  const f64 = new Float64Array(data.shared);
  /** After a kick, re-check this often until the main thread publishes a new time. */
  const REKICK_MS = 1;
  const now = (): number => Number(process.hrtime.bigint()) / 1e6;
  while (Atomics.load(i32, 1) === 0) {
    const seq = Atomics.load(i32, 0);
    const wait = f64[1]! - now();
    if (wait <= 0) {
      run[IMMEDIATE_EXIT] = 1;
      tgkill(data.pid, data.tid, data.signal);
      Atomics.wait(i32, 0, seq, REKICK_MS);
    } else {
      Atomics.wait(i32, 0, seq, wait === Infinity ? undefined : wait);
    }
  }
}
