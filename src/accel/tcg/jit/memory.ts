/**
 * What translated code needs for its inline fast path of data accesses.
 *
 * A block cannot change segment registers, CPL, EFLAGS.AC or CR0 except as
 * its last instruction, so at entry it asks once per segment it uses: up to
 * which offset may accesses go straight to the TLB (the segment checks of
 * Cpu.linear would certainly pass), or -1 if none may. Each access then
 * checks its offset against that and the TLB entry inline, and falls back to
 * Cpu.read/write (which repeat every check and may fault) otherwise. Only
 * cases where the full path would certainly succeed with the same address
 * take the fast path, so falling back never repeats an effect.
 */
import { ATTR_UNUSABLE } from '../constants.js';
import { TLB_RAM, TLB_SW, TLB_UR, TLB_UW, TLB_VALID } from '../mmu.js';

// Descriptor type bits: 8 code, 4 expand-down (data), 2 writable (data).
/** A usable data segment that is not expand-down: readable at any offset up to the limit. */
const READ_ATTR_MASK = ATTR_UNUSABLE | 0xc;
/** ... and writable. */
const WRITE_ATTR_MASK = ATTR_UNUSABLE | 0xe;

// Each answer is JavaScript source for the block prologue (`c` the Cpu), constants folded in: as
// functions they inlined with a load and a TDZ check per imported constant, in every block.

/** Highest offset + size - 1 a read of `seg` may reach on the fast path, or -1. */
export function fastReadLimit(seg: number): string {
  return `c.alignmentCheck || (c.segAttr[${seg}] & ${READ_ATTR_MASK}) !== 0 ? -1 : c.segLimit[${seg}]`;
}

/** Highest offset + size - 1 a write of `seg` may reach on the fast path, or -1. */
export function fastWriteLimit(seg: number): string {
  return `c.alignmentCheck || (c.segAttr[${seg}] & ${WRITE_ATTR_MASK}) !== 2 ? -1 : c.segLimit[${seg}]`;
}

/** TLB bits a read at the current CPL needs for the RAM fast path. */
export const READ_NEED = `c.cpl === 3 ? ${TLB_VALID | TLB_UR | TLB_RAM} : ${TLB_VALID | TLB_RAM}`;

/** TLB bits a write at the current CPL needs for the RAM fast path. */
export const WRITE_NEED = `c.cpl === 3 ? ${TLB_VALID | TLB_UW | TLB_RAM} : ${TLB_VALID | TLB_SW | TLB_RAM}`;
