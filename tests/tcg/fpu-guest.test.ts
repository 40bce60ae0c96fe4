/**
 * The x87 unit as guest code sees it through the TCG CPU: real instruction
 * encodings from nasm, the CPU's #MF delivery and the last-instruction
 * pointers it hands the unit.
 */
import { describe, expect, it } from 'vitest';
import { CODE, run16, run32 } from './harness.js';

describe('x87 from guest code', () => {
  it("passes Linux's FPU checks (fdiv bug test, FNINIT probe)", () => {
    const m = run32(`
      fninit
      mov word [0x3010], 0xffff
      mov word [0x3012], 0xffff
      fnstsw [0x3010]             ; FPU present: FSW = 0
      fnstcw [0x3012]             ; and (FCW & 0x103f) == 0x003f
      fldl2e                      ; something on the stack, then the kernel's check_fpu
      fstp st0
      fld qword [x]
      fdiv qword [y]
      fmul qword [y]
      fld qword [x]
      fsubp st1, st0
      fistp dword [0x3000]
      fwait
      fninit
      hlt
      align 8
    x: dq 4195835.0
    y: dq 3145727.0`);
    expect(m.mem.read32(0x3000)).toBe(0);
    expect(m.mem.read16(0x3010)).toBe(0);
    expect(m.mem.read16(0x3012) & 0x103f).toBe(0x003f);
    expect(m.vector()).toBe(-1);
  });

  it('an unmasked zero-divide raises #MF (CR0.NE) at the next waiting instruction, and FNSTENV points at the divide', () => {
    const m = run32(`
      fninit
      fldcw [cw]                  ; unmask ZE
      fld1
      fldz
    div: fdivp st1, st0           ; no fault yet: delivered by the next waiting instruction
      mov dword [0x3000], 1       ; runs
      fnstenv [0x3100]            ; no-wait: runs, and records the divide's pointers
      fldcw [cw]                  ; FNSTENV masked everything (clearing ES): unmask again, ES set again
      fwait                       ; #MF
      mov dword [0x3004], 1       ; not reached
      hlt
    cw: dw 0x037b`, (t) => {
      t.cpu.cr0 |= 0x20; // NE
    });
    expect(m.vector()).toBe(16);
    expect(m.mem.read32(0x3000)).toBe(1);
    expect(m.mem.read32(0x3004)).toBe(0);
    expect(m.mem.read16(0x3104) & 0x8084).toBe(0x8084); // FSW: B, ES, ZE
    const fip = m.mem.read32(0x3100 + 12);
    const fop = (m.mem.read32(0x3100 + 16) >>> 16) & 0x7ff;
    expect(fip).toBeGreaterThan(CODE);
    expect(m.mem.read8(fip)).toBe(0xde); // FDIVP's opcode byte
    expect(fop).toBe(0x6f9); // DE F9
  });

  it('FSAVE/FRSTOR in real mode with the 16-bit layout', () => {
    const m = run16(`
      fninit
      fld1
      fldpi
      fsave [0x600]               ; 94 bytes, then FNINIT
      fld1                        ; disturb
      frstor [0x600]
      fstp qword [0x700]          ; pi
      fstp qword [0x708]          ; 1
      fnstsw [0x710]
      hlt`);
    const f64 = (a: number) => {
      const b = Buffer.alloc(8);
      b.writeUInt32LE(m.mem.read32(a), 0);
      b.writeUInt32LE(m.mem.read32(a + 4), 4);
      return b.readDoubleLE(0);
    };
    expect(f64(0x700)).toBe(Math.PI);
    expect(f64(0x708)).toBe(1);
    expect(m.mem.read16(0x710)).toBe(0x0020); // TOP back to 0; PE from rounding pi to a double
    expect(m.mem.read16(0x600 + 4)).toBe(0x0fff); // saved tag word: two valid registers
  });
});
