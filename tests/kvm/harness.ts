/**
 * Running the KVM test guests (images/guests/*.asm) two ways:
 *
 * - under qemu-system-x86_64 -accel kvm (the reference), and
 * - under tsvm's KvmAccelerator directly, on a MachineBus built here with a
 *   few small stand-in devices (COM1 output, scratch and LSR; CMOS; a VGA
 *   text window as MMIO; isa-debug-exit at 0xf4), loaded with tsvm's
 *   multiboot loader.
 *
 * Both give the serial text the guest printed and how the run ended.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AddressSpace } from '../../src/memory/address-space.js';
import { PortBus } from '../../src/io/port-bus.js';
import { IrqRouter } from '../../src/io/irq.js';
import { A20Gate } from '../../src/io/a20.js';
import { TimerQueue, VirtualClock } from '../../src/machine/clock.js';
import { Lifecycle, type LifecycleRequest } from '../../src/machine/lifecycle.js';
import type { MachineBus } from '../../src/accel/accel.js';
import { loadMultiboot } from '../../src/boot/multiboot.js';
import { pcE820Map } from '../../src/boot/e820.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { I8254Pit } from '../../src/devices/i8254.js';
import { openKvm, KvmAccelerator } from '../../src/accel/kvm/kvm.js';
import { writeMpTable } from '../../src/accel/kvm/mptable.js';
import { runTsvm as runTsvmProcess } from '../helpers/tsvm-process.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GUEST_DIR = join(root, 'images', 'build', 'guests');

/** Why KVM tests cannot run here, or undefined when they can. */
export function kvmUnavailable(): string | undefined {
  if (!existsSync('/dev/kvm')) return '/dev/kvm is missing';
  try {
    openKvm().close();
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

let built = false;
export function buildGuests(): void {
  if (built) return;
  execFileSync(join(root, 'images', 'guests', 'build.sh'), { stdio: 'inherit' });
  built = true;
}

export function guestPath(name: string): string {
  return join(GUEST_DIR, `${name}.bin`);
}

export interface QemuResult {
  /** What the guest printed after the BIOS handed over. */
  serial: string;
  status: number | null;
  stderr: string;
}

/**
 * Runs `command` to its end (SIGTERM after `timeoutMs`, status null then). Asynchronously:
 * a test worker blocked in spawnSync cannot answer vitest's RPC, whose calls time out after
 * 60 s, and a file of such tests blocks it for all of them together.
 */
function runToEnd(command: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; status: number | null }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: timeoutMs, encoding: 'latin1', maxBuffer: 1 << 26 }, (_err, stdout, stderr) =>
      resolve({ stdout, stderr, status: child.exitCode }),
    );
  });
}

/** The guest under qemu-system-x86_64 -accel kvm, with isa-debug-exit at 0xf4. */
export async function runQemu(name: string, extra: string[] = [], timeoutMs = 20_000): Promise<QemuResult> {
  const r = await runToEnd(
    'qemu-system-x86_64',
    ['-accel', 'kvm', '-kernel', guestPath(name), '-nographic', '-net', 'none', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', ...extra],
    timeoutMs,
  );
  const out = r.stdout;
  const marker = 'Booting from ROM..';
  const at = out.lastIndexOf(marker);
  // SeaBIOS's line is "Booting from ROM.." and the guest's output follows on it; a loaded CI machine once
  // showed "Booting from ROM...\r" instead: the rest of SeaBIOS's line is not the guest's.
  const serial = (at >= 0 ? out.slice(at + marker.length).replace(/^\.*\r?\n?/, '') : out).replace(/\r\n/g, '\n');
  return { serial, status: r.status, stderr: r.stderr };
}

/**
 * Starts the guest under QEMU and resolves with its stderr once `pattern`
 * appears there (QEMU stops the VM but keeps running after a KVM internal
 * error), or when it exits or `timeoutMs` passes.
 */
export function qemuStderrUntil(name: string, extra: string[], pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const child = spawn(
    'qemu-system-x86_64',
    ['-accel', 'kvm', '-kernel', guestPath(name), '-nographic', '-net', 'none', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  child.stderr.setEncoding('latin1').on('data', (chunk: string) => {
    stderr += chunk;
    if (pattern.test(stderr)) child.kill('SIGKILL');
  });
  return new Promise((resolve) =>
    child.on('close', () => {
      clearTimeout(timer);
      resolve(stderr);
    }),
  );
}

export interface TsvmResult {
  serial: string;
  request: LifecycleRequest | undefined;
  /** Why run() returned. */
  stop: 'request' | 'paused';
  /** QEMU's exit status for the same ending (debug-exit: its status; -no-reboot triple fault: 0). */
  status: number | undefined;
  accel: KvmAccelerator;
}

export interface TsvmOptions {
  kernelIrqchip?: 'on' | 'off';
  cpuModel?: string;
  smp?: number;
  memoryBytes?: number;
  /** Called once the guest runs, with what a machine would have (to pause it, post requests...). */
  whileRunning?: (accel: KvmAccelerator, bus: MachineBus) => void;
}

/** A stand-in for COM1: transmit, LSR always ready, scratch register. */
function serialStub(io: PortBus, out: number[]): void {
  let scratch = 0;
  io.register('com1', 0x3f8, 8, {
    read: (port) => (port === 0x3fd ? 0x60 : port === 0x3ff ? scratch : 0),
    write: (port, _size, value) => {
      if (port === 0x3f8) out.push(value & 0xff);
      else if (port === 0x3ff) scratch = value & 0xff;
    },
  });
}

/** A stand-in for the MC146818's 128 bytes of CMOS behind index/data ports. */
function cmosStub(io: PortBus): void {
  const cmos = new Uint8Array(128);
  let index = 0;
  io.register('cmos', 0x70, 2, {
    read: (port) => (port === 0x71 ? cmos[index]! : 0xff),
    write: (port, _size, value) => {
      if (port === 0x70) index = value & 0x7f;
      else cmos[index] = value;
    },
  });
}

export function buildBus(opts: TsvmOptions, serialOut: number[]): { bus: MachineBus; ram: Uint8Array; handle: ReturnType<typeof openKvm> } {
  const memoryBytes = opts.memoryBytes ?? 32 << 20;
  const handle = openKvm();
  const ram = handle.allocateRam(memoryBytes);
  const mem = new AddressSpace(memoryBytes, 0xe000_0000, ram);
  const vga = new Uint8Array(0x20000);
  mem.addMmio('vga-lowmem', 0xa0000, 0x20000, {
    read: (off, size) => (size === 1 ? vga[off]! : size === 2 ? vga[off]! | (vga[off + 1]! << 8) : new DataView(vga.buffer).getUint32(off, true)),
    write: (off, size, value) => {
      for (let i = 0; i < size; i++) vga[off + i] = (value >>> (8 * i)) & 0xff;
    },
  });
  const io = new PortBus();
  const pic = new I8259Pair(io);
  const irq = new IrqRouter(pic);
  const clock = new VirtualClock();
  const timers = new TimerQueue(clock);
  const lifecycle = new Lifecycle();
  serialStub(io, serialOut);
  cmosStub(io);
  io.register('isa-debug-exit', 0xf4, 4, {
    read: () => 0xff,
    write: (_port, _size, value) => lifecycle.request({ kind: 'exit', status: ((value << 1) | 1) & 0xff, cause: 'isa-debug-exit' }),
  });
  if (opts.kernelIrqchip === 'off') new I8254Pit(io, timers, irq.line(0));
  const bus: MachineBus = { mem, io, irq, intr: pic, a20: new A20Gate(), clock, timers, lifecycle, cpuModel: opts.cpuModel ?? 'qemu64', smp: opts.smp ?? 1 };
  return { bus, ram, handle };
}

/** Loads the guest as a multiboot kernel and runs it under KvmAccelerator until a lifecycle request. */
export async function runTsvm(name: string, opts: TsvmOptions = {}): Promise<TsvmResult> {
  const serialOut: number[] = [];
  const { bus, handle } = buildBus(opts, serialOut);
  const accel = new KvmAccelerator(handle, bus, { kernelIrqchip: opts.kernelIrqchip ?? 'on', cpuModel: bus.cpuModel });
  try {
    const state = loadMultiboot(bus.mem, { kernel: readFileSync(guestPath(name)), modules: [], cmdline: guestPath(name), e820: pcE820Map(bus.mem) });
    accel.vcpus[0]!.setState(state);
    if (bus.smp > 1) writeMpTable(bus.mem, { cpus: bus.smp, ...accel.vcpus[0]!.cpuidSignature });
    const running = accel.run();
    opts.whileRunning?.(accel, bus);
    const stop = await running;
    const request = stop === 'request' ? bus.lifecycle.take() : undefined;
    const status = request?.kind === 'exit' ? request.status : request?.kind === 'reset' ? 0 : undefined;
    return { serial: Buffer.from(serialOut).toString('latin1'), request, status, stop, accel };
  } finally {
    accel.destroy();
  }
}

const TSVM = join(root, 'bin', 'tsvm');

export interface CliResult {
  stdout: string;
  stderr: string;
  status: number | null;
}

/** `tsvm -accel kvm -kernel <guest> -nographic -device isa-debug-exit,...` plus `extra`. */
export async function runTsvmCli(name: string, extra: string[] = [], timeoutMs = 20_000): Promise<CliResult> {
  const r = await runTsvmProcess(['-accel', 'kvm', '-kernel', guestPath(name), '-nographic', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', ...extra], timeoutMs);
  return { ...r, stdout: r.stdout.replace(/\r\n/g, '\n') };
}

/**
 * Starts tsvm on a guest, waits until its serial output contains `waitFor`,
 * then calls `act` with the child (send a signal, type on stdin) and resolves
 * with everything it printed and its exit status.
 */
export function interactWithTsvm(
  name: string,
  extra: string[],
  waitFor: string,
  act: (child: import('node:child_process').ChildProcess) => void,
): Promise<CliResult> {
  const child = spawn(process.execPath, [TSVM, '-accel', 'kvm', '-kernel', guestPath(name), '-nographic', ...extra], { stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  let acted = false;
  child.stdout.setEncoding('latin1').on('data', (chunk: string) => {
    stdout += chunk;
    if (!acted && stdout.includes(waitFor)) {
      acted = true;
      act(child);
    }
  });
  child.stderr.setEncoding('latin1').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (status) => resolve({ stdout: stdout.replace(/\r\n/g, '\n'), stderr, status })));
}
