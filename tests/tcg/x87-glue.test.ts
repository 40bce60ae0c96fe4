import { describe, expect, it } from 'vitest';
import { run32 } from './harness.js';

describe('tcg x87 glue', () => {
  it('runs x87 code through the X87 unit: arithmetic, FNSTSW AX, FCOMI flags', () => {
    const m = run32(`
      fninit
      fld1
      fadd st0, st0          ; 2
      fld1
      faddp st1, st0         ; 3
      fistp dword [0x3000]
      fld1
      fldz
      fcomip st0, st1        ; 0 < 1: CF=1, ZF=0
      pushfd
      pop ebx
      fnstsw ax
      hlt`);
    expect(m.mem.read32(0x3000)).toBe(3);
    expect(m.cpu.regs[3]! & 0x45).toBe(0x01);
    expect(m.cpu.regs[0]! & 0x3800).toBe(0x3800); // TOP = 7: one value left on the stack
  });

  it('#NM with CR0.TS, and FWAIT only when MP is also set', () => {
    const nm = run32(`
      mov eax, cr0
      or eax, 8
      mov cr0, eax
      fld1
      hlt`);
    expect(nm.vector()).toBe(7);
    const wait = run32(`
      mov eax, cr0
      or eax, 8
      and eax, ~2
      mov cr0, eax
      fwait
      mov ecx, 1
      or eax, 2
      mov cr0, eax
      fwait
      hlt`);
    expect(wait.cpu.regs[1]).toBe(1);
    expect(wait.vector()).toBe(7);
  });
});
