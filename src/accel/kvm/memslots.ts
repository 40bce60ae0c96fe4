/**
 * Which guest-physical ranges become KVM memory slots.
 *
 * The address space's page map is the single source of truth: runs of RAM
 * pages become read-write slots over the shared RAM mapping (the PC's holes
 * at 0xA0000 and below 4 GiB fall out of the map), runs of ROM pages become
 * read-only slots (KVM_MEM_READONLY: reads run at full speed, writes exit as
 * MMIO and are dropped by the address space), and MMIO or unassigned pages
 * get no slot, so every access to them exits to tsvm.
 */
import { PAGE_SIZE, type AddressSpace, type RomRegion } from '../../memory/address-space.js';

const FOUR_GIB = 0x1_0000_0000;

export type SlotPlan =
  /** `offset` into the RAM buffer. */
  | { kind: 'ram'; base: number; size: number; offset: number }
  /** `offset` into the ROM region's data. */
  | { kind: 'rom'; base: number; size: number; region: RomRegion; offset: number };

export function planSlots(mem: AddressSpace, readonlyMem: boolean): SlotPlan[] {
  const plans: SlotPlan[] = [];
  const pages = mem.pageMap.length;
  let p = 0;
  while (p < pages) {
    const first = mem.pageMap[p]!;
    let end = p + 1;
    while (end < pages && mem.pageMap[end] === nextValue(first, end - p)) end++;
    const base = p * PAGE_SIZE;
    const size = (end - p) * PAGE_SIZE;
    if (first >= 0) {
      plans.push({ kind: 'ram', base, size, offset: first * PAGE_SIZE });
    } else if (first <= -2 && readonlyMem) {
      const region = mem.regions[-2 - first]!;
      if (region.kind === 'rom') plans.push({ kind: 'rom', base, size, region, offset: base - region.base });
    }
    p = end;
  }
  if (mem.highRamSize > 0) plans.push({ kind: 'ram', base: FOUR_GIB, size: mem.highRamSize, offset: mem.lowRamTop });
  return plans;
}

/** RAM runs continue page by page; region runs repeat the same region number. */
function nextValue(first: number, distance: number): number {
  return first >= 0 ? first + distance : first;
}

/** Bytes of host memory a ROM region needs as a slot (its data, rounded up to pages). */
export function romBytes(region: RomRegion): number {
  return Math.ceil(region.data.length / PAGE_SIZE) * PAGE_SIZE;
}
