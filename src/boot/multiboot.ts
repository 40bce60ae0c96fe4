/**
 * Multiboot v1 (Multiboot Specification 0.6.96) for `-kernel` images that
 * carry a multiboot header: ELF32 kernels and a.out-kludge images (header
 * flag 16), modules from `-initrd "mod1 arg,mod2"`, the command line from
 * `-append`. This is how QEMU runs kvm-unit-tests.
 *
 * Guest RAM used (besides boot-cpu.ts's GDT): the kernel where its headers
 * say; then, page aligned, each module; then one area holding the info
 * structure, the module list, the memory map and the strings.
 */
import type { AddressSpace } from '../memory/address-space.js';
import type { CpuState } from '../accel/cpu-state.js';
import { E820_RAM, lowerAndUpperMemoryKiB, type E820Entry } from './e820.js';
import { alignUp, concat, dataView } from '../bytes.js';
import { BOOT_GDT_ADDR, BOOT_GDT_SIZE, protectedModeEntry } from './boot-cpu.js';
import { isLinuxKernel } from './linux.js';

const MULTIBOOT_HEADER_MAGIC = 0x1bad_b002;
/** EAX at entry: tells the kernel a multiboot loader started it. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2bad_b002;
const HEADER_SEARCH_LIMIT = 8192;

// Header flags (spec 3.1.2). Bits 0-15 are requirements the loader must honour or refuse.
const MB_PAGE_ALIGN = 1 << 0;
const MB_MEMORY_INFO = 1 << 1;
const MB_VIDEO_MODE = 1 << 2;
const MB_AOUT_KLUDGE = 1 << 16;
const MB_SUPPORTED_REQUIREMENTS = MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_VIDEO_MODE;

// Info structure flags and layout (spec 3.3).
const INFO_MEMORY = 1 << 0;
const INFO_CMDLINE = 1 << 2;
const INFO_MODS = 1 << 3;
const INFO_MEM_MAP = 1 << 6;
const INFO_LOADER_NAME = 1 << 9;
const INFO_SIZE = 88;
const MODULE_ENTRY_SIZE = 16;
const MMAP_ENTRY_SIZE = 24;
const LOADER_NAME = 'tsvm';

const PAGE = 0x1000;

export interface MultibootModule {
  data: Uint8Array;
  /** The module's string, by QEMU's convention its path followed by its arguments. */
  cmdline: string;
}

export interface MultibootOptions {
  kernel: Uint8Array;
  modules: readonly MultibootModule[];
  /** The kernel's command line (QEMU passes "<kernel path> <-append>"). */
  cmdline: string;
  e820: readonly E820Entry[];
}

interface MultibootHeader {
  /** File offset of the header. */
  offset: number;
  flags: number;
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** A piece of the image to copy into guest RAM: `data` at `addr`, then zeros up to `memSize`. */
interface Segment {
  addr: number;
  data: Uint8Array;
  memSize: number;
}

/**
 * True when the first 8 KiB carry a valid multiboot header and the file is
 * not a Linux bzImage (QEMU tries the Linux protocol first).
 */
export function isMultiboot(kernel: Uint8Array): boolean {
  return !isLinuxKernel(kernel) && findHeader(kernel) !== undefined;
}

/**
 * QEMU's `-initrd` syntax for multiboot modules: modules separated by ',',
 * ",," standing for a literal comma; each module's path is its first word and
 * its whole text is its command line.
 */
export function parseMultibootModules(spec: string): { path: string; cmdline: string }[] {
  const modules: string[] = [''];
  for (let i = 0; i < spec.length; i++) {
    if (spec[i] !== ',') modules[modules.length - 1] += spec[i];
    else if (spec[i + 1] === ',') modules[modules.length - 1] += spec[i++];
    else modules.push('');
  }
  return modules.map((cmdline) => {
    const path = cmdline.trim().split(/\s+/)[0]!;
    if (path === '') throw new Error(`empty module name in '${spec}'`);
    return { path, cmdline };
  });
}

/**
 * Loads a multiboot kernel and its modules, writes the info structure and
 * returns the CPU state at the kernel's entry (EAX = 0x2BADB002, EBX = info).
 * Throws a one-line Error for an image it cannot load; nothing is written to
 * guest RAM in that case.
 */
export function loadMultiboot(mem: AddressSpace, opts: MultibootOptions): CpuState {
  const header = findHeader(opts.kernel);
  if (!header) throw new Error('not a multiboot kernel (no multiboot header in the first 8 KiB)');
  const unsupported = header.flags & 0xffff & ~MB_SUPPORTED_REQUIREMENTS;
  if (unsupported) throw new Error(`multiboot header requires unsupported features (flags 0x${unsupported.toString(16)})`);

  const image = header.flags & MB_AOUT_KLUDGE ? aoutKludgeImage(opts.kernel, header) : elfImage(opts.kernel);
  const kernelEnd = Math.max(...image.segments.map((s) => s.addr + s.memSize));
  const moduleAddrs: number[] = [];
  let next = alignUp(kernelEnd, PAGE);
  for (const m of opts.modules) {
    moduleAddrs.push(next);
    next = alignUp(next + m.data.length, PAGE);
  }
  const info = buildInfo(next, opts, moduleAddrs);
  const end = next + info.length;
  for (const s of image.segments) {
    checkFitsInRam(mem, opts.e820, s.addr, s.memSize);
    if (s.addr < BOOT_GDT_ADDR + BOOT_GDT_SIZE && s.addr + s.memSize > BOOT_GDT_ADDR) {
      throw new Error(`multiboot kernel overlaps the boot GDT at 0x${BOOT_GDT_ADDR.toString(16)}`);
    }
  }
  checkFitsInRam(mem, opts.e820, alignUp(kernelEnd, PAGE), end - alignUp(kernelEnd, PAGE));

  for (const s of image.segments) {
    const bytes = new Uint8Array(s.memSize);
    bytes.set(s.data);
    mem.writeBytes(s.addr, bytes);
  }
  opts.modules.forEach((m, i) => mem.writeBytes(moduleAddrs[i]!, m.data));
  mem.writeBytes(next, info);
  return protectedModeEntry(mem, image.entry, { rax: MULTIBOOT_BOOTLOADER_MAGIC, rbx: next });
}

/** The header: magic, flags, checksum (summing to 0 mod 2^32), 32-bit aligned in the first 8 KiB. */
function findHeader(kernel: Uint8Array): MultibootHeader | undefined {
  const v = dataView(kernel);
  const limit = Math.min(HEADER_SEARCH_LIMIT, kernel.length) - 12;
  for (let off = 0; off <= limit; off += 4) {
    if (v.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = v.getUint32(off + 4, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + v.getUint32(off + 8, true)) >>> 0) !== 0) continue;
    const field = (i: number) => (off + 12 + 4 * i + 4 <= kernel.length ? v.getUint32(off + 12 + 4 * i, true) : 0);
    return {
      offset: off,
      flags,
      headerAddr: field(0),
      loadAddr: field(1),
      loadEndAddr: field(2),
      bssEndAddr: field(3),
      entryAddr: field(4),
    };
  }
  return undefined;
}

/**
 * Flag 16 (the "a.out kludge", spec 3.1.3): the header's own addresses say
 * where the file goes. header_addr locates the header in memory, which fixes
 * the file offset that load_addr corresponds to.
 */
function aoutKludgeImage(kernel: Uint8Array, h: MultibootHeader): { segments: Segment[]; entry: number } {
  if (h.offset + 32 > kernel.length) throw new Error('truncated multiboot header');
  if (h.headerAddr < h.loadAddr || h.headerAddr - h.loadAddr > h.offset) {
    throw new Error('multiboot header_addr/load_addr do not match the header position in the file');
  }
  const fileStart = h.offset - (h.headerAddr - h.loadAddr);
  const loadSize = h.loadEndAddr ? h.loadEndAddr - h.loadAddr : kernel.length - fileStart;
  if (loadSize <= 0 || fileStart + loadSize > kernel.length) throw new Error('multiboot load_end_addr is outside the file');
  const memSize = h.bssEndAddr ? h.bssEndAddr - h.loadAddr : loadSize;
  if (memSize < loadSize) throw new Error('multiboot bss_end_addr is below load_end_addr');
  return { segments: [{ addr: h.loadAddr, data: kernel.subarray(fileStart, fileStart + loadSize), memSize }], entry: h.entryAddr };
}

/** An ELF32 i386 executable: its PT_LOAD segments at their physical addresses (System V gABI, ELF32). */
function elfImage(kernel: Uint8Array): { segments: Segment[]; entry: number } {
  const v = dataView(kernel);
  if (kernel.length < 52 || v.getUint32(0, false) !== 0x7f45_4c46) {
    throw new Error('multiboot kernel is neither ELF nor an a.out-kludge image (header flag 16)');
  }
  const ELFCLASS32 = 1;
  const ELFDATA2LSB = 1;
  const EM_386 = 3;
  const PT_LOAD = 1;
  if (kernel[4] !== ELFCLASS32) throw new Error('64-bit ELF multiboot kernels are not supported: give a 32-bit one');
  if (kernel[5] !== ELFDATA2LSB || v.getUint16(18, true) !== EM_386) throw new Error('multiboot ELF kernel is not for i386');
  const entry = v.getUint32(24, true);
  const phoff = v.getUint32(28, true);
  const phentsize = v.getUint16(42, true);
  const phnum = v.getUint16(44, true);
  if (phentsize < 32 || phoff + phnum * phentsize > kernel.length) throw new Error('truncated ELF program header table');

  const segments: Segment[] = [];
  let physEntry = entry;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (v.getUint32(ph, true) !== PT_LOAD) continue;
    const [offset, vaddr, paddr, filesz, memsz] = [4, 8, 12, 16, 20].map((f) => v.getUint32(ph + f, true)) as [number, number, number, number, number];
    if (offset + filesz > kernel.length) throw new Error(`ELF segment ${i} extends past the end of the file`);
    if (memsz < filesz) throw new Error(`ELF segment ${i} has a memory size below its file size`);
    if (memsz === 0) continue;
    segments.push({ addr: paddr, data: kernel.subarray(offset, offset + filesz), memSize: memsz });
    // The entry point is a virtual address; enter at its physical alias, as GRUB does.
    if (entry >= vaddr && entry - vaddr < memsz) physEntry = paddr + (entry - vaddr);
  }
  if (segments.length === 0) throw new Error('multiboot ELF kernel has no loadable segment');
  return { segments, entry: physEntry };
}

/** Refuses a range that is not entirely usable RAM (E820 type 1) below 4 GiB. */
function checkFitsInRam(mem: AddressSpace, e820: readonly E820Entry[], addr: number, size: number): void {
  const inside = e820.some((e) => e.type === E820_RAM && addr >= e.base && addr + size <= e.base + e.length);
  if (!inside || addr + size > mem.lowRamTop) {
    throw new Error(`multiboot image does not fit in RAM (0x${addr.toString(16)}-0x${(addr + size).toString(16)})`);
  }
}

/**
 * The info area at `base`: the info structure (spec 3.3), the module list,
 * the memory map (entries of size, base, length, type), then the strings.
 */
function buildInfo(base: number, opts: MultibootOptions, moduleAddrs: readonly number[]): Uint8Array {
  const modsOff = INFO_SIZE;
  const mmapOff = modsOff + opts.modules.length * MODULE_ENTRY_SIZE;
  const stringsOff = mmapOff + opts.e820.length * MMAP_ENTRY_SIZE;
  const strings = [opts.cmdline, LOADER_NAME, ...opts.modules.map((m) => m.cmdline)].map((s) => new TextEncoder().encode(s + '\0'));
  const stringAddrs: number[] = [];
  let size = stringsOff;
  for (const s of strings) {
    stringAddrs.push(base + size);
    size += s.length;
  }

  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  const { lower, upper } = lowerAndUpperMemoryKiB(opts.e820);
  v.setUint32(0, INFO_MEMORY | INFO_CMDLINE | INFO_MODS | INFO_MEM_MAP | INFO_LOADER_NAME, true);
  v.setUint32(4, lower, true); // mem_lower
  v.setUint32(8, upper, true); // mem_upper: contiguous KiB from 1 MiB
  v.setUint32(16, stringAddrs[0]!, true); // cmdline
  v.setUint32(20, opts.modules.length, true); // mods_count
  v.setUint32(24, base + modsOff, true); // mods_addr
  v.setUint32(44, opts.e820.length * MMAP_ENTRY_SIZE, true); // mmap_length
  v.setUint32(48, base + mmapOff, true); // mmap_addr
  v.setUint32(64, stringAddrs[1]!, true); // boot_loader_name
  opts.modules.forEach((m, i) => {
    const at = modsOff + i * MODULE_ENTRY_SIZE;
    v.setUint32(at, moduleAddrs[i]!, true); // mod_start
    v.setUint32(at + 4, moduleAddrs[i]! + m.data.length, true); // mod_end (exclusive)
    v.setUint32(at + 8, stringAddrs[2 + i]!, true); // string
  });
  opts.e820.forEach((e, i) => {
    const at = mmapOff + i * MMAP_ENTRY_SIZE;
    v.setUint32(at, MMAP_ENTRY_SIZE - 4, true); // size of the entry after this field
    v.setBigUint64(at + 4, BigInt(e.base), true);
    v.setBigUint64(at + 12, BigInt(e.length), true);
    v.setUint32(at + 20, e.type, true);
  });
  out.set(concat(strings), stringsOff);
  return out;
}
