/**
 * The accessed bit of code and data descriptors (SDM Vol. 3A 3.4.5.1):
 * loading a segment register from a descriptor whose accessed bit is clear
 * sets it in the GDT and in the segment cache. (QEMU sets it for data and
 * stack segments only; tests/tcg/guests/sysprobe.asm compares those.)
 */
import { describe, expect, it } from 'vitest';
import { GDT, run32 } from './harness.js';

const CS = 1;
const SS = 2;
const DS = 3;

/** The harness GDT's descriptors have the accessed bit clear (0x00cf9200 for data, 0x00cf9a00 for code). */
function descHi(m: ReturnType<typeof run32>, sel: number): number {
  return m.mem.read32(GDT + sel + 4);
}

describe('tcg descriptor accessed bit', () => {
  it('MOV DS and MOV SS set it in the GDT and in the segment cache', () => {
    const m = run32(`
      mov ax, 0x10
      mov ds, ax
      mov ss, ax
      hlt`);
    expect(descHi(m, 0x10)).toBe(0x00cf9300);
    expect(m.cpu.segAttr[DS]! & 0xff).toBe(0x93);
    expect(m.cpu.segAttr[SS]! & 0xff).toBe(0x93);
  });

  it('a far JMP and a far CALL set it for CS', () => {
    const m = run32(`
      jmp 0x08:next
    next:
      mov dword [${GDT + 0x18}], 0x0000ffff
      mov dword [${GDT + 0x18 + 4}], 0x00cf9a00   ; 18: a second 32-bit code segment, not accessed
      call 0x18:called
    called:
      hlt`);
    expect(descHi(m, 0x08)).toBe(0x00cf9b00);
    expect(descHi(m, 0x18)).toBe(0x00cf9b00);
    expect(m.cpu.segSel[CS]).toBe(0x18);
    expect(m.cpu.segAttr[CS]! & 0xff).toBe(0x9b);
  });

  it('a descriptor already accessed is not written again (a read-only GDT page does not fault)', () => {
    const m = run32(`
      or dword [${GDT + 0x10 + 4}], 0x100
      mov dword [0x100000], 0x83            ; 4 MiB page 0-4 MiB, read-only for supervisor with WP
      and dword [0x100000], ~2
      mov eax, cr4
      or eax, 0x10
      mov cr4, eax
      mov eax, 0x100000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80010000
      mov cr0, eax
      mov ax, 0x10
      mov ds, ax
      hlt`);
    expect(m.interp.shutdown).toBe(false); // (a #PF here would end in a triple fault: the handlers write too)
    expect(m.vector()).toBe(-1);
    expect(descHi(m, 0x10)).toBe(0x00cf9300);
  });
});
