/**
 * The floppy disk controller: an Intel 82077AA in PC-AT mode at 0x3F0-0x3F7
 * (0x3F6 belongs to the IDE controller), IRQ 6, ISA DMA channel 2, with up
 * to two 3.5"/5.25" drives (Intel 82077AA datasheet, 290166; section
 * numbers below refer to it).
 *
 *   0x3F0/0x3F1 SRA/SRB     PS/2 mode only: read as FFh in PC-AT mode
 *   0x3F2       DOR         drive select (1-0), /RESET (2), DMA gate (3: gates INT
 *                           and DRQ in PC-AT mode), motor enables (7-4)
 *   0x3F3       TDR         tape drive select
 *   0x3F4       MSR (read)  RQM (7), DIO (6: controller to host), NON DMA (5),
 *                           CMD BSY (4), drive busy (3-0)
 *               DSR (write) software reset (7), power down (6), data rate (1-0)
 *   0x3F5       FIFO        command bytes in, result bytes out, data in non-DMA mode
 *   0x3F7       DIR (read)  DSKCHG (7) of the selected drive
 *               CCR (write) data rate (1-0)
 *
 * Every command runs to completion the moment its last byte is written (no
 * seek or rotation time): the execution phase is visible only in non-DMA
 * mode, where the host moves the data through the FIFO. There the
 * controller keeps time: a host that stops moving bytes gets an overrun,
 * which is how Linux's pseudo-DMA ends a read (OVERRUN_NS), and the result
 * phase comes a little after the last byte (endOfDataNs).
 * The medium is a raw image whose size names a standard format
 * (FLOPPY_FORMATS); reading it at another data rate finds no address marks,
 * as on a real drive.
 */
import { addressableBytes, type BlockBackend } from '../block/block-backend.js';
import type { PortBus } from '../io/port-bus.js';
import type { IrqLine } from '../io/irq.js';
import type { Timer, TimerQueue } from '../machine/clock.js';
import type { I8237 } from './i8237.js';
import type { FloppyDriveType } from './mc146818.js';
import type { Chs } from './hd-geometry.js';

export const FDC_BASE = 0x3f0;
export const FDC_IRQ = 6;
export const FDC_DMA_CHANNEL = 2;

/** Data rate select codes (DSR/CCR bits 1-0, section 5.1.5; 1 is 300 kbps, for 360K media in 1.2M drives). */
const RATE_500K = 0;
const RATE_250K = 2;
const RATE_1M = 3;
/** Bits per second of each data rate code. */
const RATE_BPS = [500_000, 300_000, 250_000, 1_000_000];

/** The FIFO's depth in bytes. */
const FIFO_BYTES = 16;
/** The CRC that follows each sector's data on the medium. */
const CRC_BYTES = 2;
/**
 * How long a host in non-DMA mode may leave the FIFO unserviced before the
 * command ends in an overrun. A real 82077AA allows the FIFO's 16 byte
 * times (256 us at 500 kbps). tsvm's guest time follows the host clock, so
 * a host-side pause that long (a garbage collection, the process waiting
 * for a core) would overrun a guest that keeps up; tsvm allows one
 * revolution of the diskette instead (200 ms at 300 rpm).
 */
const OVERRUN_NS = 200e6;

export interface FloppyFormat {
  bytes: number;
  chs: Chs;
  /** INT 13h/08h BL drive type. */
  type: number;
  cmos: FloppyDriveType;
  /** The data rate the medium is recorded at. */
  rate: number;
}

/** Standard diskette formats by image size (QEMU picks the drive to suit the medium, and so does tsvm). */
const FLOPPY_FORMATS: readonly FloppyFormat[] = [
  { bytes: 368_640, chs: { cylinders: 40, heads: 2, sectors: 9 }, type: 1, cmos: '360K', rate: RATE_250K },
  { bytes: 737_280, chs: { cylinders: 80, heads: 2, sectors: 9 }, type: 3, cmos: '720K', rate: RATE_250K },
  { bytes: 1_228_800, chs: { cylinders: 80, heads: 2, sectors: 15 }, type: 2, cmos: '1.2M', rate: RATE_500K },
  { bytes: 1_474_560, chs: { cylinders: 80, heads: 2, sectors: 18 }, type: 4, cmos: '1.44M', rate: RATE_500K },
  { bytes: 2_949_120, chs: { cylinders: 80, heads: 2, sectors: 36 }, type: 5, cmos: '2.88M', rate: RATE_1M },
];
const FLOPPY_144 = FLOPPY_FORMATS[3]!;

/** The standard format of a diskette image of `bytes`; anything else is taken as 1.44 MiB. */
export function floppyFormat(bytes: number): FloppyFormat {
  return FLOPPY_FORMATS.find((f) => f.bytes === bytes) ?? FLOPPY_144;
}

const SECTOR_BYTES = 512;
/** Sector size code N of every sector on tsvm's media: 128 << 2 = 512 bytes. */
const SECTOR_N = 2;

const DOR_RESET_OFF = 0x04; // /RESET: 0 holds the controller in reset
const DOR_DMA_GATE = 0x08;
const DSR_SW_RESET = 0x80;

const MSR_RQM = 0x80;
const MSR_DIO = 0x40;
const MSR_NON_DMA = 0x20;
const MSR_CMD_BUSY = 0x10;

/** ST0 (section 5.2.1). */
const ST0_ABNORMAL = 0x40;
const ST0_INVALID = 0x80;
const ST0_POLLED = 0xc0; // IC = 11: ready changed during polling (after reset)
const ST0_SEEK_END = 0x20;
const ST0_EQUIPMENT_CHECK = 0x10;
/** ST1. */
const ST1_END_OF_CYLINDER = 0x80;
const ST1_OVERRUN = 0x10;
const ST1_NO_DATA = 0x04;
const ST1_NOT_WRITABLE = 0x02;
const ST1_MISSING_AM = 0x01;
/** ST2. */
const ST2_WRONG_CYLINDER = 0x10;
/** ST3. */
const ST3_WRITE_PROTECT = 0x40;
const ST3_READY = 0x20;
const ST3_TRACK0 = 0x10;
const ST3_TWO_SIDE = 0x08;

/** CONFIGURE byte 2 (section 5.3.4): EIS (6), EFIFO (5: 1 = FIFO off), POLL (4: 1 = polling off), FIFOTHR (3-0). */
const CONFIG_EIS = 0x40;
const CONFIG_NO_POLL = 0x10;
const CONFIG_DEFAULT = 0x20;
/** The 82077AA's answer to VERSION: enhanced controller. */
const VERSION_82077 = 0x90;

/** Command codes after masking MT (7), MFM (6), SK (5) as each command allows (table 5-1). */
const CMD = {
  SPECIFY: 0x03,
  SENSE_DRIVE_STATUS: 0x04,
  WRITE_DATA: 0x05,
  READ_DATA: 0x06,
  RECALIBRATE: 0x07,
  SENSE_INTERRUPT: 0x08,
  READ_ID: 0x0a,
  FORMAT_TRACK: 0x0d,
  DUMPREG: 0x0e,
  SEEK: 0x0f,
  VERSION: 0x10,
  PERPENDICULAR: 0x12,
  CONFIGURE: 0x13,
  LOCK: 0x14,
} as const;

/** Bits of the first byte that are options, not opcode, per command. */
const OPTION_BITS: Record<number, number> = {
  [CMD.READ_DATA]: 0xe0,
  [CMD.WRITE_DATA]: 0xc0,
  [CMD.READ_ID]: 0x40,
  [CMD.FORMAT_TRACK]: 0x40,
  [CMD.SEEK]: 0xc0, // RELATIVE SEEK: 1 DIR 0 0 1 1 1 1
  [CMD.LOCK]: 0x80,
};

/** Total command bytes, opcode included (table 5-1). */
const COMMAND_LENGTH: Record<number, number> = {
  [CMD.SPECIFY]: 3,
  [CMD.SENSE_DRIVE_STATUS]: 2,
  [CMD.WRITE_DATA]: 9,
  [CMD.READ_DATA]: 9,
  [CMD.RECALIBRATE]: 2,
  [CMD.SENSE_INTERRUPT]: 1,
  [CMD.READ_ID]: 2,
  [CMD.FORMAT_TRACK]: 6,
  [CMD.DUMPREG]: 1,
  [CMD.SEEK]: 3,
  [CMD.VERSION]: 1,
  [CMD.PERPENDICULAR]: 2,
  [CMD.CONFIGURE]: 4,
  [CMD.LOCK]: 1,
};

export interface FdcDriveState {
  /** PCN: the cylinder the head is over. */
  cylinder: number;
  /** DSKCHG: set at power-on, cleared by a step pulse with a medium in the drive. */
  changed: boolean;
}

export interface FdcState {
  dor: number;
  tdr: number;
  rate: number;
  phase: 'command' | 'execution' | 'result';
  command: number[];
  result: number[];
  /** Non-DMA execution phase: the data moving through the FIFO and where the host is in it. */
  data: number[];
  dataPos: number;
  interrupt: boolean;
  /** ST0/PCN pairs SENSE INTERRUPT STATUS will report (seek ends, reset polling). */
  senses: [number, number][];
  /** SPECIFY: SRT/HUT and HLT/ND. */
  specify: [number, number];
  config: number;
  pretrk: number;
  locked: boolean;
  perpendicular: number;
  /** The last EOT a read or write used (DUMPREG reports it). */
  eot: number;
  drives: FdcDriveState[];
}

/** The sector address of a READ/WRITE DATA command (bytes 2-6) and where the drive is. */
interface Transfer {
  unit: number;
  head: number;
  c: number;
  h: number;
  r: number;
  n: number;
  eot: number;
  multiTrack: boolean;
}

function powerOnState(): FdcState {
  return {
    dor: DOR_RESET_OFF | DOR_DMA_GATE,
    tdr: 0,
    rate: RATE_250K,
    phase: 'command',
    command: [],
    result: [],
    data: [],
    dataPos: 0,
    interrupt: false,
    senses: [],
    specify: [0, 0],
    config: CONFIG_DEFAULT,
    pretrk: 0,
    locked: false,
    perpendicular: 0,
    eot: 0,
    drives: [0, 1, 2, 3].map(() => ({ cylinder: 0, changed: true })),
  };
}

export class Fdc {
  state = powerOnState();
  private readonly media: (BlockBackend | undefined)[] = [undefined, undefined, undefined, undefined];
  /** Non-DMA execution phase: the overrun if the host moves no byte, or the end after the last byte. */
  private executionTimer: Timer | undefined;

  constructor(
    io: PortBus,
    private readonly irq: IrqLine,
    private readonly dma: I8237,
    private readonly timers: TimerQueue,
  ) {
    const handler = {
      read: (port: number) => this.readRegister(port - FDC_BASE),
      write: (port: number, _size: number, value: number) => this.writeRegister(port - FDC_BASE, value & 0xff),
    };
    io.register('fdc', FDC_BASE, 6, handler);
    io.register('fdc', FDC_BASE + 7, 1, handler);
  }

  /** A drive with its diskette on unit 0 (A:) or 1 (B:). */
  attach(unit: 0 | 1, backend: BlockBackend): void {
    this.media[unit] = backend;
  }

  reset(): void {
    this.cancelExecutionTimer();
    this.state = powerOnState();
    this.updateIrq();
  }

  private readRegister(reg: number): number {
    const s = this.state;
    switch (reg) {
      case 2:
        return s.dor;
      case 3:
        return s.tdr;
      case 4:
        return this.mainStatus();
      case 5:
        return this.readFifo();
      case 7:
        return s.drives[s.dor & 3]!.changed ? 0x80 : 0;
      default:
        return 0xff;
    }
  }

  private writeRegister(reg: number, value: number): void {
    const s = this.state;
    switch (reg) {
      case 2:
        this.writeDor(value);
        break;
      case 3:
        s.tdr = value & 3;
        break;
      case 4:
        s.rate = value & 3;
        if (value & DSR_SW_RESET) this.controllerReset();
        break;
      case 5:
        this.writeFifo(value);
        break;
      case 7:
        s.rate = value & 3;
        break;
    }
  }

  /** MSR (section 5.1.4): what the host may do next. Nothing while reset is held. */
  private mainStatus(): number {
    const s = this.state;
    if (!(s.dor & DOR_RESET_OFF)) return 0;
    switch (s.phase) {
      case 'command':
        return MSR_RQM | (s.command.length > 0 ? MSR_CMD_BUSY : 0);
      case 'execution':
        return (this.awaitsHost() ? MSR_RQM : 0) | MSR_NON_DMA | MSR_CMD_BUSY | (this.isRead(s.command[0]!) ? MSR_DIO : 0);
      case 'result':
        return MSR_RQM | MSR_DIO | MSR_CMD_BUSY;
    }
  }

  /** DOR bit 2 low holds the controller in reset; raising it ends the reset (section 5.1.2). */
  private writeDor(value: number): void {
    const s = this.state;
    const wasHeld = !(s.dor & DOR_RESET_OFF);
    s.dor = value;
    if (!(value & DOR_RESET_OFF)) this.clearController();
    else if (wasHeld) this.controllerReset();
    this.updateIrq();
  }

  private clearController(): void {
    const s = this.state;
    this.cancelExecutionTimer();
    s.phase = 'command';
    s.command = [];
    s.result = [];
    s.data = [];
    s.senses = [];
    s.interrupt = false;
    if (!s.locked) {
      s.config = CONFIG_DEFAULT;
      s.pretrk = 0;
    }
    s.perpendicular &= 0x3c;
  }

  /**
   * The end of a DOR or DSR reset: with polling on, the controller reports
   * a ready change on each of the four drives, one SENSE INTERRUPT STATUS
   * each, behind one interrupt (section 8.1).
   */
  private controllerReset(): void {
    this.clearController();
    const s = this.state;
    if (s.config & CONFIG_NO_POLL) return;
    s.senses = [0, 1, 2, 3].map((unit) => [ST0_POLLED | unit, s.drives[unit]!.cylinder]);
    this.raiseInterrupt();
  }

  private readFifo(): number {
    const s = this.state;
    if (!(s.dor & DOR_RESET_OFF)) return 0;
    if (s.phase === 'result') {
      // Reading the result clears the interrupt of the command it ends (section 8.2).
      this.lowerInterrupt();
      const byte = s.result.shift()!;
      if (s.result.length === 0) this.enterCommandPhase();
      return byte;
    }
    if (this.awaitsHost() && this.isRead(s.command[0]!)) {
      this.lowerInterrupt();
      const byte = s.data[s.dataPos++]!;
      this.armExecutionTimer();
      return byte;
    }
    return 0;
  }

  private writeFifo(value: number): void {
    const s = this.state;
    if (!(s.dor & DOR_RESET_OFF)) return;
    if (s.phase === 'execution') {
      if (!this.awaitsHost() || this.isRead(s.command[0]!)) return;
      this.lowerInterrupt();
      s.data[s.dataPos++] = value;
      this.armExecutionTimer();
      return;
    }
    if (s.phase !== 'command') return;
    s.command.push(value);
    const length = COMMAND_LENGTH[opcode(s.command[0]!)];
    if (length === undefined) {
      // An invalid opcode goes straight to a one-byte result, without an interrupt (section 5.3.13).
      this.enterResultPhase([ST0_INVALID], false);
    } else if (s.command.length === length) {
      this.execute();
    }
  }

  private enterCommandPhase(): void {
    const s = this.state;
    s.phase = 'command';
    s.command = [];
    s.data = [];
    s.dataPos = 0;
  }

  private enterResultPhase(result: number[], interrupt: boolean): void {
    const s = this.state;
    if (result.length === 0) {
      this.enterCommandPhase();
    } else {
      s.phase = 'result';
      s.result = result;
    }
    if (interrupt) this.raiseInterrupt();
  }

  private execute(): void {
    const s = this.state;
    const [cmd, b1 = 0, b2 = 0, b3 = 0] = s.command;
    const unit = b1 & 3;
    const head = (b1 >> 2) & 1;
    switch (opcode(cmd!)) {
      case CMD.SPECIFY:
        s.specify = [b1, b2];
        return this.enterResultPhase([], false);
      case CMD.SENSE_DRIVE_STATUS:
        return this.enterResultPhase([this.st3(unit, head)], false);
      case CMD.RECALIBRATE:
        return this.seekTo(unit, 0, 0);
      case CMD.SEEK:
        return this.seekTo(unit, head, this.seekTarget(cmd!, unit, b2));
      case CMD.SENSE_INTERRUPT:
        return this.senseInterrupt();
      case CMD.VERSION:
        return this.enterResultPhase([VERSION_82077], false);
      case CMD.CONFIGURE:
        s.config = b2;
        s.pretrk = b3;
        return this.enterResultPhase([], false);
      case CMD.PERPENDICULAR:
        // OW (bit 7) lets the drive bits D3-D0 change; GAP and WGATE always do (section 5.3.12).
        s.perpendicular = b1 & 0x80 ? b1 & 0x3f : (s.perpendicular & 0x3c) | (b1 & 3);
        return this.enterResultPhase([], false);
      case CMD.LOCK:
        s.locked = (cmd! & 0x80) !== 0;
        return this.enterResultPhase([s.locked ? 0x10 : 0], false);
      case CMD.DUMPREG:
        return this.enterResultPhase(this.dumpRegisters(), false);
      case CMD.READ_ID:
        return this.readId(unit, head);
      case CMD.READ_DATA:
      case CMD.WRITE_DATA:
        return this.startTransfer();
      case CMD.FORMAT_TRACK:
        return this.startFormat();
    }
  }

  /** SEEK's NCN, or for RELATIVE SEEK (bit 7) the present cylinder moved by it, outward when DIR (bit 6) is 0. */
  private seekTarget(cmd: number, unit: number, ncn: number): number {
    if (!(cmd & 0x80)) return ncn;
    const here = this.state.drives[unit]!.cylinder;
    return Math.max(0, Math.min(255, cmd & 0x40 ? here + ncn : here - ncn));
  }

  /**
   * SEEK and RECALIBRATE end with an interrupt and a SENSE INTERRUPT STATUS
   * of seek end. A drive that is not there never reports track 0: the
   * recalibrate ends with equipment check.
   */
  private seekTo(unit: number, head: number, cylinder: number): void {
    const drive = this.state.drives[unit]!;
    let st0 = ST0_SEEK_END | (head << 2) | unit;
    if (this.media[unit]) {
      drive.cylinder = cylinder;
      drive.changed = false;
    } else if (opcode(this.state.command[0]!) === CMD.RECALIBRATE) {
      st0 |= ST0_ABNORMAL | ST0_EQUIPMENT_CHECK;
    } else {
      drive.cylinder = cylinder;
    }
    this.state.senses = [[st0, drive.cylinder]];
    this.enterResultPhase([], true);
  }

  /** With nothing to report the command is invalid (section 5.3.9). */
  private senseInterrupt(): void {
    const s = this.state;
    const sense = s.senses.shift();
    this.lowerInterrupt();
    this.enterResultPhase(sense ?? [ST0_INVALID], false);
  }

  private st3(unit: number, head: number): number {
    const medium = this.media[unit];
    let st3 = ST3_READY | ST3_TWO_SIDE | (head << 2) | unit;
    if (medium?.readOnly) st3 |= ST3_WRITE_PROTECT;
    if (this.state.drives[unit]!.cylinder === 0) st3 |= ST3_TRACK0;
    return st3;
  }

  /** DUMPREG's ten bytes (section 5.3.16). */
  private dumpRegisters(): number[] {
    const s = this.state;
    return [
      ...s.drives.map((d) => d.cylinder),
      s.specify[0],
      s.specify[1],
      s.eot,
      (s.locked ? 0x80 : 0) | (s.perpendicular & 0x3f),
      s.config & 0x7f,
      s.pretrk,
    ];
  }

  /** The format on the drive's medium, if the drive can read it at the selected data rate. */
  private readableFormat(unit: number): FloppyFormat | undefined {
    const medium = this.media[unit];
    if (!medium) return undefined;
    const format = floppyFormat(medium.length);
    return format.rate === this.state.rate ? format : undefined;
  }

  /** READ ID: the ID field of the first sector under the head (section 5.3.6). */
  private readId(unit: number, head: number): void {
    const cylinder = this.state.drives[unit]!.cylinder;
    const format = this.readableFormat(unit);
    const st0 = (head << 2) | unit;
    if (!format || cylinder >= format.chs.cylinders) {
      return this.enterResultPhase([st0 | ST0_ABNORMAL, ST1_MISSING_AM, 0, cylinder, head, 1, SECTOR_N], true);
    }
    this.enterResultPhase([st0, 0, 0, cylinder, head, 1, SECTOR_N], true);
  }

  private transferOf(command: number[]): Transfer {
    const [cmd, b1, c, h, r, n, eot] = command as [number, number, number, number, number, number, number];
    return { unit: b1 & 3, head: (b1 >> 2) & 1, c, h, r, n, eot, multiTrack: (cmd & 0x80) !== 0 };
  }

  /**
   * READ DATA / WRITE DATA (sections 5.3.1, 5.3.3): from sector R on, one
   * sector after the other up to EOT (then, with MT, on to side 1), until
   * DMA terminal count. In non-DMA mode the data goes through the FIFO first.
   */
  private startTransfer(): void {
    const s = this.state;
    const t = this.transferOf(s.command);
    s.eot = t.eot;
    if (s.config & CONFIG_EIS) this.impliedSeek(t.unit, t.c);
    const error = this.transferError(t, this.isRead(s.command[0]!) ? 'read' : 'write');
    if (error) return this.enterResultPhase(error, true);
    if (this.nonDma()) {
      const sectors = this.sectorsToEndOfTrack(t);
      return this.enterExecutionPhase(this.isRead(s.command[0]!) ? Array.from(this.readSectors(t, sectors)) : new Array<number>(sectors * SECTOR_BYTES).fill(0));
    }
    this.runDmaTransfer(t);
  }

  /** EIS: a read or write first seeks to its cylinder (CONFIGURE, section 5.3.4). */
  private impliedSeek(unit: number, cylinder: number): void {
    if (!this.media[unit]) return;
    this.state.drives[unit]!.cylinder = cylinder;
    this.state.drives[unit]!.changed = false;
  }

  /** Why the sector R of the command cannot be reached, as its result bytes; undefined when it can. */
  private transferError(t: Transfer, kind: 'read' | 'write'): number[] | undefined {
    const format = this.readableFormat(t.unit);
    const cylinder = this.state.drives[t.unit]!.cylinder;
    if (!format || cylinder >= format.chs.cylinders) return this.result(t, ST0_ABNORMAL, ST1_MISSING_AM, 0);
    if (t.c !== cylinder) return this.result(t, ST0_ABNORMAL, ST1_NO_DATA, ST2_WRONG_CYLINDER);
    if (t.h !== t.head || t.n !== SECTOR_N || t.r < 1 || t.r > format.chs.sectors) return this.result(t, ST0_ABNORMAL, ST1_NO_DATA, 0);
    if (kind === 'write' && this.media[t.unit]!.readOnly) return this.result(t, ST0_ABNORMAL, ST1_NOT_WRITABLE, 0);
    return undefined;
  }

  /** Sectors from R to the end of the track (and the other side's with MT from side 0). */
  private sectorsToEndOfTrack(t: Transfer): number {
    const last = Math.max(t.r, Math.min(t.eot, this.readableFormat(t.unit)!.chs.sectors));
    return last - t.r + 1 + (t.multiTrack && t.head === 0 ? last : 0);
  }

  private runDmaTransfer(t: Transfer): void {
    const format = this.readableFormat(t.unit)!;
    const read = this.isRead(this.state.command[0]!);
    const medium = this.media[t.unit]!;
    const eot = Math.min(t.eot, format.chs.sectors);
    for (;;) {
      const offset = this.sectorOffset(t, format);
      const sector = read ? this.readSectors(t, 1) : new Uint8Array(SECTOR_BYTES);
      const { bytes, terminalCount } = this.dmaAllowed() ? this.dma.transfer(FDC_DMA_CHANNEL, sector) : { bytes: 0, terminalCount: false };
      if (bytes === 0) return this.enterResultPhase(this.result(t, ST0_ABNORMAL, ST1_OVERRUN, 0), true);
      // A write cut short by terminal count is padded with zeros to the sector's end, as the controller does.
      if (!read && !this.writeSector(medium, offset, sector)) return this.enterResultPhase(this.result(t, ST0_ABNORMAL, ST1_NOT_WRITABLE, 0), true);
      const endOfTrack = this.advance(t, eot);
      if (terminalCount) return this.enterResultPhase(this.result(t, 0, 0, 0), true);
      if (endOfTrack) return this.enterResultPhase(this.result(t, ST0_ABNORMAL, ST1_END_OF_CYLINDER, 0), true);
    }
  }

  /** Non-DMA mode: `data` (what the host reads, or room for what it writes) goes through the FIFO, the interrupt asking for it. */
  private enterExecutionPhase(data: number[]): void {
    const s = this.state;
    s.phase = 'execution';
    s.data = data;
    s.dataPos = 0;
    this.raiseInterrupt();
    this.armExecutionTimer();
  }

  /** Non-DMA execution phase with bytes left to move: RQM, the FIFO wants the host. */
  private awaitsHost(): boolean {
    const s = this.state;
    return s.phase === 'execution' && s.dataPos < s.data.length;
  }

  /**
   * In non-DMA mode the drive does not wait for the host: while bytes are
   * left, a host that moves none for OVERRUN_NS gets an overrun (ST1 OR,
   * section 5.2.2). Linux's pseudo-DMA relies on it: it reads one side
   * with MT set, stops taking bytes, and the overrun ends the command at
   * the other side's first sector. After the last byte the command ends
   * once the medium has caught up (endOfDataNs).
   */
  private armExecutionTimer(): void {
    this.cancelExecutionTimer();
    const now = this.timers.clock.now();
    this.executionTimer = this.awaitsHost()
      ? this.timers.add(now + OVERRUN_NS, () => this.endNonDmaTransfer(Math.floor(this.state.dataPos / this.fifoUnitBytes()), ST1_OVERRUN))
      : this.timers.add(now + this.endOfDataNs(), () => this.finishNonDmaTransfer());
  }

  /**
   * From the host's last byte to the result phase: a write's FIFO, full,
   * still goes to the medium, then the CRC. A read's CRC check can end
   * sooner on a real controller; tsvm waits as long either way, so that
   * the result interrupt never comes while a pseudo-DMA handler is still
   * on its way out (the PIC would hold that edge and deliver it again
   * after the handler has already read the result).
   */
  private endOfDataNs(): number {
    return ((FIFO_BYTES + CRC_BYTES) * 8 * 1e9) / RATE_BPS[this.state.rate]!;
  }

  private cancelExecutionTimer(): void {
    this.timers.cancel(this.executionTimer);
    this.executionTimer = undefined;
  }

  /** The host moved every byte: FORMAT TRACK ends normally; without terminal count a read or write runs past EOT (end of cylinder). */
  private finishNonDmaTransfer(): void {
    const format = opcode(this.state.command[0]!) === CMD.FORMAT_TRACK;
    this.endNonDmaTransfer(this.state.data.length / this.fifoUnitBytes(), format ? 0 : ST1_END_OF_CYLINDER);
  }

  /** What goes through the FIFO in non-DMA mode comes in sectors, or for FORMAT TRACK in four-byte ID fields. */
  private fifoUnitBytes(): number {
    return opcode(this.state.command[0]!) === CMD.FORMAT_TRACK ? 4 : SECTOR_BYTES;
  }

  /**
   * The end of a non-DMA execution phase after `whole` complete sectors
   * (FORMAT TRACK: ID fields) went through the FIFO: writes store those,
   * and the result names the sector the command stopped at, with `st1`
   * telling why.
   */
  private endNonDmaTransfer(whole: number, st1: number): void {
    this.cancelExecutionTimer();
    const s = this.state;
    const t = this.transferOf(s.command);
    const format = this.readableFormat(t.unit);
    if (!format) return this.enterResultPhase(this.result(t, ST0_ABNORMAL, ST1_MISSING_AM, 0), true);
    const data = Uint8Array.from(s.data);
    if (opcode(s.command[0]!) === CMD.FORMAT_TRACK) return this.formatSectors(this.formatTransfer(), format, data.subarray(0, whole * 4), s.command[5]!, st1);
    const write = !this.isRead(s.command[0]!);
    const eot = Math.min(t.eot, format.chs.sectors);
    for (let i = 0; i < whole; i++) {
      if (write && !this.writeSector(this.media[t.unit]!, this.sectorOffset(t, format), data.subarray(i * SECTOR_BYTES, (i + 1) * SECTOR_BYTES))) {
        return this.enterResultPhase(this.result(t, ST0_ABNORMAL, ST1_NOT_WRITABLE, 0), true);
      }
      this.advance(t, eot);
    }
    this.enterResultPhase(this.result(t, ST0_ABNORMAL, st1, 0), true);
  }

  /**
   * Moves the command's ID to the next sector; at EOT, to sector 1 of side
   * 1 (MT from side 0) or of the next cylinder, the result ID table of
   * section 5.3.1. Returns true when the track (or both sides) ended.
   */
  private advance(t: Transfer, eot: number): boolean {
    if (t.r < eot) {
      t.r++;
      return false;
    }
    t.r = 1;
    if (t.multiTrack && t.head === 0) {
      t.head = 1;
      t.h = 1;
      return false;
    }
    if (t.multiTrack) {
      t.head = 0;
      t.h = 0;
    }
    t.c++;
    return true;
  }

  private sectorOffset(t: Transfer, format: FloppyFormat): number {
    const { heads, sectors } = format.chs;
    return ((t.c * heads + t.head) * sectors + t.r - 1) * SECTOR_BYTES;
  }

  private readSectors(t: Transfer, count: number): Uint8Array {
    const format = this.readableFormat(t.unit)!;
    const medium = this.media[t.unit]!;
    const out = new Uint8Array(count * SECTOR_BYTES);
    const walk = { ...t };
    for (let i = 0; i < count; i++) {
      const offset = this.sectorOffset(walk, format);
      // An image shorter than its format reads as blank sectors past its end.
      if (offset + SECTOR_BYTES <= addressableBytes(medium.length)) medium.read(offset, out.subarray(i * SECTOR_BYTES, (i + 1) * SECTOR_BYTES));
      this.advance(walk, Math.min(t.eot, format.chs.sectors));
    }
    return out;
  }

  /** False when the host refuses the write (read-only image): the guest sees a write-protected diskette. */
  private writeSector(medium: BlockBackend, offset: number, data: Uint8Array): boolean {
    try {
      medium.write(offset, data);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * FORMAT TRACK (section 5.3.7): per sector, four ID bytes (C, H, R, N)
   * from the host; the sector is filled with byte D. Only 512-byte sectors
   * of the medium's own layout can be stored in an image; others fail.
   */
  private startFormat(): void {
    const s = this.state;
    const [, , , count = 0, , filler = 0] = s.command;
    const t = this.formatTransfer();
    const { unit, c: cylinder } = t;
    const format = this.readableFormat(unit);
    if (!format || cylinder >= format.chs.cylinders) return this.enterResultPhase(this.result(t, ST0_ABNORMAL, ST1_MISSING_AM, 0), true);
    if (this.media[unit]!.readOnly) return this.enterResultPhase(this.result(t, ST0_ABNORMAL, ST1_NOT_WRITABLE, 0), true);
    if (this.nonDma() && count > 0) return this.enterExecutionPhase(new Array<number>(count * 4).fill(0));
    const ids = new Uint8Array(count * 4);
    const moved = this.dmaAllowed() ? this.dma.transfer(FDC_DMA_CHANNEL, ids).bytes : 0;
    if (moved < ids.length) return this.enterResultPhase(this.result(t, ST0_ABNORMAL, ST1_OVERRUN, 0), true);
    this.formatSectors(t, format, ids, filler);
  }

  /** FORMAT TRACK works on the track under the head: its cylinder, the side HDS selects. */
  private formatTransfer(): Transfer {
    const [, b1 = 0, n = 0, count = 0] = this.state.command;
    const unit = b1 & 3;
    const head = (b1 >> 2) & 1;
    return { unit, head, c: this.state.drives[unit]!.cylinder, h: head, r: 1, n, eot: count, multiTrack: false };
  }

  /** Formats a sector per ID field; the command ends normally, or (st1 OR) after the IDs the host sent before it stopped. */
  private formatSectors(t: Transfer, format: FloppyFormat, ids: Uint8Array, filler: number, st1 = 0): void {
    const sector = new Uint8Array(SECTOR_BYTES).fill(filler);
    for (let i = 0; i + 4 <= ids.length; i += 4) {
      const [c, h, r, n] = ids.subarray(i, i + 4) as unknown as [number, number, number, number];
      t.r = r;
      if (c !== t.c || h !== t.head || n !== SECTOR_N || r < 1 || r > format.chs.sectors) {
        return this.enterResultPhase(this.result(t, ST0_ABNORMAL, ST1_NO_DATA, 0), true);
      }
      if (!this.writeSector(this.media[t.unit]!, this.sectorOffset(t, format), sector)) {
        return this.enterResultPhase(this.result(t, ST0_ABNORMAL, ST1_NOT_WRITABLE, 0), true);
      }
    }
    this.enterResultPhase(this.result(t, st1 ? ST0_ABNORMAL : 0, st1, 0), true);
  }

  /** The seven result bytes of a data command: ST0, ST1, ST2 and the ID it stopped at. */
  private result(t: Transfer, ic: number, st1: number, st2: number): number[] {
    return [ic | (t.head << 2) | t.unit, st1, st2, t.c & 0xff, t.h & 0xff, t.r & 0xff, t.n & 0xff];
  }

  /** Commands whose data flows from the controller to the host. */
  private isRead(cmd: number): boolean {
    return opcode(cmd) === CMD.READ_DATA;
  }

  /** SPECIFY's ND bit: data through the FIFO instead of DMA. */
  private nonDma(): boolean {
    return (this.state.specify[1] & 1) === 1;
  }

  /** DRQ reaches the DMA controller only through the DOR's DMA gate (PC-AT mode). */
  private dmaAllowed(): boolean {
    return (this.state.dor & DOR_DMA_GATE) !== 0;
  }

  private raiseInterrupt(): void {
    this.state.interrupt = true;
    this.updateIrq();
  }

  private lowerInterrupt(): void {
    this.state.interrupt = false;
    this.updateIrq();
  }

  /** INT reaches IRQ 6 only through the DOR's DMA gate (PC-AT mode). */
  private updateIrq(): void {
    const s = this.state;
    this.irq.set(s.interrupt && (s.dor & DOR_DMA_GATE) !== 0);
  }
}

/** The command's opcode, option bits (MT, MFM, SK, DIR...) masked off as that command defines them. */
function opcode(cmd: number): number {
  for (const [code, options] of Object.entries(OPTION_BITS)) {
    if ((cmd & ~options) === Number(code)) return Number(code);
  }
  return cmd;
}
