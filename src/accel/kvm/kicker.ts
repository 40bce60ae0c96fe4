/**
 * The kick: bringing the boot vCPU back out of KVM_RUN on time.
 *
 * The boot vCPU calls KVM_RUN synchronously on the main thread, so its
 * PIO/MMIO exits reach the single-threaded device model without a thread
 * hop (that hop would cost more than the exit itself). While the main thread
 * is inside KVM_RUN nothing else runs on it: not the TimerQueue, not Node's
 * event loop (stdin, sockets, signals, monitors). A small worker thread
 * watches for both on its behalf:
 *
 * - time: the main thread publishes when it wants control back (the next
 *   device timer, or the end of its slice: SLICE_MS while JavaScript timers
 *   are pending, IDLE_SLICE_MS otherwise);
 * - I/O: the worker poll()s the main event loop's own epoll descriptor
 *   (uv_backend_fd, exported by the node binary), which turns readable when
 *   any of the loop's descriptors is: stdin, sockets, the signal pipe, worker
 *   messages. So console input and SIGTERM act at once, and an idle guest
 *   wakes the host only when there is something to do.
 *
 * To kick, the worker
 *   1. sets kvm_run.immediate_exit (api.rst: if the main thread is about to
 *      enter KVM_RUN, the call returns EINTR at once — no lost wake-up), and
 *   2. sends SIGUSR2 to the main thread with tgkill; a signal pending on the
 *      thread makes a running KVM_RUN return EINTR.
 *
 * SIGUSR2 needs a handler (an ignored signal is discarded and would not
 * interrupt KVM_RUN; the default action kills the process): a native no-op
 * (libc.ts, installNoopSignalHandler). Neither Node nor libuv uses SIGUSR2
 * (Node reserves SIGUSR1 for its inspector).
 *
 * Protocol: a SharedArrayBuffer holds the wake time (milliseconds on
 * CLOCK_MONOTONIC, process.hrtime's clock, which both threads share) and an
 * "I/O is ready" flag; an eventfd tells the worker when the wake time moved
 * earlier. Publishing a later time costs nothing, so the hot exit path makes
 * no system call for the kicker.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import koffi from 'koffi';
import { closeFd, createEventFd, getpid, gettid, installNoopSignalHandler, signalEventFd } from './libc.js';

/** SIGUSR2: the signal that interrupts KVM_RUN in any of tsvm's vCPU threads. */
export const KICK_SIGNAL = 12;
/**
 * How long the guest may keep the main thread before the event loop gets a
 * turn anyway, while JavaScript timers (setTimeout) are pending: unlike I/O,
 * the kicker cannot see them coming, so this bounds their lateness.
 * (libuv's uv_backend_timeout would tell when the next one is due, but reads
 * 0 inside Node's check phase, where run() resumes after each yield.)
 */
export const SLICE_MS = 20;
/** The slice when no JavaScript timer is pending: only device timers and I/O need the main thread, and both wake it. */
export const IDLE_SLICE_MS = 1000;

/** Whether a (ref'ed) setTimeout/setInterval is pending on the event loop. */
export function jsTimersPending(): boolean {
  return process.getActiveResourcesInfo().includes('Timeout');
}

/** Int32 slots. */
const STOP = 0;
const IO_READY = 1;
/** Set by the worker once koffi is loaded and it is watching. */
const STARTED = 4;
/** Float64 slot of the wake time. */
const WAKE_AT = 1;
/** How long destroy() lets a starting worker finish loading koffi (a worker torn down meanwhile aborts the process). */
const STARTUP_WAIT_MS = 5000;

/** libuv, as the node binary exports it. */
const node = koffi.load(null);
const uvDefaultLoop = node.func('void *uv_default_loop()');
const uvBackendFd = node.func('int uv_backend_fd(const void *loop)');

/** Milliseconds on the monotonic clock both threads read. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export class Kicker {
  private readonly shared = new SharedArrayBuffer(24);
  private readonly i32 = new Int32Array(this.shared);
  private readonly f64 = new Float64Array(this.shared);
  private readonly notifyFd: number;
  private readonly worker: Worker;
  private published = Infinity;
  /** Node joins its workers when the process exits (even on an uncaught exception); one blocked in poll() would hang it. */
  private readonly stopOnExit = () => this.destroy();
  private destroyed = false;

  /** Kicks the calling thread out of KVM_RUN on the vCPU `vcpuFd` (whose kvm_run page is `runSize` bytes). */
  constructor(vcpuFd: number, runSize: number) {
    installNoopSignalHandler(KICK_SIGNAL);
    this.f64[WAKE_AT] = Infinity;
    this.notifyFd = createEventFd();
    const workerData: KickerData = {
      koffiPath: createRequire(import.meta.url).resolve('koffi'),
      shared: this.shared,
      pid: getpid(),
      tid: gettid(),
      signal: KICK_SIGNAL,
      vcpuFd,
      runSize,
      notifyFd: this.notifyFd,
      loopFd: uvBackendFd(uvDefaultLoop()) as number,
    };
    this.worker = new Worker(`(${kickerMain.toString()})(require('node:worker_threads').workerData)`, { eval: true, workerData });
    this.worker.unref();
    process.once('exit', this.stopOnExit);
  }

  /**
   * Asks to be kicked out of KVM_RUN at `wakeAt` (monotonicMs clock), or
   * when the event loop has I/O. Infinity: the main thread is out of the
   * guest, no kicks wanted.
   */
  wakeAt(wakeAt: number): void {
    if (wakeAt === this.published) return;
    const earlier = wakeAt < this.published;
    this.published = wakeAt;
    this.f64[WAKE_AT] = wakeAt;
    if (earlier) signalEventFd(this.notifyFd);
  }

  /** True (once) when the last kick was for event-loop I/O. */
  takeIoKick(): boolean {
    return Atomics.exchange(this.i32, IO_READY, 0) === 1;
  }

  /**
   * Stops the worker by asking it to leave its loop, never with
   * terminate(): a worker torn down inside a koffi call (still loading koffi
   * just after start, or returning from poll) aborts the whole process with
   * a failed napi_throw. It is given time to finish starting up first.
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.stopOnExit);
    Atomics.store(this.i32, STOP, 1);
    signalEventFd(this.notifyFd);
    Atomics.wait(this.i32, STARTED, 0, STARTUP_WAIT_MS);
    this.worker.once('exit', () => closeFd(this.notifyFd));
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
  /** eventfd: the wake time moved earlier, or stop. */
  notifyFd: number;
  /** The main event loop's epoll descriptor. */
  loopFd: number;
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
  const poll = libc.func('int poll(void *fds, unsigned long nfds, int timeout)');
  const read = libc.func('long read(int fd, void *buf, unsigned long count)');
  const [PROT_RW, MAP_SHARED, IMMEDIATE_EXIT, POLLIN] = [3, 1, 1, 1];
  const run = new Uint8Array(k.view(mmap(null, data.runSize, PROT_RW, MAP_SHARED, data.vcpuFd, 0), data.runSize));
  const i32 = new Int32Array(data.shared);
  const f64 = new Float64Array(data.shared);
  Atomics.store(i32, 4, 1); // STARTED
  Atomics.notify(i32, 4);
  /** After a kick, look again this soon if the main thread has not moved on (it may have been between two KVM_RUNs). */
  const REKICK_MS = 1;
  // struct pollfd { int fd; short events; short revents; } x2: the eventfd, then the loop's epoll fd.
  const fds = new DataView(new ArrayBuffer(16));
  fds.setInt32(0, data.notifyFd, true);
  fds.setInt16(4, POLLIN, true);
  fds.setInt32(8, data.loopFd, true);
  fds.setInt16(12, POLLIN, true);
  const drain = new BigUint64Array(1);
  const now = (): number => Number(process.hrtime.bigint()) / 1e6;
  const kick = (): void => {
    run[IMMEDIATE_EXIT] = 1;
    tgkill(data.pid, data.tid, data.signal);
  };
  /** poll()s the eventfd (and the event loop when `withLoop`); returns which became readable. */
  const waitFor = (timeoutMs: number, withLoop: boolean): { notified: boolean; io: boolean } => {
    fds.setInt16(6, 0, true);
    fds.setInt16(14, 0, true);
    const timeout = timeoutMs === Infinity ? -1 : Math.ceil(timeoutMs);
    poll(new Uint8Array(fds.buffer), withLoop ? 2 : 1, timeout);
    const notified = (fds.getInt16(6, true) & POLLIN) !== 0;
    if (notified) read(data.notifyFd, drain, 8);
    return { notified, io: withLoop && (fds.getInt16(14, true) & POLLIN) !== 0 };
  };
  while (Atomics.load(i32, 0) === 0) {
    const wakeAt = f64[1]!;
    const wait = wakeAt - now();
    if (wait <= 0) {
      kick();
      waitFor(REKICK_MS, false);
      continue;
    }
    // Infinity: the main thread is in its event loop itself; only wait for news.
    const { io } = waitFor(wait, wakeAt !== Infinity);
    if (io) {
      Atomics.store(i32, 1, 1);
      kick();
      waitFor(REKICK_MS, false);
    }
  }
}
