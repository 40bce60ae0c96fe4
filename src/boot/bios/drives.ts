/**
 * The drives INT 13h knows: floppies (00h, 01h) from if=floppy, hard disks
 * (80h, 81h, ...) from the IDE disks in index order, and the first CD-ROM
 * (E0h), reached with 2048-byte sectors through the LBA extensions as an
 * El Torito no-emulation boot leaves it.
 */
import type { BlockBackend } from '../../block/block-backend.js';
import { guessGeometry, type Chs } from '../../devices/hd-geometry.js';
import type { Disks } from '../../machine/disks.js';
import type { FloppyDriveType } from '../../devices/mc146818.js';
import { floppyFormat } from '../../devices/fdc.js';

export type DriveKind = 'floppy' | 'hd' | 'cdrom';
export const CDROM_DRIVE = 0xe0;

/** The CMOS drive type for a floppy drive (QEMU picks the drive for the medium; an odd size is a 1.44 MiB drive). */
export function floppyDriveType(backend: BlockBackend | undefined): FloppyDriveType {
  return floppyFormat(backend?.length ?? 0).cmos;
}

const MAX_BIOS_CYLINDERS = 1024;

export class BiosDrive {
  readonly sectorSize: number;
  readonly totalSectors: number;

  constructor(
    readonly number: number,
    readonly kind: DriveKind,
    readonly backend: BlockBackend,
    /** The geometry CHS calls use (translated for large disks). */
    readonly chs: Chs,
    /** INT 13h/08h BL for floppies. */
    readonly floppyType = 0,
  ) {
    this.sectorSize = kind === 'cdrom' ? 2048 : 512;
    this.totalSectors = Math.floor(backend.length / this.sectorSize);
  }

  /** Sector data, or undefined when the range is outside the medium or the read fails. */
  read(lba: number, count: number): Uint8Array | undefined {
    if (!this.inside(lba, count)) return undefined;
    const buf = new Uint8Array(count * this.sectorSize);
    try {
      this.backend.read(lba * this.sectorSize, buf);
    } catch {
      return undefined;
    }
    return buf;
  }

  /** 'ok', 'range' (outside the medium) or 'readonly'. */
  write(lba: number, data: Uint8Array): 'ok' | 'range' | 'readonly' {
    if (!this.inside(lba, data.length / this.sectorSize)) return 'range';
    if (this.backend.readOnly) return 'readonly';
    try {
      this.backend.write(lba * this.sectorSize, data);
    } catch {
      return 'readonly';
    }
    return 'ok';
  }

  /** A CHS address (sector counted from 1) as an LBA, or undefined when it lies outside the geometry. */
  chsToLba(cylinder: number, head: number, sector: number): number | undefined {
    const { cylinders, heads, sectors } = this.chs;
    if (sector < 1 || sector > sectors || head >= heads || cylinder >= cylinders) return undefined;
    return (cylinder * heads + head) * sectors + sector - 1;
  }

  private inside(lba: number, count: number): boolean {
    return Number.isInteger(lba) && Number.isInteger(count) && lba >= 0 && count >= 0 && lba + count <= this.totalSectors;
  }
}

export class BiosDrives {
  private readonly all: BiosDrive[] = [];

  constructor(disks: Disks) {
    disks.byInterface('floppy').forEach((d, i) => {
      if (!d.backend || i > 1) return;
      const format = floppyFormat(d.backend.length);
      this.all.push(new BiosDrive(i, 'floppy', d.backend, format.chs, format.type));
    });
    const ide = disks.byInterface('ide').sort((a, b) => a.config.index - b.config.index);
    ide.filter((d) => d.config.media === 'disk' && d.backend).forEach((d, i) => {
      this.all.push(new BiosDrive(0x80 + i, 'hd', d.backend!, biosGeometry(d.backend!)));
    });
    const cd = ide.find((d) => d.config.media === 'cdrom' && d.backend);
    if (cd) this.all.push(new BiosDrive(CDROM_DRIVE, 'cdrom', cd.backend!, { cylinders: 0, heads: 0, sectors: 0 }));
  }

  get(number: number): BiosDrive | undefined {
    return this.all.find((d) => d.number === number);
  }

  count(kind: DriveKind): number {
    return this.all.filter((d) => d.kind === kind).length;
  }

  first(kind: DriveKind): BiosDrive | undefined {
    return this.all.find((d) => d.kind === kind);
  }
}

/**
 * The disk's geometry as the BIOS presents it: the drive's own when it fits
 * INT 13h's 1024 cylinders, else LBA-assisted translation (heads doubled up
 * to 255, 63 sectors), as Phoenix's EDD spec and SeaBIOS do.
 */
function biosGeometry(backend: BlockBackend): Chs {
  const physical = guessGeometry(backend);
  if (physical.translation === 'none' && physical.cylinders <= MAX_BIOS_CYLINDERS) return physical;
  const total = Math.floor(backend.length / 512);
  let heads = 16;
  while (heads < 255 && total / (heads * 63) > MAX_BIOS_CYLINDERS) heads = heads === 128 ? 255 : heads * 2;
  const cylinders = Math.max(1, Math.min(MAX_BIOS_CYLINDERS, Math.floor(total / (heads * 63))));
  return { cylinders, heads, sectors: 63 };
}
