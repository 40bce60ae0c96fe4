import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AddressSpace } from '../../src/memory/address-space.js';
import { RSDP_ADDR, buildAcpiTables, buildDsdtAml, type AcpiOptions } from '../../src/boot/acpi.js';
import {
  amlDevice,
  amlEisaId,
  amlInteger,
  amlMemory32Fixed,
  amlMethod,
  amlName,
  amlNameString,
  amlPackage,
  amlResourceTemplate,
  amlReturn,
  amlScope,
  amlString,
} from '../../src/boot/aml.js';
import { E820_ACPI, E820_NVS } from '../../src/boot/e820.js';
import { requireTool } from '../helpers/tools.js';

const MiB = 0x10_0000;
const PC: AcpiOptions = { cpus: 1, ioapic: false, pmBase: 0x600, sciIrq: 9 };

requireTool('iasl', 'acpica-tools');

function ascii(mem: AddressSpace, addr: number, length: number): string {
  return String.fromCharCode(...mem.readBytes(addr, length));
}

function sumIsZero(bytes: Uint8Array): boolean {
  return bytes.reduce((s, b) => (s + b) & 0xff, 0) === 0;
}

/** ACPICA's disassembly of each table reached from the RSDP, by signature. */
function disassemble(mem: AddressSpace): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsvm-acpi-'));
  try {
    const text: Record<string, string> = {};
    for (const [sig, t] of walk(mem)) {
      const file = path.join(dir, `${sig.toLowerCase()}.dat`);
      writeFileSync(file, t.bytes);
      execFileSync('iasl', ['-d', file], { cwd: dir, stdio: 'ignore' });
      text[sig] = readFileSync(file.replace(/\.dat$/, '.dsl'), 'latin1');
    }
    return text;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The tables reached from the RSDP, by signature, as their raw bytes and addresses. */
function walk(mem: AddressSpace): Map<string, { addr: number; bytes: Uint8Array }> {
  const tables = new Map<string, { addr: number; bytes: Uint8Array }>();
  const add = (addr: number) => {
    const sig = ascii(mem, addr, 4);
    const bytes = mem.readBytes(addr, mem.read32(addr + 4));
    tables.set(sig, { addr, bytes });
    return bytes;
  };
  const rsdt = add(mem.read32(RSDP_ADDR + 16));
  for (let at = 36; at < rsdt.length; at += 4) add(new DataView(rsdt.buffer).getUint32(at, true));
  const fadt = new DataView(tables.get('FACP')!.bytes.buffer);
  add(fadt.getUint32(36, true)); // FACS
  add(fadt.getUint32(40, true)); // DSDT
  return tables;
}

describe('ACPI tables', () => {
  it('puts a valid RSDP in the BIOS area, pointing at a checksummed RSDT', () => {
    const mem = new AddressSpace(128 * MiB);
    const { rsdp } = buildAcpiTables(mem, PC);
    expect(rsdp).toBe(RSDP_ADDR);
    expect(rsdp % 16).toBe(0);
    expect(rsdp).toBeGreaterThanOrEqual(0xe0000);
    expect(ascii(mem, rsdp, 8)).toBe('RSD PTR ');
    expect(mem.read8(rsdp + 15)).toBe(0); // revision 0: RSDT only
    expect(sumIsZero(mem.readBytes(rsdp, 20))).toBe(true);
    const tables = walk(mem);
    expect([...tables.keys()].sort()).toEqual(['DSDT', 'FACP', 'FACS', 'RSDT']);
    for (const [sig, t] of tables) if (sig !== 'FACS') expect(sumIsZero(t.bytes), sig).toBe(true);
  });

  it('describes the PIIX4 PM block in the FADT', () => {
    const mem = new AddressSpace(128 * MiB);
    buildAcpiTables(mem, PC);
    const fadt = walk(mem).get('FACP')!.bytes;
    const f = new DataView(fadt.buffer);
    expect(fadt.length).toBe(244);
    expect(fadt[8]).toBe(3); // revision
    expect(f.getUint16(46, true)).toBe(9); // SCI_INT
    expect(f.getUint32(48, true)).toBe(0); // SMI_CMD: already in ACPI mode
    expect(f.getUint32(56, true)).toBe(0x600); // PM1a_EVT_BLK
    expect(f.getUint32(64, true)).toBe(0x604); // PM1a_CNT_BLK
    expect(f.getUint32(76, true)).toBe(0x608); // PM_TMR_BLK
    expect([fadt[88], fadt[89], fadt[91]]).toEqual([4, 2, 4]); // PM1_EVT_LEN, PM1_CNT_LEN, PM_TMR_LEN
    expect(f.getUint32(112, true)).toBe(0x1 | 0x4 | 0x20 | 0x400); // WBINVD, PROC_C1, SLP_BUTTON, RESET_REG_SUP
    // RESET_REG: system I/O, 8 bits at 0xCF9, value 6.
    expect([fadt[116], fadt[117], f.getUint32(120, true), fadt[128]]).toEqual([1, 8, 0xcf9, 6]);
  });

  it('has a 64-byte aligned FACS and a DSDT whose AML defines \\_S5_ as QEMU does', () => {
    const mem = new AddressSpace(128 * MiB);
    buildAcpiTables(mem, PC);
    const tables = walk(mem);
    const facs = tables.get('FACS')!;
    expect(facs.addr % 64).toBe(0);
    expect(facs.bytes.length).toBe(64);
    const aml = [...tables.get('DSDT')!.bytes.subarray(36)];
    // Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero })
    expect(aml).toEqual([0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00]);
  });

  it('reserves the tables in E820 below the top of RAM and keeps them inside it', () => {
    const mem = new AddressSpace(128 * MiB);
    const { reserved } = buildAcpiTables(mem, { ...PC, cpus: 2, ioapic: true });
    expect(reserved.map((r) => r.type)).toEqual([E820_NVS, E820_ACPI]);
    expect(reserved[1]!.base + reserved[1]!.length).toBe(128 * MiB);
    for (const [sig, t] of walk(mem)) {
      const inside = reserved.some((r) => t.addr >= r.base && t.addr + t.bytes.length <= r.base + r.length);
      expect(inside, sig).toBe(true);
    }
    expect(walk(mem).get('FACS')!.addr).toBe(reserved[0]!.base);
  });

  it('lists one local APIC per CPU, the IOAPIC and the ISA overrides in the MADT', () => {
    const mem = new AddressSpace(128 * MiB);
    buildAcpiTables(mem, { ...PC, cpus: 2, ioapic: true });
    const madt = walk(mem).get('APIC')!.bytes;
    const m = new DataView(madt.buffer);
    expect(sumIsZero(madt)).toBe(true);
    expect(m.getUint32(36, true)).toBe(0xfee00000);
    expect(m.getUint32(40, true)).toBe(1); // PCAT_COMPAT
    const entries: number[][] = [];
    for (let at = 44; at < madt.length; at += madt[at + 1]!) entries.push([...madt.subarray(at, at + madt[at + 1]!)]);
    expect(entries).toEqual([
      [0, 8, 0, 0, 1, 0, 0, 0], // CPU 0, APIC id 0, enabled
      [0, 8, 1, 1, 1, 0, 0, 0], // CPU 1
      [1, 12, 0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0], // IOAPIC id 0 at 0xFEC00000, GSI 0
      [2, 10, 0, 0, 2, 0, 0, 0, 0, 0], // IRQ0 -> GSI2
      [2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0], // IRQ9 -> GSI9 level, active high
      [4, 6, 0xff, 0, 0, 1], // LINT1 is NMI on all CPUs
    ]);
  });

  it('omits the MADT on an APIC-less machine', () => {
    const mem = new AddressSpace(64 * MiB);
    buildAcpiTables(mem, PC);
    expect(walk(mem).has('APIC')).toBe(false);
  });

  it('disassembles cleanly with ACPICA iasl', () => {
    const mem = new AddressSpace(64 * MiB);
    buildAcpiTables(mem, { ...PC, cpus: 2, ioapic: true, pciRoot: true });
    const text = disassemble(mem);
    expect(text.DSDT).toMatch(/Name \(_S5, Package \(0x04\)[^{]*\{\s*Zero,\s*Zero,\s*Zero,\s*Zero\s*\}\)/);
    expect(text.DSDT).toMatch(/Device \(PCI0\)\s*\{\s*Name \(_HID, EisaId \("PNP0A03"\)/);
    expect(text.FACP).toMatch(/PM1A Control Block Address : 0{4}0604/);
    expect(text.FACP).toMatch(/Reset Register Supported \(V2\) : 1/);
    expect(text.APIC).toMatch(/Subtable Type : 01 \[I\/O APIC\]/);
    for (const [sig, dsl] of Object.entries(text)) expect(dsl, sig).not.toMatch(/Incorrect checksum|Invalid|Error/i);
  });

  it('lists an HPET table for the HPET at 0xFED00000, its block id the capabilities register', () => {
    const mem = new AddressSpace(128 * MiB);
    buildAcpiTables(mem, { ...PC, hpet: true });
    const tables = walk(mem);
    expect([...tables.keys()].sort()).toEqual(['DSDT', 'FACP', 'FACS', 'HPET', 'RSDT']);
    const hpet = tables.get('HPET')!.bytes;
    const h = new DataView(hpet.buffer);
    expect(sumIsZero(hpet)).toBe(true);
    expect([hpet.length, hpet[8]]).toEqual([56, 1]); // length, revision
    expect(h.getUint32(36, true)).toBe(0x8086_a201); // Event Timer Block ID
    expect([...hpet.subarray(40, 44)]).toEqual([0, 0, 0, 0]); // GAS: system memory
    expect(h.getBigUint64(44, true)).toBe(0xfed0_0000n);
    // HPET number, minimum periodic tick, page protection: 0 as in the table qemu-system-i386 7.2 gives its guest.
    expect([hpet[52], h.getUint16(53, true), hpet[55]]).toEqual([0, 0, 0]);
  });

  it('declares \\_SB.HPET (PNP0103) with its register block in the DSDT, as iasl reads it', () => {
    const mem = new AddressSpace(64 * MiB);
    buildAcpiTables(mem, { ...PC, pciRoot: true, hpet: true });
    const text = disassemble(mem);
    expect(text.DSDT).toMatch(/Scope \(\\_SB\)\s*\{\s*Device \(PCI0\)[\s\S]*Device \(HPET\)/);
    expect(text.DSDT).toMatch(/Device \(HPET\)\s*\{\s*Name \(_HID, EisaId \("PNP0103"\)[^\n]*\s*Name \(_UID, Zero\)/);
    expect(text.DSDT).toMatch(/Method \(_STA, 0, NotSerialized\)[^{]*\{\s*Return \(0x0F\)/);
    expect(text.DSDT).toMatch(/Memory32Fixed \(ReadOnly,\s*0xFED00000,[^\n]*\s*0x00000400,/);
    expect(text.HPET).toMatch(/Hardware Block ID : 8086A201/);
    expect(text.HPET).toMatch(/Address : 00000000FED00000/);
    for (const [sig, dsl] of Object.entries(text)) expect(dsl, sig).not.toMatch(/Incorrect checksum|Invalid|Error/i);
  });
});

describe('AML encoder', () => {
  const bytes = (a: Uint8Array) => [...a];

  it('encodes integers in their shortest form', () => {
    expect(bytes(amlInteger(0))).toEqual([0x00]);
    expect(bytes(amlInteger(1))).toEqual([0x01]);
    expect(bytes(amlInteger(0x7f))).toEqual([0x0a, 0x7f]);
    expect(bytes(amlInteger(0x1234))).toEqual([0x0b, 0x34, 0x12]);
    expect(bytes(amlInteger(0xfec00000))).toEqual([0x0c, 0x00, 0x00, 0xc0, 0xfe]);
    expect(bytes(amlInteger(0x1_0000_0000n))).toEqual([0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
  });

  it('encodes strings, EISA ids and name paths', () => {
    expect(bytes(amlString('ab'))).toEqual([0x0d, 0x61, 0x62, 0x00]);
    expect(bytes(amlEisaId('PNP0A03'))).toEqual([0x0c, 0x41, 0xd0, 0x0a, 0x03]);
    expect(bytes(amlNameString('_S5'))).toEqual([0x5f, 0x53, 0x35, 0x5f]);
    expect(bytes(amlNameString('\\_SB.PCI0'))).toEqual([0x5c, 0x2e, 0x5f, 0x53, 0x42, 0x5f, 0x50, 0x43, 0x49, 0x30]);
    expect(bytes(amlNameString('\\A.B.C'))).toEqual([0x5c, 0x2f, 3, ...'A___B___C___'].map((c) => (typeof c === 'string' ? c.charCodeAt(0) : c)));
    expect(bytes(amlNameString('^^FOO'))).toEqual([0x5e, 0x5e, 0x46, 0x4f, 0x4f, 0x5f]);
    expect(() => amlNameString('toolong')).toThrow(/invalid AML name segment/);
  });

  it('encodes scopes, devices and packages with their PkgLength', () => {
    expect(bytes(amlScope('\\_SB', [amlDevice('PCI0', [amlName('_HID', amlEisaId('PNP0A03'))])]))).toEqual([
      0x10, 0x17, 0x5c, 0x5f, 0x53, 0x42, 0x5f, // Scope (\_SB), PkgLength 0x17
      0x5b, 0x82, 0x0f, 0x50, 0x43, 0x49, 0x30, // Device (PCI0), PkgLength 0x0F
      0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x0a, 0x03, // Name (_HID, EisaId ("PNP0A03"))
    ]);
    // NumElements and 100 one-byte elements: PkgLength 101 + 2 = 0x67 in two bytes (0x47 0x06).
    const big = amlPackage(Array.from({ length: 100 }, () => amlInteger(0)));
    expect(bytes(big.subarray(0, 4))).toEqual([0x12, 0x47, 0x06, 100]);
    expect(big.length).toBe(1 + 0x67);
  });

  it('encodes methods, returns and resource templates', () => {
    // Method (_STA, 0, NotSerialized) { Return (0x0F) }
    expect(bytes(amlMethod('_STA', 0, [amlReturn(amlInteger(0x0f))]))).toEqual([0x14, 0x09, 0x5f, 0x53, 0x54, 0x41, 0x00, 0xa4, 0x0a, 0x0f]);
    // ResourceTemplate () { Memory32Fixed (ReadOnly, 0xFED00000, 0x400) }: a 14-byte buffer
    expect(bytes(amlResourceTemplate([amlMemory32Fixed(false, 0xfed00000, 0x400)]))).toEqual([
      0x11, 0x11, 0x0a, 0x0e, // Buffer, PkgLength 17, size 14
      0x86, 0x09, 0x00, 0x00, 0x00, 0x00, 0xd0, 0xfe, 0x00, 0x04, 0x00, 0x00, // Memory32Fixed
      0x79, 0x00, // End Tag
    ]);
  });

  it('is what the DSDT is made of', () => {
    expect(bytes(buildDsdtAml({}))).toEqual([0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x06, 0x04, 0, 0, 0, 0]);
  });
});
