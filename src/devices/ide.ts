/**
 * The PC's legacy IDE controller (as in the PIIX): two channels, each with a
 * master and a slave device, a command block of eight ports and a control
 * block port, and one ISA interrupt line.
 *
 *   primary:   0x1F0-0x1F7, 0x3F6, IRQ 14
 *   secondary: 0x170-0x177, 0x376, IRQ 15
 *
 * Register semantics follow ATA/ATAPI-6 section 7; where a behaviour is left
 * to the implementation (empty channels, an absent slave) tsvm does what
 * QEMU does so guests that run on QEMU probe the same way. Data moves by PIO
 * only: PCI bus-master DMA (the PIIX's BMIDE function) is not implemented yet
 * and DMA commands abort, which guests handle by falling back to PIO.
 *
 * 0x3F7 (the drive address register) is left to the floppy controller,
 * which shares that port on a PC.
 */
import type { IrqLine } from '../io/irq.js';
import type { PortBus } from '../io/port-bus.js';
import type { AccessSize } from '../memory/address-space.js';
import type { HdGeometry } from './hd-geometry.js';
import { AtaDisk } from './ide-ata.js';
import { AtapiDrive } from './atapi.js';
import { IdeDevice, Select, Status, type IdeDriveConfig } from './ide-device.js';

export type { IdeDriveConfig } from './ide-device.js';

/** Device control register bits (ATA/ATAPI-6, Device Control register). */
const Control = {
  NIEN: 0x02,
  SRST: 0x04,
  HOB: 0x80,
} as const;

/** Command block register offsets from the channel base. */
const Reg = {
  DATA: 0,
  ERROR_FEATURE: 1,
  NSECTOR: 2,
  SECTOR: 3,
  LCYL: 4,
  HCYL: 5,
  SELECT: 6,
  STATUS_COMMAND: 7,
} as const;

const CHANNELS = [
  { name: 'ide0', base: 0x1f0, control: 0x3f6 },
  { name: 'ide1', base: 0x170, control: 0x376 },
] as const;

export class IdeChannel {
  readonly devices: [IdeDevice | undefined, IdeDevice | undefined] = [undefined, undefined];
  /** The device the DEV bit selects. */
  unit = 0;
  /** Device control register. */
  control = 0;
  /** The level last driven on the IRQ line, so unchanged levels are not re-sent to the interrupt controller. */
  private irqLevel = false;

  constructor(private readonly irq: IrqLine) {}

  get selected(): IdeDevice | undefined {
    return this.devices[this.unit];
  }

  /** INTRQ: the selected device's pending interrupt, unless the host masked it with nIEN (ATA/ATAPI-6, INTRQ). */
  updateIrq(): void {
    const level = !(this.control & Control.NIEN) && (this.selected?.irqPending ?? false);
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq.set(level);
  }

  readData(size: AccessSize): number {
    return this.selected?.readData(size) ?? 0;
  }

  writeData(size: AccessSize, value: number): void {
    this.selected?.writeData(size, value);
  }

  /** A command block register read. With no device there, the bus reads 0, as on QEMU. */
  readRegister(reg: number): number {
    const dev = this.selected;
    if (!dev) return 0;
    const tf = dev.tf;
    const hob = (this.control & Control.HOB) !== 0;
    switch (reg) {
      case Reg.ERROR_FEATURE: return hob ? tf.hobFeature : dev.error;
      case Reg.NSECTOR: return hob ? tf.hobNsector : tf.nsector;
      case Reg.SECTOR: return hob ? tf.hobSector : tf.sector;
      case Reg.LCYL: return hob ? tf.hobLcyl : tf.lcyl;
      case Reg.HCYL: return hob ? tf.hobHcyl : tf.hcyl;
      case Reg.SELECT: return tf.select;
      default: {
        // Reading Status acknowledges the interrupt; Alternate Status does not.
        dev.clearIrq();
        return dev.status;
      }
    }
  }

  readAltStatus(): number {
    return this.selected?.status ?? 0;
  }

  /** A command block register write: both devices latch the task file (ATA/ATAPI-6, I/O register descriptions). */
  writeRegister(reg: number, value: number): void {
    if (reg === Reg.STATUS_COMMAND) {
      this.command(value);
      return;
    }
    if (reg === Reg.SELECT) {
      for (const dev of this.devices) if (dev) dev.tf.select = value;
      this.unit = (value & Select.DEV) >> 4;
      this.updateIrq();
      return;
    }
    // Each write pushes the previous value to the 48-bit "previous content" (HOB) copy.
    for (const dev of this.devices) {
      if (!dev) continue;
      const tf = dev.tf;
      switch (reg) {
        case Reg.ERROR_FEATURE: tf.hobFeature = tf.feature; tf.feature = value; break;
        case Reg.NSECTOR: tf.hobNsector = tf.nsector; tf.nsector = value; break;
        case Reg.SECTOR: tf.hobSector = tf.sector; tf.sector = value; break;
        case Reg.LCYL: tf.hobLcyl = tf.lcyl; tf.lcyl = value; break;
        case Reg.HCYL: tf.hobHcyl = tf.hcyl; tf.hcyl = value; break;
      }
    }
    // A write to any command block register clears HOB (ATA/ATAPI-6, Device Control register).
    this.control &= ~Control.HOB;
  }

  writeControl(value: number): void {
    const wasReset = (this.control & Control.SRST) !== 0;
    const isReset = (value & Control.SRST) !== 0;
    this.control = value;
    if (!wasReset && isReset) this.assertSoftReset();
    if (wasReset && !isReset) this.releaseSoftReset();
    this.updateIrq();
  }

  /** Machine reset: both devices return to their power-on state. */
  hardReset(): void {
    this.control = 0;
    this.unit = 0;
    for (const dev of this.devices) dev?.powerOn();
    this.updateIrq();
  }

  private command(value: number): void {
    const dev = this.selected;
    if (!dev) return;
    // Only DEVICE RESET to a PACKET device is taken while BSY or DRQ is set (as QEMU enforces).
    if (dev.status & (Status.BSY | Status.DRQ) && !(value === 0x08 && dev.isAtapi)) return;
    dev.clearIrq();
    if (value === 0x90) this.executeDeviceDiagnostic();
    else dev.execute(value);
  }

  /**
   * EXECUTE DEVICE DIAGNOSTIC (ATA/ATAPI-6): both devices run their
   * diagnostics and show their signatures; error 01h means device 0 passed
   * and device 1 passed or is absent. Device 0 is left selected.
   */
  private executeDeviceDiagnostic(): void {
    for (const dev of this.devices) {
      if (!dev) continue;
      dev.resetState();
      dev.tf.select &= ~Select.DEV;
    }
    this.unit = 0;
    this.devices[0]?.raiseIrq();
  }

  /** SRST set: the devices are busy resetting until the host clears it (ATA/ATAPI-6, software reset protocol). */
  private assertSoftReset(): void {
    for (const dev of this.devices) {
      if (!dev) continue;
      dev.stopPio();
      dev.clearIrq();
      dev.status = Status.BSY | Status.DSC;
    }
  }

  private releaseSoftReset(): void {
    for (const dev of this.devices) dev?.resetState();
    this.unit = 0;
  }
}

export class IdeController {
  readonly channels: [IdeChannel, IdeChannel];

  constructor(io: PortBus, irq14: IrqLine, irq15: IrqLine) {
    this.channels = [new IdeChannel(irq14), new IdeChannel(irq15)];
    CHANNELS.forEach((c, i) => this.registerPorts(io, this.channels[i]!, c));
  }

  /**
   * Connects a drive. `channel` 0 is primary, `unit` 0 is master; -hda..-hdd
   * and `-drive index=0..3` map to (index >> 1, index & 1).
   */
  attach(channel: 0 | 1, unit: 0 | 1, drive: IdeDriveConfig): void {
    const ch = this.channels[channel];
    if (ch.devices[unit]) throw new Error(`IDE ${channel}:${unit} is already in use`);
    // QEMU numbers drive serials QM00001.. in attach order; tsvm numbers them by position.
    const serial = `QM${String(channel * 2 + unit + 1).padStart(5, '0')}`;
    const dev =
      drive.media === 'cdrom'
        ? new AtapiDrive(drive, serial, () => ch.updateIrq())
        : new AtaDisk(drive, serial, () => ch.updateIrq());
    dev.powerOn();
    ch.devices[unit] = dev;
    ch.updateIrq();
  }

  /** The geometry of the hard disk at (channel, unit), for the BIOS's CMOS entries; undefined for none or a CD-ROM. */
  diskGeometry(channel: 0 | 1, unit: 0 | 1): HdGeometry | undefined {
    const dev = this.channels[channel].devices[unit];
    return dev instanceof AtaDisk ? dev.geometry : undefined;
  }

  /** Machine reset. */
  reset(): void {
    for (const ch of this.channels) ch.hardReset();
  }

  private registerPorts(io: PortBus, ch: IdeChannel, c: (typeof CHANNELS)[number]): void {
    io.register(`${c.name}-data`, c.base, 1, {
      read: (_port, size) => ch.readData(size),
      write: (_port, size, value) => ch.writeData(size, value),
    }, 1 | 2 | 4);
    io.register(c.name, c.base + 1, 7, {
      read: (port) => ch.readRegister(port - c.base),
      write: (port, _size, value) => ch.writeRegister(port - c.base, value),
    });
    io.register(`${c.name}-control`, c.control, 1, {
      read: () => ch.readAltStatus(),
      write: (_port, _size, value) => ch.writeControl(value),
    });
  }
}
