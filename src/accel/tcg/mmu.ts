/**
 * The soft TLB and page walker (SDM Vol. 3A, chapter 4).
 *
 * Every linear page the CPU touches gets an entry: `info`, one word holding
 * the permission bits for both privilege classes and, for a RAM page, its
 * RAM page index (bits 12-31, so that the RAM index of an address is the
 * entry's upper bits or-ed with the address's low 12, as in v86), and
 * `physPage` (physical page number of a page that is
 * not RAM). RAM pages are read and written straight in AddressSpace.ram;
 * ROM, MMIO and unassigned pages go through the AddressSpace's slow path.
 * Entries are filled by a page walk that sets the accessed bits, and dirty
 * bits on the first write (a page whose dirty bit is clear is entered
 * without write permission so the first write walks again).
 * RAM the chipset makes read-only (a PAM read-only shadow) is entered as RAM
 * without write permission, so reads and fetches run at RAM speed and writes
 * reach the AddressSpace, which drops them. The TLB is flushed whenever the
 * AddressSpace's page map is remapped.
 *
 * The fast paths (these accessors and translated code) read a second form
 * of the entries, QEMU's: per class of access (reads and writes, at CPL
 * 0-2 and at CPL 3) and linear page, `(RAM page ^ linear page) << 12` when
 * the access may go straight to RAM, else -1 (fastRead, fastWrite). The
 * RAM index of `lin` is then `entry ^ lin`, and `(entry | lin) & 0xfff`
 * is the offset in the page when the entry allows the access and 0xfff
 * when it does not, so one compare (fastOk) checks both the entry and
 * that the access stays in its page. Write entries leave out RAM pages
 * holding decoded code (codePages): writes there go through the slow path,
 * which tells onCodeWrite.
 *
 * A CR3 write keeps the entries of global pages (G set with CR4.PGE: SDM
 * Vol. 3A, 4.10.2.4), as hardware does: the kernel's pages stay entered
 * across context switches, and so do the translator's links between kernel
 * blocks (generation and globalGeneration below). INVLPG and CR4/CR0
 * paging changes flush them. Flushes clear the entries listed as filled
 * since the last one; past the list's size, every entry (flushing more
 * than the architecture requires is always allowed).
 */
import { arenaOf, type WasmArena } from './jit/wasm-arena.js';
import type { AddressSpace } from '../../memory/address-space.js';
import { CpuFault } from './exceptions.js';
import { CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, DOUBLE_ZERO, EFER_NXE, PFV } from './constants.js';

export const TLB_VALID = 1;
/** Supervisor may write. */
export const TLB_SW = 2;
/** User may read/execute. */
export const TLB_UR = 4;
/** User may write. */
export const TLB_UW = 8;
/** Backed by RAM: fast path allowed. */
export const TLB_RAM = 16;
/** Not executable (PAE NX with EFER.NXE). */
export const TLB_NX = 32;
/** With TLB_RAM: RAM that is read but never written (a PAM read-only shadow); entered without write permission. */
export const TLB_ROM = 64;
/** A global page (SDM Vol. 3A, 4.10.2.4): a CR3 write keeps its entry. */
export const TLB_GLOBAL = 128;
/** The bits of a TLB entry holding its RAM page index (TLB_RAM set). */
export const TLB_FRAME = -4096;
/** A fastRead/fastWrite entry that sends the access to the slow path. */
const FAST_NONE = -1;

/**
 * Whether an access of `size` bytes at `lin` may go straight to RAM with
 * fast-path entry `entry`: for 2 and 4 bytes one compare checks both the
 * entry and that the access stays in its page; a byte cannot leave its
 * page, so it checks only the entry (FAST_NONE has the low 12 bits set, an
 * entry has them clear), and a byte at offset 0xfff takes the fast path
 * too. Translated code inlines the same test (codegen.ts, fastAccessAt).
 */
export function fastOk(entry: number, lin: number, size: number): boolean {
  return size === 1 ? (entry & 0xfff) === 0 : ((entry | lin) & 0xfff) <= 0x1000 - size;
}

/** RAM page index of a TLB entry `info` that has TLB_RAM. */
export function ramPage(info: number): number {
  return info >>> 12;
}

/** RAM index of linear address `lin` in a page whose TLB entry `info` has TLB_RAM. */
export function ramIndex(info: number, lin: number): number {
  return ((info & TLB_FRAME) | (lin & 0xfff)) >>> 0;
}

export const enum Access {
  Read = 0,
  Write = 1,
  Exec = 2,
}

/** What the MMU needs to know of the CPU's control state. */
export interface MmuControl {
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  cr2: number;
  /** Current privilege level (user accesses check the U/S bit when 3). */
  cpl: number;
}

const PAGES = 1 << 20;
/** Index of the CPL 3 entries in Mmu.fastReads and Mmu.fastWrites. */
const FAST_USER = PAGES;
/**
 * Pages a FlushList holds. Past it, a flush drops every entry of the 1 M-entry
 * tables, and each page that gets its first decoded code drops every fast
 * write entry (markCode): 8 MB of stores where the list would have taken a
 * few. Booting Linux enters tens of thousands of pages between flushes (the
 * kernel touches all of RAM through its direct map): with 2,048, markCode
 * dropped every fast write entry 778 times over the boot (6 GB of memset,
 * every write slow afterwards until its page was entered again), with
 * 16,384 never.
 */
const FLUSH_LIST_MAX = 16384;

/** Pages entered in the TLB since a flush, or `overflow` once more than it holds. */
class FlushList {
  readonly pages = new Int32Array(FLUSH_LIST_MAX);
  count = 0;
  overflow = false;

  add(page: number): void {
    if (this.count < FLUSH_LIST_MAX) this.pages[this.count++] = page;
    else this.overflow = true;
  }

  /** Drops the listed entries of `mmu` (but those of global pages with `keepGlobal`) and empties the list. */
  drop(mmu: Mmu, keepGlobal: boolean): void {
    for (let i = 0; i < this.count; i++) {
      const page = this.pages[i]!;
      if (!keepGlobal || !(mmu.info[page]! & TLB_GLOBAL)) mmu.dropEntry(page);
    }
    this.count = 0;
    this.overflow = false;
  }

  /** Drops the fast write entries of the listed pages that map to RAM page `frame`. */
  dropWritesTo(mmu: Mmu, frame: number): void {
    for (let i = 0; i < this.count; i++) {
      const page = this.pages[i]!;
      if (mmu.info[page]! & TLB_RAM && ramPage(mmu.info[page]!) === frame) {
        mmu.fastWrite[0][page] = FAST_NONE;
        mmu.fastWrite[1][page] = FAST_NONE;
      }
    }
  }
}

// Page-table entry bits
const P = 1;
const RW = 2;
const US = 4;
const A = 0x20;
const D = 0x40;
const PS = 0x80;
const G = 0x100;

export class Mmu {
  readonly info = new Int32Array(PAGES);
  readonly physPage = new Int32Array(PAGES);
  /**
   * Fast-path entries (above) for reads and for writes: those for CPL 0-2
   * by linear page, then those for CPL 3 (from index FAST_USER). Translated
   * code takes each table as a constant of its own and picks the half by
   * the CPL at entry (codegen.ts): V8 then knows the array, its length and
   * where its data is, where an array loaded from the Cpu at each block
   * entry cost a map check and three loads per access (the boot's xz
   * decompressor, past its warm-up: 1-7% more guest MIPS in 7 of 8
   * alternating pairs).
   */
  readonly fastReads: Int32Array;
  readonly fastWrites: Int32Array;
  /** The two halves of each table: at CPL 0-2 ([0]) and at CPL 3 ([1]). */
  readonly fastRead: readonly [Int32Array, Int32Array];
  readonly fastWrite: readonly [Int32Array, Int32Array];
  /** Pages entered as not global, and as global (a CR3 write clears only the first). */
  private readonly filled = new FlushList();
  private readonly filledGlobal = new FlushList();
  readonly ram: Uint8Array;
  /** The WebAssembly arena RAM is in (`-accel tcg,wasm=on`), holding the fast-path tables too; its blocks are then WebAssembly where they can be. */
  readonly arena: WasmArena | undefined;
  /** Little-endian view of ram (translated code reads and writes through it too). */
  readonly view: DataView;
  /** Per RAM page: nonzero when decoded code from it is cached (writes must invalidate it). */
  readonly codePages: Uint8Array;
  /** Called when a write hits a RAM page in codePages (then cleared by whoever drops the code). */
  onCodeWrite: (ramPage: number) => void = () => {};
  /**
   * Linear pages holding a data breakpoint (debug.ts): entered in the TLB
   * without TLB_VALID, so every data access to them takes the slow path,
   * which reports it to onWatchedAccess before making it.
   */
  readonly watchedPages = new Uint8Array(PAGES);
  /** Some page is in watchedPages. */
  watching = false;
  onWatchedAccess: (lin: number, size: number, write: boolean) => void = () => {};
  a20Mask = 0xffff_ffff;
  /** Bumped on every flush, so caches of translations (the fetch page) know to look again. */
  generation = 0;
  /**
   * Bumped on the flushes that may drop a global page's entry (not by CR3
   * writes): what was cached about a global page holds while it is the same.
   */
  globalGeneration = 0;

  /** What a cache of a translation checks: globalGeneration for one of a global page, else generation. */
  generationFor(global: boolean): number {
    return global ? this.globalGeneration : this.generation;
  }
  /** Per 4 MiB linear region: entries from a 4 MiB/2 MiB page are in the TLB (INVLPG drops the region). */
  private readonly largeRegions = new Uint8Array(1024);
  private largeEntered = false;

  constructor(
    readonly mem: AddressSpace,
    private readonly ctl: MmuControl,
  ) {
    this.ram = mem.ram;
    // In RAM's WebAssembly arena, where translated WebAssembly reads them (wasm-arena.ts).
    this.arena = arenaOf(this.ram);
    this.fastReads = (this.arena?.fastReads ?? new Int32Array(2 * PAGES)).fill(FAST_NONE);
    this.fastWrites = (this.arena?.fastWrites ?? new Int32Array(2 * PAGES)).fill(FAST_NONE);
    this.fastRead = [this.fastReads.subarray(0, PAGES), this.fastReads.subarray(PAGES)];
    this.fastWrite = [this.fastWrites.subarray(0, PAGES), this.fastWrites.subarray(PAGES)];
    this.view = new DataView(this.ram.buffer, this.ram.byteOffset, this.ram.byteLength);
    this.codePages = new Uint8Array(Math.ceil(this.ram.length / 4096));
    mem.onRemap(() => this.flush());
  }

  /** Drops every entry, global pages' too. */
  flush(): void {
    if (this.filled.overflow || this.filledGlobal.overflow) this.dropRange(0, PAGES);
    this.filled.drop(this, false);
    this.filledGlobal.drop(this, false);
    if (this.largeEntered) this.largeRegions.fill(0);
    this.largeEntered = false;
    this.generation++;
    this.globalGeneration++;
  }

  /**
   * A CR3 write: drops every entry but those of global pages. The regions of
   * large pages stay marked (INVLPG then drops a whole region, which is
   * allowed).
   */
  flushNonGlobal(): void {
    if (this.filled.overflow) {
      this.flush();
      return;
    }
    // A page entered since as global keeps its entry: only flushes that bump globalGeneration drop those.
    this.filled.drop(this, true);
    this.generation++;
  }

  /** INVLPG: drops the entry of the page holding `linear`, global or not. */
  flushPage(linear: number): void {
    // A 4 MiB/2 MiB page is entered as many 4K entries; INVLPG of any
    // address in it must drop them all.
    const region = linear >>> 22;
    if (this.largeRegions[region]) {
      this.dropRange(region << 10, (region + 1) << 10);
      this.globalGeneration++;
    } else {
      if (this.info[linear >>> 12]! & TLB_GLOBAL) this.globalGeneration++;
      this.dropEntry(linear >>> 12);
    }
    this.generation++;
  }

  /** Drops the entry of linear page `page`. */
  dropEntry(page: number): void {
    this.info[page] = 0;
    this.fastRead[0][page] = FAST_NONE;
    this.fastRead[1][page] = FAST_NONE;
    this.fastWrite[0][page] = FAST_NONE;
    this.fastWrite[1][page] = FAST_NONE;
  }

  /** Drops the entries of linear pages [from, to). */
  private dropRange(from: number, to: number): void {
    this.info.fill(0, from, to);
    for (const t of [...this.fastRead, ...this.fastWrite]) t.fill(FAST_NONE, from, to);
  }

  /**
   * Notes that code was decoded from RAM page `frame`, so that writes to it
   * from now on take the slow path, which tells onCodeWrite: its fast write
   * entries go (all of them, when the lists of entered pages overflowed).
   */
  markCode(frame: number): void {
    if (this.codePages[frame]) return;
    this.codePages[frame] = 1;
    if (this.filled.overflow || this.filledGlobal.overflow) {
      this.fastWrites.fill(FAST_NONE);
      return;
    }
    this.filled.dropWritesTo(this, frame);
    this.filledGlobal.dropWritesTo(this, frame);
  }

  /**
   * Sets the fast-path entries of linear page `page` from its TLB entry
   * `info`: RAM the entry lets each class of access reach, and for writes
   * RAM that is neither read-only nor holding decoded code.
   */
  private enterFast(page: number, info: number): void {
    const ram = (info & (TLB_VALID | TLB_RAM)) === (TLB_VALID | TLB_RAM);
    const entry = ram ? (ramPage(info) ^ page) << 12 : FAST_NONE;
    const writable = ram && !(info & TLB_ROM) && !this.codePages[ramPage(info)];
    this.fastRead[0][page] = entry;
    this.fastRead[1][page] = info & TLB_UR ? entry : FAST_NONE;
    this.fastWrite[0][page] = writable && info & TLB_SW ? entry : FAST_NONE;
    this.fastWrite[1][page] = writable && info & TLB_UW ? entry : FAST_NONE;
  }

  /** The fast-path entries for reads or writes at the current CPL. */
  fastTable(write: boolean): Int32Array {
    const user = this.ctl.cpl === 3 ? 1 : 0;
    return write ? this.fastWrite[user] : this.fastRead[user];
  }

  /** Where the current CPL's entries start in fastReads and fastWrites: 0 or FAST_USER. */
  fastHalf(): number {
    return this.ctl.cpl === 3 ? FAST_USER : 0;
  }

  // ---- reads -------------------------------------------------------------

  private readMask(): number {
    return this.ctl.cpl === 3 ? TLB_VALID | TLB_UR : TLB_VALID;
  }

  private writeMask(): number {
    return this.ctl.cpl === 3 ? TLB_VALID | TLB_UW : TLB_VALID | TLB_SW;
  }

  read8(lin: number): number {
    const entry = this.fastTable(false)[lin >>> 12]!;
    if (fastOk(entry, lin, 1)) return this.ram[(entry ^ lin) >>> 0]!;
    return this.slowRead(lin, 1, Access.Read);
  }

  read16(lin: number): number {
    const entry = this.fastTable(false)[lin >>> 12]!;
    if (fastOk(entry, lin, 2)) return this.view.getUint16((entry ^ lin) >>> 0, true);
    return this.slowRead(lin, 2, Access.Read);
  }

  read32(lin: number): number {
    const entry = this.fastTable(false)[lin >>> 12]!;
    if (fastOk(entry, lin, 4)) return this.view.getUint32((entry ^ lin) >>> 0, true);
    return this.slowRead(lin, 4, Access.Read);
  }

  /** Instruction fetch of one byte (checks NX). */
  fetch8(lin: number): number {
    const page = lin >>> 12;
    const m = this.readMask() | TLB_RAM;
    const info = this.info[page]!;
    if ((info & m) === m && !(info & TLB_NX)) return this.ram[ramIndex(info, lin)]!;
    return this.slowRead(lin, 1, Access.Exec);
  }

  /**
   * Reads for a read-modify-write: checks write permission first, as the
   * locked read does. A fast-path write entry answers both at once.
   */
  readForWrite(lin: number, size: 1 | 2 | 4): number {
    const entry = this.fastTable(true)[lin >>> 12]!;
    if (fastOk(entry, lin, size)) return this.ramRead((entry ^ lin) >>> 0, size);
    this.probeWrite(lin, size);
    return size === 1 ? this.read8(lin) : size === 2 ? this.read16(lin) : this.read32(lin);
  }

  /** Makes sure every page of [lin, lin+size) is writable now (faults otherwise). */
  probeWrite(lin: number, size: number): void {
    const m = this.writeMask();
    if ((this.info[lin >>> 12]! & m) !== m) this.fill(lin, Access.Write);
    const last = (lin + size - 1) >>> 0;
    if (last >>> 12 !== lin >>> 12 && (this.info[last >>> 12]! & m) !== m) this.fill(last, Access.Write);
  }

  private slowRead(lin: number, size: number, access: Access): number {
    if (this.watching && access !== Access.Exec && this.touchesWatched(lin, size)) this.onWatchedAccess(lin, size, false);
    if ((lin & 0xfff) + size > 0x1000) {
      // Crosses a page: both pages are checked before anything is returned.
      let v = 0;
      const first = this.physFor(lin, access);
      const secondLin = (lin + size - 1) >>> 0;
      this.physFor(secondLin, access);
      for (let i = 0; i < size; i++) {
        const b = this.readPhys8(i === 0 ? first : this.physFor((lin + i) >>> 0, access));
        v |= b << (8 * i);
      }
      return v >>> 0;
    }
    const phys = this.physFor(lin, access);
    const info = this.info[lin >>> 12]!;
    if (info & TLB_RAM) {
      return this.ramRead(ramIndex(info, lin), size);
    }
    return this.readPhysSized(phys, size);
  }

  /** The `size`-byte little-endian value at RAM index `index`. */
  private ramRead(index: number, size: number): number {
    return size === 1 ? this.ram[index]! : size === 2 ? this.view.getUint16(index, true) : this.view.getUint32(index, true);
  }

  // ---- writes ------------------------------------------------------------

  write8(lin: number, v: number): void {
    const entry = this.fastTable(true)[lin >>> 12]!;
    if (fastOk(entry, lin, 1)) this.ram[(entry ^ lin) >>> 0] = v;
    else this.slowWrite(lin, 1, v);
  }

  write16(lin: number, v: number): void {
    const entry = this.fastTable(true)[lin >>> 12]!;
    if (fastOk(entry, lin, 2)) this.view.setUint16((entry ^ lin) >>> 0, v, true);
    else this.slowWrite(lin, 2, v);
  }

  write32(lin: number, v: number): void {
    const entry = this.fastTable(true)[lin >>> 12]!;
    if (fastOk(entry, lin, 4)) this.view.setUint32((entry ^ lin) >>> 0, v >>> 0, true);
    else this.slowWrite(lin, 4, v);
  }

  private slowWrite(lin: number, size: number, v: number): void {
    if (this.watching && this.touchesWatched(lin, size)) this.onWatchedAccess(lin, size, true);
    if ((lin & 0xfff) + size > 0x1000) {
      // Check both pages before writing a byte (no partial writes on #PF).
      this.probeWrite(lin, size);
      for (let i = 0; i < size; i++) this.write8((lin + i) >>> 0, (v >>> (8 * i)) & 0xff);
      return;
    }
    const phys = this.physFor(lin, Access.Write);
    const info = this.info[lin >>> 12]!;
    if ((info & (TLB_RAM | TLB_ROM)) === TLB_RAM) {
      const f = ramPage(info);
      if (this.codePages[f]) this.onCodeWrite(f);
      const off = ramIndex(info, lin);
      if (size === 1) this.ram[off] = v;
      else if (size === 2) this.view.setUint16(off, v & 0xffff, true);
      else this.view.setUint32(off, v >>> 0, true);
      // Once the page's code is dropped, or after markCode had to drop every entry, its writes may go fast again.
      this.enterFast(lin >>> 12, info);
      return;
    }
    this.writePhysSized(phys, size, v);
  }

  // ---- physical access (page walks, descriptor tables go linear though) ----

  readPhys8(phys: number): number {
    return this.mem.read8(phys);
  }

  private readPhysSized(phys: number, size: number): number {
    if (size === 1) return this.mem.read8(phys);
    if (size === 2) return this.mem.read16(phys);
    return this.mem.read32(phys);
  }

  private writePhysSized(phys: number, size: number, v: number): void {
    if (size === 1) this.mem.write8(phys, v & 0xff);
    else if (size === 2) this.mem.write16(phys, v & 0xffff);
    else this.mem.write32(phys, v >>> 0);
  }

  /** Physical address of `lin` for `access` at the current CPL, filling the TLB (may throw #PF). */
  physFor(lin: number, access: Access): number {
    const page = lin >>> 12;
    const info = this.info[page]!;
    const need = access === Access.Write ? this.writeMask() : this.readMask();
    if ((info & need) !== need || (access === Access.Exec && info & TLB_NX)) this.fill(lin, access);
    const filled = this.info[page]!;
    if (filled & TLB_RAM) return this.ramFrameToPhys(ramPage(filled)) + (lin & 0xfff);
    return this.physPage[page]! * 4096 + (lin & 0xfff);
  }

  /**
   * Offset into `ram` of `lin` for `access` at the current CPL (filling the
   * TLB, may throw #PF), or -1 when the page is not RAM. For bulk string ops.
   */
  ramOffsetFor(lin: number, access: Access): number {
    this.physFor(lin, access);
    const page = lin >>> 12;
    if (this.watchedPages[page]) return -1; // element by element, so that data breakpoints see each access
    const info = this.info[page]!;
    if (access === Access.Write && info & TLB_ROM) return -1;
    return info & TLB_RAM ? ramIndex(info, lin) : -1;
  }

  private touchesWatched(lin: number, size: number): boolean {
    return this.watchedPages[lin >>> 12] !== 0 || this.watchedPages[((lin + size - 1) >>> 0) >>> 12] !== 0;
  }

  /** RAM page index back to a physical address (RAM above lowRamTop lives at 4 GiB). */
  private ramFrameToPhys(f: number): number {
    const off = f * 4096;
    return off < this.mem.lowRamTop ? off : off - this.mem.lowRamTop + 0x1_0000_0000;
  }

  /**
   * Walks the page tables for `lin` and enters the page in the TLB, or
   * throws #PF with CR2 set (SDM Vol. 3A, 4.7).
   */
  fill(lin: number, access: Access): void {
    const user = this.ctl.cpl === 3;
    const w = this.walk(lin, access, user, true);
    if (w < 0) return; // unreachable: walk throws when asked to
    if (this.walkLarge) {
      this.largeEntered = true;
      this.largeRegions[lin >>> 22] = 1;
    }
    this.enter(lin >>> 12, this.walkPhys, this.walkInfo);
  }

  private enter(page: number, phys: number, info: number): void {
    phys = this.a20(phys);
    let off = this.mem.ramOffset(phys);
    if (off < 0) {
      off = this.mem.readOnlyRamOffset(phys);
      if (off >= 0) info = (info & ~(TLB_SW | TLB_UW)) | TLB_ROM;
    }
    if (off >= 0) info |= TLB_RAM | (off & TLB_FRAME);
    else this.physPage[page] = Math.floor(phys / 4096);
    this.info[page] = this.watchedPages[page] ? info & ~TLB_VALID : info;
    this.enterFast(page, this.info[page]!);
    (info & TLB_GLOBAL ? this.filledGlobal : this.filled).add(page);
  }

  private a20(phys: number): number {
    return phys < 0x1_0000_0000 ? (phys & this.a20Mask) >>> 0 : phys;
  }

  private walkPhys = DOUBLE_ZERO;
  private walkInfo = 0;
  private walkLarge = false;

  /**
   * The page walk. On success sets walkPhys (page base) and walkInfo and
   * returns 0. On a fault: throws #PF when `commit`, else returns -1.
   * With `commit` the accessed/dirty bits are set.
   */
  private walk(lin: number, access: Access, user: boolean, commit: boolean): number {
    const ctl = this.ctl;
    this.walkLarge = false;
    if (!(ctl.cr0 & CR0_PG)) {
      this.walkPhys = (lin & 0xfffff000) >>> 0;
      this.walkInfo = TLB_VALID | TLB_SW | TLB_UR | TLB_UW;
      return 0;
    }
    const write = access === Access.Write;
    const wp = (ctl.cr0 & CR0_WP) !== 0;
    let userOk: boolean;
    let writeOk: boolean;
    let nx = false;
    let dirty: boolean;
    let phys: number;
    let fault = -1; // error code bit 0 (P) decided below
    let leafAddr: number; // physical address of the leaf entry
    let leafLo: number;
    const upper: number[] = []; // physical addresses of non-leaf entries to mark accessed
    if (ctl.cr4 & CR4_PAE) {
      const nxe = (ctl.efer & EFER_NXE) !== 0;
      const pdpteAddr = ((ctl.cr3 & 0xffffffe0) >>> 0) + ((lin >>> 30) << 3);
      const pdpte = this.readEntry64(pdpteAddr);
      if (!(pdpte.lo & P)) return this.pageFault(lin, 0, access, user, commit);
      const pdeAddr = entryBase(pdpte) + (((lin >>> 21) & 0x1ff) << 3);
      const pde = this.readEntry64(pdeAddr);
      if (!(pde.lo & P)) return this.pageFault(lin, 0, access, user, commit);
      if (nxe && pde.hi & 0x8000_0000) nx = true;
      userOk = (pde.lo & US) !== 0;
      writeOk = (pde.lo & RW) !== 0;
      if (pde.lo & PS) {
        this.walkLarge = true;
        leafAddr = pdeAddr;
        leafLo = pde.lo;
        phys = entryBase(pde) - (entryBase(pde) % 0x20_0000) + (lin & 0x1ff000);
      } else {
        upper.push(pdeAddr);
        const pteAddr = entryBase(pde) + (((lin >>> 12) & 0x1ff) << 3);
        const pte = this.readEntry64(pteAddr);
        if (!(pte.lo & P)) return this.pageFault(lin, 0, access, user, commit);
        if (nxe && pte.hi & 0x8000_0000) nx = true;
        userOk &&= (pte.lo & US) !== 0;
        writeOk &&= (pte.lo & RW) !== 0;
        leafAddr = pteAddr;
        leafLo = pte.lo;
        phys = entryBase(pte);
      }
    } else {
      const pdeAddr = ((ctl.cr3 & 0xfffff000) >>> 0) + ((lin >>> 22) << 2);
      const pde = this.mem.read32(this.a20(pdeAddr));
      if (!(pde & P)) return this.pageFault(lin, 0, access, user, commit);
      userOk = (pde & US) !== 0;
      writeOk = (pde & RW) !== 0;
      if (pde & PS && ctl.cr4 & CR4_PSE) {
        this.walkLarge = true;
        leafAddr = pdeAddr;
        leafLo = pde;
        // PSE-36: bits 13..20 of the PDE are physical address bits 32..39.
        phys = ((pde & 0xffc00000) >>> 0) + ((pde >>> 13) & 0xff) * 0x1_0000_0000 + (lin & 0x3ff000);
      } else {
        upper.push(pdeAddr);
        const pteAddr = ((pde & 0xfffff000) >>> 0) + (((lin >>> 12) & 0x3ff) << 2);
        const pte = this.mem.read32(this.a20(pteAddr));
        if (!(pte & P)) return this.pageFault(lin, 0, access, user, commit);
        userOk &&= (pte & US) !== 0;
        writeOk &&= (pte & RW) !== 0;
        leafAddr = pteAddr;
        leafLo = pte;
        phys = (pte & 0xfffff000) >>> 0;
      }
    }
    // Permission checks (SDM Vol. 3A, 4.6).
    if (user && !userOk) fault = 1;
    else if (write && !writeOk && (user || wp)) fault = 1;
    else if (access === Access.Exec && nx) fault = 1;
    if (fault >= 0) return this.pageFault(lin, 1, access, user, commit);
    dirty = (leafLo & D) !== 0;
    if (commit) {
      for (const a of upper) this.setBits(a, A);
      if (write && !dirty) {
        this.setBits(leafAddr, A | D);
        dirty = true;
      } else if (!(leafLo & A)) {
        this.setBits(leafAddr, A);
      }
    }
    let info = TLB_VALID;
    if (userOk) info |= TLB_UR;
    if (dirty) {
      if (writeOk || !wp) info |= TLB_SW;
      if (writeOk && userOk) info |= TLB_UW;
    }
    if (nx) info |= TLB_NX;
    if (leafLo & G && ctl.cr4 & CR4_PGE) info |= TLB_GLOBAL;
    this.walkPhys = phys;
    this.walkInfo = info;
    return 0;
  }

  private setBits(entryAddr: number, bits: number): void {
    const a = this.a20(entryAddr);
    const v = this.mem.read32(a);
    if ((v & bits) !== bits) this.mem.write32(a, (v | bits) >>> 0);
  }

  private readEntry64(addr: number): { lo: number; hi: number } {
    const a = this.a20(addr);
    return { lo: this.mem.read32(a), hi: this.mem.read32(a + 4) };
  }

  private pageFault(lin: number, present: number, access: Access, user: boolean, commit: boolean): number {
    if (!commit) return -1;
    let code = present;
    if (access === Access.Write) code |= 2;
    if (user) code |= 4;
    if (access === Access.Exec && this.ctl.cr4 & CR4_PAE && this.ctl.efer & EFER_NXE) code |= 0x10;
    this.ctl.cr2 = lin >>> 0;
    throw new CpuFault(PFV, code);
  }

  /**
   * Enters `lin` in the TLB for an instruction fetch at the current CPL, as
   * the fetch would (accessed bits included), if that fetch would not fault;
   * returns false, changing nothing, if it would. For the translator's
   * lookup, which leaves faults to the interpreter.
   */
  fillForFetch(lin: number): boolean {
    if (this.walk(lin, Access.Exec, this.ctl.cpl === 3, false) < 0) return false;
    this.fill(lin, Access.Exec);
    return true;
  }

  /** Linear to physical without side effects (monitor, gdbstub); -1 when unmapped. */
  translate(lin: number): number {
    if (this.walk(lin >>> 0, Access.Read, false, false) < 0) return -1;
    return this.a20(this.walkPhys) + (lin & 0xfff);
  }
}

/** Physical base of the page (table) a 64-bit PAE entry points to (bits 12..51). */
function entryBase(e: { lo: number; hi: number }): number {
  return ((e.lo & 0xfffff000) >>> 0) + (e.hi & 0xfffff) * 0x1_0000_0000;
}
