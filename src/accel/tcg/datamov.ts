/**
 * Data movement (SDM Vol. 2: MOV MOVZX MOVSX LEA XCHG XLAT CBW/CWDE CWD/CDQ
 * PUSH POP PUSHA POPA PUSHF POPF SAHF LAHF CMOVcc SETcc XADD CMPXCHG
 * CMPXCHG8B) and the flag instructions CLC STC CMC CLD STD.
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { AF, CF, DF, EAX, EBX, ECX, EDX, ESP, PF, SF, ZF } from './constants.js';
import { alu, AluOp, signExtend, trunc } from './alu.js';
import { gpFault, udFault } from './exceptions.js';
import { loadVirtualFlags, virtualFlagsImage, virtualV86 } from './vme.js';

/** 88/89: MOV Eb/Ev, Gb/Gv. */
export function movEG(c: Cpu, d: Insn): void {
  c.writeE(d, c.reg(d.reg, d.size));
}

/** 8A/8B: MOV Gb/Gv, Eb/Ev. */
export function movGE(c: Cpu, d: Insn): void {
  c.setReg(d.reg, d.size, c.readE(d));
}

/** C6/C7 /0: MOV Eb/Ev, imm. */
export function movEI(c: Cpu, d: Insn): void {
  if (d.reg !== 0) throw udFault();
  c.writeE(d, d.imm);
}

/** B0-B7: MOV r8, imm8; B8-BF: MOV r16/32, imm. */
export function movRI(c: Cpu, d: Insn): void {
  c.setReg(d.op & 7, d.size, d.imm);
}

/** A0-A3: MOV AL/eAX <-> moffs. */
export function movMoffs(c: Cpu, d: Insn): void {
  if (d.op & 2) c.write(d.seg, d.disp, d.size, c.reg(EAX, d.size));
  else c.setReg(EAX, d.size, c.read(d.seg, d.disp, d.size));
}

/** 8D: LEA Gv, M. */
export function lea(c: Cpu, d: Insn): void {
  if (d.mod === 3) throw udFault();
  c.setReg(d.reg, d.size, c.ea(d));
}

/** 0F B6/B7/BE/BF: MOVZX/MOVSX Gv, Eb/Ew. */
export function movExtend(c: Cpu, d: Insn): void {
  const srcSize = d.op & 1 ? 2 : 1;
  let v = c.readEAs(d, srcSize);
  if (d.op >= 0x1be) v = signExtend(v, srcSize);
  c.setReg(d.reg, d.size, trunc(v, d.size));
}

/** 86/87: XCHG Eb/Ev, Gb/Gv. */
export function xchgEG(c: Cpu, d: Insn): void {
  const g = c.reg(d.reg, d.size);
  if (d.mod === 3) {
    c.setReg(d.reg, d.size, c.reg(d.rm, d.size));
    c.setReg(d.rm, d.size, g);
    return;
  }
  const lin = c.eaLinear(d, true);
  const m = c.mmu.readForWrite(lin, d.size as 1 | 2 | 4);
  c.writeLin(lin, d.size, g);
  c.setReg(d.reg, d.size, m);
}

/** 91-97: XCHG eAX, r. */
export function xchgAR(c: Cpu, d: Insn): void {
  const r = d.op & 7;
  const a = c.reg(EAX, d.size);
  c.setReg(EAX, d.size, c.reg(r, d.size));
  c.setReg(r, d.size, a);
}

/** D7: XLAT. */
export function xlat(c: Cpu, d: Insn): void {
  const off = d.a32 ? (c.regs[EBX]! + (c.regs[EAX]! & 0xff)) >>> 0 : (c.regs[EBX]! + (c.regs[EAX]! & 0xff)) & 0xffff;
  c.setReg(EAX, 1, c.read(d.seg, off, 1));
}

/** 98: CBW/CWDE. */
export function cbw(c: Cpu, d: Insn): void {
  if (d.size === 4) c.regs[EAX] = signExtend(c.regs[EAX]!, 2) >>> 0;
  else c.setReg(EAX, 2, signExtend(c.regs[EAX]!, 1));
}

/** 99: CWD/CDQ. */
export function cwd(c: Cpu, d: Insn): void {
  if (d.size === 4) c.regs[EDX] = c.regs[EAX]! & 0x8000_0000 ? 0xffff_ffff : 0;
  else c.setReg(EDX, 2, c.regs[EAX]! & 0x8000 ? 0xffff : 0);
}

/** 50-57: PUSH r. */
export function pushR(c: Cpu, d: Insn): void {
  c.push(c.reg(d.op & 7, d.size), d.size);
}

/** 58-5F: POP r. */
export function popR(c: Cpu, d: Insn): void {
  const v = c.pop(d.size);
  c.setReg(d.op & 7, d.size, v);
}

/** 68/6A: PUSH imm. */
export function pushI(c: Cpu, d: Insn): void {
  c.push(d.imm, d.size);
}

/** FF /6: PUSH Ev. */
export function pushE(c: Cpu, d: Insn): void {
  c.push(c.readE(d), d.size);
}

/** 8F /0: POP Ev. The address is computed with ESP after the pop (SDM POP). */
export function popE(c: Cpu, d: Insn): void {
  if (d.reg !== 0) throw udFault();
  const v = c.peek(0, d.size);
  const esp = c.regs[ESP]!;
  c.addSp(d.size);
  try {
    c.writeE(d, v);
  } catch (e) {
    c.regs[ESP] = esp;
    throw e;
  }
}

/** 60: PUSHA/PUSHAD. */
export function pusha(c: Cpu, d: Insn): void {
  const sp = c.regs[ESP]!;
  const esp0 = sp;
  try {
    for (let r = 0; r < 8; r++) c.push(r === ESP ? sp : c.regs[r]!, d.size);
  } catch (e) {
    c.regs[ESP] = esp0;
    throw e;
  }
}

/** 61: POPA/POPAD (the saved ESP is discarded). */
export function popa(c: Cpu, d: Insn): void {
  const values: number[] = [];
  for (let i = 0; i < 8; i++) values.push(c.peek(i * d.size, d.size));
  for (let r = 7, i = 0; r >= 0; r--, i++) if (r !== ESP) c.setReg(r, d.size, values[i]!);
  c.addSp(8 * d.size);
}

/** 9C: PUSHF/PUSHFD (VM and RF read as 0 in the image). In v86 mode with IOPL < 3 only 16-bit PUSHF under CR4.VME. */
export function pushf(c: Cpu, d: Insn): void {
  if (c.v86 && c.iopl < 3) {
    if (!virtualV86(c) || d.size !== 2) throw gpFault(0);
    c.push(virtualFlagsImage(c), 2);
    return;
  }
  c.push(c.getEflags() & 0x00fc_ffff, d.size);
}

/** 9D: POPF/POPFD. In v86 mode with IOPL < 3 only 16-bit POPF under CR4.VME. */
export function popf(c: Cpu, d: Insn): void {
  if (c.v86 && c.iopl < 3) {
    if (!virtualV86(c) || d.size !== 2) throw gpFault(0);
    loadVirtualFlags(c, c.peek(0, 2));
    c.addSp(2);
    return;
  }
  const v = c.peek(0, d.size);
  c.setEflags(v, c.popfMask(d.size));
  c.addSp(d.size);
}

/** 9E: SAHF. */
export function sahf(c: Cpu): void {
  c.setArith(SF | ZF | AF | PF | CF, (c.regs[EAX]! >>> 8) & 0xff);
}

/** 9F: LAHF. */
export function lahf(c: Cpu): void {
  c.setReg(4, 1, (c.getEflags() & (SF | ZF | AF | PF | CF)) | 2);
}

/** F5 CMC, F8 CLC, F9 STC, FC CLD, FD STD. */
export function flagOp(c: Cpu, d: Insn): void {
  switch (d.op) {
    case 0xf5:
      c.setArith(CF, c.cf() ^ 1);
      return;
    case 0xf8:
      c.setArith(CF, 0);
      return;
    case 0xf9:
      c.setArith(CF, CF);
      return;
    case 0xfc:
      c.flags &= ~DF;
      return;
    default:
      c.flags |= DF;
  }
}

/** 0F 40-4F: CMOVcc Gv, Ev (the source is read even when the condition is false). */
export function cmov(c: Cpu, d: Insn): void {
  const v = c.readE(d);
  if (c.condition(d.op & 0xf)) c.setReg(d.reg, d.size, v);
}

/** 0F 90-9F: SETcc Eb. */
export function setcc(c: Cpu, d: Insn): void {
  c.writeE(d, c.condition(d.op & 0xf) ? 1 : 0);
}

/** 0F C0/C1: XADD Eb/Ev, Gb/Gv. */
export function xadd(c: Cpu, d: Insn): void {
  const g = c.reg(d.reg, d.size);
  if (d.mod === 3) {
    const e = c.reg(d.rm, d.size);
    const sum = alu(c, AluOp.Add, e, g, d.size);
    c.setReg(d.reg, d.size, e);
    c.setReg(d.rm, d.size, sum);
    return;
  }
  const lin = c.eaLinear(d, true);
  const e = c.mmu.readForWrite(lin, d.size as 1 | 2 | 4);
  const sum = alu(c, AluOp.Add, e, g, d.size);
  c.writeLin(lin, d.size, sum);
  c.setReg(d.reg, d.size, e);
}

/** 0F B0/B1: CMPXCHG Eb/Ev, Gb/Gv (the destination is always written, SDM). */
export function cmpxchg(c: Cpu, d: Insn): void {
  const acc = c.reg(EAX, d.size);
  if (d.mod === 3) {
    const e = c.reg(d.rm, d.size);
    alu(c, AluOp.Cmp, acc, e, d.size);
    if (acc === e) c.setReg(d.rm, d.size, c.reg(d.reg, d.size));
    else c.setReg(EAX, d.size, e);
    return;
  }
  const lin = c.eaLinear(d, true);
  const e = c.mmu.readForWrite(lin, d.size as 1 | 2 | 4);
  alu(c, AluOp.Cmp, acc, e, d.size);
  if (acc === e) {
    c.writeLin(lin, d.size, c.reg(d.reg, d.size));
  } else {
    c.writeLin(lin, d.size, e);
    c.setReg(EAX, d.size, e);
  }
}

/** 0F C7 /1: CMPXCHG8B m64. */
export function cmpxchg8b(c: Cpu, d: Insn): void {
  if (d.reg !== 1 || d.mod === 3) throw udFault();
  const lin = c.eaLinear(d, true, 8);
  c.mmu.probeWrite(lin, 8);
  const lo = c.readLin(lin, 4);
  const hi = c.readLin((lin + 4) >>> 0, 4);
  if (lo === c.regs[EAX] && hi === c.regs[EDX]) {
    c.writeLin(lin, 4, c.regs[EBX]!);
    c.writeLin((lin + 4) >>> 0, 4, c.regs[ECX]!);
    c.setArith(ZF, ZF);
  } else {
    c.writeLin(lin, 4, lo);
    c.writeLin((lin + 4) >>> 0, 4, hi);
    c.regs[EAX] = lo;
    c.regs[EDX] = hi;
    c.setArith(ZF, 0);
  }
}

/** D6: SALC (undocumented): AL = CF ? FF : 00. */
export function salc(c: Cpu): void {
  c.setReg(EAX, 1, c.cf() ? 0xff : 0);
}

