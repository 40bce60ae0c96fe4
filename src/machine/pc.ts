/**
 * The PC: assembles RAM, buses, chips, disks, chardevs, firmware or a
 * direct-boot kernel, and an accelerator from a MachineConfig.
 *
 * The layout follows QEMU's `pc` (i440FX + PIIX) machine so that guests and
 * firmware written for it find what they expect at the same places:
 * COM1-4 at 0x3f8/0x2f8/0x3e8/0x2e8 on IRQ 4/3/4/3, the PIT on IRQ 0, the
 * RTC on IRQ 8, IDE on IRQ 14/15, ACPI PM at 0x600 with SCI on IRQ 9, the
 * HPET at 0xFED00000 (its LegacyReplacement takes IRQ 0 and 8 from the PIT
 * and the RTC, so they reach their lines through it), pc.rom and the BIOS's
 * isa-bios alias below 1 MiB with the i440FX's PAM shadow RAM over them.
 */
import type { MachineConfig } from '../config.js';
import { AddressSpace } from '../memory/address-space.js';
import { PortBus } from '../io/port-bus.js';
import { IrqRouter, type CpuInterruptSource, type IrqLine, type IrqSink } from '../io/irq.js';
import { A20Gate } from '../io/a20.js';
import { TimerQueue, VirtualClock } from './clock.js';
import { Lifecycle } from './lifecycle.js';
import type { Accelerator, MachineBus } from '../accel/accel.js';
import { I8259Pair } from '../devices/i8259.js';
import { I8254Pit } from '../devices/i8254.js';
import { Mc146818Rtc, fillPcCmos, type CmosDisk } from '../devices/mc146818.js';
import { Uart16550 } from '../devices/uart16550.js';
import { IdeController } from '../devices/ide.js';
import { Vga } from '../devices/vga.js';
import { I8237 } from '../devices/i8237.js';
import { Fdc, FDC_IRQ } from '../devices/fdc.js';
import { I8042 } from '../devices/i8042.js';
import { Port92 } from '../devices/port92.js';
import { ResetControl } from '../devices/reset-control.js';
import { Port80 } from '../devices/port80.js';
import { IsaDebugExit } from '../devices/debug-exit.js';
import { DebugCon } from '../devices/debugcon.js';
import { AcpiPm } from '../devices/acpi-pm.js';
import { Hpet } from '../devices/hpet.js';
import { createI440fxPiix } from '../devices/pci.js';
import { attachShadowRam, mapOptionRomSpace } from './shadow-ram.js';
import { selectAccelerator } from './accel-select.js';
import { loadBootImage, type BootImage } from './boot.js';
import { Disks } from './disks.js';
import { Chardevs } from './chardevs.js';
import { floppyDriveType } from '../boot/bios/drives.js';

interface Resettable {
  reset(): void;
}

/** The i440FX's PCI hole: RAM above this goes above 4 GiB (QEMU's default lowmem). */
const LOW_RAM_LIMIT = 0xe000_0000;
const COM_PORTS = [
  { base: 0x3f8, irq: 4 },
  { base: 0x2f8, irq: 3 },
  { base: 0x3e8, irq: 4 },
  { base: 0x2e8, irq: 3 },
];

/** QEMU's RunState names for the states tsvm has (query-status, info status). */
export type RunState = 'running' | 'paused' | 'prelaunch' | 'debug' | 'shutdown';

/** What the QMP monitors report as events: QEMU's runstate and lifecycle events. */
export type PcEvent =
  | { event: 'STOP' }
  | { event: 'RESUME' }
  | { event: 'RESET'; guest: boolean; reason: string }
  | { event: 'SHUTDOWN'; guest: boolean; reason: string }
  | { event: 'POWERDOWN' };

export class Pc {
  private resumeWaiters: (() => void)[] = [];
  private readonly eventListeners: ((e: PcEvent) => void)[] = [];
  runState: RunState = 'running';

  constructor(
    readonly config: MachineConfig,
    readonly bus: MachineBus,
    readonly accel: Accelerator,
    readonly chardevs: Chardevs,
    readonly disks: Disks,
    private readonly devices: Resettable[],
    private readonly boot: BootImage,
  ) {
    // A request (monitor quit, signal, Ctrl-A x) must reach the runner even while it waits for `cont`.
    bus.lifecycle.onRequest(() => this.wakeRunner());
  }

  /** A guest (or monitor) reset: chips to power-on state, firmware/kernel reloaded, CPUs at their entry. */
  reset(): void {
    for (const d of this.devices) d.reset();
    this.bus.a20.set(true);
    this.accel.resetVcpus();
    this.applyBootState();
  }

  applyBootState(): void {
    this.accel.vcpus[0]!.setState(this.boot.load(this.bus));
    this.accel.writePlatformTables?.();
  }

  /** The chip of a given class (the monitor's sendkey, system_powerdown, screendump), if the machine has one. */
  chip<T>(cls: abstract new (...args: never[]) => T): T | undefined {
    return this.devices.find((d): d is Resettable & T => d instanceof cls);
  }

  onEvent(listener: (e: PcEvent) => void): void {
    this.eventListeners.push(listener);
  }

  emit(e: PcEvent): void {
    for (const l of this.eventListeners) l(e);
  }

  /** Monitor `stop`, a gdb stop: the vCPUs leave run() and the runner parks in waitForResume(). */
  stop(state: 'paused' | 'debug' = 'paused'): void {
    if (this.runState !== 'running') {
      if (this.runState === 'paused' || this.runState === 'debug') this.runState = state;
      return;
    }
    this.runState = state;
    this.accel.pause();
    this.emit({ event: 'STOP' });
  }

  /**
   * Resolves when the monitor (or gdb) says `cont`, or a lifecycle request
   * is posted; the guest clock stands still meanwhile. `state` is what
   * query-status reports if the machine was running until now.
   */
  waitForResume(state: RunState = 'paused'): Promise<void> {
    if (this.runState === 'running' && state !== 'paused') {
      this.runState = state;
      if (state !== 'prelaunch') this.emit({ event: 'STOP' });
    }
    // resume() came between accel.pause() and here: nothing to wait for.
    if (this.runState === 'running') return Promise.resolve();
    this.bus.clock.pause();
    return new Promise((resolve) => this.resumeWaiters.push(resolve));
  }

  resume(): void {
    if (this.runState === 'running') return;
    this.runState = 'running';
    this.bus.clock.resume();
    this.wakeRunner();
    this.emit({ event: 'RESUME' });
  }

  private wakeRunner(): void {
    const waiters = this.resumeWaiters;
    this.resumeWaiters = [];
    for (const w of waiters) w();
  }

  /** Releases the accelerator, flushes and closes disks, closes chardevs (restoring the terminal). */
  async close(): Promise<void> {
    this.accel.destroy();
    this.disks.closeAll();
    await this.chardevs.closeAll();
  }
}

/** Stands in for the PIC when the in-kernel irqchip owns interrupts (KVM): the CPU never asks it. */
const NO_INTERRUPTS: CpuInterruptSource & IrqSink = {
  hasInterrupt: () => false,
  acknowledge: () => 0,
  setIrq: () => {},
};

export async function buildPc(config: MachineConfig): Promise<Pc> {
  // QEMU opens drives before it looks for firmware: a missing -hda is reported first.
  const disks = Disks.open(config.drives);
  try {
    const boot = loadBootImage(config);
    const choice = await selectAccelerator(config);
    const mem = new AddressSpace(config.memoryBytes, LOW_RAM_LIMIT, choice.allocateRam?.(config.memoryBytes));
    boot.mapFirmware(mem);
    const io = new PortBus();
    const pic = choice.inKernelIrqchip ? undefined : new I8259Pair(io);
    const clock = new VirtualClock();
    const bus: MachineBus = {
      mem,
      io,
      irq: new IrqRouter(pic ?? NO_INTERRUPTS),
      intr: pic ?? NO_INTERRUPTS,
      a20: new A20Gate(),
      clock,
      timers: new TimerQueue(clock),
      lifecycle: new Lifecycle(),
      cpuModel: choice.cpuModel,
      smp: config.smp,
    };
    const chardevs = await Chardevs.open(config, bus.lifecycle, () => disks.flushAll());
    const devices: Resettable[] = [];
    const hpet = config.hpet ? new Hpet(mem, bus.timers, bus.irq) : undefined;
    if (hpet) devices.push(hpet);
    if (pic) devices.push(pic, new I8254Pit(io, bus.timers, hpet?.pitIrq ?? bus.irq.line(0)));
    devices.push(...attachChips(config, bus, chardevs, disks, hpet?.rtcIrq ?? bus.irq.line(8)));
    boot.attachDevices?.(bus, disks);
    const accel = await choice.create(bus);
    const pc = new Pc(config, bus, accel, chardevs, disks, devices, boot);
    pc.applyBootState();
    return pc;
  } catch (err) {
    disks.closeAll();
    throw err;
  }
}

/** The ISA and PCI chips of QEMU's pc machine; the RTC drives `rtcIrq`. */
function attachChips(config: MachineConfig, bus: MachineBus, chardevs: Chardevs, disks: Disks, rtcIrq: IrqLine): Resettable[] {
  const { io, irq, timers, mem, lifecycle } = bus;
  const pm = new AcpiPm(io, timers, irq.line(9), lifecycle);
  const pci = createI440fxPiix(io, irq, pm, config.memoryBytes);
  mapOptionRomSpace(mem);
  attachShadowRam(mem, pci.i440fx);
  const rtc = new Mc146818Rtc(io, timers, rtcIrq, { base: config.rtc.base, clock: config.rtc.clock });
  const chips: Resettable[] = [pm, pci.bus, pci.host, rtc];
  chips.push(new I8042(io, irq.line(1), irq.line(12), bus.a20, lifecycle));
  chips.push(new Port92(io, bus.a20, lifecycle), new ResetControl(io, lifecycle));
  new Port80(io);
  config.serials.slice(0, COM_PORTS.length).forEach((id, i) => {
    const { base, irq: line } = COM_PORTS[i]!;
    chips.push(new Uart16550(io, base, irq.line(line), timers, chardevs.frontend(id)));
  });
  chips.push(attachIde(config, bus, rtc, disks));
  chips.push(...attachFloppies(bus, disks));
  if (config.vga === 'std') chips.push(new Vga(io, mem));
  for (const dev of config.devices) {
    if (dev.driver === 'isa-debug-exit') new IsaDebugExit(io, dev.iobase, dev.iosize, lifecycle);
    else new DebugCon(io, dev.iobase, chardevs.frontend(dev.chardev)!);
  }
  return chips;
}

/** IDE drives in their -drive index positions, and their geometry in CMOS as a BIOS reads it. */
function attachIde(config: MachineConfig, bus: MachineBus, rtc: Mc146818Rtc, disks: Disks): IdeController {
  const ide = new IdeController(bus.io, bus.irq.line(14), bus.irq.line(15));
  for (const drive of disks.byInterface('ide')) {
    const { index, media } = drive.config;
    ide.attach(channelOf(index), unitOf(index), { backend: drive.backend, media });
  }
  const cmosDisks: (CmosDisk | undefined)[] = [0, 1, 2, 3].map((i) => ide.diskGeometry(channelOf(i), unitOf(i)));
  fillPcCmos(rtc, {
    memoryBytes: config.memoryBytes,
    lowRamLimit: LOW_RAM_LIMIT,
    floppies: disks.byInterface('floppy').map((d) => floppyDriveType(d.backend)),
    disks: cmosDisks,
    bootOrder: config.boot.order,
    cpus: config.smp,
  });
  return ide;
}

/** The ISA DMA controllers and the floppy controller, with -fda/-fdb (if=floppy index 0-1) in its drives. */
function attachFloppies(bus: MachineBus, disks: Disks): Resettable[] {
  const dma = new I8237(bus.io, bus.mem);
  const fdc = new Fdc(bus.io, bus.irq.line(FDC_IRQ), dma, bus.timers);
  for (const { config, backend } of disks.byInterface('floppy')) {
    if (backend && (config.index === 0 || config.index === 1)) fdc.attach(config.index, backend);
  }
  return [dma, fdc];
}

/** -drive index= on if=ide: 0-1 primary master/slave, 2-3 secondary. */
function channelOf(index: number): 0 | 1 {
  return (index >> 1) as 0 | 1;
}

function unitOf(index: number): 0 | 1 {
  return (index & 1) as 0 | 1;
}
