import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { AddressSpace } from '../../src/memory/address-space.js';
import { CMDLINE_ADDR, KERNEL_LOAD_ADDR, SETUP_ADDR, ZERO_PAGE_ADDR, isLinuxKernel, loadLinux } from '../../src/boot/linux.js';
import { BOOT_CS, BOOT_DS, BOOT_GDT_ADDR, PAGE_TABLES_ADDR } from '../../src/boot/boot-cpu.js';
import { pcE820Map } from '../../src/boot/e820.js';
import { buildAcpiTables } from '../../src/boot/acpi.js';
import { ensureLinuxGuest } from './guest-images.js';
import { allZero, cString, expectCleanOutcome, sameBytes } from './memory-checks.js';
import { prng } from '../helpers/prng.js';

const MiB = 0x10_0000;
const RSI = 6;

let kernel: Uint8Array;
let initrd: Uint8Array;

beforeAll(() => {
  const guest = ensureLinuxGuest('i386');
  // Buffers, as the machine reads them: the loader must not modify them.
  kernel = readFileSync(guest.kernel);
  initrd = readFileSync(guest.initrd);
}, 600_000);

function zp32(mem: AddressSpace, off: number): number {
  return mem.read32(ZERO_PAGE_ADDR + off);
}

/** A minimal bzImage: 4 setup sectors (setup_sects 0), a header of protocol `version`, and a kernel body. */
function syntheticBzImage(version: number, opts: { xloadflags?: number; bodySize?: number } = {}): Uint8Array {
  const setupSize = 5 * 512;
  const body = opts.bodySize ?? 4096;
  const image = new Uint8Array(setupSize + body);
  const v = new DataView(image.buffer);
  image[0x1f1] = 0; // setup_sects 0 means 4
  v.setUint32(0x1f4, body / 16, true); // syssize
  v.setUint16(0x1fe, 0xaa55, true);
  image[0x200] = 0xeb; // jmp short over the header
  image[0x201] = 0x6a; // header ends at 0x26c
  v.setUint32(0x202, 0x53726448, true); // "HdrS"
  v.setUint16(0x206, version, true);
  image[0x211] = 0x01; // LOADED_HIGH
  v.setUint32(0x214, 0x100000, true); // code32_start
  v.setUint32(0x22c, 0x7fffffff, true); // initrd_addr_max
  v.setUint16(0x236, opts.xloadflags ?? 0, true);
  v.setUint32(0x238, 2047, true); // cmdline_size
  for (let i = setupSize; i < image.length; i++) image[i] = i & 0xff;
  return image;
}

describe('Linux boot protocol: Debian 12 i386 bzImage', () => {
  it('recognises the bzImage', () => {
    expect(isLinuxKernel(kernel)).toBe(true);
  });

  it('fills the zero page, places kernel, setup, initrd and command line, and enters at code32_start', () => {
    const mem = new AddressSpace(256 * MiB);
    const acpi = buildAcpiTables(mem, { cpus: 1, ioapic: false, pmBase: 0x600, sciIrq: 9 });
    const e820 = pcE820Map(mem, acpi.reserved);
    const pristine = Buffer.from(kernel);
    const state = loadLinux(mem, { kernel, initrd, cmdline: 'console=ttyS0 quiet', e820, acpiRsdp: acpi.rsdp });
    expect(sameBytes(kernel, pristine)).toBe(true);

    // Setup header copied in, with our loader fields.
    expect(zp32(mem, 0x202)).toBe(0x53726448);
    const version = mem.read16(ZERO_PAGE_ADDR + 0x206);
    expect(version).toBeGreaterThanOrEqual(0x020f); // Linux 6.1 speaks 2.15
    expect(mem.read8(ZERO_PAGE_ADDR + 0x210)).toBe(0xb0); // type_of_loader
    expect(mem.read8(ZERO_PAGE_ADDR + 0x211) & 0x81).toBe(0x81); // LOADED_HIGH | CAN_USE_HEAP
    expect(mem.read16(ZERO_PAGE_ADDR + 0x224)).toBe(0xfe00); // heap_end_ptr
    expect(zp32(mem, 0x228)).toBe(CMDLINE_ADDR);
    expect(cString(mem, CMDLINE_ADDR)).toBe('console=ttyS0 quiet');

    // The protected-mode kernel at 1 MiB, the setup sectors at SETUP_ADDR.
    const setupSize = (kernel[0x1f1]! + 1) * 512;
    expect(sameBytes(mem.readBytes(KERNEL_LOAD_ADDR, kernel.length - setupSize), kernel.subarray(setupSize))).toBe(true);
    expect(sameBytes(mem.readBytes(SETUP_ADDR + 0x400, setupSize - 0x400), kernel.subarray(0x400, setupSize))).toBe(true);
    expect(mem.read8(SETUP_ADDR + 0x210)).toBe(0xb0);

    // The initrd as high as possible: page aligned, ending in the last page below the ACPI tables.
    const image = zp32(mem, 0x218);
    const size = zp32(mem, 0x21c);
    const acpiBase = Math.min(...acpi.reserved.map((r) => r.base));
    expect(size).toBe(initrd.length);
    expect(image % 4096).toBe(0);
    expect(image + size).toBeLessThanOrEqual(acpiBase);
    expect(acpiBase - (image + size)).toBeLessThan(4096);
    expect(sameBytes(mem.readBytes(image, size), initrd)).toBe(true);

    // E820 table and the memory sizes.
    expect(mem.read8(ZERO_PAGE_ADDR + 0x1e8)).toBe(e820.length);
    for (const [i, e] of e820.entries()) {
      const at = ZERO_PAGE_ADDR + 0x2d0 + 20 * i;
      expect([zp32(mem, at - ZERO_PAGE_ADDR), zp32(mem, at - ZERO_PAGE_ADDR + 8), mem.read32(at + 16)]).toEqual([e.base, e.length, e.type]);
    }
    expect(zp32(mem, 0x1e0)).toBe((acpiBase - MiB) / 1024); // alt_mem_k
    expect(zp32(mem, 0x70)).toBe(acpi.rsdp); // acpi_rsdp_addr (protocol >= 2.14)

    // screen_info: 80x25 colour VGA text.
    expect(mem.read8(ZERO_PAGE_ADDR + 0x06)).toBe(3);
    expect(mem.read8(ZERO_PAGE_ADDR + 0x07)).toBe(80);
    expect(mem.read8(ZERO_PAGE_ADDR + 0x0e)).toBe(25);
    expect(mem.read8(ZERO_PAGE_ADDR + 0x0f)).toBe(1);

    // The 32-bit entry: flat protected mode, paging off, IF=0, ESI = zero page.
    expect(state.rip).toBe(0x100000n);
    expect(state.gpr[RSI]).toBe(BigInt(ZERO_PAGE_ADDR));
    expect(state.gpr.filter((r, i) => i !== RSI && r !== 0n)).toEqual([]);
    expect(state.cr0 & 1n).toBe(1n);
    expect(state.cr0 & (1n << 31n)).toBe(0n);
    expect(state.rflags & 0x200n).toBe(0n);
    expect(state.seg.cs).toMatchObject({ selector: BOOT_CS, base: 0n, limit: 0xffffffff, db: true, l: false });
    for (const s of ['ds', 'es', 'ss'] as const) expect(state.seg[s]).toMatchObject({ selector: BOOT_DS, base: 0n, limit: 0xffffffff, db: true });
    expect(state.gdtr).toEqual({ base: BigInt(BOOT_GDT_ADDR), limit: 31 });
    expect(mem.readBytes(BOOT_GDT_ADDR + BOOT_CS, 8)).toEqual(Uint8Array.of(0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0));
    expect(mem.readBytes(BOOT_GDT_ADDR + BOOT_DS, 8)).toEqual(Uint8Array.of(0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0));
  });

  it('boots without an initrd: ramdisk fields stay zero', () => {
    const mem = new AddressSpace(64 * MiB);
    loadLinux(mem, { kernel, cmdline: '', e820: pcE820Map(mem) });
    expect(zp32(mem, 0x218)).toBe(0);
    expect(zp32(mem, 0x21c)).toBe(0);
    expect(cString(mem, CMDLINE_ADDR)).toBe('');
  });

  it('refuses an initrd that does not fit above the kernel\'s footprint, with QEMU\'s message, and writes nothing', () => {
    // Debian's kernel decompresses to 16 MiB (kernel_alignment) and needs init_size (~16 MiB) there.
    const mem = new AddressSpace(64 * MiB);
    const big = new Uint8Array(40 * MiB);
    expect(() => loadLinux(mem, { kernel, initrd: big, cmdline: '', e820: pcE820Map(mem) })).toThrow(
      /^initrd is too large, cannot support \(max: \d+, need 41943040\)$/,
    );
    expect(allZero(mem.ram)).toBe(true);
  });

  it('refuses a machine with less RAM than the kernel needs before it reads the memory map', () => {
    const mem = new AddressSpace(24 * MiB);
    expect(() => loadLinux(mem, { kernel, cmdline: '', e820: pcE820Map(mem) })).toThrow(/^not enough RAM for this kernel \(it needs \d+ MiB\)$/);
  });

  it('refuses a 64-bit entry for a 32-bit kernel', () => {
    const mem = new AddressSpace(64 * MiB);
    expect(() => loadLinux(mem, { kernel, cmdline: '', e820: pcE820Map(mem), long64: true })).toThrow(
      'this kernel has no 64-bit entry point (XLF_KERNEL_64 is not set)',
    );
  });

  it('refuses a truncated kernel', () => {
    const mem = new AddressSpace(64 * MiB);
    expect(() => loadLinux(mem, { kernel: kernel.subarray(0, 64 * 1024), cmdline: '', e820: pcE820Map(mem) })).toThrow(
      /^truncated kernel \(65536 bytes, its header promises \d+\)$/,
    );
  });

  it('refuses a command line longer than cmdline_size', () => {
    const mem = new AddressSpace(64 * MiB);
    const limit = new DataView(kernel.buffer, kernel.byteOffset).getUint32(0x238, true);
    expect(() => loadLinux(mem, { kernel, cmdline: 'x'.repeat(limit + 1), e820: pcE820Map(mem) })).toThrow(
      `kernel command line too long (${limit + 1} bytes, this kernel accepts ${limit})`,
    );
  });
});

describe('Linux boot protocol: bad and synthetic kernels', () => {
  it('answers damaged kernels with a one-line Error, never a JS fault', () => {
    const mem = new AddressSpace(64 * MiB);
    const e820 = pcE820Map(mem);
    const head = kernel.subarray(0, 0x8000);
    for (let length = 0; length <= 0x600; length += 3) {
      expectCleanOutcome(() => loadLinux(mem, { kernel: head.subarray(0, length), cmdline: '', e820 }));
    }
    const random = prng(2);
    for (let i = 0; i < 300; i++) {
      const damaged = Uint8Array.from(kernel.subarray(0, 0x20000));
      for (let n = 0; n < 4; n++) damaged[0x1f1 + Math.floor(random() * 0x80)] = Math.floor(random() * 256);
      expectCleanOutcome(() => loadLinux(mem, { kernel: damaged, initrd: new Uint8Array(4096), cmdline: 'x', e820, long64: i % 2 === 0 }));
    }
  });

  it('refuses a text file', () => {
    const mem = new AddressSpace(16 * MiB);
    const text = new TextEncoder().encode('#!/bin/sh\necho this is not a kernel\n'.repeat(100));
    expect(isLinuxKernel(text)).toBe(false);
    expect(() => loadLinux(mem, { kernel: text, cmdline: '', e820: pcE820Map(mem) })).toThrow("not a bzImage kernel (no 'HdrS' signature)");
    expect(() => loadLinux(mem, { kernel: new Uint8Array(3), cmdline: '', e820: pcE820Map(mem) })).toThrow(/no 'HdrS' signature/);
  });

  it('refuses boot protocol 2.01', () => {
    const mem = new AddressSpace(16 * MiB);
    expect(() => loadLinux(mem, { kernel: syntheticBzImage(0x0201), cmdline: '', e820: pcE820Map(mem) })).toThrow(
      'Linux boot protocol 2.01 is too old',
    );
  });

  it('accepts protocol 2.02 with its 255-byte command line limit and default initrd_addr_max', () => {
    const mem = new AddressSpace(1024 * MiB);
    const e820 = pcE820Map(mem);
    const initrd = new Uint8Array(8192).fill(0x5a);
    loadLinux(mem, { kernel: syntheticBzImage(0x0202), initrd, cmdline: 'a'.repeat(255), e820 });
    // initrd_addr_max is 0x37FFFFFF before protocol 2.03.
    expect(zp32(mem, 0x218)).toBe(0x3800_0000 - 8192);
    expect(() => loadLinux(mem, { kernel: syntheticBzImage(0x0202), cmdline: 'a'.repeat(256), e820 })).toThrow(/command line too long/);
  });

  it('enters a 64-bit kernel in long mode at startup_64 with identity-mapped page tables', () => {
    const mem = new AddressSpace(64 * MiB);
    const state = loadLinux(mem, {
      kernel: syntheticBzImage(0x020f, { xloadflags: 1 }),
      cmdline: 'console=ttyS0',
      e820: pcE820Map(mem),
      long64: true,
    });
    expect(state.rip).toBe(0x100200n);
    expect(state.gpr[RSI]).toBe(BigInt(ZERO_PAGE_ADDR));
    expect(state.efer & 0x500n).toBe(0x500n); // LME | LMA
    expect(state.cr4 & 0x20n).toBe(0x20n); // PAE
    expect(state.cr0 & 0x8000_0001n).toBe(0x8000_0001n); // PG | PE
    expect(state.cr3).toBe(BigInt(PAGE_TABLES_ADDR));
    expect(state.seg.cs).toMatchObject({ selector: BOOT_CS, l: true, db: false });
    expect(mem.readBytes(BOOT_GDT_ADDR + BOOT_CS, 8)).toEqual(Uint8Array.of(0xff, 0xff, 0, 0, 0, 0x9b, 0xaf, 0));
    // Walk the tables for a few addresses: each 2 MiB page maps to itself.
    for (const addr of [0, 0x12_3456, 0x4000_0000, 0xfee0_0000, 0xffff_ffff]) {
      const pml4e = mem.read32(PAGE_TABLES_ADDR);
      const pdpt = pml4e & ~0xfff;
      const pdpte = mem.read32(pdpt + 8 * Math.floor(addr / 0x4000_0000));
      const pd = pdpte & ~0xfff;
      const pde = mem.read32(pd + 8 * ((addr >>> 21) & 511));
      expect(pml4e & 3).toBe(3);
      expect(pdpte & 3).toBe(3);
      expect(pde & 0x83).toBe(0x83);
      expect(((pde & ~0x1f_ffff) >>> 0) + (addr & 0x1f_ffff)).toBe(addr);
    }
  });
});
