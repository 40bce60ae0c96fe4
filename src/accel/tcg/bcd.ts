/**
 * Decimal adjust instructions (SDM Vol. 2: DAA DAS AAA AAS AAM AAD). The
 * undefined flags follow what Intel P6-family parts produce.
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { AF, CF, EAX, OF } from './constants.js';
import { deFault } from './exceptions.js';

/** 27: DAA. */
export function daa(c: Cpu): void {
  const oldAl = c.regs[EAX]! & 0xff;
  const oldCf = c.cf();
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0xf) > 9 || c.af()) {
    al += 6;
    af = AF;
  }
  if (oldAl > 0x99 || oldCf) {
    al += 0x60;
    cf = CF;
  }
  al &= 0xff;
  c.setReg(EAX, 1, al);
  // OF is undefined: P6 parts set it as for the addition's signed overflow.
  const of = (oldAl ^ al) & 0x80 && !(oldAl & 0x80) ? OF : 0;
  c.setResultFlags(al, 1, cf | af | of);
}

/** 2F: DAS. */
export function das(c: Cpu): void {
  const oldAl = c.regs[EAX]! & 0xff;
  const oldCf = c.cf();
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0xf) > 9 || c.af()) {
    al -= 6;
    af = AF;
  }
  if (oldAl > 0x99 || oldCf) {
    al -= 0x60;
    cf = CF;
  }
  al &= 0xff;
  c.setReg(EAX, 1, al);
  const of = (oldAl ^ al) & 0x80 && oldAl & 0x80 ? OF : 0;
  c.setResultFlags(al, 1, cf | af | of);
}

/** 37/3F: AAA/AAS. */
export function aaaAas(c: Cpu, d: Insn): void {
  const ax = c.regs[EAX]! & 0xffff;
  if ((ax & 0xf) > 9 || c.af()) {
    const adjusted = d.op === 0x37 ? ax + 0x106 : ax - 0x106;
    c.setReg(EAX, 2, (adjusted & 0xff00) | (((d.op === 0x37 ? ax + 6 : ax - 6) & 0x0f)));
    c.setResultFlags(c.regs[EAX]! & 0xff, 1, AF | CF);
  } else {
    c.setReg(EAX, 1, ax & 0x0f);
    c.setResultFlags(c.regs[EAX]! & 0xff, 1, 0);
  }
}

/** D4 ib: AAM. */
export function aam(c: Cpu, d: Insn): void {
  if (d.imm === 0) throw deFault();
  const al = c.regs[EAX]! & 0xff;
  const r = al % d.imm;
  c.setReg(EAX, 2, (Math.floor(al / d.imm) << 8) | r);
  c.setResultFlags(r, 1, 0);
}

/** D5 ib: AAD. */
export function aad(c: Cpu, d: Insn): void {
  const ax = c.regs[EAX]!;
  const al = ((ax >>> 8) & 0xff) * d.imm + (ax & 0xff);
  c.setReg(EAX, 2, al & 0xff);
  c.setResultFlags(al & 0xff, 1, 0);
}
