/**
 * The CHS geometry a hard disk reports, guessed as QEMU's
 * hw/block/hd-geometry.c does: from the MBR's partition table when one
 * exists and was made with at most 16 heads (the geometry the disk was
 * partitioned with), else the standard 16 heads x 63 sectors with as many
 * cylinders as fit, at most 16383. The translation tells a BIOS whether it
 * must translate (LBA) to reach the whole disk through INT 13h.
 */
import { SECTOR_SIZE, type BlockBackend } from '../block/block-backend.js';

export interface Chs {
  cylinders: number;
  heads: number;
  sectors: number;
}

export interface HdGeometry extends Chs {
  translation: 'none' | 'lba';
}

const MAX_CYLINDERS = 16383;

/** QEMU's guess_chs_for_size(): 16 heads, 63 sectors, as many cylinders as fit (2..16383). */
export function defaultGeometry(sectors: number): Chs {
  const cylinders = Math.min(Math.max(Math.floor(sectors / (16 * 63)), 2), MAX_CYLINDERS);
  return { cylinders, heads: 16, sectors: 63 };
}

/** QEMU's hd_geometry_guess(): the geometry of the disk in `backend`. */
export function guessGeometry(backend: BlockBackend): HdGeometry {
  const sectors = Math.ceil(backend.length / SECTOR_SIZE);
  const lchs = partitionTableGeometry(backend, sectors);
  if (lchs && lchs.heads <= 16) return { ...lchs, translation: 'none' };
  const chs = defaultGeometry(sectors);
  // A partition table made with more than 16 heads means the BIOS was translating.
  const fits = chs.cylinders <= 1024 && chs.heads <= 16 && chs.sectors <= 63;
  return { ...chs, translation: lchs || !fits ? 'lba' : 'none' };
}

/**
 * QEMU's guess_disk_lchs(): the heads and sectors per track the first
 * partition that ends on a cylinder boundary was laid out with.
 */
function partitionTableGeometry(backend: BlockBackend, totalSectors: number): Chs | undefined {
  if (backend.length < SECTOR_SIZE) return undefined;
  const mbr = new Uint8Array(SECTOR_SIZE);
  try {
    backend.read(0, mbr);
  } catch {
    return undefined;
  }
  if (mbr[510] !== 0x55 || mbr[511] !== 0xaa) return undefined;
  const view = new DataView(mbr.buffer);
  for (let i = 0; i < 4; i++) {
    const entry = 0x1be + 16 * i;
    const endHead = mbr[entry + 5]!;
    const length = view.getUint32(entry + 12, true);
    if (length === 0 || endHead === 0) continue;
    const heads = endHead + 1;
    const sectors = mbr[entry + 6]! & 63;
    if (sectors === 0) continue;
    const cylinders = Math.floor(totalSectors / (heads * sectors));
    if (cylinders < 1 || cylinders > MAX_CYLINDERS) continue;
    return { cylinders, heads, sectors };
  }
  return undefined;
}
