/**
 * The CPU state direct boot loaders hand over: flat 32-bit protected mode
 * (Linux 32-bit boot protocol, multiboot) and 64-bit long mode with identity
 * page tables (Linux 64-bit boot protocol), plus the GDT and page tables they
 * need in guest RAM.
 *
 * Guest RAM used (documented for the machine and the other loaders):
 *   0x0500-0x051F  boot GDT (4 descriptors)
 *   0x9000-0xEFFF  long-mode page tables (PML4, PDPT, 4 page directories)
 */
import type { AddressSpace } from '../memory/address-space.js';
import { flatSegment, resetCpuState, type CpuState, type GprName, GPR_NAMES } from '../accel/cpu-state.js';

export const BOOT_GDT_ADDR = 0x500;
/** Selectors Linux's boot protocol requires (__BOOT_CS, __BOOT_DS); multiboot accepts any. */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;
const GDT_ENTRIES = 4;
export const BOOT_GDT_SIZE = GDT_ENTRIES * 8;

export const PAGE_TABLES_ADDR = 0x9000;
const PAGE_TABLES_SIZE = 6 * 0x1000;

// Descriptor images (Intel SDM Vol. 3A, 3.4.5): base 0, limit 0xFFFFF pages, present, DPL 0.
const CODE32_DESCRIPTOR = 0x00cf_9b00_0000_ffffn; // G, D, type 0xB (execute/read, accessed)
const CODE64_DESCRIPTOR = 0x00af_9b00_0000_ffffn; // G, L, type 0xB
const DATA_DESCRIPTOR = 0x00cf_9300_0000_ffffn; // G, B, type 0x3 (read/write, accessed)

const CR0_PE = 1n << 0n;
const CR0_ET = 1n << 4n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
const RFLAGS_RESERVED = 0x2n;

/** Initial general registers, the rest zero. */
export type EntryRegisters = Partial<Record<GprName, number>>;

function writeBootGdt(mem: AddressSpace, long64: boolean): void {
  const gdt = new DataView(new ArrayBuffer(BOOT_GDT_SIZE));
  gdt.setBigUint64(BOOT_CS, long64 ? CODE64_DESCRIPTOR : CODE32_DESCRIPTOR, true);
  gdt.setBigUint64(BOOT_DS, DATA_DESCRIPTOR, true);
  mem.writeBytes(BOOT_GDT_ADDR, new Uint8Array(gdt.buffer));
}

function withRegisters(state: CpuState, regs: EntryRegisters): CpuState {
  for (const [name, value] of Object.entries(regs) as [GprName, number][]) {
    state.gpr[GPR_NAMES.indexOf(name)] = BigInt(value >>> 0);
  }
  return state;
}

/** Flat segments from the boot GDT, interrupts off; the caller sets the mode. */
function flatState(mem: AddressSpace, long64: boolean, regs: EntryRegisters): CpuState {
  writeBootGdt(mem, long64);
  const state = resetCpuState();
  const data = flatSegment(BOOT_DS, false);
  const code = flatSegment(BOOT_CS, true);
  state.seg = {
    cs: long64 ? { ...code, l: true, db: false } : code,
    ds: data,
    es: { ...data },
    ss: { ...data },
    fs: { ...data },
    gs: { ...data },
  };
  state.gdtr = { base: BigInt(BOOT_GDT_ADDR), limit: BOOT_GDT_SIZE - 1 };
  state.idtr = { base: 0n, limit: 0 };
  state.rflags = RFLAGS_RESERVED;
  return withRegisters(state, regs);
}

/** Flat 32-bit protected mode, paging off, interrupts off, at `eip`; writes the boot GDT. */
export function protectedModeEntry(mem: AddressSpace, eip: number, regs: EntryRegisters): CpuState {
  const state = flatState(mem, false, regs);
  state.cr0 = CR0_PE | CR0_ET;
  state.rip = BigInt(eip >>> 0);
  return state;
}

/**
 * 64-bit long mode at `rip` with the first 4 GiB identity-mapped by 2 MiB
 * pages (the state the Linux 64-bit boot protocol asks for); writes the GDT
 * and the page tables.
 */
export function longModeEntry(mem: AddressSpace, rip: number, regs: EntryRegisters): CpuState {
  writeIdentityPageTables(mem);
  const state = flatState(mem, true, regs);
  state.cr0 = CR0_PE | CR0_ET | CR0_PG;
  state.cr3 = BigInt(PAGE_TABLES_ADDR);
  state.cr4 = CR4_PAE;
  state.efer = EFER_LME | EFER_LMA;
  state.rip = BigInt(rip);
  return state;
}

/** PML4[0] -> PDPT, PDPT[0..3] -> four page directories of 512 present, writable 2 MiB pages. */
function writeIdentityPageTables(mem: AddressSpace): void {
  const PRESENT_RW = 0x3n;
  const PAGE_2M = 0x80n;
  const tables = new DataView(new ArrayBuffer(PAGE_TABLES_SIZE));
  const pdpt = PAGE_TABLES_ADDR + 0x1000;
  tables.setBigUint64(0, BigInt(pdpt) | PRESENT_RW, true);
  for (let gib = 0; gib < 4; gib++) {
    const pd = PAGE_TABLES_ADDR + 0x2000 + gib * 0x1000;
    tables.setBigUint64(0x1000 + gib * 8, BigInt(pd) | PRESENT_RW, true);
    for (let i = 0; i < 512; i++) {
      const frame = BigInt(gib) * 0x4000_0000n + BigInt(i) * 0x20_0000n;
      tables.setBigUint64(pd - PAGE_TABLES_ADDR + i * 8, frame | PAGE_2M | PRESENT_RW, true);
    }
  }
  mem.writeBytes(PAGE_TABLES_ADDR, new Uint8Array(tables.buffer));
}
