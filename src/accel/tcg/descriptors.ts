/**
 * Segment descriptors and selectors (SDM Vol. 3A, 3.4-3.5): reading them
 * from the GDT/LDT with the table-limit check, decoding base/limit/attributes
 * into the layout the segment caches use, and the TSS stack lookup used on
 * privilege changes.
 */
import type { Cpu } from './cpu.js';
import { CpuFault, tsFault } from './exceptions.js';
import { ATTR_P, ATTR_S, GP } from './constants.js';

export interface Descriptor {
  lo: number;
  hi: number;
  base: number;
  limit: number;
  attr: number;
  /** Linear address of the descriptor (for setting accessed/busy bits). */
  addr: number;
}

export function descType(attr: number): number {
  return attr & 0xf;
}
export function descDpl(attr: number): number {
  return (attr >> 5) & 3;
}
export function isPresent(attr: number): boolean {
  return (attr & ATTR_P) !== 0;
}
/** Code or data (S=1). */
export function isCodeData(attr: number): boolean {
  return (attr & ATTR_S) !== 0;
}
export function isCode(attr: number): boolean {
  return (attr & (ATTR_S | 8)) === (ATTR_S | 8);
}
export function isConforming(attr: number): boolean {
  return isCode(attr) && (attr & 4) !== 0;
}
export function isWritableData(attr: number): boolean {
  return (attr & (ATTR_S | 8 | 2)) === (ATTR_S | 2);
}
export function isReadable(attr: number): boolean {
  return (attr & ATTR_S) !== 0 && (!(attr & 8) || (attr & 2) !== 0);
}

export function decodeDescriptor(lo: number, hi: number, addr: number): Descriptor {
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) >>> 0;
  let limit = (lo & 0xffff) | (hi & 0xf_0000);
  const attr = ((hi >>> 8) & 0xff) | ((hi >>> 12) & 0xf00);
  if (hi & 0x80_0000) limit = ((limit << 12) | 0xfff) >>> 0;
  return { lo: lo >>> 0, hi: hi >>> 0, base, limit, attr, addr };
}

/**
 * Reads the descriptor for `sel` (GDT or LDT by its TI bit). Throws
 * `vector`(sel) when the selector is beyond the table limit.
 */
export function readDescriptor(c: Cpu, sel: number, vector = GP): Descriptor {
  const index = sel & 0xfff8;
  let tableBase: number;
  let tableLimit: number;
  if (sel & 4) {
    if ((c.ldtrAttr & 0x1_0000) !== 0 || (c.ldtrSel & 0xfffc) === 0) throw new CpuFault(vector, sel & 0xfffc);
    tableBase = c.ldtrBase;
    tableLimit = c.ldtrLimit;
  } else {
    tableBase = c.gdtrBase;
    tableLimit = c.gdtrLimit;
  }
  if (index + 7 > tableLimit) throw new CpuFault(vector, sel & 0xfffc);
  const addr = (tableBase + index) >>> 0;
  return decodeDescriptor(c.readSys(addr, 4), c.readSys(addr + 4, 4), addr);
}

/**
 * Sets the accessed bit of a code/data descriptor in memory and in `desc`,
 * so that the segment cache loaded from it has it too (SDM Vol. 3A 3.4.5.1).
 */
export function markAccessed(c: Cpu, desc: Descriptor): void {
  if (desc.hi & 0x100) return;
  desc.hi = (desc.hi | 0x100) >>> 0;
  desc.attr |= 1;
  c.writeSys(desc.addr + 4, 4, desc.hi);
}

/**
 * SS:ESP for privilege level `dpl` from the current TSS (32- or 16-bit,
 * SDM Vol. 3A 7.2.1). #TS(TSS selector) when the TSS is too short.
 */
export function tssStack(c: Cpu, dpl: number): { ss: number; esp: number } {
  const tss32 = (c.trAttr & 8) !== 0;
  if (tss32) {
    const off = 4 + dpl * 8;
    if (off + 5 > c.trLimit) throw tsFault(c.trSel);
    return { esp: c.readSys(c.trBase + off, 4), ss: c.readSys(c.trBase + off + 4, 2) };
  }
  const off = 2 + dpl * 4;
  if (off + 3 > c.trLimit) throw tsFault(c.trSel);
  return { esp: c.readSys(c.trBase + off, 2), ss: c.readSys(c.trBase + off + 2, 2) };
}

/** A selector with the null index (0-3). */
export function isNullSelector(sel: number): boolean {
  return (sel & 0xfffc) === 0;
}

