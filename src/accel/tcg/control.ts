/**
 * Control transfer (SDM Vol. 2: Jcc JMP CALL RET LOOP/LOOPcc JCXZ INT
 * INT3 INTO IRET ENTER LEAVE). Relative targets are taken from EIP after
 * the instruction (the interpreter sets c.eip to it before the handler).
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { ECX, EBP, ESP, BP as BP_VECTOR, OFV, SS, BR } from './constants.js';
import { CpuFault, gpFault, udFault } from './exceptions.js';
import { interruptToV86Handler, redirectedToV86 } from './vme.js';
import { farCall, farJump, farReturn } from './segment.js';
import { deliverInterrupt, EventKind, iret } from './interrupts.js';
import { signExtend } from './alu.js';

/** Relative jump by a sign-extended displacement of `dispSize` bytes. */
function jumpRelative(c: Cpu, d: Insn, disp: number, dispSize: number): void {
  c.setEip(c.eip + signExtend(disp, dispSize), d.o32 ? 4 : 2);
}

/** 70-7F: Jcc rel8. */
export function jccShort(c: Cpu, d: Insn): void {
  if (c.condition(d.op & 0xf)) jumpRelative(c, d, d.imm, 1);
}

/** 0F 80-8F: Jcc rel16/32. */
export function jccNear(c: Cpu, d: Insn): void {
  if (c.condition(d.op & 0xf)) jumpRelative(c, d, d.imm, d.o32 ? 4 : 2);
}

/** EB: JMP rel8. */
export function jmpShort(c: Cpu, d: Insn): void {
  jumpRelative(c, d, d.imm, 1);
}

/** E9: JMP rel16/32. */
export function jmpNear(c: Cpu, d: Insn): void {
  jumpRelative(c, d, d.imm, d.size);
}

/** E8: CALL rel16/32. */
export function callNear(c: Cpu, d: Insn): void {
  const target = d.size === 2 ? (c.eip + d.imm) & 0xffff : (c.eip + d.imm) >>> 0;
  if (target > c.segLimit[1]!) throw new CpuFault(13, 0);
  c.push(c.eip, d.size);
  c.eip = target;
}

/** EA: JMP ptr16:16/32. */
export function jmpFarImm(c: Cpu, d: Insn): void {
  farJump(c, d.imm2, d.imm, d.size);
}

/** 9A: CALL ptr16:16/32. */
export function callFarImm(c: Cpu, d: Insn): void {
  farCall(c, d.imm2, d.imm, d.size);
}

/** C3 / C2 iw: RET near. */
export function retNear(c: Cpu, d: Insn): void {
  const target = c.peek(0, d.size);
  c.setEip(target, d.size);
  c.addSp(d.size + (d.op === 0xc2 ? d.imm : 0));
}

/** CB / CA iw: RET far. */
export function retFar(c: Cpu, d: Insn): void {
  farReturn(c, d.size, d.op === 0xca ? d.imm : 0);
}

/** E0-E3: LOOPNE LOOPE LOOP JCXZ (count register by address size). */
export function loop(c: Cpu, d: Insn): void {
  let count: number;
  if (d.op === 0xe3) {
    count = d.a32 ? c.regs[ECX]! : c.regs[ECX]! & 0xffff;
    if (count === 0) jumpRelative(c, d, d.imm, 1);
    return;
  }
  if (d.a32) {
    count = (c.regs[ECX]! - 1) >>> 0;
    c.regs[ECX] = count;
  } else {
    count = (c.regs[ECX]! - 1) & 0xffff;
    c.setReg(ECX, 2, count);
  }
  let take = count !== 0;
  if (d.op === 0xe0) take &&= !c.zf();
  else if (d.op === 0xe1) take &&= c.zf();
  if (take) jumpRelative(c, d, d.imm, 1);
}

/** FF group 5: INC DEC CALL CALLF JMP JMPF PUSH. */
export function group5Control(c: Cpu, d: Insn): void {
  switch (d.reg) {
    case 2: {
      const target = c.readE(d);
      if (target > c.segLimit[1]!) throw new CpuFault(13, 0);
      c.push(c.eip, d.size);
      c.eip = target;
      return;
    }
    case 3:
    case 5: {
      if (d.mod === 3) throw udFault();
      const ea = c.ea(d);
      const off = c.read(d.seg, ea, d.size);
      const sel = c.read(d.seg, d.a32 ? (ea + d.size) >>> 0 : (ea + d.size) & 0xffff, 2);
      if (d.reg === 3) farCall(c, sel, off, d.size);
      else farJump(c, sel, off, d.size);
      return;
    }
    case 4:
      c.setEip(c.readE(d), d.size);
      return;
    default:
      throw udFault();
  }
}

/** CC: INT3 (a trap: EIP points after it). */
export function int3(c: Cpu): void {
  deliverInterrupt(c, BP_VECTOR, EventKind.Software);
}

/**
 * CD ib: INT n. In v86 mode it is IOPL-sensitive (INT3 and INTO are not),
 * and CR4.VME may redirect it to the task's 8086 handler (vme.ts).
 */
export function intN(c: Cpu, d: Insn): void {
  if (c.v86) {
    if (redirectedToV86(c, d.imm)) {
      interruptToV86Handler(c, d.imm);
      return;
    }
    if (c.iopl < 3) throw gpFault(0);
  }
  deliverInterrupt(c, d.imm, EventKind.Software);
}

/** CE: INTO. */
export function into(c: Cpu): void {
  if (c.of()) deliverInterrupt(c, OFV, EventKind.Software);
}

/** F1: INT1/ICEBP: a #DB trap delivered like a hardware event (no DPL check). */
export function int1(c: Cpu): void {
  deliverInterrupt(c, 1, EventKind.Exception);
}

/** CF: IRET. */
export function iretInsn(c: Cpu, d: Insn): void {
  iret(c, d.size);
  c.nmiBlocked = false;
}

/** C8 iw ib: ENTER (SDM Vol. 2 ENTER, with nesting levels). */
export function enter(c: Cpu, d: Insn): void {
  const size = d.size;
  const level = d.imm2 & 0x1f;
  const stack32 = c.ss32;
  const mask = stack32 ? 0xffff_ffff : 0xffff;
  let ebp = c.regs[EBP]!;
  const esp0 = c.regs[ESP]!;
  try {
    c.push(ebp, size);
    const frame = c.regs[ESP]! & mask;
    if (level > 0) {
      for (let i = 1; i < level; i++) {
        ebp = stack32 ? (ebp - size) >>> 0 : (ebp & 0xffff0000) | ((ebp - size) & 0xffff);
        c.push(c.read(SS, ebp & mask, size), size);
      }
      c.push(frame, size);
    }
    // The new frame must be writable down to its bottom.
    const bottom = ((c.regs[ESP]! & mask) - d.imm) & mask;
    if (d.imm) c.write(SS, bottom, 1, c.read(SS, bottom, 1));
    c.setReg(EBP, size, frame);
    c.addSp(-d.imm);
  } catch (e) {
    c.regs[ESP] = esp0;
    throw e;
  }
}

/** C9: LEAVE. */
export function leave(c: Cpu, d: Insn): void {
  const ebp = c.regs[EBP]!;
  const sp = c.ss32 ? ebp : ebp & 0xffff;
  const v = c.read(SS, sp, d.size);
  if (c.ss32) c.regs[ESP] = (ebp + d.size) >>> 0;
  else c.setReg(ESP, 2, ebp + d.size);
  c.setReg(EBP, d.size, v);
}

/** 62: BOUND Gv, Ma (signed bounds; #BR when outside). */
export function bound(c: Cpu, d: Insn): void {
  if (d.mod === 3) throw udFault();
  const ea = c.ea(d);
  const lower = signExtend(c.read(d.seg, ea, d.size), d.size);
  const upper = signExtend(c.read(d.seg, d.a32 ? (ea + d.size) >>> 0 : (ea + d.size) & 0xffff, d.size), d.size);
  const v = signExtend(c.reg(d.reg, d.size), d.size);
  if (v < lower || v > upper) throw new CpuFault(BR);
}
