/**
 * String instructions (SDM Vol. 2: MOVS CMPS STOS LODS SCAS INS OUTS) with
 * REP/REPE/REPNE. The source is seg:(E)SI (segment override allowed), the
 * destination always ES:(E)DI; the address size picks SI/DI/CX or
 * ESI/EDI/ECX. Long REP runs stop after a budget of iterations and restart
 * the instruction, so interrupts are taken in between as on hardware; the
 * registers are always consistent for a fault mid-run.
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { DF, EAX, ECX, EDI, EDX, ES, ESI, RF } from './constants.js';
import { alu, AluOp } from './alu.js';
import { checkPortAccess } from './io.js';
import { Access } from './mmu.js';

const REP_BUDGET = 16384;

function advance(c: Cpu, r: number, delta: number, a32: boolean): void {
  if (a32) c.regs[r] = (c.regs[r]! + delta) >>> 0;
  else c.regs[r] = (c.regs[r]! & 0xffff0000) | ((c.regs[r]! + delta) & 0xffff);
}

function index(c: Cpu, r: number, a32: boolean): number {
  return a32 ? c.regs[r]! : c.regs[r]! & 0xffff;
}

/** One iteration; returns the ZF outcome for CMPS/SCAS (true = equal). */
type Step = (c: Cpu, d: Insn, delta: number) => boolean;

const movs: Step = (c, d, delta) => {
  const v = c.read(d.seg, index(c, ESI, d.a32), d.size);
  c.write(ES, index(c, EDI, d.a32), d.size, v);
  advance(c, ESI, delta, d.a32);
  advance(c, EDI, delta, d.a32);
  return true;
};

const cmps: Step = (c, d, delta) => {
  const a = c.read(d.seg, index(c, ESI, d.a32), d.size);
  const b = c.read(ES, index(c, EDI, d.a32), d.size);
  alu(c, AluOp.Cmp, a, b, d.size);
  advance(c, ESI, delta, d.a32);
  advance(c, EDI, delta, d.a32);
  return a === b;
};

const stos: Step = (c, d, delta) => {
  c.write(ES, index(c, EDI, d.a32), d.size, c.reg(EAX, d.size));
  advance(c, EDI, delta, d.a32);
  return true;
};

const lods: Step = (c, d, delta) => {
  c.setReg(EAX, d.size, c.read(d.seg, index(c, ESI, d.a32), d.size));
  advance(c, ESI, delta, d.a32);
  return true;
};

const scas: Step = (c, d, delta) => {
  const a = c.reg(EAX, d.size);
  const b = c.read(ES, index(c, EDI, d.a32), d.size);
  alu(c, AluOp.Cmp, a, b, d.size);
  advance(c, EDI, delta, d.a32);
  return a === b;
};

const ins: Step = (c, d, delta) => {
  const port = c.regs[EDX]! & 0xffff;
  checkPortAccess(c, port, d.size);
  const off = index(c, EDI, d.a32);
  // The destination is checked before the port is read (a faulting INS must not consume input).
  const lin = c.linear(ES, off, d.size, true);
  c.mmu.probeWrite(lin, d.size);
  c.writeLin(lin, d.size, c.bus.io.read(port, d.size as 1 | 2 | 4));
  advance(c, EDI, delta, d.a32);
  return true;
};

const outs: Step = (c, d, delta) => {
  const port = c.regs[EDX]! & 0xffff;
  checkPortAccess(c, port, d.size);
  const v = c.read(d.seg, index(c, ESI, d.a32), d.size);
  c.bus.io.write(port, d.size as 1 | 2 | 4, v);
  advance(c, ESI, delta, d.a32);
  return true;
};

/**
 * REP MOVS/STOS forwards over RAM, a page at a time: the same result as
 * element by element (overlapping forward copies, which replicate a
 * pattern, are left to the element loop). Returns false when the next
 * element needs the element loop (page-crossing element, MMIO, DF=1...).
 */
function bulk(c: Cpu, d: Insn, movs: boolean): boolean {
  const size = d.size;
  const count = c.regs[ECX]!;
  if (!d.a32 || c.flags & DF || c.alignmentCheck || count === 0) return false;
  const edi = c.regs[EDI]!;
  const dstLin = c.linear(ES, edi, size, true);
  let n = Math.min(count, Math.floor((4096 - (dstLin & 0xfff)) / size));
  let srcLin = 0;
  if (movs) {
    srcLin = c.linear(d.seg, c.regs[ESI]!, size, false);
    n = Math.min(n, Math.floor((4096 - (srcLin & 0xfff)) / size));
  }
  if (n < 2) return false;
  const bytes = n * size;
  // The whole run must be inside both segments' limits.
  c.linear(ES, edi, bytes, true);
  if (movs) c.linear(d.seg, c.regs[ESI]!, bytes, false);
  const mmu = c.mmu;
  const srcOff = movs ? mmu.ramOffsetFor(srcLin, Access.Read) : 0;
  const dstOff = mmu.ramOffsetFor(dstLin, Access.Write);
  if (dstOff < 0 || srcOff < 0) return false;
  const ram = mmu.ram;
  if (movs) {
    if (dstOff > srcOff && dstOff < srcOff + bytes) return false;
    ram.copyWithin(dstOff, srcOff, srcOff + bytes);
  } else {
    const v = c.reg(EAX, size);
    if (size === 1 || (size === 2 && (v & 0xff) === v >>> 8) || (size === 4 && v === ((v & 0xff) * 0x01010101) >>> 0)) {
      ram.fill(v & 0xff, dstOff, dstOff + bytes);
    } else {
      for (let i = 0; i < bytes; i += size) {
        ram[dstOff + i] = v & 0xff;
        ram[dstOff + i + 1] = (v >>> 8) & 0xff;
        if (size === 4) {
          ram[dstOff + i + 2] = (v >>> 16) & 0xff;
          ram[dstOff + i + 3] = v >>> 24;
        }
      }
    }
  }
  const frame = dstOff >>> 12;
  if (mmu.codePages[frame]) mmu.onCodeWrite(frame);
  c.regs[ECX] = count - n;
  c.regs[EDI] = (edi + bytes) >>> 0;
  if (movs) c.regs[ESI] = (c.regs[ESI]! + bytes) >>> 0;
  return true;
}

/**
 * Stops a REP instruction between iterations, to go on after pending events:
 * EIP stays on it, and RF is set so that an instruction breakpoint on it,
 * already reported, does not fire again (SDM Vol. 3B 17.3.1.1).
 */
function resumeLater(c: Cpu): void {
  c.eip = c.insnEip;
  c.flags |= RF;
}

function run(c: Cpu, d: Insn, step: Step, conditional: boolean): void {
  const delta = c.flags & DF ? -d.size : d.size;
  if (d.rep === 0) {
    step(c, d, delta);
    return;
  }
  let budget = REP_BUDGET;
  if (step === movs || step === stos) {
    while (budget > 0 && bulk(c, d, step === movs)) budget -= 256;
    if (index(c, ECX, d.a32) !== 0 && budget <= 0) {
      resumeLater(c);
      return;
    }
  }
  for (;;) {
    const count = index(c, ECX, d.a32);
    if (count === 0) return;
    const equal = step(c, d, delta);
    advance(c, ECX, -1, d.a32);
    if (conditional && (d.rep === 0xf3 ? !equal : equal)) return;
    // A data or I/O breakpoint traps after the iteration that hit it (SDM Vol. 3B 17.3.1.2).
    if (--budget === 0 || c.debugTraps !== 0) {
      if (index(c, ECX, d.a32) !== 0) resumeLater(c);
      return;
    }
  }
}

export function movsInsn(c: Cpu, d: Insn): void {
  run(c, d, movs, false);
}
export function cmpsInsn(c: Cpu, d: Insn): void {
  run(c, d, cmps, true);
}
export function stosInsn(c: Cpu, d: Insn): void {
  run(c, d, stos, false);
}
export function lodsInsn(c: Cpu, d: Insn): void {
  run(c, d, lods, false);
}
export function scasInsn(c: Cpu, d: Insn): void {
  run(c, d, scas, true);
}
export function insInsn(c: Cpu, d: Insn): void {
  run(c, d, ins, false);
}
export function outsInsn(c: Cpu, d: Insn): void {
  run(c, d, outs, false);
}
