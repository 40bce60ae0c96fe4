/**
 * The ACPI tables a PC's firmware hands the OS (ACPI 6.5, chapter 5): RSDP,
 * RSDT, FADT (revision 3, ACPI 2.0 layout), FACS, a DSDT with `\_S5_`, a
 * MADT when the machine has local APICs, and the HPET table when it has an
 * HPET (also declared in the DSDT, as QEMU does). They describe the PIIX4-style PM
 * block of src/devices/acpi-pm.ts: PM1a event/control and the PM timer at
 * pmBase, the SCI on IRQ 9, SLP_TYP 0 for S5, ACPI already enabled
 * (SMI_CMD 0), reset through port 0xCF9.
 *
 * Guest RAM used:
 *   0xF0000-0xF0013  RSDP (where the OS scans the BIOS area for it)
 *   top of low RAM   one page of FACS (E820 NVS), then the other tables (E820 ACPI)
 */
import type { AddressSpace } from '../memory/address-space.js';
import { E820_ACPI, E820_NVS, type E820Entry } from './e820.js';
import {
  amlDevice,
  amlEisaId,
  amlInteger,
  amlMemory32Fixed,
  amlMethod,
  amlName,
  amlPackage,
  amlResourceTemplate,
  amlReturn,
  amlScope,
  type Aml,
} from './aml.js';
import { HPET_BASE, HPET_BLOCK_SIZE, HPET_CAPABILITIES } from '../devices/hpet.js';
import { alignDown, alignUp, ascii, checksum8, concat } from '../bytes.js';

export const RSDP_ADDR = 0xf0000;

export interface AcpiOptions {
  cpus: number;
  /** An I/O APIC at 0xFEC00000 (MADT IOAPIC entry and ISA interrupt overrides). */
  ioapic: boolean;
  /** Local APICs at 0xFEE00000, one per CPU (a MADT); defaults to `ioapic`. */
  localApic?: boolean;
  /** Declare the PCI root bridge \_SB.PCI0 (PNP0A03) in the DSDT. */
  pciRoot?: boolean;
  /** The machine's HPET (src/devices/hpet.ts): an HPET table and \_SB.HPET (PNP0103) in the DSDT. */
  hpet?: boolean;
  pmBase: number;
  sciIrq: number;
}

export interface AcpiTables {
  /** Physical address of the RSDP (for boot_params.acpi_rsdp_addr). */
  rsdp: number;
  /** Guest RAM the tables occupy, for the E820 map. */
  reserved: E820Entry[];
}

const HEADER_SIZE = 36;
const FACS_SIZE = 64;
const FADT_SIZE = 244;
const HPET_TABLE_SIZE = 56;
const TABLE_ALIGN = 16;
const PAGE = 0x1000;

const OEM_ID = 'TSVM  ';
const CREATOR_ID = 'TSVM';

const IOAPIC_ADDR = 0xfec0_0000;
const LOCAL_APIC_ADDR = 0xfee0_0000;
const RESET_PORT = 0xcf9;
const RESET_VALUE = 0x06; // PIIX reset control: CPU reset + full (hard) reset
const CMOS_CENTURY = 0x32;

// FADT flags (ACPI 6.5 Table 5.10).
const FADT_WBINVD = 1 << 0;
const FADT_PROC_C1 = 1 << 2;
const FADT_SLP_BUTTON = 1 << 5;
const FADT_RESET_REG_SUP = 1 << 10;
// IA-PC boot architecture flags (Table 5.11).
const IAPC_LEGACY_DEVICES = 1 << 0;
const IAPC_8042 = 1 << 1;
// Generic Address Structure address space ids (Table 5.1).
const GAS_SYSTEM_MEMORY = 0;
const GAS_SYSTEM_IO = 1;
const GAS_ACCESS_BYTE = 1;

// MADT (ACPI 6.5, 5.2.12).
const MADT_PCAT_COMPAT = 1;
const MADT_LOCAL_APIC = 0;
const MADT_IO_APIC = 1;
const MADT_INTERRUPT_OVERRIDE = 2;
const MADT_LOCAL_APIC_NMI = 4;
const MPS_INTI_POLARITY_HIGH = 0b01;
const MPS_INTI_TRIGGER_LEVEL = 0b11 << 2;

/**
 * Writes the tables into guest RAM below `mem.lowRamTop` and the RSDP at
 * RSDP_ADDR; returns the RSDP address and the ranges to reserve in E820.
 */
export function buildAcpiTables(mem: AddressSpace, opts: AcpiOptions): AcpiTables {
  if (opts.cpus < 1 || opts.cpus > 255) throw new Error(`ACPI: unsupported CPU count ${opts.cpus}`);
  const dsdtBody = buildDsdtAml(opts);
  const madtBody = (opts.localApic ?? opts.ioapic) ? buildMadtBody(opts) : undefined;
  const hpetBody = opts.hpet ? buildHpetBody() : undefined;

  // Layout: FACS page (NVS), then DSDT, FADT, MADT, HPET, RSDT (ACPI data).
  const sizes = [HEADER_SIZE + dsdtBody.length, FADT_SIZE, madtBody ? HEADER_SIZE + madtBody.length : 0, hpetBody ? HPET_TABLE_SIZE : 0];
  const rsdtSize = HEADER_SIZE + 4 * (1 + (madtBody ? 1 : 0) + (hpetBody ? 1 : 0));
  const tablesSize = [...sizes, rsdtSize].reduce((n, s) => n + alignUp(s, TABLE_ALIGN), 0);
  const facsAddr = alignDown(mem.lowRamTop - PAGE - alignUp(tablesSize, PAGE), PAGE);
  const dataBase = facsAddr + PAGE;
  if (facsAddr < 0x10_0000) throw new Error('ACPI: not enough RAM for the tables');
  const dsdtAddr = dataBase;
  const fadtAddr = dsdtAddr + alignUp(sizes[0]!, TABLE_ALIGN);
  const madtAddr = fadtAddr + alignUp(sizes[1]!, TABLE_ALIGN);
  const hpetAddr = madtAddr + alignUp(sizes[2]!, TABLE_ALIGN);
  const rsdtAddr = hpetAddr + alignUp(sizes[3]!, TABLE_ALIGN);

  mem.writeBytes(facsAddr, buildFacs());
  mem.writeBytes(dsdtAddr, table('DSDT', 1, dsdtBody));
  mem.writeBytes(fadtAddr, table('FACP', 3, buildFadtBody(opts, facsAddr, dsdtAddr)));
  const rsdtEntries = [fadtAddr];
  if (madtBody) {
    mem.writeBytes(madtAddr, table('APIC', 1, madtBody));
    rsdtEntries.push(madtAddr);
  }
  if (hpetBody) {
    mem.writeBytes(hpetAddr, table('HPET', 1, hpetBody));
    rsdtEntries.push(hpetAddr);
  }
  mem.writeBytes(rsdtAddr, table('RSDT', 1, u32s(rsdtEntries)));
  mem.writeBytes(RSDP_ADDR, buildRsdp(rsdtAddr));

  return {
    rsdp: RSDP_ADDR,
    reserved: [
      { base: facsAddr, length: PAGE, type: E820_NVS },
      { base: dataBase, length: mem.lowRamTop - dataBase, type: E820_ACPI },
    ],
  };
}

/**
 * The DSDT's definition block: `Name (_S5, Package (4) {0, 0, 0, 0})` (SLP_TYP
 * 0 for soft-off in PM1a/PM1b control, what the PIIX4 PM block decodes), and
 * optionally the PCI root bridge and the HPET in \_SB.
 */
export function buildDsdtAml(opts: Pick<AcpiOptions, 'pciRoot' | 'hpet'>): Aml {
  const terms = [amlName('_S5', amlPackage([amlInteger(0), amlInteger(0), amlInteger(0), amlInteger(0)]))];
  const devices: Aml[] = [];
  if (opts.pciRoot) {
    devices.push(amlDevice('PCI0', [amlName('_HID', amlEisaId('PNP0A03')), amlName('_ADR', amlInteger(0)), amlName('_UID', amlInteger(0))]));
  }
  if (opts.hpet) devices.push(hpetDeviceAml());
  if (devices.length) terms.push(amlScope('\\_SB', devices));
  return concat(terms);
}

/**
 * \_SB.HPET as QEMU declares it: the PNP0103 device with its register block
 * as a read-only memory range. QEMU's _STA reads the chip's vendor and
 * period to decide; tsvm writes the table only for a machine with the HPET,
 * so it is present, enabled, shown and functioning.
 */
function hpetDeviceAml(): Aml {
  return amlDevice('HPET', [
    amlName('_HID', amlEisaId('PNP0103')),
    amlName('_UID', amlInteger(0)),
    amlMethod('_STA', 0, [amlReturn(amlInteger(0x0f))]),
    amlName('_CRS', amlResourceTemplate([amlMemory32Fixed(false, HPET_BASE, HPET_BLOCK_SIZE)])),
  ]);
}

/**
 * The HPET description table after its header (IA-PC HPET spec 1.0a,
 * 3.2.4; offsets below are from the table start), byte for byte
 * what QEMU 7.2's pc gives a guest: the event timer block's ID is the
 * capabilities register's low half, the base a system-memory GAS with
 * width, offset and access size 0, HPET number 0, and no minimum periodic
 * tick or page protection (both 0; real chipsets often give a minimum of
 * 0x80 ticks, QEMU does not).
 */
function buildHpetBody(): Uint8Array {
  const v = new DataView(new ArrayBuffer(HPET_TABLE_SIZE));
  v.setUint32(36, HPET_CAPABILITIES, true); // Event Timer Block ID
  writeGas(v, 40, GAS_SYSTEM_MEMORY, 0, 0, HPET_BASE); // BASE_ADDRESS
  // 52 HPET Number, 53 Main Counter Minimum Clock_tick in Periodic Mode, 55 Page Protection and OEM Attribute: all 0.
  return new Uint8Array(v.buffer, HEADER_SIZE);
}

/** The FADT after its header (offsets below are from the table start). */
function buildFadtBody(opts: AcpiOptions, facsAddr: number, dsdtAddr: number): Uint8Array {
  const f = new DataView(new ArrayBuffer(FADT_SIZE));
  f.setUint32(36, facsAddr, true); // FIRMWARE_CTRL
  f.setUint32(40, dsdtAddr, true); // DSDT
  f.setUint16(46, opts.sciIrq, true); // SCI_INT
  f.setUint32(48, 0, true); // SMI_CMD 0: ACPI is always enabled, no SMM handshake
  f.setUint32(56, opts.pmBase, true); // PM1a_EVT_BLK
  f.setUint32(64, opts.pmBase + 4, true); // PM1a_CNT_BLK
  f.setUint32(76, opts.pmBase + 8, true); // PM_TMR_BLK
  f.setUint8(88, 4); // PM1_EVT_LEN
  f.setUint8(89, 2); // PM1_CNT_LEN
  f.setUint8(91, 4); // PM_TMR_LEN
  f.setUint16(96, 0x0fff, true); // P_LVL2_LAT > 100: no C2
  f.setUint16(98, 0xffff, true); // P_LVL3_LAT > 1000: no C3
  f.setUint8(108, CMOS_CENTURY); // CENTURY: the RTC's century byte
  f.setUint16(109, IAPC_LEGACY_DEVICES | IAPC_8042, true); // IAPC_BOOT_ARCH
  f.setUint32(112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RESET_REG_SUP, true);
  writeGas(f, 116, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE, RESET_PORT); // RESET_REG
  f.setUint8(128, RESET_VALUE);
  // X_FIRMWARE_CTRL, X_DSDT and the X_ blocks stay 0: the 32-bit fields hold
  // everything (below 4 GiB), and ACPI forbids giving the FACS in both.
  return new Uint8Array(f.buffer, HEADER_SIZE);
}

/** Generic Address Structure (ACPI 6.5, 5.2.3.2). */
function writeGas(v: DataView, at: number, space: number, bitWidth: number, accessSize: number, address: number): void {
  v.setUint8(at, space);
  v.setUint8(at + 1, bitWidth);
  v.setUint8(at + 2, 0); // bit offset
  v.setUint8(at + 3, accessSize);
  v.setBigUint64(at + 4, BigInt(address), true);
}

/** Firmware ACPI Control Structure (ACPI 6.5, 5.2.10): no checksum, nothing for the OS to wake into. */
function buildFacs(): Uint8Array {
  const facs = new Uint8Array(FACS_SIZE);
  const v = new DataView(facs.buffer);
  facs.set(ascii('FACS'), 0);
  v.setUint32(4, FACS_SIZE, true);
  v.setUint8(32, 1); // version
  return facs;
}

/** MADT after its header: local APIC address and flags, then the interrupt controller structures. */
function buildMadtBody(opts: AcpiOptions): Uint8Array {
  const entries: number[][] = [];
  for (let cpu = 0; cpu < opts.cpus; cpu++) entries.push([MADT_LOCAL_APIC, 8, cpu, cpu, ...le32(1)]); // enabled
  if (opts.ioapic) {
    entries.push([MADT_IO_APIC, 12, 0, 0, ...le32(IOAPIC_ADDR), ...le32(0)]); // id 0, GSI base 0
    // ISA IRQ 0 (the PIT) is wired to IOAPIC pin 2; flags 0 = bus default (edge, high).
    entries.push([MADT_INTERRUPT_OVERRIDE, 10, 0, 0, ...le32(2), ...le16(0)]);
    entries.push([MADT_INTERRUPT_OVERRIDE, 10, 0, opts.sciIrq, ...le32(opts.sciIrq), ...le16(MPS_INTI_POLARITY_HIGH | MPS_INTI_TRIGGER_LEVEL)]);
  }
  entries.push([MADT_LOCAL_APIC_NMI, 6, 0xff, ...le16(0), 1]); // all CPUs: NMI on LINT1
  return Uint8Array.from([...le32(LOCAL_APIC_ADDR), ...le32(MADT_PCAT_COMPAT), ...entries.flat()]);
}

/** RSDP revision 0 (ACPI 1.0 layout, 20 bytes) pointing at the RSDT. */
function buildRsdp(rsdtAddr: number): Uint8Array {
  const rsdp = new Uint8Array(20);
  rsdp.set(ascii('RSD PTR '), 0);
  rsdp.set(ascii(OEM_ID), 9);
  rsdp[15] = 0; // revision
  new DataView(rsdp.buffer).setUint32(16, rsdtAddr, true);
  rsdp[8] = checksum8(rsdp);
  return rsdp;
}

/** A system description table: the 36-byte header (ACPI 6.5, 5.2.6) with its checksum, then `body`. */
function table(signature: string, revision: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + body.length);
  const v = new DataView(out.buffer);
  out.set(ascii(signature), 0);
  v.setUint32(4, out.length, true);
  out[8] = revision;
  out.set(ascii(OEM_ID), 10);
  out.set(ascii(`TSVM${signature}`), 16); // OEM table id
  v.setUint32(24, 1, true); // OEM revision
  out.set(ascii(CREATOR_ID), 28);
  v.setUint32(32, 1, true); // creator revision
  out.set(body, HEADER_SIZE);
  out[9] = checksum8(out);
  return out;
}


function le16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff];
}

function le32(n: number): number[] {
  return [...le16(n & 0xffff), ...le16(n >>> 16)];
}

function u32s(values: readonly number[]): Uint8Array {
  return Uint8Array.from(values.flatMap(le32));
}
