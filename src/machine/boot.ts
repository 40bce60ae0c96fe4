/**
 * What the vCPU starts from: a direct-boot kernel (-kernel: Linux bzImage or
 * multiboot), firmware (-bios file) entered at the reset vector, or else
 * tsvm's built-in BIOS (src/boot/bios/).
 *
 * Images are read once at start-up (so a missing file is a start-up error)
 * and copied into guest memory again at every reset, because the guest may
 * have overwritten them, as QEMU's firmware reloads them through fw_cfg.
 * Where tsvm is the firmware, load() writes below 1 MiB only with the
 * shadow RAM there enabled through the i440FX's PAM registers, as POST does
 * (shadowFirmware in pci-setup.ts).
 */
import type { MachineConfig } from '../config.js';
import type { AddressSpace } from '../memory/address-space.js';
import { resetCpuState, type CpuState } from '../accel/cpu-state.js';
import { loadLinux } from '../boot/linux.js';
import { isMultiboot, loadMultiboot, parseMultibootModules } from '../boot/multiboot.js';
import { pcE820Map } from '../boot/e820.js';
import { buildAcpiTables } from '../boot/acpi.js';
import { enableLegacyIde, shadowFirmware } from '../boot/pci-setup.js';
import { mapSystemBios } from './shadow-ram.js';
import { createBuiltinBios, type AcpiPlacement } from '../boot/bios/index.js';
import { postTextScreen } from '../boot/bios/int10-video.js';
import { attachPcFwCfg, findVgaRom, linuxForFirmware, readFirmwareKernel, type FirmwareKernel } from '../boot/bios/fw-cfg-pc.js';
import type { MachineBus } from '../accel/accel.js';
import type { PortBus } from '../io/port-bus.js';
import type { Disks } from './disks.js';
import { optionError } from './errors.js';
import { readUserFile } from './user-files.js';

export interface BootImage {
  /** Maps firmware ROM into the address space (once, at build time). */
  mapFirmware(mem: AddressSpace): void;
  /** Registers the firmware's own devices (the built-in BIOS's service port), before the first load(). */
  attachDevices?(bus: MachineBus, disks: Disks): void;
  /**
   * Copies images into guest memory, leaves the chips as the firmware would
   * hand them over where tsvm is the firmware, and returns the boot vCPU's
   * starting state.
   */
  load(bus: MachineBus): CpuState;
}

/** ACPI PM block base and SCI line shared with src/devices/acpi-pm.ts. */
export const PM_BASE = 0x600;
export const SCI_IRQ = 9;

/** What the ACPI tables say of the machine's chips, wherever tsvm builds them. */
function acpiPlacement(config: MachineConfig): AcpiPlacement {
  return { pmBase: PM_BASE, sciIrq: SCI_IRQ, hpet: config.hpet };
}

export function loadBootImage(config: MachineConfig): BootImage {
  // Under -bios the firmware boots a Linux -kernel through fw_cfg, as in QEMU.
  const firmwareKernel = config.bios && config.kernel ? readFirmwareKernel({ ...config, kernel: config.kernel }) : undefined;
  if (config.kernel && !firmwareKernel) return directKernel(config, config.kernel);
  if (config.bios) return firmware(config, readUserFile('-bios', config.bios), config.bios, firmwareKernel);
  return createBuiltinBios(config, acpiPlacement(config));
}

function directKernel(config: MachineConfig, path: string): BootImage {
  const kernel = readUserFile('-kernel', path);
  const append = config.append ?? '';
  if (isMultiboot(kernel)) {
    // QEMU passes "<kernel path> <append>": kvm-unit-tests read the first word as the program name.
    const cmdline = append ? `${path} ${append}` : path;
    const modules = config.initrd ? readMultibootModules(config.initrd) : [];
    return {
      mapFirmware() {},
      load({ mem, io }) {
        asFirmwareLeftIt(mem, io);
        const e820 = pcE820Map(mem, []);
        return shadowFirmware(io, () => guarded(() => loadMultiboot(mem, { kernel, modules, cmdline, e820 }), () => ['-kernel', path]));
      },
    };
  }
  const initrd = config.initrd ? readUserFile('-initrd', config.initrd) : undefined;
  const cmdline = append;
  return {
    mapFirmware() {},
    load({ mem, io }) {
      asFirmwareLeftIt(mem, io);
      return shadowFirmware(io, () => {
        const acpi = config.acpi ? buildAcpiTables(mem, { cpus: config.smp, ioapic: false, ...acpiPlacement(config) }) : undefined;
        const e820 = pcE820Map(mem, acpi?.reserved ?? []);
        return guarded(() => loadLinux(mem, { kernel, initrd, cmdline, e820, acpiRsdp: acpi?.rsdp }), (err) => linuxErrorSource(err, config, path));
      });
    },
  };
}

/**
 * The chips as firmware hands them to a kernel, where tsvm boots it
 * without any: the IDE decodes on, and the VGA in text mode 3 as the
 * built-in BIOS's POST leaves it, as SeaBIOS's VGA BIOS does before QEMU's
 * -kernel option ROMs run.
 */
function asFirmwareLeftIt(mem: AddressSpace, io: PortBus): void {
  enableLegacyIde(io);
  postTextScreen(mem, io);
}

/** The multiboot modules QEMU's -initrd names ("mod1 arg,mod2"), read from their files. */
function readMultibootModules(spec: string): { data: Uint8Array; cmdline: string }[] {
  const modules = guarded(() => parseMultibootModules(spec), () => ['-initrd', spec]);
  return modules.map((m) => ({ data: readUserFile('-initrd', m.path), cmdline: m.cmdline }));
}

/**
 * The option whose argument a loadLinux error is about, and that argument.
 * The loader's messages start with their subject: the initrd's and the
 * command line's are the user's -initrd and -append (QEMU too says "initrd
 * is too large" rather than blaming the kernel); the rest are the kernel file's.
 */
function linuxErrorSource(err: unknown, config: MachineConfig, kernelPath: string): [option: string, arg: string] {
  const message = err instanceof Error ? err.message : '';
  if (config.initrd !== undefined && message.startsWith('initrd ')) return ['-initrd', config.initrd];
  if (config.append !== undefined && message.startsWith('kernel command line ')) return ['-append', config.append];
  return ['-kernel', kernelPath];
}

/**
 * A BIOS image: mapped at the top of 4 GiB (the reset vector is 16 bytes
 * below), and its last 128 KiB also at 0xE0000-0xFFFFF, where real-mode
 * code sees it until it shadows itself into RAM through the PAM registers
 * (shadow-ram.ts). The machine's description reaches it through QEMU's
 * fw_cfg device.
 */
function firmware(config: MachineConfig, image: Uint8Array, path: string, kernel: FirmwareKernel | undefined): BootImage {
  if (image.length < 0x10000 || image.length % 0x10000 !== 0 || image.length > 0x100_0000) {
    throw optionError('-bios', path, new Error('BIOS image size must be a multiple of 64 KiB, between 64 KiB and 16 MiB'));
  }
  const vgaRom = findVgaRom(config, path);
  return {
    mapFirmware(mem) {
      mapSystemBios(mem, image);
    },
    attachDevices(bus) {
      const linux = kernel && guarded(() => linuxForFirmware(kernel, bus.mem), (err) => linuxErrorSource(err, config, kernel.path));
      attachPcFwCfg(bus.io, bus.mem, config, vgaRom, linux);
    },
    load() {
      return resetCpuState();
    },
  };
}

/** Loader errors are about the user's files: one line naming the option whose argument is at fault. */
function guarded<T>(load: () => T, source: (err: unknown) => [option: string, arg: string]): T {
  try {
    return load();
  } catch (err) {
    const [option, arg] = source(err);
    throw optionError(option, arg, err);
  }
}
