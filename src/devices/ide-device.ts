/**
 * One ATA or ATAPI device on an IDE channel: its task file, status and
 * error registers, pending interrupt, and the PIO data transfer in progress.
 *
 * All of it lives in plain data (`state`) so it can be saved and restored;
 * what a device does once the host has moved a PIO block is named by a
 * PioStep rather than held in a closure (QEMU's end_transfer_func index).
 *
 * Register and bit names follow ATA/ATAPI-6 (T13/1410D) section 7. The
 * command sets live in ide-ata.ts and atapi.ts; the channel (ide.ts) routes
 * port accesses here and drives the IRQ line.
 */
import type { BlockBackend } from '../block/block-backend.js';
import { log } from '../log.js';

/** Status register bits (ATA/ATAPI-6, Status register). */
export const Status = {
  ERR: 0x01,
  DRQ: 0x08,
  /** Device seek complete: obsolete, but always set with DRDY as QEMU and real drives do. */
  DSC: 0x10,
  DF: 0x20,
  DRDY: 0x40,
  BSY: 0x80,
} as const;

/** Error register bits (ATA/ATAPI-6, Error register). */
export const ErrorBit = {
  AMNF: 0x01,
  ABRT: 0x04,
  IDNF: 0x10,
  UNC: 0x40,
} as const;

/** Device register bits (ATA/ATAPI-6, Device register). */
export const Select = {
  /** Head number in CHS mode, LBA bits 27:24 in LBA28 mode. */
  HEAD: 0x0f,
  DEV: 0x10,
  LBA: 0x40,
  /** Bits 7 and 5 were "always one" in ATA-1..3; drives return what was written. */
  OBSOLETE: 0xa0,
} as const;

/** Interrupt reason bits in the sector count register during PACKET (ATA/ATAPI-6, PACKET command). */
export const Reason = { COD: 0x01, IO: 0x02 } as const;

export const READY = Status.DRDY | Status.DSC;

export type IdeMedia = 'disk' | 'cdrom';

export interface IdeDriveConfig {
  /** Undefined: a CD-ROM drive with no disc. */
  backend: BlockBackend | undefined;
  media: IdeMedia;
  model?: string;
}

/** Command block registers as the device latched them; `hob*` keep the previous write (48-bit). */
export interface TaskFile {
  feature: number;
  nsector: number;
  sector: number;
  lcyl: number;
  hcyl: number;
  hobFeature: number;
  hobNsector: number;
  hobSector: number;
  hobLcyl: number;
  hobHcyl: number;
  select: number;
}

/** What happens once the host has moved all the bytes of a PIO block. */
export type PioStep =
  /** The last data-in block of a command (IDENTIFY, the end of a read): nothing more. */
  | 'end'
  /** ATA READ: offer the next block. */
  | 'ata-read-next'
  /** ATA WRITE: store the block just received. */
  | 'ata-write-block'
  /** PACKET: the 12-byte command has arrived. */
  | 'atapi-packet'
  /** PACKET data-in: offer the next chunk. */
  | 'atapi-data-next';

/** A PIO data phase: the host reads (data-in) or writes (data-out) `data` through the data register. */
export interface PioTransfer {
  data: Uint8Array;
  pos: number;
  then: PioStep;
}

export interface IdeDeviceState {
  tf: TaskFile;
  status: number;
  error: number;
  /** INTRQ pending (ATA/ATAPI-6, INTRQ): set on completion, cleared by a status read or a new command. */
  irqPending: boolean;
  pio: PioTransfer | null;
}

export function initialDeviceState(): IdeDeviceState {
  return {
    tf: {
      feature: 0, nsector: 0, sector: 0, lcyl: 0, hcyl: 0,
      hobFeature: 0, hobNsector: 0, hobSector: 0, hobLcyl: 0, hobHcyl: 0, select: Select.OBSOLETE,
    },
    status: 0,
    error: 0,
    irqPending: false,
    pio: null,
  };
}

export abstract class IdeDevice<S extends IdeDeviceState = IdeDeviceState> {
  constructor(
    readonly config: IdeDriveConfig,
    /** Serial number text, e.g. "QM00001" as QEMU numbers its drives. */
    readonly serial: string,
    readonly state: S,
    /** Called whenever irqPending changes, so the channel can update its line. */
    private readonly irqChanged: () => void,
  ) {}

  get tf(): TaskFile {
    return this.state.tf;
  }

  get status(): number {
    return this.state.status;
  }

  set status(value: number) {
    this.state.status = value;
  }

  get error(): number {
    return this.state.error;
  }

  set error(value: number) {
    this.state.error = value;
  }

  get irqPending(): boolean {
    return this.state.irqPending;
  }

  get isAtapi(): boolean {
    return this.config.media === 'cdrom';
  }

  /**
   * Runs a command written to the command register. The channel has already
   * cleared the pending interrupt and refused commands while BSY or DRQ.
   */
  execute(command: number): void {
    if (this.executeCommon(command) || this.executeSpecific(command)) return;
    log.unimp({ command: '0x' + command.toString(16), atapi: this.isAtapi }, 'IDE command aborted');
    this.abort();
  }

  /** The command set of the device type; false for a command it does not implement. */
  protected abstract executeSpecific(command: number): boolean;

  /** Commands both ATA and PACKET devices take (mandatory for the PACKET feature set too). */
  private executeCommon(command: number): boolean {
    switch (command) {
      case 0xe5: // CHECK POWER MODE: FFh = active or idle
      case 0x98:
        this.tf.nsector = 0xff;
        this.complete();
        return true;
      case 0xe0: // STANDBY IMMEDIATE, IDLE IMMEDIATE, STANDBY, IDLE, SLEEP: a virtual disk never spins down
      case 0xe1:
      case 0xe2:
      case 0xe3:
      case 0xe6:
      case 0x94:
      case 0x95:
      case 0x96:
      case 0x97:
      case 0x99:
        this.complete();
        return true;
      case 0xef: // SET FEATURES
        if (this.setFeature(this.tf.feature)) this.complete();
        else this.abort();
        return true;
      default:
        return false;
    }
  }

  /**
   * SET FEATURES subcommands (ATA/ATAPI-6, SET FEATURES). Transfer modes:
   * PIO only, since tsvm has no bus-master DMA yet; a DMA mode is refused
   * like an unsupported mode.
   */
  protected setFeature(feature: number): boolean {
    switch (feature) {
      case 0x03: {
        const mode = this.tf.nsector;
        return mode <= 0x01 || (mode >= 0x08 && mode <= 0x0c);
      }
      case 0x55: // read look-ahead off/on, reverting to power-on defaults off/on: no effect on a virtual disk
      case 0xaa:
      case 0x66:
      case 0xcc:
        return true;
      default:
        return false;
    }
  }

  /** Starts a PIO data phase and sets DRQ; `then` runs once the host has moved all of `data`. */
  startPio(data: Uint8Array, then: PioStep): void {
    this.state.pio = { data, pos: 0, then };
    this.status |= Status.DRQ;
  }

  /** Ends any data phase without going on (errors, resets). */
  stopPio(): void {
    this.state.pio = null;
    this.status &= ~Status.DRQ;
  }

  /** A data register read of `size` bytes. Outside a data phase the bus reads zero, as on QEMU. */
  readData(size: number): number {
    const t = this.state.pio;
    if (!t || !(this.status & Status.DRQ)) return 0;
    let value = 0;
    for (let i = 0; i < size; i++) value |= (t.data[t.pos + i] ?? 0) << (8 * i);
    this.advance(t, size);
    return value >>> 0;
  }

  writeData(size: number, value: number): void {
    const t = this.state.pio;
    if (!t || !(this.status & Status.DRQ)) return;
    for (let i = 0; i < size && t.pos + i < t.data.length; i++) t.data[t.pos + i] = (value >>> (8 * i)) & 0xff;
    this.advance(t, size);
  }

  private advance(t: PioTransfer, size: number): void {
    t.pos += size;
    if (t.pos < t.data.length) return;
    this.stopPio();
    if (t.then !== 'end') this.continuePio(t.then, t.data);
  }

  /** Goes on after a PIO block: `data` is the block the host just read or wrote. */
  protected abstract continuePio(step: PioStep, data: Uint8Array): void;

  raiseIrq(): void {
    this.state.irqPending = true;
    this.irqChanged();
  }

  clearIrq(): void {
    if (!this.state.irqPending) return;
    this.state.irqPending = false;
    this.irqChanged();
  }

  /** Successful completion without data: DRDY|DSC, no error, interrupt. */
  complete(): void {
    this.stopPio();
    this.status = READY;
    this.error = 0;
    this.raiseIrq();
  }

  /** Command failure: ERR with the given error bits (ABRT unless said otherwise), interrupt. */
  abort(error: number = ErrorBit.ABRT): void {
    this.stopPio();
    this.status = READY | Status.ERR;
    this.error = error;
    this.raiseIrq();
  }

  /**
   * The reset signature (ATA/ATAPI-6, signature and persistence): sector
   * count and number 1, LBA mid/high 00h/00h for ATA and 14h/EBh for a
   * PACKET device.
   */
  setSignature(): void {
    const tf = this.tf;
    tf.select &= ~(Select.HEAD | Select.LBA);
    tf.nsector = 1;
    tf.sector = 1;
    tf.lcyl = this.isAtapi ? 0x14 : 0;
    tf.hcyl = this.isAtapi ? 0xeb : 0;
  }

  /**
   * The state after a reset (power-on, SRST, DEVICE RESET): signature, error
   * 01h (diagnostics passed), ready unless a PACKET device, which leaves DRDY
   * clear until the host identifies it (ATA/ATAPI-6, reset protocols).
   */
  resetState(): void {
    this.stopPio();
    this.status = this.isAtapi ? 0 : READY;
    this.error = 0x01;
    this.setSignature();
  }

  /** Power-on or hardware reset: the reset state, settings back to their defaults, no interrupt. */
  powerOn(): void {
    this.resetState();
    this.restoreDefaults();
    this.clearIrq();
  }

  /** Returns SET FEATURES / SET MULTIPLE style settings to their power-on values. */
  protected abstract restoreDefaults(): void;
}
