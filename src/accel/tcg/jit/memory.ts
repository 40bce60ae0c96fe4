/**
 * What translated code needs for its inline fast path of data accesses.
 *
 * A block cannot change segment registers, CPL, EFLAGS.AC or CR0 except as
 * its last instruction, so at entry it reads once per segment it uses the
 * offset below which accesses may go straight to the TLB (the segment
 * checks of Cpu.linear would certainly pass): Cpu.fastEnd, which the CPU
 * keeps from these rules whenever a segment, the CPL or #AC changes, as it
 * keeps where the MMU's fast-path entries for the CPL start (tlbHalf:
 * mmu.ts). Each access then checks its offset against that and its page's
 * entry inline (accesses through one base register in a flat segment, once
 * for all of them: codegen.ts's windows); otherwise the block leaves before
 * the instruction and the interpreter runs it (codegen.ts's SLOW_EXIT),
 * repeating every check. In a segment that was flat when the block was
 * translated (FLAT_END) it checks only the entry. Only cases where the full
 * path would certainly succeed with the same address take the fast path,
 * and an instruction's accesses before the one that leaves are reads of
 * RAM, so running it again from its start repeats no effect.
 */
import { ATTR_UNUSABLE } from '../constants.js';
import { TLB_RAM, TLB_UR, TLB_VALID } from '../mmu.js';

// Descriptor type bits: 8 code, 4 expand-down (data), 2 writable (data).

/** A usable data segment that is not expand-down: readable at any offset up to the limit. */
export function fastReadable(attr: number): boolean {
  return (attr & (ATTR_UNUSABLE | 0xc)) === 0;
}

/** ... and writable. */
export function fastWritable(attr: number): boolean {
  return (attr & (ATTR_UNUSABLE | 0xe)) === 2;
}

/**
 * Cpu.fastEnd of a flat segment (base 0, limit 4 GiB - 1, no #AC): an
 * access below its end passes the segment checks, and one at or past it
 * crosses 4 GiB, so also its page: translated code compiled while the
 * segment was flat checks only the page (Cpu.flat; codegen.ts).
 */
export const FLAT_END = 0xffff_fffd;

/**
 * Cpu.flat's bit for a CS limit of 4 GiB - 1: no EIP lies past it, so code
 * translated while it held does not check jump targets against the limit.
 */
export const FLAT_CS = 1 << 14;

/** Whether an access through fastEnd entry `end` of a segment at `base` needs no segment check (FLAT_END). */
export function fastFlat(base: number, end: number): boolean {
  return base === 0 && end === FLAT_END;
}

/** TLB bits a read (or fetch) at privilege `cpl` needs to go straight to RAM. */
export function fastReadNeed(cpl: number): number {
  return cpl === 3 ? TLB_VALID | TLB_UR | TLB_RAM : TLB_VALID | TLB_RAM;
}
