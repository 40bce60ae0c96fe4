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
 *
 * With -kernel, the kernel's pieces go in QEMU's kernel items and tsvm's
 * linuxboot option ROM (linuxboot-rom.ts) in "genroms/", which SeaBIOS
 * runs; "bootorder" names that ROM first, as QEMU gives it bootindex 0.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MachineConfig } from '../../config.js';
import type { AddressSpace } from '../../memory/address-space.js';
import type { PortBus } from '../../io/port-bus.js';
import { FwCfg, FW_CFG, le } from '../../devices/fw-cfg.js';
import { E820_RAM, type E820Entry } from '../e820.js';
import { linuxFirmwareHandoff, type LinuxFirmwareHandoff } from '../linux.js';
import { isMultiboot } from '../multiboot.js';
import { readUserFile } from '../../machine/user-files.js';
import { buildLinuxbootRom, LINUXBOOT_ROM_NAME } from './linuxboot-rom.js';

const COM1 = 0x3f8;
const VGA_ROM_NAME = 'vgabios-isavga.bin';
const FOUR_GIB = 0x1_0000_0000;
/**
 * RAM at the top of low memory the initrd keeps clear of: SeaBIOS builds
 * its ACPI tables and keeps other allocations there (QEMU likewise leaves
 * room below the top for the firmware's tables). 1 MiB is a wide margin.
 */
const FIRMWARE_HIGH_RESERVE = 0x10_0000;

/** A Linux kernel for the firmware to boot (-kernel with -bios), with its -initrd and -append. */
export interface FirmwareKernel {
  path: string;
  kernel: Uint8Array;
  initrd: Uint8Array | undefined;
  cmdline: string;
}

/**
 * The -kernel the firmware boots through fw_cfg, as QEMU does under -bios;
 * undefined for a multiboot kernel, which tsvm still loads itself (QEMU's
 * multiboot.bin option ROM has no tsvm counterpart yet).
 */
export function readFirmwareKernel(config: MachineConfig & { kernel: string }): FirmwareKernel | undefined {
  const kernel = readUserFile('-kernel', config.kernel);
  if (isMultiboot(kernel)) return undefined;
  const initrd = config.initrd === undefined ? undefined : readUserFile('-initrd', config.initrd);
  return { path: config.kernel, kernel, initrd, cmdline: config.append ?? '' };
}

export function attachPcFwCfg(
  io: PortBus,
  mem: AddressSpace,
  config: MachineConfig,
  vgaRom: Uint8Array | undefined,
  linux?: LinuxFirmwareHandoff,
): FwCfg {
  const fw = new FwCfg(io);
  fw.setItem(FW_CFG.RAM_SIZE, le(config.memoryBytes, 8));
  fw.setItem(FW_CFG.NOGRAPHIC, le(config.nographic ? 1 : 0, 2));
  fw.setItem(FW_CFG.NB_CPUS, le(config.smp, 2));
  fw.setItem(FW_CFG.MAX_CPUS, le(config.smp, 2));
  fw.setItem(FW_CFG.BOOT_MENU, le(config.boot.menu ? 1 : 0, 2));
  fw.addFile('etc/e820', e820File(ramMap(mem)));
  if (config.nographic) fw.addFile('etc/sercon-port', le(COM1, 2));
  if (vgaRom) fw.addFile(`vgaroms/${VGA_ROM_NAME}`, vgaRom);
  if (linux) addLinuxBoot(fw, linux);
  return fw;
}

/** The kernel's pieces and their places in this machine's RAM; throws the loader's error for a kernel, initrd or command line that does not fit. */
export function linuxForFirmware({ kernel, initrd, cmdline }: FirmwareKernel, mem: AddressSpace): LinuxFirmwareHandoff {
  return linuxFirmwareHandoff(kernel, initrd, cmdline, mem.lowRamTop - FIRMWARE_HIGH_RESERVE);
}

/** QEMU's -kernel items (x86_load_linux), the option ROM that reads them, and a boot order that runs it first. */
function addLinuxBoot(fw: FwCfg, linux: LinuxFirmwareHandoff): void {
  const pieces = [
    [FW_CFG.SETUP_ADDR, FW_CFG.SETUP_SIZE, FW_CFG.SETUP_DATA, linux.setupAddr, linux.setup],
    [FW_CFG.CMDLINE_ADDR, FW_CFG.CMDLINE_SIZE, FW_CFG.CMDLINE_DATA, linux.cmdlineAddr, linux.cmdline],
    [FW_CFG.KERNEL_ADDR, FW_CFG.KERNEL_SIZE, FW_CFG.KERNEL_DATA, linux.kernelAddr, linux.kernel],
    [FW_CFG.INITRD_ADDR, FW_CFG.INITRD_SIZE, FW_CFG.INITRD_DATA, linux.initrdAddr, linux.initrd],
  ] as const;
  for (const [addrKey, sizeKey, dataKey, addr, data] of pieces) {
    fw.setItem(addrKey, le(addr, 4));
    fw.setItem(sizeKey, le(data.length, 4));
    fw.setItem(dataKey, data);
  }
  fw.addFile(`genroms/${LINUXBOOT_ROM_NAME}`, buildLinuxbootRom());
  // QEMU's boot device list: one OpenFirmware path a line, NUL-terminated.
  fw.addFile('bootorder', new TextEncoder().encode(`/rom@genroms/${LINUXBOOT_ROM_NAME}\0`));
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
