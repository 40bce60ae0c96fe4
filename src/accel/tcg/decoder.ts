/**
 * x86 instruction decoder (SDM Vol. 2, chapter 2 and Appendix A): prefixes,
 * opcode (one byte or 0F xx), ModR/M, SIB, displacement and immediates into
 * an Insn. What each opcode takes is described by the OPCODES table that
 * optable.ts builds; the decoder knows nothing of semantics.
 */
import { Insn, type Handler } from './insn.js';
import { DS, EBP, ESP, SS } from './constants.js';
import { gpFault } from './exceptions.js';

/** Immediate operand kinds. */
export const enum Imm {
  None = 0,
  /** imm8, zero-extended. */
  B = 1,
  /** imm8 sign-extended to the operand size. */
  BS = 2,
  /** imm16. */
  W = 3,
  /** imm16 or imm32 by operand size. */
  Z = 4,
  /** moffs: address-size offset. */
  A = 5,
  /** imm16 then imm8 (ENTER). */
  WB = 6,
  /** ptr16:16/32: offset (operand size) then selector (JMP/CALL far). */
  P = 7,
  /** F6/F7 group: an immediate only for TEST (reg 0/1). */
  Grp3 = 8,
}

export interface OpcodeInfo {
  modrm: boolean;
  /** Byte-sized operation (size = 1). */
  byte: boolean;
  imm: Imm;
  exec: Handler;
}

/** Fetches instruction bytes; throws the CPU's fault on #PF/#GP. */
export interface ByteSource {
  fetch(offset: number): number;
}

export const OPCODES: (OpcodeInfo | undefined)[] = new Array(512);

export const MAX_INSN_LEN = 15;

// 16-bit addressing forms (SDM Vol. 2, Table 2-1): base, index per rm.
const RM16_BASE = [3, 3, 5, 5, 6, 7, 5, 3];
const RM16_INDEX = [6, 7, 6, 7, -1, -1, -1, -1];

/** Thrown by decodeInRam's byte source where the instruction would leave its page or the CS limit. */
const OUT_OF_REACH = new Error('instruction out of reach');

/**
 * The instruction at RAM index `phys`, at EIP `eip`, in 32-bit code or
 * (`cs32` false) 16-bit, its bytes past the end of the page from RAM index
 * `tail` on; undefined when it crosses the CS limit `limit`, or its page
 * with `tail` -1, or cannot be decoded (too long: the fetch raises that).
 */
export function decodeInRam(ram: Uint8Array, phys: number, eip: number, limit: number, cs32: boolean, tail: number, undefinedOp: Handler): Insn | undefined {
  const room = 4096 - (phys & 0xfff);
  try {
    return decode(
      {
        fetch(i: number): number {
          if (eip + i > limit) throw OUT_OF_REACH;
          if (i < room) return ram[phys + i]!;
          if (tail < 0) throw OUT_OF_REACH;
          return ram[tail + i - room]!;
        },
      },
      cs32,
      undefinedOp,
    );
  } catch {
    return undefined;
  }
}

/**
 * Decodes one instruction. `src.fetch(i)` returns the i-th byte after the
 * instruction start; `cs32` is the code segment's default size.
 */
export function decode(src: ByteSource, cs32: boolean, undefinedOp: Handler): Insn {
  const d = new Insn();
  d.mode = cs32 ? 1 : 0;
  let o32 = cs32;
  let a32 = cs32;
  let pos = 0;
  let b: number;
  for (;;) {
    if (pos >= MAX_INSN_LEN) throw gpFault(0);
    b = src.fetch(pos++);
    switch (b) {
      case 0x26:
      case 0x2e:
      case 0x36:
      case 0x3e:
        d.segOverride = (b >> 3) & 3;
        continue;
      case 0x64:
      case 0x65:
        d.segOverride = b - 0x60;
        continue;
      case 0x66:
        o32 = !cs32;
        continue;
      case 0x67:
        a32 = !cs32;
        continue;
      case 0xf0:
        d.lock = true;
        continue;
      case 0xf2:
      case 0xf3:
        d.rep = b;
        continue;
    }
    break;
  }
  let op = b;
  if (op === 0x0f) op = 0x100 | src.fetch(pos++);
  d.op = op;
  d.o32 = o32;
  d.a32 = a32;
  const info = OPCODES[op];
  d.exec = info ? info.exec : undefinedOp;
  d.size = info?.byte ? 1 : o32 ? 4 : 2;
  d.seg = d.segOverride >= 0 ? d.segOverride : DS;
  if (info?.modrm) pos = decodeModrm(src, pos, d, a32);
  if (info && info.imm !== Imm.None) pos = decodeImmediate(src, pos, d, info.imm);
  if (pos > MAX_INSN_LEN) throw gpFault(0);
  if (d.lock && !lockable(d)) d.exec = undefinedOp;
  d.len = pos;
  return d;
}

/**
 * LOCK is allowed only on read-modify-write instructions with a memory
 * destination (SDM Vol. 2, LOCK); anywhere else it is #UD.
 */
function lockable(d: Insn): boolean {
  if (d.mod === 3 || d.mod === -1) return false;
  const op = d.op;
  if (op < 0x38 && (op & 7) <= 1) return true; // ADD OR ADC SBB AND SUB XOR Eb/Ev,Gb/Gv
  switch (op) {
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83:
      return d.reg !== 7; // not CMP
    case 0x86:
    case 0x87:
    case 0x1ab:
    case 0x1b3:
    case 0x1bb:
    case 0x1b0:
    case 0x1b1:
    case 0x1c0:
    case 0x1c1:
      return true;
    case 0xf6:
    case 0xf7:
      return d.reg === 2 || d.reg === 3; // NOT NEG
    case 0xfe:
    case 0xff:
      return d.reg <= 1; // INC DEC
    case 0x1ba:
      return d.reg >= 5; // BTS BTR BTC
    case 0x1c7:
      return d.reg === 1; // CMPXCHG8B
    default:
      return false;
  }
}

function decodeModrm(src: ByteSource, pos: number, d: Insn, a32: boolean): number {
  const modrm = src.fetch(pos++);
  const mod = modrm >> 6;
  d.mod = mod;
  d.reg = (modrm >> 3) & 7;
  d.rm = modrm & 7;
  if (mod === 3) return pos;
  let defaultSs = false;
  if (a32) {
    let rm = d.rm;
    if (rm === 4) {
      const sib = src.fetch(pos++);
      d.scale = sib >> 6;
      const index = (sib >> 3) & 7;
      d.index = index === ESP ? -1 : index;
      rm = sib & 7;
      if (rm === EBP && mod === 0) {
        d.base = -1;
        d.disp = read32(src, pos);
        pos += 4;
      } else {
        d.base = rm;
      }
    } else if (rm === EBP && mod === 0) {
      d.base = -1;
      d.disp = read32(src, pos);
      pos += 4;
    } else {
      d.base = rm;
    }
    defaultSs = d.base === ESP || d.base === EBP;
    if (mod === 1) {
      d.disp = (src.fetch(pos++) << 24) >> 24;
    } else if (mod === 2) {
      d.disp = read32(src, pos);
      pos += 4;
    }
  } else {
    if (mod === 0 && d.rm === 6) {
      d.base = -1;
      d.disp = src.fetch(pos) | (src.fetch(pos + 1) << 8);
      pos += 2;
    } else {
      d.base = RM16_BASE[d.rm]!;
      d.index = RM16_INDEX[d.rm]!;
      defaultSs = d.base === EBP;
      if (mod === 1) {
        d.disp = (src.fetch(pos++) << 24) >> 24;
      } else if (mod === 2) {
        d.disp = ((src.fetch(pos) | (src.fetch(pos + 1) << 8)) << 16) >> 16;
        pos += 2;
      }
    }
  }
  if (d.segOverride < 0 && defaultSs) d.seg = SS;
  return pos;
}

function read32(src: ByteSource, pos: number): number {
  return (src.fetch(pos) | (src.fetch(pos + 1) << 8) | (src.fetch(pos + 2) << 16) | (src.fetch(pos + 3) << 24)) >>> 0;
}

function read16(src: ByteSource, pos: number): number {
  return src.fetch(pos) | (src.fetch(pos + 1) << 8);
}

function decodeImmediate(src: ByteSource, pos: number, d: Insn, kind: Imm): number {
  switch (kind) {
    case Imm.B:
      d.imm = src.fetch(pos);
      return pos + 1;
    case Imm.BS: {
      const v = (src.fetch(pos) << 24) >> 24;
      d.imm = d.size === 4 ? v >>> 0 : d.size === 2 ? v & 0xffff : v & 0xff;
      return pos + 1;
    }
    case Imm.W:
      d.imm = read16(src, pos);
      return pos + 2;
    case Imm.Z:
      if (d.size === 1) {
        d.imm = src.fetch(pos);
        return pos + 1;
      }
      if (d.o32) {
        d.imm = read32(src, pos);
        return pos + 4;
      }
      d.imm = read16(src, pos);
      return pos + 2;
    case Imm.A:
      if (d.a32) {
        d.disp = read32(src, pos);
        return pos + 4;
      }
      d.disp = read16(src, pos);
      return pos + 2;
    case Imm.WB:
      d.imm = read16(src, pos);
      d.imm2 = src.fetch(pos + 2);
      return pos + 3;
    case Imm.P:
      if (d.o32) {
        d.imm = read32(src, pos);
        pos += 4;
      } else {
        d.imm = read16(src, pos);
        pos += 2;
      }
      d.imm2 = read16(src, pos);
      return pos + 2;
    case Imm.Grp3:
      if (d.reg > 1) return pos;
      return decodeImmediate(src, pos, d, Imm.Z);
    default:
      return pos;
  }
}
