/**
 * The fw_cfg items QEMU's pc machine gives an external BIOS (-bios, e.g.
 * SeaBIOS), as QEMU's hw/i386/fw_cfg.c and pc.c fill them: RAM size, CPU
 * counts, boot menu, the "etc/e820" RAM map (RAM below the PCI hole and
 * above 4 GiB), and "etc/sercon-port" under -nographic so SeaBIOS mirrors
 * its screen to COM1. Boot order reaches SeaBIOS through the CMOS bytes
 * (src/devices/mc146818.ts fillPcCmos), as for QEMU without bootindex.
 * No "etc/table-loader": SeaBIOS then builds its own ACPI tables.
 *
 * tsvm's VGA is not a PCI device with a ROM BAR (QEMU's -vga std is), so
 * its option ROM goes where SeaBIOS runs ROMs that belong to no device:
 * fw_cfg "vgaroms/", with the ISA VGA BIOS QEMU uses for isapc
 * (vgabios-isavga.bin, looked up next to the -bios file as SeaBIOS's
 * package installs them).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MachineConfig } from '../../config.js';
import type { AddressSpace } from '../../memory/address-space.js';
import type { PortBus } from '../../io/port-bus.js';
import { FwCfg, FW_CFG, le } from '../../devices/fw-cfg.js';
import { E820_RAM, type E820Entry } from '../e820.js';

const COM1 = 0x3f8;
const VGA_ROM_NAME = 'vgabios-isavga.bin';
const FOUR_GIB = 0x1_0000_0000;

export function attachPcFwCfg(io: PortBus, mem: AddressSpace, config: MachineConfig, vgaRom: Uint8Array | undefined): FwCfg {
  const fw = new FwCfg(io);
  fw.setItem(FW_CFG.RAM_SIZE, le(config.memoryBytes, 8));
  fw.setItem(FW_CFG.NOGRAPHIC, le(config.nographic ? 1 : 0, 2));
  fw.setItem(FW_CFG.NB_CPUS, le(config.smp, 2));
  fw.setItem(FW_CFG.MAX_CPUS, le(config.smp, 2));
  fw.setItem(FW_CFG.BOOT_MENU, le(config.boot.menu ? 1 : 0, 2));
  fw.addFile('etc/e820', e820File(ramMap(mem)));
  if (config.nographic) fw.addFile('etc/sercon-port', le(COM1, 2));
  if (vgaRom) fw.addFile(`vgaroms/${VGA_ROM_NAME}`, vgaRom);
  return fw;
}

/** The VGA option ROM beside the -bios file, when the machine has a VGA and the file exists. */
export function findVgaRom(config: MachineConfig, biosPath: string): Uint8Array | undefined {
  if (config.vga !== 'std') return undefined;
  const file = path.join(path.dirname(biosPath), VGA_ROM_NAME);
  return existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
}

function ramMap(mem: AddressSpace): E820Entry[] {
  const map: E820Entry[] = [{ base: 0, length: mem.lowRamTop, type: E820_RAM }];
  if (mem.highRamSize > 0) map.push({ base: FOUR_GIB, length: mem.highRamSize, type: E820_RAM });
  return map;
}

/** QEMU's struct e820_entry: address and length (LE64), type (LE32). */
function e820File(map: readonly E820Entry[]): Uint8Array {
  const out = new Uint8Array(20 * map.length);
  const v = new DataView(out.buffer);
  map.forEach((e, i) => {
    v.setBigUint64(20 * i, BigInt(e.base), true);
    v.setBigUint64(20 * i + 8, BigInt(e.length), true);
    v.setUint32(20 * i + 16, e.type, true);
  });
  return out;
}
