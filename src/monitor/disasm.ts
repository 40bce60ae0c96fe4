/**
 * A compact x86 disassembler for the monitor's `x/i` (16- and 32-bit code,
 * AT&T syntax as QEMU prints it): the one-byte opcode map's common
 * instructions, the 0F jumps, SETcc, MOVZX/MOVSX and control-register
 * moves. Anything else prints as `(bad)` one byte long, so a listing never
 * stops early.
 */

export interface DisasmLine {
  length: number;
  text: string;
}

const REG32 = ['%eax', '%ecx', '%edx', '%ebx', '%esp', '%ebp', '%esi', '%edi'];
const REG16 = ['%ax', '%cx', '%dx', '%bx', '%sp', '%bp', '%si', '%di'];
const REG8 = ['%al', '%cl', '%dl', '%bl', '%ah', '%ch', '%dh', '%bh'];
const SREG = ['%es', '%cs', '%ss', '%ds', '%fs', '%gs', '%?', '%?'];
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFT = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const MEM16 = ['%bx,%si', '%bx,%di', '%bp,%si', '%bp,%di', '%si', '%di', '%bp', '%bx'];
const SIMPLE: Record<number, string> = {
  0x90: 'nop', 0x98: 'cwtl', 0x99: 'cltd', 0x9c: 'pushf', 0x9d: 'popf', 0x9e: 'sahf', 0x9f: 'lahf',
  0xc3: 'ret', 0xc9: 'leave', 0xcb: 'lret', 0xcc: 'int3', 0xce: 'into', 0xcf: 'iret', 0xf4: 'hlt', 0xf5: 'cmc',
  0xf8: 'clc', 0xf9: 'stc', 0xfa: 'cli', 0xfb: 'sti', 0xfc: 'cld', 0xfd: 'std', 0x60: 'pusha', 0x61: 'popa',
  0x27: 'daa', 0x2f: 'das', 0x37: 'aaa', 0x3f: 'aas', 0xd7: 'xlat',
};
const STRING: Record<number, string> = { 0xa4: 'movs', 0xa6: 'cmps', 0xaa: 'stos', 0xac: 'lods', 0xae: 'scas', 0x6c: 'ins', 0x6e: 'outs' };

class Reader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}
  u8(): number {
    if (this.pos >= this.bytes.length) throw new RangeError('truncated');
    return this.bytes[this.pos++]!;
  }
  s8(): number {
    return (this.u8() << 24) >> 24;
  }
  u16(): number {
    return this.u8() | (this.u8() << 8);
  }
  u32(): number {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }
}

function imm(v: number): string {
  return v < 0 ? `$-0x${(-v).toString(16)}` : `$0x${v.toString(16)}`;
}

function disp(v: number): string {
  return v === 0 ? '' : v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}

interface Ctx {
  r: Reader;
  o32: boolean;
  a32: boolean;
  seg: string;
  addr: number;
}

interface ModRm {
  reg: number;
  /** The r/m operand as text (a register of `size` bytes or a memory reference). */
  rm(size: 1 | 2 | 4): string;
  isReg: boolean;
}

function modrm(c: Ctx): ModRm {
  const b = c.r.u8();
  const mod = b >> 6;
  const reg = (b >> 3) & 7;
  const rmf = b & 7;
  if (mod === 3) return { reg, isReg: true, rm: (size) => (size === 1 ? REG8 : size === 2 ? REG16 : REG32)[rmf]! };
  let mem: string;
  if (c.a32) {
    let base = REG32[rmf]!;
    let index = '';
    if (rmf === 4) {
      const sib = c.r.u8();
      const idx = (sib >> 3) & 7;
      base = (sib & 7) === 5 && mod === 0 ? '' : REG32[sib & 7]!;
      if (idx !== 4) index = `,${REG32[idx]},${1 << (sib >> 6)}`;
      if ((sib & 7) === 5 && mod === 0) mem = `0x${c.r.u32().toString(16)}(${base}${index})`;
    }
    if (mod === 0 && rmf === 5) mem = `0x${c.r.u32().toString(16)}`;
    else {
      const d = mod === 1 ? c.r.s8() : mod === 2 ? c.r.u32() | 0 : 0;
      mem ??= `${disp(d)}(${base}${index})`;
    }
  } else if (mod === 0 && rmf === 6) {
    mem = `0x${c.r.u16().toString(16)}`;
  } else {
    const d = mod === 1 ? c.r.s8() : mod === 2 ? (c.r.u16() << 16) >> 16 : 0;
    mem = `${disp(d)}(${MEM16[rmf]})`;
  }
  return { reg, isReg: false, rm: () => c.seg + mem! };
}

function reg(size: 1 | 2 | 4, n: number): string {
  return (size === 1 ? REG8 : size === 2 ? REG16 : REG32)[n]!;
}

/** The size suffix AT&T syntax needs when no register operand gives the size. */
function memSuffix(m: ModRm, size: 1 | 2 | 4): string {
  return m.isReg ? '' : suffix(size);
}

/** String instructions with their implicit operands, as objdump prints them. */
function stringOp(c: Ctx, name: string, size: 1 | 2 | 4): string {
  const [si, di] = c.a32 ? ['%esi', '%edi'] : ['%si', '%di'];
  const src = `${c.seg || '%ds:'}(${si})`;
  const dst = `%es:(${di})`;
  const acc = reg(size, 0);
  const operands: Record<string, string> = {
    movs: `${src},${dst}`, cmps: `${dst},${src}`, stos: `${acc},${dst}`, lods: `${src},${acc}`,
    scas: `${dst},${acc}`, ins: `(%dx),${dst}`, outs: `${src},(%dx)`,
  };
  // The size shows in the accumulator operand when there is one (stos, lods, scas), else in a suffix.
  const sized = name === 'stos' || name === 'lods' || name === 'scas' ? name : `${name}${suffix(size)}`;
  return `${sized} ${operands[name]}`;
}

function suffix(size: 1 | 2 | 4): string {
  return size === 1 ? 'b' : size === 2 ? 'w' : 'l';
}

/** A branch target as a linear address (`addr` is linear; a 16-bit IP wrapping inside its segment is not modelled). */
function target(c: Ctx, rel: number): string {
  return `0x${((c.addr + c.r.pos + rel) >>> 0).toString(16)}`;
}

/** Decodes one instruction at `addr` from `bytes` (in 32-bit or 16-bit default mode). */
export function disassembleOne(bytes: Uint8Array, addr: number, code32: boolean): DisasmLine {
  const c: Ctx = { r: new Reader(bytes), o32: code32, a32: code32, seg: '', addr };
  try {
    return { text: decode(c), length: c.r.pos };
  } catch {
    return { text: '(bad)', length: 1 };
  }
}

function decode(c: Ctx): string {
  let rep = '';
  for (;;) {
    const op = c.r.u8();
    if (op === 0x66) c.o32 = !c.o32;
    else if (op === 0x67) c.a32 = !c.a32;
    else if (op === 0xf3) rep = 'rep';
    else if (op === 0xf2) rep = 'repnz';
    else if (op === 0xf0) rep = 'lock';
    else if ([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65].includes(op)) c.seg = SREG[[0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65].indexOf(op)] + ':';
    else return layout(rep, decodeOp(c, op));
  }
}

/**
 * objdump's spacing: the mnemonic padded to six columns, a space, the
 * operands; a prefix goes before the mnemonic (REP on CMPS/SCAS is REPZ).
 */
function layout(prefix: string, insn: string): string {
  const [mnemonic, ...rest] = insn.trim().split(/\s+/);
  const operands = rest.join(' ');
  if (prefix === '') return operands === '' ? mnemonic! : `${mnemonic!.padEnd(6)} ${operands}`;
  const p = prefix === 'rep' && /^(cmps|scas)/.test(mnemonic!) ? 'repz' : prefix;
  return `${p} ${mnemonic}${operands === '' ? '' : ` ${operands}`}`;
}

function decodeOp(c: Ctx, op: number): string {
  const v: 2 | 4 = c.o32 ? 4 : 2;
  const immv = (size: 1 | 2 | 4) => (size === 1 ? c.r.u8() : size === 2 ? c.r.u16() : c.r.u32());
  if (op < 0x40 && (op & 7) < 6) {
    const size = op & 1 ? v : 1;
    const name = ALU[op >> 3]!;
    if ((op & 7) >= 4) return `${name}    ${imm(immv(size))},${reg(size, 0)}`;
    const m = modrm(c);
    return op & 2 ? `${name}    ${m.rm(size)},${reg(size, m.reg)}` : `${name}    ${reg(size, m.reg)},${m.rm(size)}`;
  }
  if (op >= 0x40 && op < 0x60) return `${['inc', 'dec', 'push', 'pop'][(op - 0x40) >> 3]}    ${reg(v, op & 7)}`;
  if (op >= 0x70 && op < 0x80) return `j${CC[op & 15]}     ${target(c, c.r.s8())}`;
  if (op >= 0x91 && op < 0x98) return `xchg   ${reg(v, 0)},${reg(v, op & 7)}`;
  if (op >= 0xb0 && op < 0xb8) return `mov    ${imm(c.r.u8())},${reg(1, op & 7)}`;
  if (op >= 0xb8 && op < 0xc0) return `mov    ${imm(immv(v))},${reg(v, op & 7)}`;
  if (SIMPLE[op] !== undefined) return SIMPLE[op]!;
  const str = STRING[op & ~1];
  if (str !== undefined) return stringOp(c, str, op & 1 ? v : 1);
  switch (op) {
    case 0x06: case 0x0e: case 0x16: case 0x1e: return `push   ${SREG[op >> 3]}`;
    case 0x07: case 0x17: case 0x1f: return `pop    ${SREG[op >> 3]}`;
    case 0x0f: return decode0f(c);
    case 0x68: return `push   ${imm(immv(v))}`;
    case 0x6a: return `push   ${imm(c.r.s8())}`;
    case 0x80: case 0x81: case 0x83: {
      const size = op === 0x80 ? 1 : v;
      const m = modrm(c);
      const value = op === 0x83 ? c.r.s8() : immv(size);
      return `${ALU[m.reg]}${memSuffix(m, size)} ${imm(value)},${m.rm(size)}`;
    }
    case 0x84: case 0x85: case 0x86: case 0x87: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      return `${op < 0x86 ? 'test' : 'xchg'}   ${reg(size, m.reg)},${m.rm(size)}`;
    }
    case 0x88: case 0x89: case 0x8a: case 0x8b: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      return op & 2 ? `mov    ${m.rm(size)},${reg(size, m.reg)}` : `mov    ${reg(size, m.reg)},${m.rm(size)}`;
    }
    case 0x8c: { const m = modrm(c); return `mov    ${SREG[m.reg]},${m.rm(2)}`; }
    case 0x8e: { const m = modrm(c); return `mov    ${m.rm(2)},${SREG[m.reg]}`; }
    case 0x8d: { const m = modrm(c); return `lea    ${m.rm(v)},${reg(v, m.reg)}`; }
    case 0x8f: { const m = modrm(c); return `pop${memSuffix(m, v)} ${m.rm(v)}`; }
    case 0xa8: return `test   ${imm(c.r.u8())},%al`;
    case 0xa9: return `test   ${imm(immv(v))},${reg(v, 0)}`;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
      const size = op & 1 ? v : 1;
      const at = `${c.seg}0x${(c.a32 ? c.r.u32() : c.r.u16()).toString(16)}`;
      return op & 2 ? `mov    ${reg(size, 0)},${at}` : `mov    ${at},${reg(size, 0)}`;
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      const count = op < 0xd0 ? `${imm(c.r.u8())},` : op < 0xd2 ? '' : '%cl,';
      return `${SHIFT[m.reg]}${memSuffix(m, size)} ${count}${m.rm(size)}`;
    }
    case 0xc2: return `ret    ${imm(c.r.u16())}`;
    case 0xc6: case 0xc7: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      return `mov${memSuffix(m, size)} ${imm(immv(size))},${m.rm(size)}`;
    }
    case 0xcd: return `int    ${imm(c.r.u8())}`;
    case 0xe0: case 0xe1: case 0xe2: case 0xe3:
      return `${['loopne', 'loope', 'loop', c.a32 ? 'jecxz' : 'jcxz'][op - 0xe0]}  ${target(c, c.r.s8())}`;
    case 0xe4: return `in     ${imm(c.r.u8())},%al`;
    case 0xe5: return `in     ${imm(c.r.u8())},${reg(v, 0)}`;
    case 0xe6: return `out    %al,${imm(c.r.u8())}`;
    case 0xe7: return `out    ${reg(v, 0)},${imm(c.r.u8())}`;
    case 0xec: return 'in     (%dx),%al';
    case 0xed: return `in     (%dx),${reg(v, 0)}`;
    case 0xee: return 'out    %al,(%dx)';
    case 0xef: return `out    ${reg(v, 0)},(%dx)`;
    case 0xe8: return `call   ${target(c, v === 4 ? c.r.u32() | 0 : (c.r.u16() << 16) >> 16)}`;
    case 0xe9: return `jmp    ${target(c, v === 4 ? c.r.u32() | 0 : (c.r.u16() << 16) >> 16)}`;
    case 0xeb: return `jmp    ${target(c, c.r.s8())}`;
    case 0xea: {
      const off = immv(v);
      return `ljmp   $0x${c.r.u16().toString(16)},$0x${off.toString(16)}`;
    }
    case 0xf6: case 0xf7: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      const name = ['test', 'test', 'not', 'neg', 'mul', 'imul', 'div', 'idiv'][m.reg]!;
      return m.reg < 2 ? `${name}${memSuffix(m, size)} ${imm(immv(size))},${m.rm(size)}` : `${name}${memSuffix(m, size)} ${m.rm(size)}`;
    }
    case 0xfe: case 0xff: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      const name = ['inc', 'dec', 'call', 'lcall', 'jmp', 'ljmp', 'push', '(bad)'][m.reg]!;
      return m.reg === 2 || m.reg === 4 ? `${name} *${m.rm(size)}` : `${name}${memSuffix(m, size)} ${m.rm(size)}`;
    }
  }
  throw new RangeError('unknown opcode');
}

function decode0f(c: Ctx): string {
  const op = c.r.u8();
  const v: 2 | 4 = c.o32 ? 4 : 2;
  if (op >= 0x80 && op < 0x90) return `j${CC[op & 15]}     ${target(c, v === 4 ? c.r.u32() | 0 : (c.r.u16() << 16) >> 16)}`;
  if (op >= 0x90 && op < 0xa0) return `set${CC[op & 15]}   ${modrm(c).rm(1)}`;
  switch (op) {
    case 0x01: {
      const m = modrm(c);
      const name = ['sgdt', 'sidt', 'lgdt', 'lidt', 'smsw', '(bad)', 'lmsw', 'invlpg'][m.reg]!;
      return `${m.reg < 4 ? name + suffix(v) : name} ${m.rm(v)}`;
    }
    case 0x20: { const m = modrm(c); return `mov    %cr${m.reg},${m.rm(4)}`; }
    case 0x22: { const m = modrm(c); return `mov    ${m.rm(4)},%cr${m.reg}`; }
    case 0x30: return 'wrmsr';
    case 0x31: return 'rdtsc';
    case 0x32: return 'rdmsr';
    case 0xa2: return 'cpuid';
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {
      const m = modrm(c);
      const from = op & 1 ? 2 : 1;
      return `mov${op < 0xb8 ? 'z' : 's'}${suffix(from)}${suffix(v)} ${m.rm(from)},${reg(v, m.reg)}`;
    }
    case 0xaf: { const m = modrm(c); return `imul   ${m.rm(v)},${reg(v, m.reg)}`; }
  }
  throw new RangeError('unknown opcode');
}
