/**
 * An ATAPI CD/DVD-ROM: the PACKET command protocol of ATA/ATAPI-6 (the
 * PACKET command and the packet protocols) carrying SCSI MMC commands, over
 * a read-only BlockBackend holding an ISO image in 2048-byte sectors.
 *
 * PACKET flow: the host writes the byte count limit to LBA mid/high and
 * PACKET to the command register; the device asks for the 12-byte packet
 * (DRQ, interrupt reason C/D=1, no interrupt: IDENTIFY PACKET word 0 says
 * "DRQ within 50 us"); then each data-in chunk of at most the byte count
 * limit is offered with DRQ, its size in LBA mid/high, I/O=1, and an
 * interrupt; the status phase ends with I/O=1 C/D=1 and an interrupt. Errors
 * are CHECK CONDITION: ERR, the sense key in the error register's high
 * nibble, and the full sense data for REQUEST SENSE (SPC-3, sense data).
 */
import type { BlockBackend } from '../block/block-backend.js';
import { atapiIdentify, FIRMWARE_REVISION } from './ide-identify.js';
import {
  IdeDevice, initialDeviceState, READY, Reason,
  type IdeDeviceState, type IdeDriveConfig, type PioStep,
} from './ide-device.js';
import { log } from '../log.js';
import { concat } from '../bytes.js';

const CD_SECTOR_SIZE = 2048;

/** Discs larger than an 80-minute CD are reported as DVDs, as QEMU does. */
const CD_MAX_SECTORS = 80 * 60 * 75;

const SenseKey = {
  NO_SENSE: 0x0,
  NOT_READY: 0x2,
  MEDIUM_ERROR: 0x3,
  ILLEGAL_REQUEST: 0x5,
} as const;

/** Additional sense codes (SPC-3 / MMC). */
const Asc = {
  UNRECOVERED_READ_ERROR: 0x11,
  INVALID_OPCODE: 0x20,
  LBA_OUT_OF_RANGE: 0x21,
  INVALID_FIELD_IN_CDB: 0x24,
  SAVING_PARAMETERS_NOT_SUPPORTED: 0x39,
  MEDIUM_NOT_PRESENT: 0x3a,
  MEDIUM_REMOVAL_PREVENTED: 0x53,
} as const;

const Opcode = {
  TEST_UNIT_READY: 0x00,
  REQUEST_SENSE: 0x03,
  INQUIRY: 0x12,
  START_STOP_UNIT: 0x1b,
  PREVENT_ALLOW_MEDIUM_REMOVAL: 0x1e,
  READ_CAPACITY: 0x25,
  READ_10: 0x28,
  READ_TOC: 0x43,
  GET_CONFIGURATION: 0x46,
  GET_EVENT_STATUS_NOTIFICATION: 0x4a,
  MODE_SENSE_10: 0x5a,
  READ_12: 0xa8,
} as const;

export interface Sense {
  key: number;
  asc: number;
  ascq: number;
}

/**
 * The data-in phase of a packet command: the current block (a reply, or
 * one sector of a READ) and how much of it has been offered, then the
 * sectors still to read.
 */
export interface AtapiDataIn {
  block: Uint8Array;
  pos: number;
  nextLba: number;
  sectorsLeft: number;
}

export interface AtapiState extends IdeDeviceState {
  /** Sense data of the last command (SPC-3, sense data), reported by REQUEST SENSE. */
  sense: Sense;
  /** PREVENT ALLOW MEDIUM REMOVAL. */
  locked: boolean;
  trayOpen: boolean;
  packet: Uint8Array;
  dataIn: AtapiDataIn | null;
}

const NO_SENSE: Sense = { key: SenseKey.NO_SENSE, asc: 0, ascq: 0 };

export class AtapiDrive extends IdeDevice<AtapiState> {
  constructor(config: IdeDriveConfig, serial: string, irqChanged: () => void) {
    const state: AtapiState = {
      ...initialDeviceState(),
      sense: NO_SENSE,
      locked: false,
      trayOpen: false,
      packet: new Uint8Array(12),
      dataIn: null,
    };
    super(config, serial, state, irqChanged);
  }

  protected executeSpecific(command: number): boolean {
    switch (command) {
      case 0xa1: // IDENTIFY PACKET DEVICE
        this.status = READY;
        this.startPio(atapiIdentify(this.serial, this.config.model ?? 'TSVM DVD-ROM'), 'end');
        this.raiseIrq();
        return true;
      case 0xa0:
        return this.packetCommand();
      case 0x08: // DEVICE RESET: no interrupt (ATA/ATAPI-6)
        this.resetState();
        return true;
      case 0xec: // IDENTIFY DEVICE: a PACKET device aborts it and shows its signature (ATA/ATAPI-6)
        this.setSignature();
        return false;
      default:
        return false;
    }
  }

  override resetState(): void {
    super.resetState();
    this.state.dataIn = null;
    this.state.sense = NO_SENSE;
  }

  protected restoreDefaults(): void {
    this.state.locked = false;
  }

  protected continuePio(step: PioStep): void {
    if (step === 'atapi-packet') this.runPacket();
    else if (step === 'atapi-data-next') this.sendNextChunk();
  }

  private get medium(): BlockBackend | undefined {
    return this.state.trayOpen ? undefined : this.config.backend;
  }

  private get mediumSectors(): number {
    const m = this.medium;
    return m ? Math.floor(m.length / CD_SECTOR_SIZE) : 0;
  }

  private packetCommand(): boolean {
    if (this.tf.feature & 0x01) {
      log.unimp({}, 'ATAPI DMA without a bus master');
      return false;
    }
    this.status = READY;
    this.tf.nsector = Reason.COD;
    this.startPio(this.state.packet, 'atapi-packet');
    return true;
  }

  private runPacket(): void {
    const p = this.state.packet;
    const op = p[0]!;
    if (op !== Opcode.REQUEST_SENSE) this.state.sense = NO_SENSE;
    switch (op) {
      case Opcode.TEST_UNIT_READY:
        if (this.requireMedium()) this.good();
        return;
      case Opcode.REQUEST_SENSE:
        this.reply(this.senseData(), p[4]!);
        this.state.sense = NO_SENSE;
        return;
      case Opcode.INQUIRY:
        this.reply(inquiryData(this.config.model ?? 'TSVM DVD-ROM'), be16(p, 3));
        return;
      case Opcode.READ_CAPACITY:
        if (this.requireMedium()) this.reply(readCapacityData(this.mediumSectors), 8);
        return;
      case Opcode.READ_10:
        this.read(be32(p, 2), be16(p, 7));
        return;
      case Opcode.READ_12:
        this.read(be32(p, 2), be32(p, 6));
        return;
      case Opcode.MODE_SENSE_10:
        this.modeSense();
        return;
      case Opcode.START_STOP_UNIT:
        this.startStopUnit();
        return;
      case Opcode.PREVENT_ALLOW_MEDIUM_REMOVAL:
        this.state.locked = (p[4]! & 1) !== 0;
        this.good();
        return;
      case Opcode.GET_CONFIGURATION:
        this.reply(configurationData(this.mediumSectors), be16(p, 7));
        return;
      case Opcode.READ_TOC:
        this.readToc();
        return;
      case Opcode.GET_EVENT_STATUS_NOTIFICATION:
        this.getEventStatus();
        return;
      default:
        log.unimp({ opcode: op.toString(16) }, 'ATAPI command not implemented');
        this.checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_OPCODE);
    }
  }

  /** READ(10)/READ(12): `count` 2048-byte sectors from `lba`, read as the host drains them. */
  private read(lba: number, count: number): void {
    if (!this.requireMedium()) return;
    if (lba + count > this.mediumSectors) {
      this.checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.LBA_OUT_OF_RANGE);
      return;
    }
    this.state.dataIn = { block: new Uint8Array(CD_SECTOR_SIZE), pos: CD_SECTOR_SIZE, nextLba: lba, sectorsLeft: count };
    this.sendNextChunk();
  }

  private modeSense(): void {
    const p = this.state.packet;
    const control = p[2]! >> 6;
    const page = p[2]! & 0x3f;
    if (control === 3) {
      this.checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.SAVING_PARAMETERS_NOT_SUPPORTED);
      return;
    }
    const pages = modePages(page, this.state.locked);
    if (!pages) {
      this.checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
      return;
    }
    this.reply(pages, be16(p, 7));
  }

  private startStopUnit(): void {
    const loej = (this.state.packet[4]! & 2) !== 0;
    const start = (this.state.packet[4]! & 1) !== 0;
    if (loej && !start && this.state.locked) {
      this.checkCondition(SenseKey.NOT_READY, Asc.MEDIUM_REMOVAL_PREVENTED, 0x02);
      return;
    }
    if (loej) this.state.trayOpen = !start;
    this.good();
  }

  private readToc(): void {
    const p = this.state.packet;
    if (!this.requireMedium()) return;
    // The format is in byte 2; old SFF-8020 hosts put it in the top bits of byte 9.
    const format = p[2]! & 0x0f || p[9]! >> 6;
    const msf = (p[1]! & 2) !== 0;
    const data = format === 0 ? tocData(this.mediumSectors, p[6]!, msf) : format === 1 ? sessionData(msf) : undefined;
    if (!data) {
      this.checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
      return;
    }
    this.reply(data, be16(p, 7));
  }

  /** GET EVENT STATUS NOTIFICATION, polled form only (MMC-5): media class events. */
  private getEventStatus(): void {
    const p = this.state.packet;
    if (!(p[1]! & 1)) {
      this.checkCondition(SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
      return;
    }
    const MEDIA_CLASS = 1 << 4;
    if (!(p[4]! & MEDIA_CLASS)) {
      this.reply(Uint8Array.from([0, 2, 0x80, MEDIA_CLASS]), be16(p, 7)); // no event available
      return;
    }
    const status = (this.medium ? 2 : 0) | (this.state.trayOpen ? 1 : 0);
    this.reply(Uint8Array.from([0, 6, 4, MEDIA_CLASS, 0, status, 0, 0]), be16(p, 7));
  }

  private requireMedium(): boolean {
    if (this.medium) return true;
    this.checkCondition(SenseKey.NOT_READY, Asc.MEDIUM_NOT_PRESENT);
    return false;
  }

  private senseData(): Uint8Array {
    const d = new Uint8Array(18);
    d[0] = 0x70 | 0x80; // current error, fixed format, valid
    const sense = this.state.sense;
    d[2] = sense.key;
    d[7] = 10; // additional sense length
    d[12] = sense.asc;
    d[13] = sense.ascq;
    return d;
  }

  /** A reply of at most `allocation` bytes (the host's allocation length). */
  private reply(data: Uint8Array, allocation: number): void {
    this.state.dataIn = { block: data.subarray(0, Math.min(data.length, allocation)), pos: 0, nextLba: 0, sectorsLeft: 0 };
    this.sendNextChunk();
  }

  /** Offers the next chunk of the data-in phase, reading the next sector when needed, or ends the command. */
  private sendNextChunk(): void {
    const d = this.state.dataIn;
    if (!d) return;
    while (d.pos >= d.block.length) {
      if (d.sectorsLeft === 0) {
        this.good();
        return;
      }
      if (!this.readNextSector(d)) return;
    }
    const size = Math.min(this.byteCountLimit(), d.block.length - d.pos);
    const chunk = d.block.subarray(d.pos, d.pos + size);
    d.pos += size;
    this.tf.lcyl = size & 0xff;
    this.tf.hcyl = size >> 8;
    this.tf.nsector = Reason.IO;
    this.status = READY;
    this.startPio(chunk, 'atapi-data-next');
    this.raiseIrq();
  }

  private readNextSector(d: AtapiDataIn): boolean {
    if (!this.requireMedium()) return false;
    try {
      this.medium!.read(d.nextLba * CD_SECTOR_SIZE, d.block);
    } catch (err) {
      log.guest_errors({ err: String(err) }, 'ATAPI read failed');
      this.checkCondition(SenseKey.MEDIUM_ERROR, Asc.UNRECOVERED_READ_ERROR);
      return false;
    }
    d.nextLba++;
    d.sectorsLeft--;
    d.pos = 0;
    return true;
  }

  /**
   * The most bytes per DRQ the host accepts (LBA mid/high at PACKET time).
   * FFFFh is taken as FFFEh and odd limits are rounded down, since a chunk
   * that is not the last must be even (ATA/ATAPI-6, PACKET); 0 is invalid and taken
   * as the largest limit rather than stalling the transfer.
   */
  private byteCountLimit(): number {
    const limit = (this.tf.hcyl << 8) | this.tf.lcyl;
    return limit === 0 ? 0xfffe : limit & ~1 || 2;
  }

  /** Status phase of a successful command. */
  private good(): void {
    this.state.dataIn = null;
    this.tf.nsector = Reason.IO | Reason.COD;
    this.complete();
  }

  private checkCondition(key: number, asc: number, ascq = 0): void {
    this.state.dataIn = null;
    this.state.sense = { key, asc, ascq };
    this.tf.nsector = Reason.IO | Reason.COD;
    this.abort(key << 4);
  }
}

/** Standard INQUIRY data (SPC-3) for a removable CD/DVD device. */
function inquiryData(model: string): Uint8Array {
  const d = new Uint8Array(36);
  d[0] = 0x05; // peripheral device type: CD/DVD
  d[1] = 0x80; // removable medium
  d[3] = 0x21; // ATAPI transport, response data format 1 (as QEMU and real ATAPI drives report)
  d[4] = 36 - 5; // additional length
  putAscii(d, 8, 8, 'TSVM');
  putAscii(d, 16, 16, model);
  putAscii(d, 32, 4, FIRMWARE_REVISION);
  return d;
}

function readCapacityData(sectors: number): Uint8Array {
  const d = new Uint8Array(8);
  const view = new DataView(d.buffer);
  view.setUint32(0, Math.max(sectors - 1, 0));
  view.setUint32(4, CD_SECTOR_SIZE);
  return d;
}

/** MODE SENSE(10) reply: 8-byte header and the requested page(s); undefined for an unknown page. */
function modePages(page: number, locked: boolean): Uint8Array | undefined {
  const errorRecovery = Uint8Array.from([0x01, 0x06, 0x00, 0x05, 0, 0, 0, 0]);
  const capabilities = Uint8Array.from([
    0x2a, 0x12,
    0x3b, 0x00, // reads CD-R, CD-RW, DVD-ROM, DVD-R, DVD-RAM; writes none
    0x71, 0x60, // audio play, multi-session, mode 2 forms; CD-DA commands
    0x29 | (locked ? 0x02 : 0), // lock supported, eject supported, tray loading; bit 1: locked
    0x00,
    0x02, 0xc2, // max speed 706 kB/s
    0x00, 0x02, // 2 volume levels
    0x02, 0x00, // 512 KiB buffer
    0x02, 0xc2, // current speed
    0, 0, 0, 0,
  ]);
  const body = page === 0x01 ? [errorRecovery] : page === 0x2a ? [capabilities] : page === 0x3f ? [errorRecovery, capabilities] : undefined;
  if (!body) return undefined;
  const d = concat([new Uint8Array(8), ...body]);
  new DataView(d.buffer).setUint16(0, d.length - 2); // mode data length
  return d;
}

/** GET CONFIGURATION (MMC-5): the header and the Profile List feature. */
function configurationData(sectors: number): Uint8Array {
  const DVD_ROM = 0x0010;
  const CD_ROM = 0x0008;
  const current = sectors === 0 ? 0 : sectors > CD_MAX_SECTORS ? DVD_ROM : CD_ROM;
  const d = new Uint8Array(8 + 4 + 8);
  const view = new DataView(d.buffer);
  view.setUint32(0, d.length - 4);
  view.setUint16(6, current);
  d[10] = 0x03; // feature 0000h: persistent, current
  d[11] = 8;
  view.setUint16(12, DVD_ROM);
  d[14] = current === DVD_ROM ? 1 : 0;
  view.setUint16(16, CD_ROM);
  d[18] = current === CD_ROM ? 1 : 0;
  return d;
}

/** READ TOC format 0000b: one data track starting at LBA 0, then the lead-out. */
function tocData(sectors: number, startTrack: number, msf: boolean): Uint8Array | undefined {
  if (startTrack > 1 && startTrack !== 0xaa) return undefined;
  const tracks: [number, number][] = startTrack <= 1 ? [[1, 0], [0xaa, sectors]] : [[0xaa, sectors]];
  const d = new Uint8Array(4 + 8 * tracks.length);
  new DataView(d.buffer).setUint16(0, d.length - 2);
  d[2] = 1; // first track
  d[3] = 1; // last track
  tracks.forEach(([track, lba], i) => {
    const at = 4 + 8 * i;
    d[at + 1] = 0x14; // ADR 1 (position), control 4 (data track)
    d[at + 2] = track;
    putAddress(d, at + 4, lba, msf);
  });
  return d;
}

/** READ TOC format 0001b: one complete session whose first track is 1. */
function sessionData(msf: boolean): Uint8Array {
  const d = Uint8Array.from([0, 10, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0]);
  putAddress(d, 8, 0, msf);
  return d;
}

/** A track address as an LBA, or as minute/second/frame with the 2-second pregap (MMC-5). */
function putAddress(d: Uint8Array, at: number, lba: number, msf: boolean): void {
  if (!msf) {
    new DataView(d.buffer).setUint32(at, lba);
    return;
  }
  const frames = lba + 150;
  d[at] = 0;
  d[at + 1] = Math.floor(frames / (60 * 75));
  d[at + 2] = Math.floor(frames / 75) % 60;
  d[at + 3] = frames % 75;
}

function putAscii(d: Uint8Array, at: number, length: number, text: string): void {
  const padded = text.padEnd(length, ' ');
  for (let i = 0; i < length; i++) d[at + i] = padded.charCodeAt(i) & 0x7f;
}

function be16(p: Uint8Array, at: number): number {
  return (p[at]! << 8) | p[at + 1]!;
}

function be32(p: Uint8Array, at: number): number {
  return ((p[at]! << 24) | (p[at + 1]! << 16) | (p[at + 2]! << 8) | p[at + 3]!) >>> 0;
}
