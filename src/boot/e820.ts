/**
 * The BIOS E820 memory map of the PC (ACPI spec 6.5, 15 "System Address Map
 * Interfaces"): what the Linux zero page, the multiboot info structure and the
 * built-in BIOS's INT 15h/E820 hand to the guest.
 */
import type { AddressSpace } from '../memory/address-space.js';

/** Address range types (ACPI 6.5 Table 15.312). */
export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_NVS = 4;

export interface E820Entry {
  base: number;
  length: number;
  type: number;
}

/** Conventional memory ends where the 1 KiB extended BIOS data area starts. */
export const EBDA_BASE = 0x9fc00;
const CONVENTIONAL_TOP = 0xa0000;
/** The system BIOS segment F000 (where the RSDP lives) is reserved. */
const BIOS_SEGMENT_BASE = 0xf0000;
export const HIGH_MEMORY_BASE = 0x10_0000;
/** The BIOS flash mapped at the top of 4 GiB (256 KiB, as QEMU reports it). */
const BIOS_FLASH_BASE = 0xfffc_0000;
const FOUR_GIB = 0x1_0000_0000;

/**
 * The PC's map for `mem`'s RAM: conventional memory, the EBDA and BIOS
 * reserved, RAM from 1 MiB to lowRamTop, RAM above 4 GiB, the BIOS flash.
 * `reserved` ranges (ACPI tables, ...) are carved out of RAM and listed with
 * their own type. Sorted by base, no overlaps.
 */
export function pcE820Map(mem: AddressSpace, reserved: readonly E820Entry[] = []): E820Entry[] {
  let map: E820Entry[] = [
    { base: 0, length: Math.min(EBDA_BASE, mem.lowRamTop), type: E820_RAM },
    { base: EBDA_BASE, length: CONVENTIONAL_TOP - EBDA_BASE, type: E820_RESERVED },
    { base: BIOS_SEGMENT_BASE, length: HIGH_MEMORY_BASE - BIOS_SEGMENT_BASE, type: E820_RESERVED },
  ];
  if (mem.lowRamTop > HIGH_MEMORY_BASE) {
    map.push({ base: HIGH_MEMORY_BASE, length: mem.lowRamTop - HIGH_MEMORY_BASE, type: E820_RAM });
  }
  map.push({ base: BIOS_FLASH_BASE, length: FOUR_GIB - BIOS_FLASH_BASE, type: E820_RESERVED });
  if (mem.highRamSize > 0) map.push({ base: FOUR_GIB, length: mem.highRamSize, type: E820_RAM });
  for (const range of reserved) map = carve(map, range);
  return map.sort((a, b) => a.base - b.base);
}

/** Replaces whatever `range` overlaps in `map` by `range` itself. */
function carve(map: readonly E820Entry[], range: E820Entry): E820Entry[] {
  const end = range.base + range.length;
  const out: E820Entry[] = [];
  for (const e of map) {
    const eEnd = e.base + e.length;
    if (eEnd <= range.base || e.base >= end) {
      out.push(e);
      continue;
    }
    if (e.base < range.base) out.push({ base: e.base, length: range.base - e.base, type: e.type });
    if (eEnd > end) out.push({ base: end, length: eEnd - end, type: e.type });
  }
  out.push({ ...range });
  return out;
}

/** Usable RAM in KiB below 640 KiB and above 1 MiB (contiguous), as BIOS calls report them. */
export function lowerAndUpperMemoryKiB(map: readonly E820Entry[]): { lower: number; upper: number } {
  const lower = map.find((e) => e.type === E820_RAM && e.base === 0)?.length ?? 0;
  const upper = map.find((e) => e.type === E820_RAM && e.base === HIGH_MEMORY_BASE)?.length ?? 0;
  return { lower: Math.floor(lower / 1024), upper: Math.floor(upper / 1024) };
}

/** Writes `map` as the 20-byte records (u64 base, u64 length, u32 type) the zero page and INT 15h use. */
export function writeE820Records(view: DataView, offset: number, map: readonly E820Entry[]): void {
  map.forEach((e, i) => {
    const at = offset + i * 20;
    view.setBigUint64(at, BigInt(e.base), true);
    view.setBigUint64(at + 8, BigInt(e.length), true);
    view.setUint32(at + 16, e.type, true);
  });
}
