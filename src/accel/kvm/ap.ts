/**
 * Application processors (-smp N): each AP's KVM_RUN loop runs in its own
 * worker thread, so APs execute in parallel with the boot vCPU. The vCPUs
 * themselves are created and configured on the main thread (as kvmtool
 * does); the worker only calls KVM_RUN on the fd and maps the kvm_run page.
 *
 * An AP's PIO and MMIO exits are rare (the device model belongs to the main
 * thread), so they are forwarded: the worker copies its kvm_run page into a
 * shared mailbox, kicks the main thread (immediate_exit on the boot vCPU plus
 * SIGUSR2, as kicker.ts explains) and sleeps on Atomics.wait until the main
 * thread has performed the access and answered in the same mailbox.
 *
 * With the in-kernel irqchip an AP starts in KVM_MP_STATE_UNINITIALIZED and
 * the kernel's local APIC starts it on the guest's INIT/SIPI, so until then
 * its KVM_RUN simply sleeps in the kernel.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type koffi from 'koffi';
import { EXIT, IOCTL, KVM_EXIT_IO_IN, RUN } from './abi.js';
import type { KvmVcpu } from './vcpu.js';
import { getpid, gettid, tgkill } from './libc.js';
import { KICK_SIGNAL } from './kicker.js';

/** Int32 slots of an AP's control block. */
const STATE = 0;
const CMD = 1;
const TID = 2;
const CONTROL_INTS = 4;
/** How long destroy() lets a starting AP worker finish loading koffi before it is torn down. */
const STARTUP_WAIT_MS = 5000;

/** STATE: what the AP thread is doing (0: running). */
const REQUEST = 1;
const REPLIED = 2;
const PARKED = 3;
/** The main thread is performing the AP's exit (the AP waits for the reply, out of KVM_RUN). */
const HANDLING = 4;

/** CMD: what the main thread wants. */
const CMD_RUN = 0;
const CMD_PARK = 1;
const CMD_STOP = 2;

/** The main thread's side of one AP. */
interface ApThread {
  vcpu: KvmVcpu;
  control: Int32Array;
  mailbox: DataView;
  worker: Worker;
}

/** What the main thread does with a forwarded exit: returns true when the VM must stop. */
export type ForwardedExitHandler = (vcpu: KvmVcpu, run: DataView) => boolean;

export class ApThreads {
  private readonly threads: ApThread[];
  /**
   * A worker blocked inside KVM_RUN cannot be terminated, and Node waits for
   * its workers when the process exits (even on an uncaught exception), so
   * the APs are kicked out of the kernel on the way out.
   */
  private readonly stopOnExit = () => this.destroy();
  private destroyed = false;

  constructor(
    aps: readonly KvmVcpu[],
    bootVcpuFd: number,
    runSize: number,
    private readonly onExit: ForwardedExitHandler,
  ) {
    const koffiPath = createRequire(import.meta.url).resolve('koffi');
    this.threads = aps.map((vcpu) => {
      const controlBuffer = new SharedArrayBuffer(CONTROL_INTS * 4);
      const mailboxBuffer = new SharedArrayBuffer(runSize);
      const control = new Int32Array(controlBuffer);
      control[CMD] = CMD_PARK;
      const data: ApData = {
        koffiPath,
        control: controlBuffer,
        mailbox: mailboxBuffer,
        vcpuFd: vcpu.fd,
        bootVcpuFd,
        runSize,
        pid: getpid(),
        mainTid: gettid(),
        signal: KICK_SIGNAL,
        kvmRun: IOCTL.KVM_RUN,
        exitReason: RUN.exit_reason,
        immediateExit: RUN.immediate_exit,
        quietExits: [EXIT.KVM_EXIT_INTR, EXIT.KVM_EXIT_IRQ_WINDOW_OPEN],
        ioExit: EXIT.KVM_EXIT_IO,
        mmioExit: EXIT.KVM_EXIT_MMIO,
        ioIn: KVM_EXIT_IO_IN,
        run: RUN,
      };
      const worker = new Worker(`(${apMain.toString()})(require('node:worker_threads').workerData)`, { eval: true, workerData: data });
      worker.unref();
      const thread = { vcpu, control, mailbox: new DataView(mailboxBuffer), worker };
      vcpu.quiesce = (fn) => this.whileParked(thread, fn);
      return thread;
    });
    process.once('exit', this.stopOnExit);
  }

  /** Lets every AP run (they stay in the kernel until the guest sends INIT/SIPI). */
  start(): void {
    for (const t of this.threads) {
      Atomics.store(t.control, CMD, CMD_RUN);
      Atomics.notify(t.control, CMD);
    }
  }

  /** Performs the exits APs are waiting on. Called by the main thread whenever it is kicked. */
  serviceExits(): void {
    for (const t of this.threads) {
      // HANDLING keeps a nested call (an exit handler reading this AP's registers) from taking the same exit twice.
      if (Atomics.compareExchange(t.control, STATE, REQUEST, HANDLING) !== REQUEST) continue;
      if (this.onExit(t.vcpu, t.mailbox)) this.requestPark(t);
      Atomics.store(t.control, STATE, REPLIED);
      Atomics.notify(t.control, STATE);
    }
  }

  /** Brings every AP out of KVM_RUN and waits until they are parked (their state is then safe to read or reset). */
  park(): void {
    for (const t of this.threads) this.requestPark(t);
    for (const t of this.threads) this.waitParked(t);
  }

  /**
   * Runs `fn` with one AP out of KVM_RUN (the kernel holds a vCPU's state
   * for the whole of KVM_RUN, even while the guest halts), resuming it after
   * if it was running: the monitor can read an AP's registers at any time.
   */
  private whileParked<T>(t: ApThread, fn: () => T): T {
    const wasRunning = Atomics.load(t.control, CMD) === CMD_RUN;
    if (wasRunning) {
      this.requestPark(t);
      this.waitParked(t);
    }
    try {
      return fn();
    } finally {
      if (wasRunning) {
        Atomics.store(t.control, CMD, CMD_RUN);
        Atomics.notify(t.control, CMD);
      }
    }
  }

  /** Until the AP is out of KVM_RUN: parked, or waiting on an exit the main thread is handling. */
  private waitParked(t: ApThread): void {
    for (;;) {
      const state = Atomics.load(t.control, STATE);
      if (state === PARKED || state === HANDLING || Atomics.load(t.control, TID) === 0) return;
      this.serviceExits();
      Atomics.wait(t.control, STATE, Atomics.load(t.control, STATE), 1);
    }
  }

  private requestPark(t: ApThread): void {
    Atomics.store(t.control, CMD, CMD_PARK);
    this.kick(t);
  }

  private kick(t: ApThread): void {
    t.vcpu.requestExit();
    const tid = Atomics.load(t.control, TID);
    if (tid !== 0) tgkill(getpid(), tid, KICK_SIGNAL);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off('exit', this.stopOnExit);
    for (const t of this.threads) {
      Atomics.store(t.control, CMD, CMD_STOP);
      Atomics.notify(t.control, CMD);
      // A worker torn down while koffi is still loading inside it aborts the whole process
      // (napi_throw during teardown): let it finish starting up first; it then sees CMD_STOP.
      Atomics.wait(t.control, TID, 0, STARTUP_WAIT_MS);
      this.kick(t);
      void t.worker.terminate();
    }
  }
}

interface ApData {
  koffiPath: string;
  control: SharedArrayBuffer;
  mailbox: SharedArrayBuffer;
  vcpuFd: number;
  bootVcpuFd: number;
  runSize: number;
  pid: number;
  mainTid: number;
  signal: number;
  kvmRun: number;
  exitReason: number;
  immediateExit: number;
  quietExits: number[];
  ioExit: number;
  mmioExit: number;
  ioIn: number;
  run: typeof RUN;
}

/**
 * An AP thread's whole program (serialized with toString() and run with
 * `eval`, so it refers to nothing outside itself): KVM_RUN, and every exit
 * the kernel did not handle goes to the main thread through the mailbox.
 */
function apMain(d: ApData): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const k = require(d.koffiPath) as typeof koffi;
  const libc = k.load('libc.so.6');
  const ioctl = libc.func('int ioctl(int fd, unsigned long request, ...)');
  const mmap = libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)');
  const tgkill = libc.func('int tgkill(int tgid, int tid, int sig)');
  const gettid = libc.func('int gettid()');
  const mapRun = (fd: number) => new Uint8Array(k.view(mmap(null, d.runSize, 3, 1, fd, 0), d.runSize));
  const run = mapRun(d.vcpuFd);
  const runView = new DataView(run.buffer, run.byteOffset, run.byteLength);
  const bootRun = mapRun(d.bootVcpuFd);
  const control = new Int32Array(d.control);
  const mailbox = new Uint8Array(d.mailbox);
  const [STATE, CMD, TID] = [0, 1, 2];
  const [RUNNING, REQUEST, , PARKED] = [0, 1, 2, 3];
  const [CMD_PARK, CMD_STOP] = [1, 2];
  Atomics.store(control, TID, gettid() as number);
  Atomics.notify(control, TID);

  for (;;) {
    const cmd = Atomics.load(control, CMD);
    if (cmd === CMD_STOP) break;
    if (cmd === CMD_PARK) {
      Atomics.store(control, STATE, PARKED);
      Atomics.notify(control, STATE);
      Atomics.wait(control, CMD, CMD_PARK);
      continue;
    }
    Atomics.store(control, STATE, RUNNING);
    if ((ioctl(d.vcpuFd, d.kvmRun, 'uint64_t', 0) as number) < 0) {
      run[d.immediateExit] = 0; // a kick: look at CMD again
      continue;
    }
    const reason = runView.getUint32(d.exitReason, true);
    if (d.quietExits.includes(reason)) continue;
    mailbox.set(run);
    Atomics.store(control, STATE, REQUEST);
    bootRun[d.immediateExit] = 1;
    tgkill(d.pid, d.mainTid, d.signal);
    while (Atomics.load(control, STATE) === REQUEST) Atomics.wait(control, STATE, REQUEST);
    if (reason === d.ioExit && runView.getUint8(d.run.io_direction) === d.ioIn) {
      const at = Number(runView.getBigUint64(d.run.io_data_offset, true));
      const bytes = runView.getUint8(d.run.io_size) * runView.getUint32(d.run.io_count, true);
      run.set(mailbox.subarray(at, at + bytes), at);
    } else if (reason === d.mmioExit && runView.getUint8(d.run.mmio_is_write) === 0) {
      run.set(mailbox.subarray(d.run.mmio_data, d.run.mmio_data + 8), d.run.mmio_data);
    }
  }
  Atomics.store(control, TID, 0);
}
