/**
 * The debug registers at work (SDM Vol. 3B, chapter 17 "Debug, Branch
 * Profile, TSC, and Intel Resource Director Technology Features"): DR0-DR3
 * hold linear addresses (or I/O ports), DR7 enables them and gives each one
 * a type and a length, DR6 reports what hit.
 *
 * Instruction breakpoints are faults checked before an instruction runs
 * (the interpreter asks instructionBreakpointHits). Data breakpoints are
 * traps: the MMU reports accesses to the linear pages they cover
 * (Mmu.watchedPages) and recordDataAccess keeps the DR6 bits of those that
 * hit until the instruction completes. I/O breakpoints (type 10, only with
 * CR4.DE) are recorded by the port-access path the same way.
 */
import type { Cpu } from './cpu.js';
import { CR4_DE } from './constants.js';

/** DR6 bits (SDM Vol. 3B 17.2.3). */
export const DR6_BD = 1 << 13;
export const DR6_BS = 1 << 14;
/** B0-B3: which of DR0-DR3 hit. */
const DR6_HITS = 0xf;
/** Bits of DR6 that read as 1 whatever is written (P6 family). */
export const DR6_FIXED = 0xffff_0ff0;

/** DR7 bits (SDM Vol. 3B 17.2.4). */
export const DR7_GD = 1 << 13;
/** L0-L3: cleared by every hardware task switch. */
export const DR7_LOCAL = 0x55;
/** Reserved bit 10 reads as 1; bits 11, 12, 14, 15 as 0. */
const DR7_FIXED = 0x400;
const DR7_ZERO = 0xd800;

/** R/W field encodings. */
const RW_EXEC = 0;
const RW_WRITE = 1;
const RW_IO = 2;
const RW_ACCESS = 3;

/** Whether DRn is enabled (Ln or Gn). */
function enabled(dr7: number, n: number): boolean {
  return ((dr7 >>> (2 * n)) & 3) !== 0;
}

function rwField(dr7: number, n: number): number {
  return (dr7 >>> (16 + 4 * n)) & 3;
}

/** Bytes covered by DRn: LEN 00/01/11 = 1/2/4 (10 is undefined on 32-bit processors; taken as 8 as later CPUs do). */
function lenField(dr7: number, n: number): number {
  return [1, 2, 8, 4][(dr7 >>> (18 + 4 * n)) & 3]!;
}

/** DR7 as MOV DR7 stores it. */
export function dr7Value(v: number): number {
  return ((v & ~DR7_ZERO) | DR7_FIXED) >>> 0;
}

/**
 * Recomputes what the CPU checks from DR0-DR3, DR7 and CR4.DE: call after
 * any of them changes. Data breakpoints mark their linear pages in the MMU,
 * which then sends every data access to those pages through its slow path.
 */
export function updateBreakpoints(c: Cpu): void {
  const dr7 = c.dr[7]!;
  let exec = 0;
  let data = 0;
  let io = 0;
  for (let n = 0; n < 4; n++) {
    if (!enabled(dr7, n)) continue;
    const rw = rwField(dr7, n);
    if (rw === RW_EXEC) exec |= 1 << n;
    else if (rw === RW_IO) io |= c.cr4 & CR4_DE ? 1 << n : 0;
    else data |= 1 << n;
  }
  c.execBreakpoints = exec;
  c.ioBreakpoints = io;
  c.debugArmed = (exec | data | io) !== 0;
  watchDataPages(c, data);
}

function watchDataPages(c: Cpu, data: number): void {
  const mmu = c.mmu;
  const pages: number[] = [];
  for (let n = 0; n < 4; n++) {
    if (!(data & (1 << n))) continue;
    const { start, len } = dataRange(c, n);
    pages.push(start >>> 12, ((start + len - 1) >>> 0) >>> 12);
  }
  if (pages.length === 0 && !mmu.watching) return;
  mmu.watchedPages.fill(0);
  for (const p of pages) mmu.watchedPages[p] = 1;
  mmu.watching = pages.length > 0;
  mmu.flush();
}

/** The linear range DRn watches: its address aligned down to its length (SDM 17.2.5). */
function dataRange(c: Cpu, n: number): { start: number; len: number } {
  const len = lenField(c.dr[7]!, n);
  return { start: (c.dr[n]! & ~(len - 1)) >>> 0, len };
}

/** B0-B3 bits of the enabled instruction breakpoints at linear address `lin` (LEN must be 00). */
export function instructionBreakpointHits(c: Cpu, lin: number): number {
  let hits = 0;
  for (let n = 0; n < 4; n++) {
    if (c.execBreakpoints & (1 << n) && c.dr[n] === lin) hits |= 1 << n;
  }
  return hits;
}

/** Notes a data access of [lin, lin+size) against the enabled data breakpoints (write-only ones ignore reads). */
export function recordDataAccess(c: Cpu, lin: number, size: number, write: boolean): void {
  const dr7 = c.dr[7]!;
  for (let n = 0; n < 4; n++) {
    if (!enabled(dr7, n)) continue;
    const rw = rwField(dr7, n);
    if (rw !== RW_ACCESS && !(rw === RW_WRITE && write)) continue;
    const { start, len } = dataRange(c, n);
    if (overlaps(lin, size, start, len)) c.debugTraps |= 1 << n;
  }
}

/** Notes a port access of [port, port+size) against the enabled I/O breakpoints (CR4.DE=1). */
export function recordIoAccess(c: Cpu, port: number, size: number): void {
  const dr7 = c.dr[7]!;
  for (let n = 0; n < 4; n++) {
    if (!(c.ioBreakpoints & (1 << n))) continue;
    const len = lenField(dr7, n);
    if (overlaps(port, size, (c.dr[n]! & 0xffff & ~(len - 1)) >>> 0, len)) c.debugTraps |= 1 << n;
  }
}

function overlaps(a: number, aLen: number, b: number, bLen: number): boolean {
  return a < b + bLen && b < a + aLen;
}

/**
 * DR6 for a #DB reporting `bits` (B0-B3, BS, BD). Breakpoint hits
 * replace B0-B3 (they describe this exception); the other bits accumulate
 * until software clears them (SDM 17.2.3).
 */
export function reportInDr6(c: Cpu, bits: number): void {
  let dr6 = c.dr[6]!;
  if (bits & DR6_HITS) dr6 &= ~DR6_HITS;
  c.dr[6] = (dr6 | bits | DR6_FIXED) >>> 0;
}

/** Entering the #DB handler clears DR7.GD so that it may use the debug registers (SDM 17.2.4). */
export function enterDebugHandler(c: Cpu): void {
  c.dr[7] = (c.dr[7]! & ~DR7_GD) >>> 0;
}
