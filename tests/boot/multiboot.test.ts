import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { AddressSpace } from '../../src/memory/address-space.js';
import { MULTIBOOT_BOOTLOADER_MAGIC, isMultiboot, loadMultiboot, parseMultibootModules } from '../../src/boot/multiboot.js';
import { BOOT_CS, BOOT_DS } from '../../src/boot/boot-cpu.js';
import { pcE820Map } from '../../src/boot/e820.js';
import { ensureLinuxGuest } from './guest-images.js';
import { allZero, cString, expectCleanOutcome } from './memory-checks.js';
import { prng } from '../helpers/prng.js';

const MiB = 0x10_0000;
const RAX = 0;
const RBX = 3;

/** A multiboot header (spec 3.1) with the a.out-kludge address fields when flag 16 is set. */
function multibootHeader(flags: number, addrs: number[] = []): Uint8Array {
  const words = [0x1badb002, flags, (-(0x1badb002 + flags)) >>> 0, ...addrs];
  const out = new Uint8Array(words.length * 4);
  words.forEach((w, i) => new DataView(out.buffer).setUint32(i * 4, w, true));
  return out;
}

interface ElfSegment {
  vaddr: number;
  paddr: number;
  data: Uint8Array;
  memsz: number;
}

/** An ELF32 i386 executable: header, program headers, the multiboot header at 0x80, segments from 0x1000. */
function elf32(entry: number, segments: ElfSegment[], mbFlags = 0x3, elfClass = 1): Uint8Array {
  const offsets = segments.map((_, i) => 0x1000 * (i + 1));
  const size = Math.max(0x1000, ...segments.map((s, i) => offsets[i]! + s.data.length));
  const file = new Uint8Array(size);
  const v = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, elfClass, 1, 1], 0); // \x7fELF, class, LSB, version
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 3, true); // EM_386
  v.setUint32(20, 1, true);
  v.setUint32(24, entry, true);
  v.setUint32(28, 52, true); // e_phoff
  v.setUint16(40, 52, true); // e_ehsize
  v.setUint16(42, 32, true); // e_phentsize
  v.setUint16(44, segments.length, true);
  segments.forEach((s, i) => {
    const ph = 52 + 32 * i;
    v.setUint32(ph, 1, true); // PT_LOAD
    v.setUint32(ph + 4, offsets[i]!, true);
    v.setUint32(ph + 8, s.vaddr, true);
    v.setUint32(ph + 12, s.paddr, true);
    v.setUint32(ph + 16, s.data.length, true);
    v.setUint32(ph + 20, s.memsz, true);
    file.set(s.data, offsets[i]!);
  });
  file.set(multibootHeader(mbFlags), 0x80);
  return file;
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
}

describe('multiboot v1 loader', () => {
  it('loads ELF PT_LOAD segments at their physical addresses, zero-fills bss, and enters at the physical entry', () => {
    const mem = new AddressSpace(64 * MiB);
    mem.ram.fill(0xaa);
    const text = pattern(0x300, 1);
    const data = pattern(0x80, 2);
    const kernel = elf32(0xc010_0010, [
      { vaddr: 0xc010_0000, paddr: 0x10_0000, data: text, memsz: 0x300 },
      { vaddr: 0xc010_1000, paddr: 0x10_1000, data, memsz: 0x2000 },
    ]);
    expect(isMultiboot(kernel)).toBe(true);
    const state = loadMultiboot(mem, { kernel, modules: [], cmdline: 'kernel.elf', e820: pcE820Map(mem) });
    expect(mem.readBytes(0x10_0000, 0x300)).toEqual(text);
    expect(mem.readBytes(0x10_1000, 0x80)).toEqual(data);
    expect(allZero(mem.readBytes(0x10_1080, 0x2000 - 0x80))).toBe(true);
    expect(state.rip).toBe(0x10_0010n);
    expect(state.gpr[RAX]).toBe(BigInt(MULTIBOOT_BOOTLOADER_MAGIC));
    expect(state.cr0 & 0x8000_0001n).toBe(1n); // PE, no paging
    expect(state.rflags & 0x20200n).toBe(0n); // IF and VM clear
    expect(state.seg.cs).toMatchObject({ selector: BOOT_CS, base: 0n, limit: 0xffffffff, db: true });
    for (const s of ['ds', 'es', 'fs', 'gs', 'ss'] as const) expect(state.seg[s]).toMatchObject({ selector: BOOT_DS, base: 0n, limit: 0xffffffff });
  });

  it('writes the info structure: memory, command line, modules, memory map, loader name', () => {
    const mem = new AddressSpace(64 * MiB);
    const e820 = pcE820Map(mem);
    const kernel = elf32(0x20_0000, [{ vaddr: 0x20_0000, paddr: 0x20_0000, data: pattern(0x100, 3), memsz: 0x1800 }]);
    const mod1 = pattern(5000, 4);
    const mod2 = pattern(10, 5);
    const state = loadMultiboot(mem, {
      kernel,
      modules: [
        { data: mod1, cmdline: 'mod1.bin arg1 arg2' },
        { data: mod2, cmdline: 'mod2.bin' },
      ],
      cmdline: 'kernel.elf console=serial',
      e820,
    });
    const info = Number(state.gpr[RBX]);
    expect(info % 4).toBe(0);
    const flags = mem.read32(info);
    expect(flags).toBe((1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9));
    expect(mem.read32(info + 4)).toBe(639); // mem_lower KiB
    expect(mem.read32(info + 8)).toBe(63 * 1024); // mem_upper KiB
    expect(cString(mem, mem.read32(info + 16))).toBe('kernel.elf console=serial');
    expect(cString(mem, mem.read32(info + 64))).toBe('tsvm');

    // Modules: page aligned after the kernel's bss, mod_end exclusive, their strings.
    expect(mem.read32(info + 20)).toBe(2);
    const mods = mem.read32(info + 24);
    const [start1, end1, str1] = [0, 4, 8].map((o) => mem.read32(mods + o));
    const [start2, end2, str2] = [16, 20, 24].map((o) => mem.read32(mods + o));
    expect(start1).toBe(0x20_2000);
    expect(end1).toBe(start1! + mod1.length);
    expect(start2! % 4096).toBe(0);
    expect(start2).toBeGreaterThanOrEqual(end1!);
    expect(end2).toBe(start2! + mod2.length);
    expect(mem.readBytes(start1!, mod1.length)).toEqual(mod1);
    expect(mem.readBytes(start2!, mod2.length)).toEqual(mod2);
    expect(cString(mem, str1!)).toBe('mod1.bin arg1 arg2');
    expect(cString(mem, str2!)).toBe('mod2.bin');
    expect(info).toBeGreaterThanOrEqual(end2!);

    // Memory map: size-prefixed 24-byte entries mirroring E820.
    const mmapLength = mem.read32(info + 44);
    const mmap = mem.read32(info + 48);
    expect(mmapLength).toBe(24 * e820.length);
    e820.forEach((e, i) => {
      const at = mmap + 24 * i;
      expect(mem.read32(at)).toBe(20);
      expect(mem.read32(at + 4) + mem.read32(at + 8) * 2 ** 32).toBe(e.base);
      expect(mem.read32(at + 12) + mem.read32(at + 16) * 2 ** 32).toBe(e.length);
      expect(mem.read32(at + 20)).toBe(e.type);
    });
  });

  it('loads an a.out-kludge image where its header addresses say', () => {
    const mem = new AddressSpace(64 * MiB);
    mem.ram.fill(0xaa);
    // The header sits at file offset 0x10 and says it is at 0x200010: the file loads at 0x200000.
    const file = pattern(0x500, 6);
    file.set(multibootHeader(0x1_0003, [0x20_0010, 0x20_0000, 0x20_0400, 0x20_3000, 0x20_0040]), 0x10);
    expect(isMultiboot(file)).toBe(true);
    const state = loadMultiboot(mem, { kernel: file, modules: [], cmdline: '', e820: pcE820Map(mem) });
    expect(mem.readBytes(0x20_0000, 0x400)).toEqual(file.subarray(0, 0x400));
    expect(allZero(mem.readBytes(0x20_0400, 0x2c00))).toBe(true); // bss
    expect(mem.read8(0x1f_ffff)).toBe(0xaa);
    expect(state.rip).toBe(0x20_0040n);
    expect(Number(state.gpr[RBX])).toBeGreaterThanOrEqual(0x20_3000);
  });

  it('loads the rest of the file when load_end_addr is 0', () => {
    const mem = new AddressSpace(16 * MiB);
    const file = pattern(0x900, 7);
    file.set(multibootHeader(0x1_0000, [0x10_0100, 0x10_0000, 0, 0, 0x10_0000]), 0x100);
    loadMultiboot(mem, { kernel: file, modules: [], cmdline: '', e820: pcE820Map(mem) });
    expect(mem.readBytes(0x10_0000, 0x900)).toEqual(file);
  });

  it('refuses what it cannot load, with one clear message, writing nothing', () => {
    const mem = new AddressSpace(16 * MiB);
    const e820 = pcE820Map(mem);
    const load = (kernel: Uint8Array) => () => loadMultiboot(mem, { kernel, modules: [], cmdline: '', e820 });
    const text = new TextEncoder().encode('hello, I am not a kernel\n'.repeat(50));
    expect(isMultiboot(text)).toBe(false);
    expect(load(text)).toThrow('not a multiboot kernel (no multiboot header in the first 8 KiB)');

    const seg = [{ vaddr: 0x10_0000, paddr: 0x10_0000, data: pattern(16, 0), memsz: 16 }];
    expect(load(elf32(0x10_0000, seg, 0x8))).toThrow('multiboot header requires unsupported features (flags 0x8)');
    expect(load(elf32(0x10_0000, seg, 0x3, 2))).toThrow(/64-bit ELF multiboot kernels are not supported/);
    const huge = [{ vaddr: 0x10_0000, paddr: 0x10_0000, data: pattern(16, 0), memsz: 32 * MiB }];
    expect(load(elf32(0x10_0000, huge))).toThrow(/^multiboot image does not fit in RAM \(0x100000-0x2100000\)$/);
    const low = [{ vaddr: 0, paddr: 0, data: pattern(16, 0), memsz: 0x1000 }];
    expect(load(elf32(0x10, low))).toThrow('multiboot kernel overlaps the boot GDT at 0x500');
    const truncated = elf32(0x10_0000, seg).subarray(0, 0x1008);
    expect(load(truncated)).toThrow('ELF segment 0 extends past the end of the file');
    const notElf = pattern(0x200, 0);
    notElf.set(multibootHeader(0x3), 0x40);
    expect(load(notElf)).toThrow('multiboot kernel is neither ELF nor an a.out-kludge image (header flag 16)');
    expect(allZero(mem.ram)).toBe(true);
  });

  it('answers damaged images with a one-line Error, never a JS fault', () => {
    const mem = new AddressSpace(16 * MiB);
    const e820 = pcE820Map(mem);
    const elf = elf32(0x10_0000, [{ vaddr: 0x10_0000, paddr: 0x10_0000, data: pattern(0x100, 1), memsz: 0x200 }]);
    const aout = pattern(0x500, 6);
    aout.set(multibootHeader(0x1_0003, [0x20_0010, 0x20_0000, 0x20_0400, 0x20_3000, 0x20_0040]), 0x10);
    const random = prng(1);
    for (const image of [elf, aout]) {
      for (let length = 0; length <= image.length; length += 7) {
        expectCleanOutcome(() => loadMultiboot(mem, { kernel: image.subarray(0, length), modules: [], cmdline: '', e820 }));
      }
      for (let i = 0; i < 300; i++) {
        const damaged = Uint8Array.from(image);
        for (let n = 0; n < 3; n++) damaged[Math.floor(random() * 0xa0)] = Math.floor(random() * 256);
        // Keep the header findable so the damage reaches the ELF/a.out parsers.
        if (i % 2 === 0) damaged.set(image.subarray(image === elf ? 0x80 : 0x10, image === elf ? 0x8c : 0x1c), image === elf ? 0x80 : 0x10);
        expectCleanOutcome(() => loadMultiboot(mem, { kernel: damaged, modules: [{ data: new Uint8Array(10), cmdline: 'm' }], cmdline: '', e820 }));
      }
    }
  });

  it('leaves Linux bzImages to the Linux loader, as QEMU does', () => {
    const bzImage = readFileSync(ensureLinuxGuest('i386').kernel);
    expect(isMultiboot(bzImage)).toBe(false);
  }, 600_000);
});

describe("QEMU's -initrd module list syntax", () => {
  it('splits on commas, keeps arguments in the command line, and reads ",," as a comma', () => {
    expect(parseMultibootModules('mod1.bin arg1 arg2,mod2.bin')).toEqual([
      { path: 'mod1.bin', cmdline: 'mod1.bin arg1 arg2' },
      { path: 'mod2.bin', cmdline: 'mod2.bin' },
    ]);
    expect(parseMultibootModules('a,,b.bin x=1,,2')).toEqual([{ path: 'a,b.bin', cmdline: 'a,b.bin x=1,2' }]);
  });

  it('refuses an empty module', () => {
    expect(() => parseMultibootModules('a.bin,')).toThrow("empty module name in 'a.bin,'");
  });
});
