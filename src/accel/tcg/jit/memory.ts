/**
 * The fast path of guest data accesses for translated code: segment offset
 * to an index into guest RAM, or -1 when anything needs the full path
 * (Cpu.read/write: segment checks that could fault, #AC, a TLB miss, MMIO,
 * a page-crossing access, a store to a page holding code). Only cases where
 * the full path would certainly succeed with the same address take the fast
 * path, so the generated code can fall back without repeating any effect.
 */
import type { Cpu } from '../cpu.js';
import { ATTR_UNUSABLE } from '../constants.js';
import { TLB_RAM, TLB_SW, TLB_UR, TLB_UW, TLB_VALID } from '../mmu.js';

// Descriptor type bits: 8 code, 4 expand-down (data), 2 writable (data).
/** A usable data segment that is not expand-down: readable at any offset up to the limit. */
const READ_ATTR_MASK = ATTR_UNUSABLE | 0xc;
/** ... and writable. */
const WRITE_ATTR_MASK = ATTR_UNUSABLE | 0xe;

/** RAM index of a `size`-byte read at seg:off, or -1. */
export function ramIndexForRead(c: Cpu, seg: number, off: number, size: number): number {
  if (c.alignmentCheck || (c.segAttr[seg]! & READ_ATTR_MASK) !== 0 || off > c.segLimit[seg]! - size + 1) return -1;
  const lin = (c.segBase[seg]! + off) >>> 0;
  if ((lin & 0xfff) > 0x1000 - size) return -1;
  const mmu = c.mmu;
  const need = c.cpl === 3 ? TLB_VALID | TLB_UR | TLB_RAM : TLB_VALID | TLB_RAM;
  if ((mmu.info[lin >>> 12]! & need) !== need) return -1;
  return mmu.frame[lin >>> 12]! * 4096 + (lin & 0xfff);
}

/** RAM index of a `size`-byte write at seg:off, or -1 (also for pages holding translated or decoded code). */
export function ramIndexForWrite(c: Cpu, seg: number, off: number, size: number): number {
  if (c.alignmentCheck || (c.segAttr[seg]! & WRITE_ATTR_MASK) !== 2 || off > c.segLimit[seg]! - size + 1) return -1;
  const lin = (c.segBase[seg]! + off) >>> 0;
  if ((lin & 0xfff) > 0x1000 - size) return -1;
  const mmu = c.mmu;
  const need = c.cpl === 3 ? TLB_VALID | TLB_UW | TLB_RAM : TLB_VALID | TLB_SW | TLB_RAM;
  if ((mmu.info[lin >>> 12]! & need) !== need) return -1;
  const frame = mmu.frame[lin >>> 12]!;
  if (mmu.codePages[frame]) return -1;
  return frame * 4096 + (lin & 0xfff);
}
