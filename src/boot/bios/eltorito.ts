/**
 * El Torito bootable CD-ROM ("El Torito" Bootable CD-ROM Format
 * Specification 1.0, Phoenix/IBM 1995): the Boot Record Volume Descriptor
 * at sector 17 points at the boot catalog, whose validation entry is
 * followed by the initial/default entry naming the boot image. Only the
 * no-emulation mode is supported (isolinux, GRUB and Linux installers use
 * it); floppy and hard-disk emulation images are refused by name.
 */
import type { AddressSpace } from '../../memory/address-space.js';
import type { BiosDrive } from './drives.js';

const BOOT_RECORD_SECTOR = 17;
const EL_TORITO_ID = 'EL TORITO SPECIFICATION';
const BOOTABLE = 0x88;
const NO_EMULATION = 0;
const DEFAULT_LOAD_SEGMENT = 0x07c0;
/** The specification packet INT 13h/4Bh returns (section 5.1, Table 13). */
export const SPEC_PACKET_BYTES = 0x13;

export interface ElToritoBoot {
  mediaType: number;
  loadSegment: number;
  /** Virtual (512-byte) sectors to load. */
  sectorCount: number;
  /** The image's first 2048-byte sector. */
  imageLba: number;
}

/** The boot image the CD's catalog names, or why the CD cannot boot. */
export function findBootImage(cd: BiosDrive): ElToritoBoot | string {
  const record = cd.read(BOOT_RECORD_SECTOR, 1);
  if (!record) return 'no boot record';
  const view = new DataView(record.buffer);
  const id = String.fromCharCode(...record.subarray(7, 7 + EL_TORITO_ID.length));
  if (record[0] !== 0 || String.fromCharCode(...record.subarray(1, 6)) !== 'CD001' || id !== EL_TORITO_ID) {
    return 'not an El Torito CD';
  }
  const catalog = cd.read(view.getUint32(0x47, true), 1);
  if (!catalog || !validCatalog(catalog)) return 'bad boot catalog';
  const entry = new DataView(catalog.buffer, 32, 32);
  if (entry.getUint8(0) !== BOOTABLE) return 'no bootable entry';
  const mediaType = entry.getUint8(1) & 0x0f;
  if (mediaType !== NO_EMULATION) return 'emulation-mode boot images are not supported';
  return {
    mediaType,
    loadSegment: entry.getUint16(2, true) || DEFAULT_LOAD_SEGMENT,
    sectorCount: entry.getUint16(6, true),
    imageLba: entry.getUint32(8, true),
  };
}

/** Validation entry: header ID 1, key bytes 55h AAh, and its 16 words summing to zero. */
function validCatalog(catalog: Uint8Array): boolean {
  if (catalog[0] !== 1 || catalog[30] !== 0x55 || catalog[31] !== 0xaa) return false;
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum += catalog[i]! | (catalog[i + 1]! << 8);
  return (sum & 0xffff) === 0;
}

/** INT 13h/4Bh: the specification packet describing the emulation in effect. */
export function writeSpecPacket(mem: AddressSpace, addr: number, boot: ElToritoBoot, drive: number): void {
  const p = new Uint8Array(SPEC_PACKET_BYTES);
  const v = new DataView(p.buffer);
  p[0] = SPEC_PACKET_BYTES;
  p[1] = boot.mediaType;
  p[2] = drive;
  p[3] = 0; // controller index
  v.setUint32(4, boot.imageLba, true);
  v.setUint16(8, 0, true); // device specification: master on the first controller
  v.setUint16(10, 0, true); // user buffer segment (for hard-disk emulation caching)
  v.setUint16(12, boot.loadSegment, true);
  v.setUint16(14, boot.sectorCount, true);
  mem.writeBytes(addr, p);
}
