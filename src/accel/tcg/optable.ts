/**
 * The opcode map (SDM Vol. 2, Appendix A, Tables ): for each
 * one-byte and 0F-prefixed opcode, what the decoder must fetch (ModR/M,
 * immediates), whether it operates on bytes, and the handler that defines
 * its semantics.
 */
import { Imm, OPCODES } from './decoder.js';
import type { Handler } from './insn.js';
import * as alu from './alu.js';
import * as bcd from './bcd.js';
import * as bit from './bitops.js';
import * as ctl from './control.js';
import * as mov from './datamov.js';
import * as io from './io.js';
import * as seg from './segment.js';
import * as sh from './shift.js';
import * as str from './string.js';
import * as sys from './system.js';
import * as x87 from './x87.js';
import { udFault } from './exceptions.js';

interface Shape {
  modrm?: boolean;
  byte?: boolean;
  imm?: Imm;
}

function def(ops: number | number[], shape: Shape, exec: Handler): void {
  for (const op of Array.isArray(ops) ? ops : [ops]) {
    OPCODES[op] = { modrm: shape.modrm ?? false, byte: shape.byte ?? false, imm: shape.imm ?? Imm.None, exec };
  }
}

function range(from: number, to: number): number[] {
  const r: number[] = [];
  for (let i = from; i <= to; i++) r.push(i);
  return r;
}

const M = { modrm: true };
const MB = { modrm: true, byte: true };
const NONE = {};

// ---- one-byte opcodes ----------------------------------------------------
for (let base = 0; base < 0x40; base += 8) {
  def(base + 0, MB, alu.aluEG);
  def(base + 1, M, alu.aluEG);
  def(base + 2, MB, alu.aluGE);
  def(base + 3, M, alu.aluGE);
  def(base + 4, { byte: true, imm: Imm.B }, alu.aluAI);
  def(base + 5, { imm: Imm.Z }, alu.aluAI);
}
def([0x06, 0x0e, 0x16, 0x1e], NONE, seg.pushSreg);
def([0x07, 0x17, 0x1f], NONE, seg.popSreg);
def(0x27, NONE, bcd.daa);
def(0x2f, NONE, bcd.das);
def([0x37, 0x3f], NONE, bcd.aaaAas);
def(range(0x40, 0x4f), NONE, alu.incDecReg);
def(range(0x50, 0x57), NONE, mov.pushR);
def(range(0x58, 0x5f), NONE, mov.popR);
def(0x60, NONE, mov.pusha);
def(0x61, NONE, mov.popa);
def(0x62, M, ctl.bound);
def(0x63, M, sys.arpl);
def(0x68, { imm: Imm.Z }, mov.pushI);
def(0x69, { modrm: true, imm: Imm.Z }, alu.imulGEI);
def(0x6a, { imm: Imm.BS }, mov.pushI);
def(0x6b, { modrm: true, imm: Imm.BS }, alu.imulGEI);
def(0x6c, { byte: true }, str.insInsn);
def(0x6d, NONE, str.insInsn);
def(0x6e, { byte: true }, str.outsInsn);
def(0x6f, NONE, str.outsInsn);
def(range(0x70, 0x7f), { imm: Imm.B }, ctl.jccShort);
def([0x80, 0x82], { modrm: true, byte: true, imm: Imm.B }, alu.aluGroup1);
def(0x81, { modrm: true, imm: Imm.Z }, alu.aluGroup1);
def(0x83, { modrm: true, imm: Imm.BS }, alu.aluGroup1);
def(0x84, MB, alu.testEG);
def(0x85, M, alu.testEG);
def(0x86, MB, mov.xchgEG);
def(0x87, M, mov.xchgEG);
def(0x88, MB, mov.movEG);
def(0x89, M, mov.movEG);
def(0x8a, MB, mov.movGE);
def(0x8b, M, mov.movGE);
def(0x8c, M, seg.movESreg);
def(0x8d, M, mov.lea);
def(0x8e, M, seg.movSregE);
def(0x8f, M, mov.popE);
def(0x90, NONE, () => {});
def(range(0x91, 0x97), NONE, mov.xchgAR);
def(0x98, NONE, mov.cbw);
def(0x99, NONE, mov.cwd);
def(0x9a, { imm: Imm.P }, ctl.callFarImm);
def(0x9b, NONE, x87.fwait);
def(0x9c, NONE, mov.pushf);
def(0x9d, NONE, mov.popf);
def(0x9e, NONE, mov.sahf);
def(0x9f, NONE, mov.lahf);
def([0xa0, 0xa2], { byte: true, imm: Imm.A }, mov.movMoffs);
def([0xa1, 0xa3], { imm: Imm.A }, mov.movMoffs);
def(0xa4, { byte: true }, str.movsInsn);
def(0xa5, NONE, str.movsInsn);
def(0xa6, { byte: true }, str.cmpsInsn);
def(0xa7, NONE, str.cmpsInsn);
def(0xa8, { byte: true, imm: Imm.B }, alu.testAI);
def(0xa9, { imm: Imm.Z }, alu.testAI);
def(0xaa, { byte: true }, str.stosInsn);
def(0xab, NONE, str.stosInsn);
def(0xac, { byte: true }, str.lodsInsn);
def(0xad, NONE, str.lodsInsn);
def(0xae, { byte: true }, str.scasInsn);
def(0xaf, NONE, str.scasInsn);
def(range(0xb0, 0xb7), { byte: true, imm: Imm.B }, mov.movRI);
def(range(0xb8, 0xbf), { imm: Imm.Z }, mov.movRI);
def(0xc0, { modrm: true, byte: true, imm: Imm.B }, sh.group2);
def(0xc1, { modrm: true, imm: Imm.B }, sh.group2);
def(0xc2, { imm: Imm.W }, ctl.retNear);
def(0xc3, NONE, ctl.retNear);
def([0xc4, 0xc5], M, seg.loadFarPointer);
def(0xc6, { modrm: true, byte: true, imm: Imm.B }, mov.movEI);
def(0xc7, { modrm: true, imm: Imm.Z }, mov.movEI);
def(0xc8, { imm: Imm.WB }, ctl.enter);
def(0xc9, NONE, ctl.leave);
def(0xca, { imm: Imm.W }, ctl.retFar);
def(0xcb, NONE, ctl.retFar);
def(0xcc, NONE, ctl.int3);
def(0xcd, { imm: Imm.B }, ctl.intN);
def(0xce, NONE, ctl.into);
def(0xcf, NONE, ctl.iretInsn);
def([0xd0, 0xd2], MB, sh.group2);
def([0xd1, 0xd3], M, sh.group2);
def(0xd4, { imm: Imm.B }, bcd.aam);
def(0xd5, { imm: Imm.B }, bcd.aad);
def(0xd6, NONE, mov.salc);
def(0xd7, { byte: true }, mov.xlat);
def(range(0xd8, 0xdf), M, x87.x87Escape);
def(range(0xe0, 0xe3), { imm: Imm.B }, ctl.loop);
def(0xe4, { byte: true, imm: Imm.B }, io.inInsn);
def(0xe5, { imm: Imm.B }, io.inInsn);
def(0xe6, { byte: true, imm: Imm.B }, io.outInsn);
def(0xe7, { imm: Imm.B }, io.outInsn);
def(0xe8, { imm: Imm.Z }, ctl.callNear);
def(0xe9, { imm: Imm.Z }, ctl.jmpNear);
def(0xea, { imm: Imm.P }, ctl.jmpFarImm);
def(0xeb, { imm: Imm.B }, ctl.jmpShort);
def(0xec, { byte: true }, io.inInsn);
def(0xed, NONE, io.inInsn);
def(0xee, { byte: true }, io.outInsn);
def(0xef, NONE, io.outInsn);
def(0xf1, NONE, ctl.int1);
def(0xf4, NONE, sys.hlt);
def([0xf5, 0xf8, 0xf9, 0xfc, 0xfd], NONE, mov.flagOp);
def(0xf6, { modrm: true, byte: true, imm: Imm.Grp3 }, alu.group3);
def(0xf7, { modrm: true, imm: Imm.Grp3 }, alu.group3);
def(0xfa, NONE, sys.cli);
def(0xfb, NONE, sys.sti);
def(0xfe, MB, (c, d) => {
  if (d.reg > 1) throw udFault();
  alu.incDecE(c, d);
});
def(0xff, M, (c, d) => {
  if (d.reg < 2) alu.incDecE(c, d);
  else if (d.reg === 6) mov.pushE(c, d);
  else ctl.group5Control(c, d);
});

// ---- 0F xx ---------------------------------------------------------------
const T = 0x100;
def(T | 0x00, M, sys.group6);
def(T | 0x01, M, sys.group7);
def([T | 0x02, T | 0x03], M, sys.larLsl);
def(T | 0x06, NONE, sys.clts);
def([T | 0x08, T | 0x09], NONE, sys.invd);
def(T | 0x0b, NONE, sys.undefinedOpcode);
def(range(T | 0x18, T | 0x1f), M, sys.hintNop);
def(range(T | 0x20, T | 0x23), M, (c, d) => {
  if (d.op & 1) sys.movDr(c, d);
  else sys.movCr(c, d);
});
def(T | 0x30, NONE, sys.wrmsr);
def(T | 0x31, NONE, sys.rdtsc);
def(T | 0x32, NONE, sys.rdmsr);
def(T | 0x33, NONE, sys.rdpmc);
def(T | 0x34, NONE, sys.sysenter);
def(T | 0x35, NONE, sys.sysexit);
def(range(T | 0x40, T | 0x4f), M, (c, d) => {
  sys.requireCmov(c);
  mov.cmov(c, d);
});
def(range(T | 0x80, T | 0x8f), { imm: Imm.Z }, ctl.jccNear);
def(range(T | 0x90, T | 0x9f), MB, mov.setcc);
def([T | 0xa0, T | 0xa8], NONE, seg.pushSreg);
def([T | 0xa1, T | 0xa9], NONE, seg.popSreg);
def(T | 0xa2, NONE, sys.cpuid);
def([T | 0xa3, T | 0xab, T | 0xb3, T | 0xbb], M, bit.btEG);
def([T | 0xa4, T | 0xac], { modrm: true, imm: Imm.B }, sh.shiftDouble);
def([T | 0xa5, T | 0xad], M, sh.shiftDouble);
def(T | 0xae, M, x87.group15);
def(T | 0xaf, M, alu.imulGE);
def(T | 0xb0, MB, mov.cmpxchg);
def(T | 0xb1, M, mov.cmpxchg);
def([T | 0xb2, T | 0xb4, T | 0xb5], M, seg.loadFarPointer);
def([T | 0xb6, T | 0xb7, T | 0xbe, T | 0xbf], M, mov.movExtend);
def(T | 0xba, { modrm: true, imm: Imm.B }, bit.btGroup8);
def([T | 0xbc, T | 0xbd], M, bit.bitScan);
def(T | 0xc0, MB, mov.xadd);
def(T | 0xc1, M, mov.xadd);
def(T | 0xc7, M, mov.cmpxchg8b);
def(range(T | 0xc8, T | 0xcf), NONE, bit.bswap);

/** Importing this module fills OPCODES. */
export const OPTABLE_READY = true;
