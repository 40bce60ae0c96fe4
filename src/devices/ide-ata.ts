/**
 * An ATA hard disk: the PIO command set of ATA/ATAPI-6 over a BlockBackend.
 *
 * Every guest-supplied address and count is checked against the medium
 * before any I/O; a request outside it fails with IDNF (ATA/ATAPI-6, READ SECTORS error outputs: "IDNF
 * shall be set to one if an address outside of the range of user-accessible
 * addresses is requested"). QEMU reports ABRT instead; the spec allows one or
 * the other, never both, and IDNF is the one that names the cause. Backend
 * failures (a read-only medium, an I/O error) abort the command with ABRT.
 * There is no bus-master DMA yet: DMA commands abort.
 */
import { SECTOR_SIZE } from '../block/block-backend.js';
import { guessGeometry, type Chs, type HdGeometry } from './hd-geometry.js';
import { ataIdentify, MAX_MULT_SECTORS } from './ide-identify.js';
import {
  ErrorBit, IdeDevice, initialDeviceState, READY, Select,
  type IdeDeviceState, type IdeDriveConfig, type PioStep,
} from './ide-device.js';
import type { BlockBackend } from '../block/block-backend.js';
import { log } from '../log.js';

export { defaultGeometry } from './hd-geometry.js';

/** A READ or WRITE command in progress. */
export interface SectorTransfer {
  /** Next sector to transfer. */
  lba: number;
  remaining: number;
  /** Sectors per DRQ block: 1, or the multiple count for READ/WRITE MULTIPLE. */
  blockSectors: number;
  lba48: boolean;
}

export interface AtaDiskState extends IdeDeviceState {
  /** The CHS translation in effect (INITIALIZE DEVICE PARAMETERS changes it). */
  current: Chs;
  multSectors: number;
  writeCache: boolean;
  transfer: SectorTransfer | null;
}

export class AtaDisk extends IdeDevice<AtaDiskState> {
  readonly totalSectors: number;
  /** The default (power-on) geometry, as IDENTIFY words 1, 3 and 6 and the BIOS's CMOS entry give it. */
  readonly geometry: HdGeometry;
  private readonly backend: BlockBackend;
  /** The DRQ block being moved; PioTransfer.data views it. */
  private readonly buffer = new Uint8Array(MAX_MULT_SECTORS * SECTOR_SIZE);

  constructor(config: IdeDriveConfig, serial: string, irqChanged: () => void) {
    if (!config.backend) throw new Error('an IDE hard disk needs a medium');
    const totalSectors = Math.ceil(config.backend.length / SECTOR_SIZE);
    const geometry = guessGeometry(config.backend);
    const state: AtaDiskState = {
      ...initialDeviceState(),
      current: chs(geometry),
      multSectors: MAX_MULT_SECTORS,
      writeCache: true,
      transfer: null,
    };
    super(config, serial, state, irqChanged);
    this.backend = config.backend;
    this.totalSectors = totalSectors;
    this.geometry = geometry;
  }

  protected executeSpecific(command: number): boolean {
    switch (command) {
      case 0xec: return this.identify();
      case 0x20: case 0x21: return this.readSectors(false, 1);
      case 0x24: return this.readSectors(true, 1);
      case 0xc4: return this.readSectors(false, this.state.multSectors);
      case 0x29: return this.readSectors(true, this.state.multSectors);
      case 0x30: case 0x31: return this.writeSectors(false, 1);
      case 0x34: return this.writeSectors(true, 1);
      case 0xc5: return this.writeSectors(false, this.state.multSectors);
      case 0x39: return this.writeSectors(true, this.state.multSectors);
      case 0x40: case 0x41: return this.verifySectors(false);
      case 0x42: return this.verifySectors(true);
      case 0xc6: return this.setMultipleMode();
      case 0xe7: case 0xea: return this.flushCache();
      case 0x91: return this.initializeDeviceParameters();
      case 0x70: return this.seek();
      default:
        // RECALIBRATE is 1xh (ATA-1). Everything else aborts, DMA commands (C8h, CAh, 25h, 35h)
        // included: there is no bus master to run them.
        if ((command & 0xf0) !== 0x10) return false;
        this.complete();
        return true;
    }
  }

  protected restoreDefaults(): void {
    this.state.current = chs(this.geometry);
    this.state.multSectors = MAX_MULT_SECTORS;
    this.state.writeCache = true;
  }

  protected continuePio(step: PioStep, data: Uint8Array): void {
    const t = this.state.transfer;
    if (!t) return;
    if (step === 'ata-read-next') this.readBlock(t);
    else if (step === 'ata-write-block') this.writeBlock(t, data);
  }

  protected override setFeature(feature: number): boolean {
    if (feature === 0x02) {
      this.state.writeCache = true;
      return true;
    }
    if (feature === 0x82) {
      // Turning the write cache off makes every later write durable; make the earlier ones durable too.
      this.state.writeCache = false;
      try {
        this.backend.flush();
        return true;
      } catch (err) {
        log.guest_errors({ err: String(err) }, 'IDE flush failed');
        return false;
      }
    }
    return super.setFeature(feature);
  }

  private identify(): boolean {
    const data = ataIdentify({
      serial: this.serial,
      model: this.config.model ?? 'TSVM HARDDISK',
      sectors: this.totalSectors,
      geometry: this.geometry,
      current: this.state.current,
      multSectors: this.state.multSectors,
      writeCache: this.state.writeCache,
    });
    this.status = READY;
    this.dataIn(data, 'end');
    return true;
  }

  private readSectors(lba48: boolean, blockSectors: number): boolean {
    const t = this.beginSectorTransfer(lba48, blockSectors);
    if (t) this.readBlock(t);
    return true;
  }

  private writeSectors(lba48: boolean, blockSectors: number): boolean {
    const t = this.beginSectorTransfer(lba48, blockSectors);
    if (!t) return true;
    if (this.backend.readOnly) {
      this.abort();
      return true;
    }
    // The first block is requested without an interrupt (ATA/ATAPI-6, PIO data-out protocol).
    this.status = READY;
    this.expectBlock(t);
    return true;
  }

  /** READ VERIFY SECTORS: the range is checked and nothing is transferred. */
  private verifySectors(lba48: boolean): boolean {
    const t = this.beginSectorTransfer(lba48, 1);
    if (!t) return true;
    this.setLba(t.lba + t.remaining - 1, lba48);
    this.complete();
    return true;
  }

  private seek(): boolean {
    const lba = this.requestedLba(false);
    if (lba === undefined || lba >= this.totalSectors) this.abort(ErrorBit.IDNF);
    else this.complete();
    return true;
  }

  /**
   * Validates the command's address and count; on failure reports IDNF and
   * returns undefined. A multiple command with multiple mode off aborts.
   */
  private beginSectorTransfer(lba48: boolean, blockSectors: number): SectorTransfer | undefined {
    if (blockSectors === 0) {
      this.abort();
      return undefined;
    }
    const lba = this.requestedLba(lba48);
    const count = this.requestedCount(lba48);
    if (lba === undefined || lba + count > this.totalSectors) {
      this.abort(ErrorBit.IDNF);
      return undefined;
    }
    this.state.transfer = { lba, remaining: count, blockSectors, lba48 };
    return this.state.transfer;
  }

  private readBlock(t: SectorTransfer): void {
    const n = Math.min(t.remaining, t.blockSectors);
    const view = this.buffer.subarray(0, n * SECTOR_SIZE);
    if (!this.tryIo(() => this.backend.read(t.lba * SECTOR_SIZE, view))) return;
    t.lba += n;
    t.remaining -= n;
    this.setLba(t.lba - 1, t.lba48);
    this.status = READY;
    this.dataIn(view, t.remaining > 0 ? 'ata-read-next' : 'end');
  }

  /** Opens DRQ for the next block of a write; the interrupt, if any, was raised by the caller. */
  private expectBlock(t: SectorTransfer): void {
    const n = Math.min(t.remaining, t.blockSectors);
    const view = this.buffer.subarray(0, n * SECTOR_SIZE);
    this.startPio(view, 'ata-write-block');
  }

  private writeBlock(t: SectorTransfer, view: Uint8Array): void {
    const n = view.length / SECTOR_SIZE;
    const written = this.tryIo(() => {
      this.backend.write(t.lba * SECTOR_SIZE, view);
      if (!this.state.writeCache) this.backend.flush();
    });
    if (!written) return;
    t.lba += n;
    t.remaining -= n;
    this.setLba(t.lba - 1, t.lba48);
    if (t.remaining === 0) {
      this.complete();
      return;
    }
    this.status = READY;
    this.expectBlock(t);
    this.raiseIrq();
  }

  /** FLUSH CACHE (EXT): completes only once the data is on stable storage. */
  private flushCache(): boolean {
    if (this.tryIo(() => this.backend.flush())) this.complete();
    return true;
  }

  /** Runs backend I/O; a failure aborts the command (QEMU's ide_rw_error) and returns false. */
  private tryIo(io: () => void): boolean {
    try {
      io();
      return true;
    } catch (err) {
      log.guest_errors({ err: String(err) }, 'IDE I/O failed');
      this.abort();
      return false;
    }
  }

  private setMultipleMode(): boolean {
    const count = this.tf.nsector;
    // 0 disables multiple mode; otherwise a power of two up to what IDENTIFY word 47 reports.
    if (count > MAX_MULT_SECTORS || (count & (count - 1)) !== 0) return false;
    this.state.multSectors = count;
    this.complete();
    return true;
  }

  /** Sets the CHS translation: sectors per track from the sector count, heads from the device register. */
  private initializeDeviceParameters(): boolean {
    const sectors = this.tf.nsector;
    const heads = (this.tf.select & Select.HEAD) + 1;
    if (sectors === 0) return false;
    const cylinders = Math.min(Math.floor(this.totalSectors / (heads * sectors)), 65535);
    this.state.current = { cylinders, heads, sectors };
    this.complete();
    return true;
  }

  /** Sector count: 0 means 256 sectors (65536 for 48-bit commands). */
  private requestedCount(lba48: boolean): number {
    const tf = this.tf;
    const n = lba48 ? (tf.hobNsector << 8) | tf.nsector : tf.nsector;
    return n || (lba48 ? 0x10000 : 0x100);
  }

  /** The command's starting sector from LBA48, LBA28 or CHS registers; undefined for an impossible CHS address. */
  private requestedLba(lba48: boolean): number | undefined {
    const tf = this.tf;
    if (lba48) {
      const high = (tf.hobHcyl << 16) | (tf.hobLcyl << 8) | tf.hobSector;
      return high * 0x100_0000 + ((tf.hcyl << 16) | (tf.lcyl << 8) | tf.sector);
    }
    if (tf.select & Select.LBA) {
      return ((tf.select & Select.HEAD) << 24) | (tf.hcyl << 16) | (tf.lcyl << 8) | tf.sector;
    }
    const { heads, sectors, cylinders } = this.state.current;
    const cyl = (tf.hcyl << 8) | tf.lcyl;
    const head = tf.select & Select.HEAD;
    if (tf.sector === 0 || tf.sector > sectors || head >= heads || cyl >= cylinders) return undefined;
    return (cyl * heads + head) * sectors + tf.sector - 1;
  }

  /** Leaves the address of the last sector transferred in the task file (as QEMU does; ATA/ATAPI-6 leaves these outputs to the device). */
  private setLba(lba: number, lba48: boolean): void {
    const tf = this.tf;
    if (lba48) {
      const high = Math.floor(lba / 0x100_0000);
      tf.hobSector = high & 0xff;
      tf.hobLcyl = (high >>> 8) & 0xff;
      tf.hobHcyl = (high >>> 16) & 0xff;
    }
    if (lba48 || tf.select & Select.LBA) {
      tf.sector = lba & 0xff;
      tf.lcyl = (lba >>> 8) & 0xff;
      tf.hcyl = (lba >>> 16) & 0xff;
      if (!lba48) tf.select = (tf.select & ~Select.HEAD) | ((lba >>> 24) & Select.HEAD);
      return;
    }
    const { heads, sectors } = this.state.current;
    const cyl = Math.floor(lba / (heads * sectors));
    const rest = lba % (heads * sectors);
    tf.lcyl = cyl & 0xff;
    tf.hcyl = (cyl >>> 8) & 0xff;
    tf.select = (tf.select & ~Select.HEAD) | Math.floor(rest / sectors);
    tf.sector = (rest % sectors) + 1;
  }

  /** A PIO data-in block: DRQ set, interrupt raised, `then` once the host has read it all. */
  private dataIn(view: Uint8Array, then: PioStep): void {
    this.startPio(view, then);
    this.raiseIrq();
  }
}


function chs(g: Chs): Chs {
  return { cylinders: g.cylinders, heads: g.heads, sectors: g.sectors };
}
