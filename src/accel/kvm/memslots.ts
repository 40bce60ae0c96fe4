/**
 * Which guest-physical ranges become KVM memory slots.
 *
 * The address space's page map is the single source of truth: runs of RAM
 * pages become read-write slots over the shared RAM mapping (the PC's holes
 * at 0xA0000 and below 4 GiB fall out of the map), runs of ROM pages become
 * read-only slots (KVM_MEM_READONLY: reads run at full speed, writes exit as
 * MMIO and are dropped by the address space), RAM the chipset makes
 * read-only (a PAM read-only shadow) a read-only slot of the RAM mapping, and
 * MMIO or unassigned pages get no slot, so every access to them exits to tsvm.
 *
 * A run never crosses the edge of a remap window (the PAM window
 * 0xC0000-0xFFFFF), so a remap there changes only the window's own slots,
 * and only they are planned again (planRange).
 */
import { PAGE_SIZE, type AddressSpace, type RomRegion } from '../../memory/address-space.js';

const FOUR_GIB = 0x1_0000_0000;

export type SlotPlan =
  /** `offset` into the RAM buffer; `readonly` for a read-only shadow. */
  | { kind: 'ram'; base: number; size: number; offset: number; readonly: boolean }
  /** `offset` into the ROM region's data. */
  | { kind: 'rom'; base: number; size: number; region: RomRegion; offset: number };

/** The slots for all of guest memory. */
export function planSlots(mem: AddressSpace, readonlyMem: boolean): SlotPlan[] {
  const edges = [...new Set(mem.remapWindows.flatMap((w) => [w.base, w.base + w.size]))].sort((x, y) => x - y);
  const plans: SlotPlan[] = [];
  let from = 0;
  for (const to of [...edges, FOUR_GIB]) {
    plans.push(...planRange(mem, readonlyMem, from, to));
    from = to;
  }
  if (mem.highRamSize > 0) plans.push({ kind: 'ram', base: FOUR_GIB, size: mem.highRamSize, offset: mem.lowRamTop, readonly: false });
  return plans;
}

/** The slots for the pages of [from, to), page aligned below 4 GiB (a remap window, or what lies between them). */
export function planRange(mem: AddressSpace, readonlyMem: boolean, from: number, to: number): SlotPlan[] {
  const plans: SlotPlan[] = [];
  const pages = to / PAGE_SIZE;
  let p = from / PAGE_SIZE;
  while (p < pages) {
    const first = mem.pageMap[p]!;
    let end = p + 1;
    while (end < pages && mem.pageMap[end] === nextValue(first, end - p)) end++;
    const base = p * PAGE_SIZE;
    const size = (end - p) * PAGE_SIZE;
    if (first >= 0) {
      plans.push({ kind: 'ram', base, size, offset: first * PAGE_SIZE, readonly: false });
    } else if (first <= -2 && readonlyMem) {
      const region = mem.regions[-2 - first]!;
      if (region.kind === 'rom' && region.ramOffset !== undefined) {
        plans.push({ kind: 'ram', base, size, offset: region.ramOffset + (base - region.base), readonly: true });
      } else if (region.kind === 'rom') {
        plans.push({ kind: 'rom', base, size, region, offset: base - region.base });
      }
    }
    p = end;
  }
  return plans;
}

/** RAM runs continue page by page; region runs repeat the same region number. */
function nextValue(first: number, distance: number): number {
  return first >= 0 ? first + distance : first;
}

/** Whether two plans describe the same slot (KVM cannot resize a slot or change its host memory or read-only flag in place). */
export function samePlan(a: SlotPlan, b: SlotPlan): boolean {
  if (a.base !== b.base || a.size !== b.size || a.offset !== b.offset) return false;
  if (a.kind === 'ram' && b.kind === 'ram') return a.readonly === b.readonly;
  return a.kind === 'rom' && b.kind === 'rom' && a.region === b.region;
}

/** Bytes of host memory a ROM region needs as a slot (its data, rounded up to pages). */
export function romBytes(region: RomRegion): number {
  return Math.ceil(region.data.length / PAGE_SIZE) * PAGE_SIZE;
}
