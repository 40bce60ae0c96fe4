/**
 * Guest physical address space of a PC.
 *
 * All guest RAM lives in one Uint8Array (`ram`) that every accelerator and
 * device shares: under KVM it is the mmap'd region the kernel maps into the
 * guest, under TCG a plain buffer. RAM below 4 GiB is indexed by its physical
 * address; RAM above `lowRamTop` (when -m exceeds the PCI hole) continues at
 * 4 GiB and sits in `ram` right after the low part.
 *
 * Pages of the first 4 GiB are classified in `pageMap` so that a soft TLB can
 * resolve a page with one array load:
 *   >= 0  RAM; the value is the page's index into `ram` (>> 12)
 *   -1    unassigned (reads all-ones, writes dropped)
 *   <= -2 region number (-2 - value) in `regions` (ROM or MMIO)
 *
 * A chipset may change what pages of a declared window are at run time
 * (remap(): the i440FX's PAM registers switch the DRAM under 0xC0000-0xFFFFF
 * in and out); the CPU's TLB and code caches and KVM's memory slots follow
 * through onRemap().
 */
import { hex, log, logOn } from '../log.js';

const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
const FOUR_GIB = 0x1_0000_0000;
const UNASSIGNED = -1;

export type AccessSize = 1 | 2 | 4;

export interface MmioHandler {
  /** `offset` is relative to the region base. */
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}

export interface RomRegion {
  kind: 'rom';
  name: string;
  base: number;
  data: Uint8Array;
  /**
   * Set when `data` is guest RAM seen read-only (a PAM read-only shadow):
   * its offset in `ram`, so that the CPU reads it at RAM speed and KVM maps
   * it as a read-only slot of the RAM.
   */
  ramOffset?: number;
}

export interface MmioRegion {
  kind: 'mmio';
  name: string;
  base: number;
  size: number;
  handler: MmioHandler;
}

export type Region = RomRegion | MmioRegion;

/** Called after a device (DMA) or loader writes guest RAM, so TCG can drop code it translated from it. */
export type RamWriteListener = (physAddr: number, length: number) => void;

/** Called after remap() changed what some of [physAddr, physAddr + length) is. */
export type RemapListener = (physAddr: number, length: number) => void;

/** What remap() makes a page: the DRAM at its address, a region, or nothing (unassigned). */
export type PageBacking = 'ram' | Region | undefined;

export class AddressSpace {
  readonly ram: Uint8Array;
  /** RAM mapped from 0 up to here (minus the legacy holes). */
  readonly lowRamTop: number;
  /** RAM mapped from 4 GiB upward. */
  readonly highRamSize: number;
  readonly pageMap = new Int32Array(FOUR_GIB / PAGE_SIZE);
  readonly regions: Region[] = [];
  /** Ranges whose pages remap() may change: accelerators map them apart from their neighbours. */
  readonly remapWindows: { base: number; size: number }[] = [];
  private readonly ramWriteListeners: RamWriteListener[] = [];
  private readonly remapListeners: RemapListener[] = [];

  /**
   * @param ramSize total guest RAM in bytes
   * @param lowRamLimit where the PCI hole starts (QEMU's i440FX uses 0xE0000000 when RAM exceeds it)
   * @param ram an existing buffer (KVM's mmap) or undefined to allocate one
   */
  constructor(ramSize: number, lowRamLimit = 0xe000_0000, ram?: Uint8Array) {
    this.lowRamTop = Math.min(ramSize, lowRamLimit);
    this.highRamSize = ramSize - this.lowRamTop;
    this.ram = ram ?? new Uint8Array(ramSize);
    if (this.ram.length < ramSize) throw new Error('RAM buffer smaller than the RAM size');
    this.pageMap.fill(UNASSIGNED);
    for (let p = 0; p < this.lowRamTop >>> PAGE_SHIFT; p++) this.pageMap[p] = p;
  }

  /** Registers RAM writes made outside the CPU (DMA, loaders) for code invalidation. */
  onRamWrite(listener: RamWriteListener): void {
    this.ramWriteListeners.push(listener);
  }

  /** Registers a change of the page map by remap() (TLB flushes, code invalidation, KVM slots). */
  onRemap(listener: RemapListener): void {
    this.remapListeners.push(listener);
  }

  /** Declares [base, base + size) (page aligned) as a window remap() may change. */
  addRemapWindow(base: number, size: number): void {
    if (base % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) throw new Error('remap window is not page aligned');
    this.remapWindows.push({ base, size });
  }

  /**
   * Makes the pages from `base` on what `backings` says, one entry per page,
   * and tells the remap listeners once about the pages that changed. The
   * pages must lie in a window declared with addRemapWindow(); a region not
   * seen before is added to `regions`.
   */
  remap(base: number, backings: readonly PageBacking[]): void {
    const end = base + backings.length * PAGE_SIZE;
    if (!this.remapWindows.some((w) => base >= w.base && end <= w.base + w.size)) {
      throw new Error(`remap of 0x${base.toString(16)}-0x${(end - 1).toString(16)} outside a remap window`);
    }
    const first = base >>> PAGE_SHIFT;
    let lo = Infinity;
    let hi = -1;
    backings.forEach((backing, i) => {
      const value = this.pageValue(first + i, backing);
      if (this.pageMap[first + i] === value) return;
      this.pageMap[first + i] = value;
      lo = Math.min(lo, i);
      hi = i;
    });
    if (hi < 0) return;
    for (const listener of this.remapListeners) listener(base + lo * PAGE_SIZE, (hi - lo + 1) * PAGE_SIZE);
  }

  private pageValue(page: number, backing: PageBacking): number {
    if (backing === undefined) return UNASSIGNED;
    if (backing === 'ram') {
      if (page >= this.lowRamTop >>> PAGE_SHIFT) throw new Error(`no RAM at 0x${(page * PAGE_SIZE).toString(16)}`);
      return page;
    }
    let index = this.regions.indexOf(backing);
    if (index < 0) index = this.regions.push(backing) - 1;
    return -2 - index;
  }

  /** Maps `data` read-only at `base` (page aligned). Later mappings win over earlier ones. */
  addRom(name: string, base: number, data: Uint8Array): void {
    this.addRegion({ kind: 'rom', name, base, data }, data.length);
  }

  addMmio(name: string, base: number, size: number, handler: MmioHandler): void {
    this.addRegion({ kind: 'mmio', name, base, size, handler }, size);
  }

  private addRegion(region: Region, size: number): void {
    if (region.base % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) {
      throw new Error(`region ${region.name} is not page aligned`);
    }
    const index = this.regions.push(region) - 1;
    const first = region.base >>> PAGE_SHIFT;
    this.pageMap.fill(-2 - index, first, first + size / PAGE_SIZE);
  }

  /** Offset into `ram` of a RAM physical address, or -1 when the address is not RAM. */
  ramOffset(addr: number): number {
    if (addr < FOUR_GIB) {
      const p = this.pageMap[addr >>> PAGE_SHIFT]!;
      return p >= 0 ? p * PAGE_SIZE + (addr & (PAGE_SIZE - 1)) : -1;
    }
    const off = addr - FOUR_GIB;
    return off < this.highRamSize ? this.lowRamTop + off : -1;
  }

  /**
   * Offset into `ram` of the DRAM at a physical address whether or not the
   * CPU sees it there now (a PAM window may show ROM over it), or -1 where
   * the PC has no DRAM. Low RAM sits in `ram` at its own address.
   */
  dramOffset(addr: number): number {
    if (addr < this.lowRamTop) return addr;
    const off = addr - FOUR_GIB;
    return off >= 0 && off < this.highRamSize ? this.lowRamTop + off : -1;
  }

  /** Offset into `ram` of an address in a read-only RAM region (a PAM read-only shadow), or -1. */
  readOnlyRamOffset(addr: number): number {
    const region = this.regionAt(addr);
    return region?.kind === 'rom' && region.ramOffset !== undefined ? region.ramOffset + (addr - region.base) : -1;
  }

  /** Where regions are mapped now (remap() may have moved some), as runs of pages in address order. */
  mappedRegions(): { region: Region; base: number; size: number }[] {
    const runs: { region: Region; base: number; size: number }[] = [];
    for (let p = 0; p < this.pageMap.length; ) {
      const value = this.pageMap[p]!;
      let end = p + 1;
      while (end < this.pageMap.length && this.pageMap[end] === value) end++;
      if (value <= -2) runs.push({ region: this.regions[-2 - value]!, base: p * PAGE_SIZE, size: (end - p) * PAGE_SIZE });
      p = end;
    }
    return runs;
  }

  /** The region (ROM/MMIO) covering a physical address below 4 GiB, if any. */
  regionAt(addr: number): Region | undefined {
    if (addr >= FOUR_GIB) return undefined;
    const p = this.pageMap[addr >>> PAGE_SHIFT]!;
    return p <= -2 ? this.regions[-2 - p] : undefined;
  }

  read8(addr: number): number {
    const off = this.ramOffset(addr);
    if (off >= 0) return this.ram[off]!;
    return this.readSlow(addr, 1);
  }

  read16(addr: number): number {
    return this.read8(addr) | (this.read8(addr + 1) << 8);
  }

  read32(addr: number): number {
    const off = this.ramOffset(addr);
    if (off >= 0 && (addr & (PAGE_SIZE - 1)) <= PAGE_SIZE - 4) {
      return (this.ram[off]! | (this.ram[off + 1]! << 8) | (this.ram[off + 2]! << 16) | (this.ram[off + 3]! << 24)) >>> 0;
    }
    const region = this.regionAt(addr);
    if (region?.kind === 'mmio' && (addr & 3) === 0) return region.handler.read(addr - region.base, 4) >>> 0;
    return (this.read16(addr) | (this.read16(addr + 2) << 16)) >>> 0;
  }

  write8(addr: number, value: number): void {
    const off = this.ramOffset(addr);
    if (off >= 0) {
      this.ram[off] = value;
      return;
    }
    this.writeSlow(addr, 1, value & 0xff);
  }

  write16(addr: number, value: number): void {
    this.write8(addr, value & 0xff);
    this.write8(addr + 1, (value >>> 8) & 0xff);
  }

  write32(addr: number, value: number): void {
    const region = this.regionAt(addr);
    if (region?.kind === 'mmio' && (addr & 3) === 0) {
      region.handler.write(addr - region.base, 4, value >>> 0);
      return;
    }
    this.write16(addr, value & 0xffff);
    this.write16(addr + 2, (value >>> 16) & 0xffff);
  }

  /** Byte-wise read for ROM, MMIO and unassigned space. */
  readSlow(addr: number, size: AccessSize): number {
    return this.readRegion(this.regionAt(addr), addr, size);
  }

  /** A read of `addr` from `region` (unassigned when undefined), whether or not it is mapped there now. */
  readRegion(region: Region | undefined, addr: number, size: AccessSize): number {
    if (!region) {
      if (logOn.unimp) log.unimp({ addr: hex(addr), size }, 'read from unassigned memory');
      return size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1;
    }
    const offset = addr - region.base;
    if (region.kind === 'rom') {
      let v = 0;
      for (let i = 0; i < size; i++) v |= (region.data[offset + i] ?? 0xff) << (8 * i);
      return v >>> 0;
    }
    return region.handler.read(offset, size);
  }

  writeSlow(addr: number, size: AccessSize, value: number): void {
    const region = this.regionAt(addr);
    if (region?.kind === 'mmio') {
      region.handler.write(addr - region.base, size, value);
      return;
    }
    if (logOn.unimp) log.unimp({ addr: hex(addr), size, value: hex(value) }, region ? 'write to ROM' : 'write to unassigned memory');
  }

  /**
   * Writes the DRAM at `addr` whatever the CPU sees there (a PAM write-only
   * shadow: the bus answers reads, DRAM takes writes) and tells the code caches.
   */
  writeDram(addr: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) {
      const off = this.dramOffset(addr + i);
      if (off >= 0) this.ram[off] = (value >>> (8 * i)) & 0xff;
    }
    for (const listener of this.ramWriteListeners) listener(addr, size);
  }

  /** Copies guest physical memory out (for DMA and the monitor). Non-RAM bytes read as the bus gives them. */
  readBytes(addr: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const a = addr + done;
      const chunk = Math.min(length - done, PAGE_SIZE - (a % PAGE_SIZE));
      const off = this.ramOffset(a);
      if (off >= 0) out.set(this.ram.subarray(off, off + chunk), done);
      else for (let i = 0; i < chunk; i++) out[done + i] = this.readSlow(a + i, 1);
      done += chunk;
    }
    return out;
  }

  /** Copies data into guest physical memory (DMA, loaders) and tells the code caches. */
  writeBytes(addr: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const a = addr + done;
      const chunk = Math.min(data.length - done, PAGE_SIZE - (a % PAGE_SIZE));
      const off = this.ramOffset(a);
      if (off >= 0) this.ram.set(data.subarray(done, done + chunk), off);
      else for (let i = 0; i < chunk; i++) this.writeSlow(a + i, 1, data[done + i]!);
      done += chunk;
    }
    for (const listener of this.ramWriteListeners) listener(addr, data.length);
  }
}
