/**
 * What the monitors (HMP and QMP) do to the machine, in one place so both
 * act alike: run control, reset, power button, quit, keys, memory reads and
 * dumps, screendump. (What they report is in info.ts.)
 */
import { writeFileSync } from 'node:fs';
import type { Pc } from '../machine/pc.js';
import type { Vcpu } from '../accel/accel.js';
import { TcgAccelerator } from '../accel/tcg/tcg.js';
import { AcpiPm } from '../devices/acpi-pm.js';
import { I8042, SET2_MAKE_CODES } from '../devices/i8042.js';
import { Vga } from '../devices/vga.js';
import { readPhysical, readVirtual, GuestMemoryError } from './guest-memory.js';
import { encodePpm, renderTextDisplay } from './screendump.js';
import { encodePng } from './png.js';
import { couldNotOpen, strerror } from '../host-errors.js';

export const QEMU_VERSION = { major: 7, minor: 2, micro: 0 };
export const VERSION_STRING = `${QEMU_VERSION.major}.${QEMU_VERSION.minor}.${QEMU_VERSION.micro}`;

/** A command failure with QEMU's QMP error class; HMP prints just the message. */
export class MonitorError extends Error {
  constructor(
    message: string,
    readonly errorClass: 'GenericError' | 'CommandNotFound' = 'GenericError',
  ) {
    super(message);
  }
}

/** QEMU's ShutdownCause names for what the monitor asks; the runner leaves their events to the monitor. */
const HOST_RESET = 'host-qmp-system-reset';
const HOST_QUIT = 'host-qmp-quit';

export class MachineControl {
  constructor(readonly pc: Pc) {}

  get running(): boolean {
    return this.pc.runState === 'running';
  }

  stop(): void {
    this.pc.stop('paused');
  }

  cont(): void {
    this.pc.resume();
  }

  /**
   * system_reset: at once while paused (the machine stays paused, as in
   * QEMU), else through the runner as a lifecycle request. QEMU sends the
   * RESET event before the command's reply; so does tsvm, and the runner
   * does not announce a reset the monitor asked for (cause host-qmp-*).
   */
  systemReset(): void {
    this.pc.emit({ event: 'RESET', guest: false, reason: HOST_RESET });
    if (this.running) this.pc.bus.lifecycle.request({ kind: 'reset', cause: HOST_RESET });
    else this.pc.reset();
  }

  /** system_powerdown: the ACPI power button (tsvm's pc always has ACPI PM; without it the request is ignored, as in QEMU). */
  systemPowerdown(): void {
    this.pc.emit({ event: 'POWERDOWN' });
    this.pc.chip(AcpiPm)?.pressPowerButton();
  }

  /** quit: the SHUTDOWN event goes out before the reply, as QEMU's does. */
  quit(): void {
    this.pc.emit({ event: 'SHUTDOWN', guest: false, reason: HOST_QUIT });
    this.pc.bus.lifecycle.request({ kind: 'quit', cause: HOST_QUIT });
  }

  /** sendkey ctrl-alt-delete: key names joined by '-', pressed in order and released in reverse. */
  sendKey(keys: string): void {
    const names = keys.split('-');
    const makes = names.map((name) => {
      const make = Object.hasOwn(SET2_MAKE_CODES, name) ? SET2_MAKE_CODES[name] : undefined;
      if (!make) throw new MonitorError(`invalid parameter: ${name}`);
      return make;
    });
    this.pc.chip(I8042)?.pressChord(makes);
  }

  readMemory(addr: bigint, length: number, physical: boolean, cpu = 0): Uint8Array {
    const { mem } = this.pc.bus;
    try {
      return physical ? readPhysical(mem, addr, length) : readVirtual(this.vcpu(cpu), mem, addr, length);
    } catch (e) {
      if (e instanceof GuestMemoryError) throw new MonitorError(`Invalid addr 0x${addr.toString(16)}/size ${length} specified`);
      throw e;
    }
  }

  /** memsave / pmemsave: `size` bytes to a file. */
  saveMemory(addr: bigint, size: number, file: string, physical: boolean, cpu = 0): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > 1 << 30) throw new MonitorError(`Invalid size ${size}`);
    const data = this.readMemory(addr, size, physical, cpu);
    try {
      writeFileSync(file, data);
    } catch (e) {
      throw new MonitorError(couldNotOpen(file, e).message);
    }
  }

  screendump(file: string, format: 'ppm' | 'png' = 'ppm'): void {
    const vga = this.pc.chip(Vga);
    if (!vga) throw new MonitorError('There is no console to take a screendump from');
    const image = renderTextDisplay(vga.textDisplay());
    try {
      writeFileSync(file, format === 'png' ? encodePng(image) : encodePpm(image));
    } catch (e) {
      throw new MonitorError(`failed to open file '${file}': ${strerror(e)}`);
    }
  }

  vcpu(index: number): Vcpu {
    const v = this.pc.accel.vcpus[index];
    if (!v) throw new MonitorError(`CPU #${index} not available`);
    return v;
  }

  /** TCG's translator counters and executed-instruction count (undefined under KVM). */
  jitStats(): Record<string, number> | undefined {
    const accel = this.pc.accel;
    if (!(accel instanceof TcgAccelerator)) return undefined;
    return { ...accel.jitStats(), executed: accel.executed };
  }
}
