/**
 * FXSAVE/FXRSTOR as a guest uses them now that qemu32 and pentium2
 * advertise FXSR (SDM Vol. 1 10.5): the x87 state round-trips through the
 * 512-byte area, MXCSR reads as its reset value with CR4.OSFXSR, a
 * misaligned area is #GP(0), and a model without FXSR #UDs.
 */
import { describe, expect, it } from 'vitest';
import { assemble, machine } from './harness.js';

function runOn(model: string, src: string) {
  const m = machine(assemble(src), 'pm32', model);
  m.run();
  return m;
}

const ROUND_TRIP = `
      mov eax, cr4
      or eax, 0x200             ; OSFXSR
      mov cr4, eax
      fninit                    ; FCW 0x037f (it is 0x0040 after RESET: everything unmasked)
      fld1
      fldpi
      fxsave [0x3000]
      fninit
      fldz
      fxrstor [0x3000]
      fstp qword [0x4000]       ; pi
      fstp qword [0x4008]       ; 1
      fnstsw ax
      hlt`;

describe('tcg FXSAVE/FXRSTOR', () => {
  for (const model of ['qemu32', 'pentium2']) {
    it(`${model}: the x87 stack round-trips; MXCSR is 0x1f80 with OSFXSR`, () => {
      const m = runOn(model, ROUND_TRIP);
      expect(m.vector()).toBe(-1);
      const dv = new DataView(m.mem.readBytes(0x4000, 16).buffer);
      expect(dv.getFloat64(0, true)).toBe(Math.PI);
      expect(dv.getFloat64(8, true)).toBe(1);
      expect((m.cpu.regs[0]! >> 11) & 7).toBe(0); // TOP back at 0: both values were on the restored stack
      expect(m.mem.read16(0x3000)).toBe(0x037f); // FCW
      expect(m.mem.read8(0x3004)).toBe(0xc0); // abridged tag: ST0 and ST1 (physical 6, 7) valid
      expect(m.mem.read32(0x3000 + 24)).toBe(0x1f80);
    });
  }

  it('a misaligned area is #GP(0); pentium has no FXSR (#UD)', () => {
    expect(runOn('qemu32', 'fxsave [0x3008]\nhlt').vector()).toBe(13);
    expect(runOn('pentium', 'fxsave [0x3000]\nhlt').vector()).toBe(6);
  });
});
