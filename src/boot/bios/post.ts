/**
 * Power-on self test, the memory part (the chips are programmed by the
 * ROM's power-on code, rom.ts): the interrupt vector table, the BIOS data
 * area and the 1 KiB extended BIOS data area at 0x9FC00 as DOS-era
 * software and bootloaders read them (Ralf Brown's MEMORY.LST).
 */
import type { AddressSpace } from '../../memory/address-space.js';
import { EBDA_BASE } from '../e820.js';
import { BDA } from './bda.js';
import { ROM_SEGMENT, type BiosRom } from './rom.js';

const IVT_ENTRIES = 256;
const BDA_BASE = 0x400;
const BDA_BYTES = 0x100;
const EBDA_KB = 1;
const COM_BASES = [0x3f8, 0x2f8, 0x3e8, 0x2e8];
/** Vectors that point at data, not code: 1Dh video parameters, 1Fh graphics font, 41h/46h fixed disk parameters. */
const NULL_VECTORS = [0x1d, 0x1f, 0x41, 0x46];
const DISKETTE_PARAMS_VECTOR = 0x1e;

export interface PostConfig {
  floppies: number;
  hardDisks: number;
  serialPorts: number;
}

export function writeIvt(mem: AddressSpace, rom: BiosRom): void {
  for (let v = 0; v < IVT_ENTRIES; v++) setVector(mem, v, ROM_SEGMENT, rom.vectors[v]!);
  for (const v of NULL_VECTORS) setVector(mem, v, 0, 0);
  setVector(mem, DISKETTE_PARAMS_VECTOR, ROM_SEGMENT, rom.disketteParams);
}

function setVector(mem: AddressSpace, vector: number, segment: number, offset: number): void {
  mem.write16(vector * 4, offset);
  mem.write16(vector * 4 + 2, segment);
}

export function writeBiosDataArea(mem: AddressSpace, config: PostConfig): void {
  mem.writeBytes(BDA_BASE, new Uint8Array(BDA_BYTES));
  for (let i = 0; i < Math.min(config.serialPorts, COM_BASES.length); i++) mem.write16(BDA.com1 + 2 * i, COM_BASES[i]!);
  mem.write16(BDA.equipment, equipmentWord(config));
  mem.write16(BDA.baseMemoryKb, EBDA_BASE / 1024);
  mem.write16(BDA.ebdaSegment, EBDA_BASE >> 4);
  mem.write8(BDA.hardDiskCount, config.hardDisks);
  mem.writeBytes(EBDA_BASE, new Uint8Array(EBDA_KB * 1024));
  mem.write8(EBDA_BASE, EBDA_KB);
}

/** INT 11h's word: floppies (bits 0, 6-7), x87 (bit 1), 80x25 colour (bits 4-5 = 10b), serial ports (bits 9-11). */
function equipmentWord(config: PostConfig): number {
  let word = 0x0002 | 0x0020;
  if (config.floppies > 0) word |= 0x0001 | ((config.floppies - 1) << 6);
  word |= Math.min(config.serialPorts, 4) << 9;
  return word;
}
