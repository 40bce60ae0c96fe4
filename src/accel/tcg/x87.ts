/**
 * The CPU side of the x87 (SDM Vol. 3A 2.5, Vol. 1 chapter 8): #NM for
 * CR0.EM/TS, the memory operand's address, FWAIT, FXSAVE/FXRSTOR and the
 * FpuHost the X87 unit (fpu.ts) calls back into. The arithmetic itself is
 * the X87 unit's.
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { X87 } from './fpu.js';
import { X87_DONE, X87_EFLAGS_MASK, X87_UD, type FpuHost } from './fpu-types.js';
import { CR0_EM, CR0_MP, CR0_NE, CR0_TS, CS, EAX, CR4_OSFXSR } from './constants.js';
import { gpFault, mfFault, nmFault, udFault } from './exceptions.js';
import { CPUID_FXSR } from '../cpu-models.js';

export function attachX87(c: Cpu): void {
  const host: FpuHost = {
    mem: {
      read8: (lin) => c.readLin(lin >>> 0, 1),
      read16: (lin) => c.readLin(lin >>> 0, 2),
      read32: (lin) => c.readLin(lin >>> 0, 4),
      write8: (lin, v) => c.writeLin(lin >>> 0, 1, v),
      write16: (lin, v) => c.writeLin(lin >>> 0, 2, v),
      write32: (lin, v) => c.writeLin(lin >>> 0, 4, v),
    },
    raiseMathFault: () => {
      if (c.cr0 & CR0_NE) throw mfFault();
      // FERR# through IRQ 13 (PC/AT wiring); the handler acknowledges it via port F0.
      c.bus.irq?.set(13, true);
    },
    eflags: () => c.getEflags(),
  };
  c.fpu = new X87(host);
}

/** Instructions that do not update the x87 last-instruction pointers (SDM Vol. 1 8.1.8). */
function isControlInstruction(op: number, modrm: number): boolean {
  const reg = (modrm >> 3) & 7;
  if (modrm < 0xc0) {
    if (op === 0xd9 && reg >= 4) return true; // FLDENV FLDCW FNSTENV FNSTCW
    if (op === 0xdd && (reg === 4 || reg === 6 || reg === 7)) return true; // FRSTOR FNSAVE FNSTSW
    return false;
  }
  return (op === 0xdb && (modrm === 0xe2 || modrm === 0xe3)) || (op === 0xdf && modrm === 0xe0);
}

/** P6-only x87 encodings (FCMOVcc, FCOMI family) are #UD on older models. */
function isP6Only(op: number, modrm: number): boolean {
  if (modrm < 0xc0) return false;
  if (op === 0xda && modrm < 0xe0) return true;
  if (op === 0xdb && (modrm < 0xe0 || (modrm >= 0xe8 && modrm < 0xf8))) return true;
  return op === 0xdf && modrm >= 0xe8 && modrm < 0xf8;
}

/** D8-DF: x87 escape. */
export function x87Escape(c: Cpu, d: Insn): void {
  if (c.cr0 & (CR0_EM | CR0_TS)) throw nmFault();
  const modrm = (d.mod << 6) | (d.reg << 3) | d.rm;
  if (c.model.identity.family < 6 && isP6Only(d.op, modrm)) throw udFault();
  let lin = 0;
  let off = 0;
  if (d.mod !== 3) {
    off = c.ea(d);
    lin = c.linear(d.seg, off, 1, false);
  }
  if (!isControlInstruction(d.op, modrm)) {
    c.fpu.setLastInstruction(c.segSel[CS]!, c.insnEip, ((d.op & 7) << 8) | modrm, c.segSel[d.seg]!, off);
  }
  const r = c.fpu.execute(d.op, modrm, lin, d.o32, c.protectedMode && !c.v86);
  if (r === X87_DONE) return;
  if (r === X87_UD) throw udFault();
  if (d.op === 0xdf && modrm === 0xe0) {
    c.setReg(EAX, 2, r);
    return;
  }
  c.setArith(X87_EFLAGS_MASK, r);
}

/** 9B: FWAIT (#NM only when both MP and TS are set). */
export function fwait(c: Cpu): void {
  if ((c.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) throw nmFault();
  c.fpu.wait();
}

/** 0F AE: group 15. Only FXSAVE/FXRSTOR (without SSE: MXCSR reads as its reset value). */
export function group15(c: Cpu, d: Insn): void {
  if (!c.model.hasFeature(CPUID_FXSR) || d.mod === 3 || d.reg > 1) throw udFault();
  if (c.cr0 & CR0_EM) throw udFault();
  if (c.cr0 & CR0_TS) throw nmFault();
  const off = c.ea(d);
  if (off & 15) throw gpFault(0);
  const lin = c.linear(d.seg, off, 512, d.reg === 0);
  if (d.reg === 0) {
    c.mmu.probeWrite(lin, 512);
    c.fpu.fxsave(lin);
    if (c.cr4 & CR4_OSFXSR) {
      c.writeLin((lin + 24) >>> 0, 4, 0x1f80); // MXCSR
      c.writeLin((lin + 28) >>> 0, 4, 0); // MXCSR_MASK: no SSE
    }
  } else {
    c.fpu.fxrstor(lin);
  }
}
