/**
 * What an accelerator (tcg, kvm) is given and what it offers.
 *
 * The machine builds a MachineBus (RAM, ports, interrupts, clock, lifecycle)
 * and hands it to the accelerator, which creates vCPUs over it and runs
 * them. Both accelerators offer the same Vcpu view so the monitor, gdbstub,
 * boot loaders and snapshots work with either.
 */
import type { AccelName } from '../config.js';
import type { AddressSpace } from '../memory/address-space.js';
import type { PortBus } from '../io/port-bus.js';
import type { CpuInterruptSource, IrqRouter } from '../io/irq.js';
import type { A20Gate } from '../io/a20.js';
import type { TimerQueue, VirtualClock } from '../machine/clock.js';
import type { Lifecycle } from '../machine/lifecycle.js';
import type { CpuState } from './cpu-state.js';

export interface MachineBus {
  mem: AddressSpace;
  io: PortBus;
  irq: IrqRouter;
  /** The PIC's INTR pin and INTA cycle (tsvm's own i8259 pair). */
  intr: CpuInterruptSource;
  a20: A20Gate;
  clock: VirtualClock;
  timers: TimerQueue;
  lifecycle: Lifecycle;
  /** CPUID model name from -cpu. */
  cpuModel: string;
  smp: number;
}

export interface Vcpu {
  readonly index: number;
  getState(): CpuState;
  setState(state: CpuState): void;
  /** Linear to physical through the guest's current paging mode; undefined when not mapped. */
  translate(linear: bigint): bigint | undefined;
}

/** Why `run` returned. */
export type RunStop =
  /** A lifecycle request is pending (take it from bus.lifecycle). */
  | 'request'
  /** `pause()` was called (monitor stop, gdb). */
  | 'paused';

export interface Accelerator {
  readonly name: AccelName;
  readonly vcpus: readonly Vcpu[];
  /**
   * Runs the guest until a lifecycle request is posted or pause() is called.
   * Keeps Node's event loop turning (chardevs, timers, monitors) meanwhile.
   */
  run(): Promise<RunStop>;
  /** Asks a running `run()` to return 'paused' soon (within milliseconds). */
  pause(): void;
  /** Puts every vCPU in its power-on state (the machine reloads firmware/boot state after). */
  resetVcpus(): void;
  /**
   * Writes the tables that describe this accelerator's CPUs and interrupt
   * controllers to the guest (KVM's in-kernel IOAPIC: the MP table), after
   * each boot image load.
   */
  writePlatformTables?(): void;
  /** Releases host resources (fds, mappings, threads). */
  destroy(): void;
}
