import { describe, expect, it } from 'vitest';
import { AddressSpace } from '../../src/memory/address-space.js';
import { E820_ACPI, E820_NVS, E820_RAM, E820_RESERVED, lowerAndUpperMemoryKiB, pcE820Map } from '../../src/boot/e820.js';

const MiB = 0x10_0000;

describe('PC E820 map', () => {
  it('lists conventional memory, the EBDA, the BIOS areas and extended memory', () => {
    const mem = new AddressSpace(128 * MiB);
    expect(pcE820Map(mem)).toEqual([
      { base: 0, length: 0x9fc00, type: E820_RAM },
      { base: 0x9fc00, length: 0x400, type: E820_RESERVED },
      { base: 0xf0000, length: 0x10000, type: E820_RESERVED },
      { base: MiB, length: 127 * MiB, type: E820_RAM },
      { base: 0xfffc0000, length: 0x40000, type: E820_RESERVED },
    ]);
  });

  it('carves reserved ranges (ACPI tables) out of RAM', () => {
    const mem = new AddressSpace(64 * MiB);
    const top = 64 * MiB;
    const map = pcE820Map(mem, [
      { base: top - 0x3000, length: 0x1000, type: E820_NVS },
      { base: top - 0x2000, length: 0x2000, type: E820_ACPI },
    ]);
    expect(map.slice(3, 6)).toEqual([
      { base: MiB, length: top - 0x3000 - MiB, type: E820_RAM },
      { base: top - 0x3000, length: 0x1000, type: E820_NVS },
      { base: top - 0x2000, length: 0x2000, type: E820_ACPI },
    ]);
    expect(lowerAndUpperMemoryKiB(map)).toEqual({ lower: 639, upper: (top - 0x3000 - MiB) / 1024 });
  });

  it('splits a RAM range around a reserved hole in its middle', () => {
    const mem = new AddressSpace(32 * MiB);
    const map = pcE820Map(mem, [{ base: 8 * MiB, length: MiB, type: E820_RESERVED }]);
    expect(map.filter((e) => e.base >= MiB && e.base < 0xf000_0000)).toEqual([
      { base: MiB, length: 7 * MiB, type: E820_RAM },
      { base: 8 * MiB, length: MiB, type: E820_RESERVED },
      { base: 9 * MiB, length: 23 * MiB, type: E820_RAM },
    ]);
  });

  it('lists RAM above 4 GiB when -m exceeds the PCI hole', () => {
    // Only the RAM geometry is read, so a 4.5 GiB machine need not be allocated.
    const big = { lowRamTop: 0xe000_0000, highRamSize: 0x2000_0000 } as AddressSpace;
    const map = pcE820Map(big);
    expect(map.find((e) => e.base === MiB)).toEqual({ base: MiB, length: 0xe000_0000 - MiB, type: E820_RAM });
    expect(map.at(-1)).toEqual({ base: 0x1_0000_0000, length: 0x2000_0000, type: E820_RAM });
  });
});
