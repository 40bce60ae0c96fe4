/**
 * The Linux/x86 boot protocol (Documentation/arch/x86/boot.rst) for
 * `-kernel bzImage [-initrd file] [-append cmdline]`: tsvm plays the boot
 * loader, fills the zero page (struct boot_params, zero-page.rst) and enters
 * the kernel at its 32-bit entry (code32_start) or, for x86-64 kernels under
 * KVM, at its 64-bit entry (load address + 0x200).
 *
 * Guest RAM used (besides boot-cpu.ts's GDT and page tables):
 *   0x07000-0x07FFF   zero page (boot_params); ESI/RSI points here
 *   0x10000-0x1FFFF   the real-mode setup sectors, header patched as in the zero page
 *   0x20000-...       the command line (at most up to the EBDA at 0x9FC00)
 *   0x100000-...      the protected-mode kernel
 *   top of RAM        the initrd, page aligned, below initrd_addr_max
 */
import type { AddressSpace } from '../memory/address-space.js';
import type { CpuState } from '../accel/cpu-state.js';
import { E820_RAM, EBDA_BASE, HIGH_MEMORY_BASE, lowerAndUpperMemoryKiB, writeE820Records, type E820Entry } from './e820.js';
import { longModeEntry, protectedModeEntry } from './boot-cpu.js';
import { dataView } from '../bytes.js';

export const ZERO_PAGE_ADDR = 0x7000;
export const SETUP_ADDR = 0x1_0000;
const SETUP_MAX_SIZE = 0x1_0000;
export const CMDLINE_ADDR = 0x2_0000;
export const KERNEL_LOAD_ADDR = HIGH_MEMORY_BASE;

const SECTOR = 512;
const ZERO_PAGE_SIZE = 0x1000;
const FOUR_GIB = 0x1_0000_0000;

/** Setup header field offsets (boot.rst, "The Real-Mode Kernel Header"). */
const HDR = {
  setupSects: 0x1f1,
  syssize: 0x1f4,
  jump: 0x200,
  signature: 0x202,
  version: 0x206,
  typeOfLoader: 0x210,
  loadflags: 0x211,
  code32Start: 0x214,
  ramdiskImage: 0x218,
  ramdiskSize: 0x21c,
  heapEndPtr: 0x224,
  cmdLinePtr: 0x228,
  initrdAddrMax: 0x22c,
  kernelAlignment: 0x230,
  relocatableKernel: 0x234,
  xloadflags: 0x236,
  cmdlineSize: 0x238,
  prefAddress: 0x258,
  initSize: 0x260,
} as const;

/** boot_params fields outside the setup header (zero-page.rst). */
const ZP = {
  screenInfo: 0x000,
  acpiRsdpAddr: 0x070,
  altMemK: 0x1e0,
  e820Entries: 0x1e8,
  e820Table: 0x2d0,
} as const;
const E820_MAX_ENTRIES_ZEROPAGE = 128;

const HDRS_MAGIC = 0x5372_6448; // "HdrS"
const LOADED_HIGH = 0x01;
const CAN_USE_HEAP = 0x80;
const XLF_KERNEL_64 = 0x01;
/** QEMU's loader id (boot.rst: type_of_loader 0xB "Qemu"), version 0. */
const TYPE_OF_LOADER_QEMU = 0xb0;

export interface LinuxBootOptions {
  kernel: Uint8Array;
  initrd?: Uint8Array;
  cmdline: string;
  e820: readonly E820Entry[];
  /** Physical address of the ACPI RSDP, passed in boot_params for protocol >= 2.14. */
  acpiRsdp?: number;
  /** Enter at the 64-bit entry point in long mode (x86-64 kernels under KVM). */
  long64?: boolean;
}

interface SetupHeader {
  /** Protocol version, e.g. 0x020f for 2.15. */
  version: number;
  setupSize: number;
  /** Bytes of the protected-mode kernel (the rest of the file after the setup). */
  kernelSize: number;
  /** End offset of the header in the file (0x202 + the jump's displacement). */
  headerEnd: number;
  loadflags: number;
  code32Start: number;
  initrdAddrMax: number;
  xloadflags: number;
  cmdlineSize: number;
  /** End of the memory the kernel occupies until it has read the memory map. */
  footprintEnd: number;
}

/** True when `kernel` carries a Linux setup header (what QEMU checks before trying multiboot). */
export function isLinuxKernel(kernel: Uint8Array): boolean {
  return kernel.length >= HDR.signature + 4 && dataView(kernel).getUint32(HDR.signature, true) === HDRS_MAGIC;
}

/**
 * Loads a bzImage, its initrd and command line into guest RAM, writes the zero
 * page, and returns the CPU state at the kernel's entry. Throws an Error with
 * a one-line message for a file that is not a loadable kernel or that does not
 * fit; nothing is written to guest RAM in that case.
 */
export function loadLinux(mem: AddressSpace, opts: LinuxBootOptions): CpuState {
  const hdr = parseSetupHeader(opts.kernel);
  if (opts.long64 && !(hdr.version >= 0x020c && hdr.xloadflags & XLF_KERNEL_64)) {
    throw new Error('this kernel has no 64-bit entry point (XLF_KERNEL_64 is not set)');
  }
  const cmdline = encodeCommandLine(opts.cmdline, hdr);
  requireRamFor(hdr, mem.lowRamTop);
  if (opts.e820.length > E820_MAX_ENTRIES_ZEROPAGE) throw new Error('too many E820 entries for the zero page');
  const initrdAddr = opts.initrd ? placeInitrd(hdr, opts.e820, opts.initrd.length) : 0;

  const zeroPage = buildZeroPage(opts, hdr, initrdAddr);
  // A copy: callers pass Node Buffers, whose slice() would alias the caller's file.
  const setup = new Uint8Array(hdr.setupSize);
  setup.set(opts.kernel.subarray(0, hdr.setupSize));
  setup.set(zeroPage.subarray(HDR.setupSects, hdr.headerEnd), HDR.setupSects);

  mem.writeBytes(SETUP_ADDR, setup);
  mem.writeBytes(KERNEL_LOAD_ADDR, opts.kernel.subarray(hdr.setupSize, hdr.setupSize + hdr.kernelSize));
  mem.writeBytes(CMDLINE_ADDR, cmdline);
  if (opts.initrd) mem.writeBytes(initrdAddr, opts.initrd);
  mem.writeBytes(ZERO_PAGE_ADDR, zeroPage);

  // boot.rst "32-bit/64-bit Boot Protocol": %esi/%rsi = boot_params, %ebp, %edi, %ebx = 0.
  const regs = { rsi: ZERO_PAGE_ADDR };
  return opts.long64 ? longModeEntry(mem, hdr.code32Start + 0x200, regs) : protectedModeEntry(mem, hdr.code32Start, regs);
}

/** A kernel, initrd and command line laid out for firmware to copy into RAM (QEMU's fw_cfg items for -kernel). */
export interface LinuxFirmwareHandoff {
  /** The real-mode setup sectors, header filled in as a boot loader does. */
  setup: Uint8Array;
  setupAddr: number;
  kernel: Uint8Array;
  kernelAddr: number;
  /** NUL-terminated. */
  cmdline: Uint8Array;
  cmdlineAddr: number;
  initrd: Uint8Array;
  initrdAddr: number;
}

/**
 * What QEMU hands firmware for -kernel (its x86_load_linux): the pieces of
 * the bzImage and where a boot loader puts them, the setup header patched
 * for them, and the initrd as high as it fits below `ramTop`, the top of
 * the RAM the firmware leaves to the OS. The firmware's option ROM
 * (linuxboot-rom.ts) copies them and enters the real-mode setup code, which
 * builds the zero page itself from BIOS calls.
 */
export function linuxFirmwareHandoff(kernel: Uint8Array, initrd: Uint8Array | undefined, cmdline: string, ramTop: number): LinuxFirmwareHandoff {
  const hdr = parseSetupHeader(kernel);
  const encoded = encodeCommandLine(cmdline, hdr);
  requireRamFor(hdr, ramTop);
  const ram: E820Entry[] = [{ base: KERNEL_LOAD_ADDR, length: ramTop - KERNEL_LOAD_ADDR, type: E820_RAM }];
  const initrdAddr = initrd ? placeInitrd(hdr, ram, initrd.length) : 0;
  const setup = new Uint8Array(hdr.setupSize);
  setup.set(kernel.subarray(0, hdr.setupSize));
  patchSetupHeader(dataView(setup), hdr, initrdAddr, initrd?.length ?? 0);
  return {
    setup,
    setupAddr: SETUP_ADDR,
    kernel: kernel.subarray(hdr.setupSize, hdr.setupSize + hdr.kernelSize),
    kernelAddr: KERNEL_LOAD_ADDR,
    cmdline: encoded,
    cmdlineAddr: CMDLINE_ADDR,
    initrd: initrd ?? new Uint8Array(0),
    initrdAddr,
  };
}

function requireRamFor(hdr: SetupHeader, ramTop: number): void {
  if (hdr.footprintEnd > ramTop) {
    throw new Error(`not enough RAM for this kernel (it needs ${Math.ceil(hdr.footprintEnd / 0x10_0000)} MiB)`);
  }
}

/** Validates and decodes the setup header of a bzImage. */
function parseSetupHeader(kernel: Uint8Array): SetupHeader {
  if (!isLinuxKernel(kernel)) throw new Error("not a bzImage kernel (no 'HdrS' signature)");
  const v = dataView(kernel);
  // At least 2 sectors, so every header field below lies inside the file.
  const setupSize = ((kernel[HDR.setupSects] || 4) + 1) * SECTOR;
  if (kernel.length <= setupSize) throw new Error(`truncated kernel (${kernel.length} bytes, the setup code alone is ${setupSize})`);
  const version = v.getUint16(HDR.version, true);
  if (version < 0x0202) throw new Error(`Linux boot protocol ${protocolName(version)} is too old`);
  const loadflags = kernel[HDR.loadflags]!;
  if (!(loadflags & LOADED_HIGH)) throw new Error('zImage kernels (loaded low) are not supported; use a bzImage');

  const headerEnd = HDR.jump + 2 + kernel[HDR.jump + 1]!;
  if (setupSize > SETUP_MAX_SIZE) throw new Error(`kernel setup code too large (${setupSize} bytes)`);
  // syssize is 16 bits wide before protocol 2.04.
  const paragraphs = version >= 0x0204 ? v.getUint32(HDR.syssize, true) : v.getUint16(HDR.syssize, true);
  const expected = setupSize + paragraphs * 16;
  if (kernel.length < expected) {
    throw new Error(`truncated kernel (${kernel.length} bytes, its header promises ${expected})`);
  }
  const kernelSize = kernel.length - setupSize;
  return {
    version,
    setupSize,
    kernelSize,
    headerEnd,
    loadflags,
    code32Start: v.getUint32(HDR.code32Start, true),
    initrdAddrMax: version >= 0x0203 ? v.getUint32(HDR.initrdAddrMax, true) : 0x37ff_ffff,
    xloadflags: version >= 0x020c ? v.getUint16(HDR.xloadflags, true) : 0,
    cmdlineSize: version >= 0x0206 ? v.getUint32(HDR.cmdlineSize, true) : 255,
    footprintEnd: Math.max(KERNEL_LOAD_ADDR + kernelSize, version >= 0x020a && headerEnd >= HDR.initSize + 4 ? footprintEnd(v) : 0),
  };
}

/**
 * Where the kernel's early footprint ends (boot.rst, "init_size"): a
 * relocatable kernel runs from the load address (raised to pref_address)
 * aligned up to kernel_alignment, another one from pref_address, and needs
 * init_size bytes from there before it looks at the memory map. Protocol 2.10+.
 */
function footprintEnd(v: DataView): number {
  const prefAddress = Number(v.getBigUint64(HDR.prefAddress, true));
  const alignment = v.getUint32(HDR.kernelAlignment, true) || 1;
  const runtimeStart = v.getUint8(HDR.relocatableKernel)
    ? Math.ceil(Math.max(KERNEL_LOAD_ADDR, prefAddress) / alignment) * alignment
    : prefAddress;
  return runtimeStart + v.getUint32(HDR.initSize, true);
}

/** The NUL-terminated command line, within the kernel's cmdline_size and our area below the EBDA. */
function encodeCommandLine(cmdline: string, hdr: SetupHeader): Uint8Array {
  const bytes = new TextEncoder().encode(cmdline + '\0');
  const limit = Math.min(hdr.cmdlineSize, EBDA_BASE - CMDLINE_ADDR - 1);
  if (bytes.length - 1 > limit) {
    throw new Error(`kernel command line too long (${bytes.length - 1} bytes, this kernel accepts ${limit})`);
  }
  return bytes;
}

/**
 * As high as RAM and initrd_addr_max allow, page aligned (what QEMU does), in
 * the usable E820 RAM below 4 GiB and above the kernel's decompression area.
 */
function placeInitrd(hdr: SetupHeader, e820: readonly E820Entry[], size: number): number {
  const ceiling = Math.min(hdr.initrdAddrMax + 1, FOUR_GIB);
  let largest = 0;
  const ram = e820.filter((e) => e.type === E820_RAM).sort((a, b) => b.base - a.base);
  for (const e of ram) {
    const top = Math.min(e.base + e.length, ceiling);
    const bottom = Math.max(e.base, hdr.footprintEnd);
    if (top <= bottom) continue;
    const addr = Math.floor((top - size) / 0x1000) * 0x1000;
    if (addr >= bottom) return addr;
    largest = Math.max(largest, top - bottom);
  }
  throw new Error(`initrd is too large, cannot support (max: ${largest}, need ${size})`);
}

function buildZeroPage(opts: LinuxBootOptions, hdr: SetupHeader, initrdAddr: number): Uint8Array {
  const zp = new Uint8Array(ZERO_PAGE_SIZE);
  const v = dataView(zp);
  zp.set(opts.kernel.subarray(HDR.setupSects, hdr.headerEnd), HDR.setupSects);
  patchSetupHeader(v, hdr, initrdAddr, opts.initrd?.length ?? 0);
  if (opts.acpiRsdp !== undefined && hdr.version >= 0x020e) {
    v.setBigUint64(ZP.acpiRsdpAddr, BigInt(opts.acpiRsdp), true);
  }
  const { upper } = lowerAndUpperMemoryKiB(opts.e820);
  writeTextScreenInfo(v, upper);
  v.setUint32(ZP.altMemK, upper, true);
  zp[ZP.e820Entries] = opts.e820.length;
  writeE820Records(v, ZP.e820Table, opts.e820);
  return zp;
}

/** The setup header fields a boot loader writes (boot.rst, "Details of Header Fields"); the zero page and the setup sectors share their offsets. */
function patchSetupHeader(v: DataView, hdr: SetupHeader, initrdAddr: number, initrdSize: number): void {
  v.setUint8(HDR.typeOfLoader, TYPE_OF_LOADER_QEMU);
  v.setUint8(HDR.loadflags, hdr.loadflags | CAN_USE_HEAP);
  // Offset from the setup code's start of the end of its heap/stack, minus 0x200.
  v.setUint16(HDR.heapEndPtr, SETUP_MAX_SIZE - 0x200, true);
  v.setUint32(HDR.cmdLinePtr, CMDLINE_ADDR, true);
  if (initrdSize > 0) {
    v.setUint32(HDR.ramdiskImage, initrdAddr, true);
    v.setUint32(HDR.ramdiskSize, initrdSize, true);
  }
}

/** struct screen_info for the 80x25 colour text mode a PC BIOS leaves behind, cursor at 0,0. */
function writeTextScreenInfo(v: DataView, extMemKiB: number): void {
  const si = ZP.screenInfo;
  v.setUint16(si + 0x02, Math.min(extMemKiB, 0xffff), true); // ext_mem_k
  v.setUint8(si + 0x06, 3); // orig_video_mode: 80x25 colour text
  v.setUint8(si + 0x07, 80); // orig_video_cols
  v.setUint8(si + 0x0e, 25); // orig_video_lines
  v.setUint8(si + 0x0f, 1); // orig_video_isVGA: VGA text
  v.setUint16(si + 0x10, 16, true); // orig_video_points: 16-line font
}

function protocolName(version: number): string {
  return `${version >> 8}.${String(version & 0xff).padStart(2, '0')}`;
}
