/**
 * IDENTIFY DEVICE and IDENTIFY PACKET DEVICE data (ATA/ATAPI-6):
 * 256 little-endian words describing the device to the host.
 */
import type { Chs } from './hd-geometry.js';

export const MAX_MULT_SECTORS = 16;
export const FIRMWARE_REVISION = '0.1';

export interface DiskIdentity {
  serial: string;
  model: string;
  /** Total addressable 512-byte sectors. */
  sectors: number;
  /** Default (power-on) CHS geometry. */
  geometry: Chs;
  /** Current CHS translation (INITIALIZE DEVICE PARAMETERS). */
  current: Chs;
  multSectors: number;
  writeCache: boolean;
}

export function ataIdentify(d: DiskIdentity): Uint8Array {
  const w = new Uint16Array(256);
  w[0] = 0x0040; // fixed device
  w[1] = d.geometry.cylinders;
  w[3] = d.geometry.heads;
  w[6] = d.geometry.sectors;
  putString(w, 10, 20, d.serial);
  putString(w, 23, 8, FIRMWARE_REVISION);
  putString(w, 27, 40, d.model);
  w[47] = 0x8000 | MAX_MULT_SECTORS;
  w[48] = 1; // 32-bit PIO (the Intel PIIX convention QEMU and Linux use)
  w[49] = (1 << 11) | (1 << 9); // IORDY, LBA; no DMA without a bus master
  w[51] = 0x200; // PIO timing mode 2 (obsolete)
  w[53] = 0x0003; // words 54-58 and 64-70 valid
  const cur = d.current;
  w[54] = cur.cylinders;
  w[55] = cur.heads;
  w[56] = cur.sectors;
  putDword(w, 57, Math.min(cur.cylinders * cur.heads * cur.sectors, d.sectors));
  w[59] = d.multSectors ? 0x100 | d.multSectors : 0;
  putDword(w, 60, Math.min(d.sectors, 0x0fff_ffff));
  w[64] = 0x03; // PIO modes 3 and 4
  w[65] = w[66] = w[67] = w[68] = 120; // cycle times in ns
  w[80] = 0x007e; // ATA/ATAPI-1 to -6
  w[82] = (1 << 14) | (1 << 5); // NOP, write cache
  w[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10); // FLUSH CACHE EXT, FLUSH CACHE, 48-bit
  w[84] = 1 << 14;
  w[85] = (1 << 14) | (d.writeCache ? 1 << 5 : 0);
  w[86] = (1 << 13) | (1 << 12) | (1 << 10);
  w[87] = 1 << 14;
  w[93] = (1 << 14) | (1 << 13) | 1; // reset result: device 0 passed via jumper, 80-wire cable
  putDword(w, 100, d.sectors % 0x1_0000_0000);
  putDword(w, 102, Math.floor(d.sectors / 0x1_0000_0000));
  return toBytes(w);
}

export function atapiIdentify(serial: string, model: string): Uint8Array {
  const w = new Uint16Array(256);
  // ATAPI, CD-ROM device type, removable, DRQ within 50 us of PACKET, 12-byte packets.
  w[0] = (2 << 14) | (5 << 8) | (1 << 7) | (2 << 5);
  putString(w, 10, 20, serial);
  putString(w, 23, 8, FIRMWARE_REVISION);
  putString(w, 27, 40, model);
  w[48] = 1;
  w[49] = (1 << 11) | (1 << 9);
  w[53] = 0x0003;
  w[64] = 0x03;
  w[65] = 0xb4;
  w[66] = 0xb4;
  w[67] = 0x12c;
  w[68] = 0xb4;
  w[71] = 30; // typical time to release the bus after PACKET, ns
  w[72] = 30;
  w[80] = 0x001e; // ATA/ATAPI-1 to -4
  w[82] = 1 << 4; // PACKET feature set
  w[83] = 1 << 14;
  w[84] = 1 << 14;
  w[85] = 1 << 4;
  w[87] = 1 << 14;
  return toBytes(w);
}

/** ATA strings: space padded, two characters a word with the first in the high byte (ATA/ATAPI-6 conventions). */
function putString(w: Uint16Array, word: number, length: number, text: string): void {
  const padded = text.padEnd(length, ' ').slice(0, length);
  for (let i = 0; i < length; i += 2) {
    w[word + i / 2] = ((padded.charCodeAt(i) & 0xff) << 8) | (padded.charCodeAt(i + 1) & 0xff);
  }
}

function putDword(w: Uint16Array, word: number, value: number): void {
  w[word] = value & 0xffff;
  w[word + 1] = (value >>> 16) & 0xffff;
}

function toBytes(w: Uint16Array): Uint8Array {
  const out = new Uint8Array(512);
  const view = new DataView(out.buffer);
  w.forEach((v, i) => view.setUint16(i * 2, v, true));
  return out;
}
