/**
 * The Intel MultiProcessor Specification 1.4 tables that tell a guest how
 * many CPUs it has and how ISA interrupts reach the I/O APIC: the MP
 * floating pointer (spec 4.1) and the configuration table (spec 4.2) with
 * processor, bus, I/O APIC, I/O interrupt and local interrupt entries.
 *
 * The routing described is KVM's default with the in-kernel irqchip: ISA IRQ
 * n drives I/O APIC pin n (the PIT on pin 0), and the 8259 reaches every
 * local APIC's LINT0 as ExtINT (virtual wire mode).
 */
import type { AddressSpace } from '../../memory/address-space.js';
import { ascii, checksum8 } from '../../bytes.js';

/** The last KiB of base memory (the EBDA, reserved in the E820 map): the first place the spec says to search. */
export const MP_TABLE_BASE = 0x9_fc00;
export const LAPIC_BASE = 0xfee0_0000;
export const IOAPIC_BASE = 0xfec0_0000;
/** Version registers of KVM's local APIC and I/O APIC. */
const LAPIC_VERSION = 0x14;
const IOAPIC_VERSION = 0x11;
const ISA_IRQS = 16;
const CASCADE_IRQ = 2;

const FLOATING_SIZE = 16;
const HEADER_SIZE = 44;
const PROCESSOR_SIZE = 20;
const ENTRY_SIZE = 8;

const enum EntryType {
  Processor = 0,
  Bus = 1,
  IoApic = 2,
  IoInterrupt = 3,
  LocalInterrupt = 4,
}
const INT_TYPE_INT = 0;
const INT_TYPE_NMI = 1;
const INT_TYPE_EXTINT = 3;
const ALL_LAPICS = 0xff;

export interface MpTableOptions {
  cpus: number;
  /** CPUID.1 EAX and EDX, as the processor entries report them. */
  signature: number;
  features: number;
  base?: number;
}

/** The floating pointer and configuration table as bytes placed at `base`. */
export function buildMpTable(opts: MpTableOptions): Uint8Array {
  const base = opts.base ?? MP_TABLE_BASE;
  const ioapicId = opts.cpus;
  const ioInterrupts = Array.from({ length: ISA_IRQS }, (_, irq) => irq).filter((irq) => irq !== CASCADE_IRQ);
  const entryCount = opts.cpus + 2 + ioInterrupts.length + 2;
  const tableSize = HEADER_SIZE + opts.cpus * PROCESSOR_SIZE + (entryCount - opts.cpus) * ENTRY_SIZE;
  const bytes = new Uint8Array(FLOATING_SIZE + tableSize);
  const v = new DataView(bytes.buffer);
  const tableAddr = base + FLOATING_SIZE;

  // Floating pointer structure (spec 4.1).
  bytes.set(ascii('_MP_'), 0);
  v.setUint32(4, tableAddr, true);
  v.setUint8(8, 1); // length in 16-byte paragraphs
  v.setUint8(9, 4); // spec revision 1.4
  // Feature bytes 0: a configuration table is present; IMCR absent (virtual wire).
  v.setUint8(10, checksum8(bytes.subarray(0, FLOATING_SIZE)));

  // Configuration table header (spec 4.2).
  const t = FLOATING_SIZE;
  bytes.set(ascii('PCMP'), t);
  v.setUint16(t + 4, tableSize, true);
  v.setUint8(t + 6, 4);
  bytes.set(ascii('TSVM    '), t + 8);
  bytes.set(ascii('PC          '), t + 16);
  v.setUint16(t + 34, entryCount, true);
  v.setUint32(t + 36, LAPIC_BASE, true);

  let o = t + HEADER_SIZE;
  for (let cpu = 0; cpu < opts.cpus; cpu++) {
    v.setUint8(o, EntryType.Processor);
    v.setUint8(o + 1, cpu); // local APIC ID
    v.setUint8(o + 2, LAPIC_VERSION);
    v.setUint8(o + 3, 1 | (cpu === 0 ? 2 : 0)); // enabled; bootstrap processor
    v.setUint32(o + 4, opts.signature >>> 0, true);
    v.setUint32(o + 8, opts.features >>> 0, true);
    o += PROCESSOR_SIZE;
  }
  v.setUint8(o, EntryType.Bus);
  bytes.set(ascii('ISA   '), o + 2);
  o += ENTRY_SIZE;
  v.setUint8(o, EntryType.IoApic);
  v.setUint8(o + 1, ioapicId);
  v.setUint8(o + 2, IOAPIC_VERSION);
  v.setUint8(o + 3, 1); // enabled
  v.setUint32(o + 4, IOAPIC_BASE, true);
  o += ENTRY_SIZE;
  for (const irq of ioInterrupts) {
    o = interruptEntry(v, o, EntryType.IoInterrupt, INT_TYPE_INT, irq, ioapicId, irq);
  }
  o = interruptEntry(v, o, EntryType.LocalInterrupt, INT_TYPE_EXTINT, 0, ALL_LAPICS, 0);
  interruptEntry(v, o, EntryType.LocalInterrupt, INT_TYPE_NMI, 0, ALL_LAPICS, 1);
  v.setUint8(t + 7, checksum8(bytes.subarray(t)));
  return bytes;
}

/** Writes the tables into guest memory (the machine does this at boot and after every reset). */
export function writeMpTable(mem: AddressSpace, opts: MpTableOptions): void {
  mem.writeBytes(opts.base ?? MP_TABLE_BASE, buildMpTable(opts));
}

/** An I/O (type 3) or local (type 4) interrupt assignment entry; flags 0: polarity and trigger conform to the bus. */
function interruptEntry(v: DataView, o: number, type: EntryType, intType: number, sourceIrq: number, destId: number, destPin: number): number {
  v.setUint8(o, type);
  v.setUint8(o + 1, intType);
  v.setUint16(o + 2, 0, true);
  v.setUint8(o + 4, 0); // source bus: ISA
  v.setUint8(o + 5, sourceIrq);
  v.setUint8(o + 6, destId);
  v.setUint8(o + 7, destPin);
  return o + ENTRY_SIZE;
}
