/**
 * The tables the KVM backend hands the guest, checked as a guest would read
 * them: the MP table (Intel MP spec 1.4) and the CPUID a -cpu model gives.
 */
import { describe, expect, it } from 'vitest';
import { buildMpTable, MP_TABLE_BASE } from '../../src/accel/kvm/mptable.js';
import { buildCpuid } from '../../src/accel/kvm/cpuid.js';
import type { CpuidEntry } from '../../src/accel/kvm/handle.js';

const sum = (bytes: Uint8Array) => bytes.reduce((a, b) => (a + b) & 0xff, 0);
const text = (bytes: Uint8Array, at: number, n: number) => String.fromCharCode(...bytes.subarray(at, at + n));

describe('MP table', () => {
  const bytes = buildMpTable({ cpus: 4, signature: 0x60fb1, features: 0x0781abfd });
  const v = new DataView(bytes.buffer);
  const config = v.getUint32(4, true) - MP_TABLE_BASE;

  it('has a floating pointer with a valid checksum pointing at the configuration table', () => {
    expect(text(bytes, 0, 4)).toBe('_MP_');
    expect(v.getUint8(8)).toBe(1);
    expect(v.getUint8(9)).toBe(4);
    expect(sum(bytes.subarray(0, 16))).toBe(0);
    expect(text(bytes, config, 4)).toBe('PCMP');
  });

  it('has a configuration table whose length, count and checksum agree with its entries', () => {
    const length = v.getUint16(config + 4, true);
    expect(sum(bytes.subarray(config, config + length))).toBe(0);
    expect(v.getUint32(config + 36, true)).toBe(0xfee00000);
    const kinds: number[] = [];
    let o = config + 44;
    for (let i = 0; i < v.getUint16(config + 34, true); i++) {
      kinds.push(bytes[o]!);
      o += bytes[o] === 0 ? 20 : 8;
    }
    expect(o).toBe(config + length);
    expect(kinds.filter((k) => k === 0)).toHaveLength(4);
    expect(kinds.filter((k) => k === 1)).toHaveLength(1);
    expect(kinds.filter((k) => k === 2)).toHaveLength(1);
    expect(kinds.filter((k) => k === 3)).toHaveLength(15);
    expect(kinds.filter((k) => k === 4)).toHaveLength(2);
  });

  it('marks CPU 0 as the bootstrap processor and every CPU enabled with its APIC ID', () => {
    const first = config + 44;
    const cpus = [0, 1, 2, 3].map((i) => bytes.subarray(first + i * 20, first + i * 20 + 20));
    expect(cpus.map((c) => c[1])).toEqual([0, 1, 2, 3]);
    expect(cpus.map((c) => c[3])).toEqual([3, 1, 1, 1]);
    expect(new DataView(cpus[2]!.buffer, cpus[2]!.byteOffset).getUint32(4, true)).toBe(0x60fb1);
  });
});

describe('CPUID for a -cpu model', () => {
  const LM = 1 << 29;
  const host: CpuidEntry[] = [
    { function: 0, index: 0, flags: 0, eax: 0x16, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
    { function: 1, index: 0, flags: 0, eax: 0x906ea, ebx: 0x800, ecx: 0xfffa3203, edx: 0x178bfbff },
    { function: 7, index: 0, flags: 1, eax: 0, ebx: 0x29c67af, ecx: 0, edx: 0 },
    { function: 0x4000_0000, index: 0, flags: 0, eax: 0x4000_0001, ebx: 0x4b4d564b, ecx: 0x564b4d56, edx: 0x4d },
    { function: 0x8000_0000, index: 0, flags: 0, eax: 0x8000_0008, ebx: 0, ecx: 0, edx: 0 },
    { function: 0x8000_0001, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0x121, edx: 0x2c100800 },
    ...[2, 3, 4].map((i) => ({ function: 0x8000_0000 + i, index: 0, flags: 0, eax: 1, ebx: 2, ecx: 3, edx: 4 })),
  ];
  const leaf = (entries: CpuidEntry[], fn: number) => entries.find((e) => e.function === fn);

  it("host passes everything through, with this vCPU's APIC ID", () => {
    const cpuid = buildCpuid(host, { model: 'host', apicId: 1, smp: 2, irqchip: true });
    expect(leaf(cpuid, 7)).toEqual(leaf(host, 7));
    expect(leaf(cpuid, 1)!.ebx >>> 24).toBe(1);
  });

  it('qemu64 keeps long mode, drops leaf 7, keeps the host vendor and says QEMU', () => {
    const cpuid = buildCpuid(host, { model: 'qemu64', apicId: 0, smp: 1, irqchip: true });
    expect(leaf(cpuid, 0x8000_0001)!.edx & LM).toBe(LM);
    expect(leaf(cpuid, 7)).toBeUndefined();
    expect(leaf(cpuid, 0)!.ebx).toBe(0x756e6547);
    expect(leaf(cpuid, 0)!.eax).toBe(0xd);
    expect(leaf(cpuid, 1)!.eax).toBe(0x60fb1); // family 15, model 107, stepping 1
    const brand = [2, 3, 4].flatMap((i) => {
      const e = leaf(cpuid, 0x8000_0000 + i)!;
      return [e.eax, e.ebx, e.ecx, e.edx];
    });
    expect(Buffer.from(new Uint32Array(brand).buffer).toString('latin1').replace(/\0+$/, '')).toBe('QEMU Virtual CPU version 2.5+');
  });

  it('qemu32 has no long mode and 486 not even CPUID leaf 0x80000000', () => {
    const q32 = buildCpuid(host, { model: 'qemu32', apicId: 0, smp: 1, irqchip: true });
    expect((leaf(q32, 0x8000_0001)?.edx ?? 0) & LM).toBe(0);
    const i486 = buildCpuid(host, { model: '486', apicId: 0, smp: 1, irqchip: true });
    expect(leaf(i486, 0x8000_0000)).toBeUndefined();
    expect(leaf(i486, 1)!.edx).toBe(0b1011); // FPU VME PSE
  });

  it('never offers a feature the host lacks', () => {
    const poorHost = host.map((e) => (e.function === 1 ? { ...e, edx: e.edx & ~(1 << 26) } : e)); // no SSE2
    const cpuid = buildCpuid(poorHost, { model: 'qemu64', apicId: 0, smp: 1, irqchip: true });
    expect(leaf(cpuid, 1)!.edx & (1 << 26)).toBe(0);
  });

  it('refuses an unknown model', () => {
    expect(() => buildCpuid(host, { model: 'pentium9', apicId: 0, smp: 1, irqchip: true })).toThrow("unable to find CPU model 'pentium9'");
  });
});
