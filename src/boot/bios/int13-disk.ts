/**
 * INT 13h, disk services (Ralf Brown's Interrupt List, INT 13h; the LBA
 * extensions 41h-48h from Phoenix's "BIOS Enhanced Disk Drive Specification"
 * 3.0; 4Bh from El Torito): the drives of drives.ts read and written
 * straight through their block backends. Every caller-supplied buffer,
 * sector address and count is checked; a bad request gets the BIOS status
 * in AH with CF set, and the status is kept for AH=01h.
 */
import type { AddressSpace } from '../../memory/address-space.js';
import { BDA } from './bda.js';
import { linear, isRamRange, type RegisterFrame } from './frame.js';
import type { BiosDrive, BiosDrives } from './drives.js';
import { writeSpecPacket, SPEC_PACKET_BYTES, type ElToritoBoot } from './eltorito.js';
import { ROM_SEGMENT } from './rom.js';
import type { ServiceResult } from './trap-port.js';

/** INT 13h status codes (Ralf Brown's Table 00234). */
const ST = {
  ok: 0x00,
  badCommand: 0x01,
  writeProtected: 0x03,
  sectorNotFound: 0x04,
} as const;
/** EDD 3.0: version 30h; API subsets 1 (fixed disk access) and 4 (EDD support). */
const EDD_VERSION = 0x30;
const EDD_SUBSETS = 0x0005;
/** The largest transfer one call may ask for (EDD: 127 blocks; CHS: 255 sectors in AL). */
const MAX_EDD_BLOCKS = 127;

export class DiskService {
  /** Set by INT 19h after an El Torito boot, for AH=4Bh. */
  cdBoot: ElToritoBoot | undefined;

  constructor(
    private readonly mem: AddressSpace,
    private readonly drives: BiosDrives,
    /** F000 offset of the diskette parameter table. */
    private readonly disketteParams: number,
  ) {}

  service(f: RegisterFrame): ServiceResult {
    const number = f.get8('dl');
    const fn = f.get8('ah');
    if (fn === 0x01) return this.lastStatus(f, number);
    const drive = this.drives.get(number);
    if (!drive) {
      this.finish(f, number, ST.badCommand);
      return 'done';
    }
    const status = this.dispatch(f, fn, drive);
    this.finish(f, number, status);
    // These two answer in AH instead of a status.
    if (status === ST.ok && fn === 0x15) f.set8('ah', drive.kind === 'hd' ? 0x03 : 0x02);
    if (status === ST.ok && fn === 0x41) f.set8('ah', EDD_VERSION);
    return 'done';
  }

  private dispatch(f: RegisterFrame, fn: number, drive: BiosDrive): number {
    switch (fn) {
      case 0x00: // reset
      case 0x09: // initialize controller with drive parameters
      case 0x0c: // seek
      case 0x0d: // alternate reset
      case 0x10: // test unit ready
      case 0x11: // recalibrate
      case 0x14: // controller diagnostic
      case 0x45: // lock/unlock (EDD): nothing to lock
      case 0x49: // extended media change: never changed
        return ST.ok;
      case 0x02:
      case 0x03:
      case 0x04:
        return this.chsTransfer(f, fn, drive);
      case 0x08:
        return this.parameters(f, drive);
      case 0x15:
        return this.driveType(f, drive);
      case 0x16:
        return drive.kind === 'floppy' ? ST.ok : ST.badCommand; // change line inactive
      case 0x17:
      case 0x18:
        return this.floppyMediaType(f, drive, fn);
      case 0x41:
        return this.checkExtensions(f, drive);
      case 0x42:
      case 0x43:
      case 0x44:
      case 0x47:
        return this.eddTransfer(f, fn, drive);
      case 0x48:
        return this.eddParameters(f, drive);
      case 0x4b:
        return this.emulationStatus(f, drive);
      default:
        return ST.badCommand;
    }
  }

  /** AH=01h: the previous call's status, left in place. */
  private lastStatus(f: RegisterFrame, number: number): ServiceResult {
    const status = this.mem.read8(number & 0x80 ? BDA.diskStatus : BDA.floppyStatus);
    f.set8('ah', status);
    f.setCarry(status !== 0);
    return 'done';
  }

  private finish(f: RegisterFrame, number: number, status: number): void {
    this.mem.write8(number & 0x80 ? BDA.diskStatus : BDA.floppyStatus, status);
    if (status === ST.ok) f.ok();
    else f.fail(status);
  }

  /** AH=02h read, 03h write, 04h verify: AL sectors at CHS (CH, CL, DH) to/from ES:BX. */
  private chsTransfer(f: RegisterFrame, fn: number, drive: BiosDrive): number {
    const count = f.get8('al');
    f.set8('al', 0);
    if (drive.kind === 'cdrom' || count === 0) return ST.badCommand;
    const cl = f.get8('cl');
    const cylinder = f.get8('ch') | ((cl & 0xc0) << 2);
    const lba = drive.chsToLba(cylinder, f.get8('dh'), cl & 0x3f);
    if (lba === undefined) return ST.sectorNotFound;
    const status = this.transfer(fn === 0x02 ? 'read' : fn === 0x03 ? 'write' : 'verify', drive, lba, count, linear(f.get('es'), f.get('bx')));
    if (status === ST.ok) f.set8('al', count);
    return status;
  }

  private transfer(op: 'read' | 'write' | 'verify', drive: BiosDrive, lba: number, count: number, addr: number): number {
    const bytes = count * drive.sectorSize;
    if (op === 'verify') return drive.read(lba, count) ? ST.ok : ST.sectorNotFound;
    if (!isRamRange(this.mem, addr, bytes)) return ST.badCommand;
    if (op === 'read') {
      const data = drive.read(lba, count);
      if (!data) return ST.sectorNotFound;
      this.mem.writeBytes(addr, data);
      return ST.ok;
    }
    const result = drive.write(lba, this.mem.readBytes(addr, bytes));
    return result === 'ok' ? ST.ok : result === 'range' ? ST.sectorNotFound : ST.writeProtected;
  }

  /** AH=08h: last cylinder/head/sector, the number of drives of the kind, and for floppies the type and parameter table. */
  private parameters(f: RegisterFrame, drive: BiosDrive): number {
    if (drive.kind === 'cdrom') return ST.badCommand;
    const { cylinders, heads, sectors } = drive.chs;
    const lastCylinder = cylinders - 1;
    f.set('ax', 0);
    f.set8('ch', lastCylinder & 0xff);
    f.set8('cl', (sectors & 0x3f) | ((lastCylinder >> 2) & 0xc0));
    f.set8('dh', heads - 1);
    f.set8('dl', this.drives.count(drive.kind));
    if (drive.kind === 'floppy') {
      f.set8('bl', drive.floppyType);
      f.set('es', ROM_SEGMENT);
      f.set('di', this.disketteParams);
    }
    return ST.ok;
  }

  /** AH=15h: AH = 02h (floppy with change line) or 03h (hard disk, CX:DX sectors); CF clear. */
  private driveType(f: RegisterFrame, drive: BiosDrive): number {
    if (drive.kind === 'cdrom') return ST.badCommand;
    if (drive.kind === 'hd') {
      f.set('cx', Math.floor(drive.totalSectors / 0x10000) & 0xffff);
      f.set('dx', drive.totalSectors & 0xffff);
    }
    return ST.ok;
  }

  /** AH=17h/18h: set the media type; 18h returns the parameter table in ES:DI. */
  private floppyMediaType(f: RegisterFrame, drive: BiosDrive, fn: number): number {
    if (drive.kind !== 'floppy') return ST.badCommand;
    if (fn === 0x18) {
      f.set('es', ROM_SEGMENT);
      f.set('di', this.disketteParams);
    }
    return ST.ok;
  }

  /** AH=41h, BX=55AAh: BX=AA55h, AH = EDD version, CX = supported subsets (hard disks and CD-ROMs). */
  private checkExtensions(f: RegisterFrame, drive: BiosDrive): number {
    if (f.get('bx') !== 0x55aa || drive.kind === 'floppy') return ST.badCommand;
    f.set('bx', 0xaa55);
    f.set('cx', EDD_SUBSETS);
    return ST.ok;
  }

  /**
   * AH=42h read, 43h write, 44h verify, 47h seek, through the disk address
   * packet at DS:SI: size, reserved, block count (word, updated to the count
   * transferred), buffer offset:segment, 64-bit starting LBA, and the 64-bit
   * flat buffer address when the packet is 18h bytes and the segmented one FFFF:FFFF.
   */
  private eddTransfer(f: RegisterFrame, fn: number, drive: BiosDrive): number {
    const dap = linear(f.get('ds'), f.get('si'));
    if (!isRamRange(this.mem, dap, 0x10)) return ST.badCommand;
    const packet = this.mem.readBytes(dap, 0x18);
    const v = new DataView(packet.buffer);
    const size = v.getUint8(0);
    const count = v.getUint16(2, true);
    this.mem.write16(dap + 2, 0);
    if (size < 0x10 || count > MAX_EDD_BLOCKS) return ST.badCommand;
    const lbaHigh = v.getUint32(12, true);
    const lba = lbaHigh === 0 ? v.getUint32(8, true) : -1;
    if (lba < 0 || lba + count > drive.totalSectors) return ST.sectorNotFound;
    if (fn === 0x47) return ST.ok;
    const offset = v.getUint16(4, true);
    const segment = v.getUint16(6, true);
    let addr = linear(segment, offset);
    if (segment === 0xffff && offset === 0xffff && size >= 0x18) {
      addr = v.getUint32(20, true) === 0 ? v.getUint32(16, true) : -1;
    }
    const status = this.transfer(fn === 0x42 ? 'read' : fn === 0x43 ? 'write' : 'verify', drive, lba, count, addr);
    if (status === ST.ok) this.mem.write16(dap + 2, count);
    return status;
  }

  /** AH=48h: the result buffer at DS:SI (its first word is the caller's buffer size, at least 1Ah). */
  private eddParameters(f: RegisterFrame, drive: BiosDrive): number {
    const addr = linear(f.get('ds'), f.get('si'));
    if (!isRamRange(this.mem, addr, 2)) return ST.badCommand;
    const bufferSize = this.mem.read16(addr);
    if (bufferSize < 0x1a || !isRamRange(this.mem, addr, 0x1a)) return ST.badCommand;
    const p = new Uint8Array(0x1a);
    const v = new DataView(p.buffer);
    const removable = drive.kind === 'cdrom';
    v.setUint16(0, 0x1a, true);
    // Flags: bit 1 = CHS information valid; bit 2 = removable; bit 4 = change line; bit 6 = lockable.
    v.setUint16(2, removable ? 0x0074 : 0x0002, true);
    const { cylinders, heads, sectors } = removable ? { cylinders: -1, heads: -1, sectors: -1 } : drive.chs;
    v.setUint32(4, cylinders >>> 0, true);
    v.setUint32(8, heads >>> 0, true);
    v.setUint32(12, sectors >>> 0, true);
    v.setUint32(16, drive.totalSectors, true);
    v.setUint16(24, drive.sectorSize, true);
    this.mem.writeBytes(addr, p);
    return ST.ok;
  }

  /** AH=4Bh: AL=00h terminate emulation or 01h get status; both return the specification packet at DS:SI. */
  private emulationStatus(f: RegisterFrame, drive: BiosDrive): number {
    const boot = this.cdBoot;
    const addr = linear(f.get('ds'), f.get('si'));
    if (!boot || drive.kind !== 'cdrom' || f.get8('al') > 0x01) return ST.badCommand;
    if (!isRamRange(this.mem, addr, SPEC_PACKET_BYTES)) return ST.badCommand;
    writeSpecPacket(this.mem, addr, boot, drive.number);
    return ST.ok;
  }
}
