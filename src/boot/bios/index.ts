/**
 * tsvm's built-in BIOS, the firmware when neither -kernel nor -bios is
 * given: a ROM of real-mode stubs (rom.ts) whose interrupt handlers trap
 * through a private port (trap-port.ts) into the services below, written
 * once in TypeScript and shared by TCG and KVM.
 *
 * mapFirmware() puts the ROM at the top of 4 GiB (the reset vector) and
 * below 1 MiB (the isa-bios alias); attachDevices() registers the trap port
 * with the machine's drives; load() (every reset) does what a real BIOS's
 * POST does before the OS: shadows the ROM into RAM at F000:0000 through the
 * i440FX's PAM registers (its code then runs from RAM, and the ACPI RSDP
 * can sit beside it), write-protects that shadow, lays out the rest of
 * memory (IVT, BDA, EBDA, the text screen) and starts the CPU at the reset
 * vector, whose code programs the chips and calls INT 19h.
 */
import type { MachineConfig } from '../../config.js';
import type { AddressSpace } from '../../memory/address-space.js';
import type { MachineBus } from '../../accel/accel.js';
import type { Disks } from '../../machine/disks.js';
import { resetCpuState, type CpuState } from '../../accel/cpu-state.js';
import { buildAcpiTables, type AcpiOptions } from '../acpi.js';
import { pcE820Map } from '../e820.js';
import { buildBiosRom, ROM_BASE, IRQ_KEYBOARD_VECTOR, IRQ_TIMER_VECTOR, type BiosRom } from './rom.js';
import { TrapPort, type Service } from './trap-port.js';
import { BiosDrives } from './drives.js';
import { writeBiosDataArea, writeIvt } from './post.js';
import { Video } from './int10-video.js';
import { DiskService } from './int13-disk.js';
import { SystemService } from './int15-system.js';
import { KeyboardService } from './int16-keyboard.js';
import { TimeService } from './int1a-time.js';
import { PciBios } from './pci-bios.js';
import { enableLegacyIde, shadowFirmware } from '../pci-setup.js';
import { mapSystemBios } from '../../machine/shadow-ram.js';
import { BootService } from './int19-boot.js';
import { BDA } from './bda.js';

export type AcpiPlacement = Pick<AcpiOptions, 'pmBase' | 'sciIrq' | 'hpet'>;

export interface BuiltinBios {
  mapFirmware(mem: AddressSpace): void;
  attachDevices(bus: MachineBus, disks: Disks): void;
  load(bus: MachineBus): CpuState;
}

interface Services {
  drives: BiosDrives;
  video: Video;
  keyboard: KeyboardService;
  system: SystemService;
}

export function createBuiltinBios(config: MachineConfig, acpi: AcpiPlacement): BuiltinBios {
  const rom = buildBiosRom();
  let services: Services | undefined;
  return {
    mapFirmware(mem) {
      mapSystemBios(mem, rom.image);
    },
    attachDevices(bus, disks) {
      services = attachServices(config, rom, bus, disks);
    },
    load({ mem, io }) {
      if (!services) throw new Error('built-in BIOS: load() before attachDevices()');
      const { system, drives, video, keyboard } = services;
      enableLegacyIde(io);
      shadowFirmware(io, () => {
        mem.writeBytes(ROM_BASE, rom.image);
        const tables = config.acpi ? buildAcpiTables(mem, { cpus: config.smp, ioapic: false, ...acpi }) : undefined;
        system.setMemoryMap(pcE820Map(mem, tables?.reserved ?? []));
      });
      writeIvt(mem, rom);
      writeBiosDataArea(mem, {
        floppies: drives.count('floppy'),
        hardDisks: drives.count('hd'),
        serialPorts: config.serials.length,
      });
      video.initialize();
      keyboard.initialize();
      return resetCpuState();
    },
  };
}

function attachServices(config: MachineConfig, rom: BiosRom, bus: MachineBus, disks: Disks): Services {
  const { mem, io } = bus;
  const serialConsole = config.nographic && config.serials.length > 0;
  const drives = new BiosDrives(disks);
  const video = new Video(mem, io, serialConsole);
  const disk = new DiskService(mem, drives, rom.disketteParams);
  const system = new SystemService(mem, bus.a20, bus.clock, rom.configTable);
  const keyboard = new KeyboardService(mem, io, serialConsole);
  const time = new TimeService(mem, io);
  const pci = new PciBios(io);
  const boot = new BootService(mem, drives, disk, video, bus.lifecycle, config.boot);
  const table: [number, Service][] = [
    [IRQ_TIMER_VECTOR, () => time.tick()],
    [IRQ_KEYBOARD_VECTOR, () => keyboard.irq()],
    [0x10, (f) => video.service(f)],
    [0x11, (f) => (f.set('ax', mem.read16(BDA.equipment)), 'done')],
    [0x12, (f) => (f.set('ax', mem.read16(BDA.baseMemoryKb)), 'done')],
    [0x13, (f) => disk.service(f)],
    [0x15, (f) => system.service(f)],
    [0x16, (f) => keyboard.service(f)],
    [0x18, () => boot.noBootableDevice()],
    [0x19, (f) => boot.bootstrap(f)],
    [0x1a, (f) => (f.get8('ah') === 0xb1 ? pci.service(f) : time.service(f))],
  ];
  new TrapPort(io, mem, new Map(table));
  return { drives, video, keyboard, system };
}
