/**
 * The PC's memory from 0xC0000 to 0xFFFFF: what the PCI/ISA bus has there
 * (the system BIOS's isa-bios alias, QEMU's pc.rom for option ROMs) and the
 * DRAM beneath it, which the i440FX's PAM registers switch in range by range.
 *
 * 82441FX PMC datasheet, "PAM[6:0]: Programmable Attribute Map Registers"
 * (device 0, 59h-5Fh), attribute bits RE (read enable) and WE (write
 * enable) of each range; they apply to CPU and PCI master accesses alike:
 *
 *   RE WE
 *   0  0   disabled: reads and writes go to PCI (the bus's ROM, or nothing)
 *   1  0   read only: reads come from DRAM, writes go to PCI (a ROM drops them)
 *   0  1   write only: reads come from PCI, writes go to DRAM (how a BIOS
 *          shadows a ROM in place: read each word and write it back)
 *   1  1   DRAM read/write
 *
 * At reset every range is disabled, so the CPU's first real-mode fetches
 * below 1 MiB read the BIOS ROM. QEMU's pam.c maps write-only as DRAM
 * read/write ("XXX: should distinguish read/write cases"); tsvm follows the
 * datasheet. The bus holds only ROMs here, so writes that go to it are dropped.
 */
import { PAGE_SIZE, type AddressSpace, type MmioRegion, type PageBacking, type RomRegion } from '../memory/address-space.js';
import type { I440fxHostBridge, PamRange } from '../devices/pci.js';

const WINDOW_BASE = 0xc0000;
const WINDOW_END = 0x10_0000;
const FOUR_GIB = 0x1_0000_0000;
/** The isa-bios alias: the last 128 KiB of the BIOS image (all of a smaller one) just below 1 MiB. */
const ISA_BIOS_MAX = 0x2_0000;
/** QEMU's pc.rom: 128 KiB of read-only memory at 0xC0000 on the PCI bus, where option ROMs would be loaded (zeros without any). */
const PC_ROM_BASE = 0xc0000;
const PC_ROM_SIZE = 0x2_0000;

/**
 * Maps a system BIOS image where the PC decodes it: at the top of 4 GiB
 * (the reset vector is 16 bytes below) and, through the isa-bios alias,
 * below 1 MiB, where real-mode code finds it while PAM leaves the range to the bus.
 */
export function mapSystemBios(mem: AddressSpace, image: Uint8Array): void {
  mem.addRom('bios', FOUR_GIB - image.length, image);
  const low = image.subarray(Math.max(0, image.length - ISA_BIOS_MAX));
  mem.addRom('isa-bios', WINDOW_END - low.length, low);
}

/** QEMU's pc.rom on the bus at 0xC0000-0xDFFFF: what a disabled PAM range there reads (zeros). */
export function mapOptionRomSpace(mem: AddressSpace): void {
  mem.addRom('pc.rom', PC_ROM_BASE, new Uint8Array(PC_ROM_SIZE));
}

/**
 * Makes `mem` follow the i440FX's PAM registers from now on (every change,
 * and every reset, which disables all ranges). What is mapped in the window
 * now is taken as the bus's; the DRAM beneath is what PAM switches in.
 */
export function attachShadowRam(mem: AddressSpace, i440fx: I440fxHostBridge): void {
  const pages = (WINDOW_END - WINDOW_BASE) / PAGE_SIZE;
  const bus = Array.from({ length: pages }, (_, i) => mem.regionAt(WINDOW_BASE + i * PAGE_SIZE));
  const readOnly: RomRegion = {
    kind: 'rom',
    name: 'pam-rom',
    base: WINDOW_BASE,
    data: mem.ram.subarray(WINDOW_BASE, WINDOW_END),
    ramOffset: WINDOW_BASE,
  };
  const writeOnly: MmioRegion = {
    kind: 'mmio',
    name: 'pam-wo',
    base: WINDOW_BASE,
    size: WINDOW_END - WINDOW_BASE,
    handler: {
      // Byte by byte: an unaligned access may straddle two pages with different bus contents.
      read: (offset, size) => {
        let value = 0;
        for (let i = 0; i < size; i++) {
          const addr = WINDOW_BASE + offset + i;
          value |= mem.readRegion(bus[Math.floor((addr - WINDOW_BASE) / PAGE_SIZE)], addr, 1) << (8 * i);
        }
        return value >>> 0;
      },
      write: (offset, size, value) => mem.writeDram(WINDOW_BASE + offset, size, value),
    },
  };
  mem.addRemapWindow(WINDOW_BASE, WINDOW_END - WINDOW_BASE);
  const apply = (): void => {
    const backings: PageBacking[] = [...bus];
    for (const range of i440fx.pamRanges()) {
      for (let addr = range.base; addr < range.base + range.size; addr += PAGE_SIZE) {
        const page = (addr - WINDOW_BASE) / PAGE_SIZE;
        // Where -m leaves no DRAM under the window, every mode reads the bus.
        if (addr < mem.lowRamTop) backings[page] = pageBacking(range, bus[page], readOnly, writeOnly);
      }
    }
    mem.remap(WINDOW_BASE, backings);
  };
  i440fx.onPamChange(apply);
  apply();
}

/** What one page of a PAM range is for its RE/WE bits. */
function pageBacking(range: PamRange, bus: PageBacking, readOnly: RomRegion, writeOnly: MmioRegion): PageBacking {
  if (range.readDram) return range.writeDram ? 'ram' : readOnly;
  return range.writeDram ? writeOnly : bus;
}
