/**
 * A compact x86 disassembler for the monitor's `x/i` and the translator's
 * `-d in_asm`: 16-, 32- and 64-bit code in AT&T syntax as GNU objdump
 * prints it (the tests' reference). It covers the one-byte opcode map's
 * common instructions, REX prefixes and RIP-relative operands in 64-bit
 * mode, the 0F jumps, SETcc, CMOVcc, MOVZX/MOVSX, the bit tests and scans,
 * SHLD/SHRD, the atomics (XADD, CMPXCHG, CMPXCHG8B/16B), BSWAP, the
 * multi-byte NOP, prefetches and fences, control-register moves and the
 * system instructions a kernel runs. Anything else prints as `(bad)` one
 * byte long, so a listing never stops early.
 */

export interface DisasmLine {
  length: number;
  text: string;
}

/** The default operand and address size of the code segment: CS.D, or CS.L in long mode. */
export type CodeMode = 16 | 32 | 64;

type Size = 1 | 2 | 4 | 8;

const EXTENDED = (suffix: string) => Array.from({ length: 8 }, (_, i) => `%r${i + 8}${suffix}`);
const REGS: Record<2 | 4 | 8, string[]> = {
  2: ['%ax', '%cx', '%dx', '%bx', '%sp', '%bp', '%si', '%di', ...EXTENDED('w')],
  4: ['%eax', '%ecx', '%edx', '%ebx', '%esp', '%ebp', '%esi', '%edi', ...EXTENDED('d')],
  8: ['%rax', '%rcx', '%rdx', '%rbx', '%rsp', '%rbp', '%rsi', '%rdi', ...EXTENDED('')],
};
/** Byte registers 4-7 are AH..BH without a REX prefix and SPL..DIL with one (SDM Vol. 2A, 3.7.2.1, Table 3-2). */
const REG8_LEGACY = ['%al', '%cl', '%dl', '%bl', '%ah', '%ch', '%dh', '%bh'];
const REG8_REX = ['%al', '%cl', '%dl', '%bl', '%spl', '%bpl', '%sil', '%dil', ...EXTENDED('b')];
const SREG = ['%es', '%cs', '%ss', '%ds', '%fs', '%gs', '%?', '%?'];
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFT = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const MEM16 = ['%bx,%si', '%bx,%di', '%bp,%si', '%bp,%di', '%si', '%di', '%bp', '%bx'];
const SIMPLE: Record<number, string> = {
  0x90: 'nop', 0x9c: 'pushf', 0x9d: 'popf', 0x9e: 'sahf', 0x9f: 'lahf',
  0xc3: 'ret', 0xc9: 'leave', 0xcc: 'int3', 0xce: 'into', 0xf4: 'hlt', 0xf5: 'cmc',
  0xf8: 'clc', 0xf9: 'stc', 0xfa: 'cli', 0xfb: 'sti', 0xfc: 'cld', 0xfd: 'std', 0x60: 'pusha', 0x61: 'popa',
  0x27: 'daa', 0x2f: 'das', 0x37: 'aaa', 0x3f: 'aas', 0xd7: 'xlat',
};
const STRING: Record<number, string> = { 0xa4: 'movs', 0xa6: 'cmps', 0xaa: 'stos', 0xac: 'lods', 0xae: 'scas', 0x6c: 'ins', 0x6e: 'outs' };
/**
 * One-byte opcodes that are invalid in 64-bit mode (the "i64" entries of SDM
 * Vol. 2D, Table A-2): PUSH/POP ES CS SS DS, DAA DAS AAA AAS, PUSHA POPA,
 * BOUND, LES LDS (VEX there), INTO, AAM AAD, SALC, the 82 alias of 80,
 * far CALL/JMP with an immediate pointer. 40-4F are REX prefixes instead.
 */
const INVALID_IN_64 = new Set([
  0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x60, 0x61, 0x62, 0x82, 0x9a, 0xc4, 0xc5, 0xce, 0xd4, 0xd5, 0xd6, 0xea,
]);

/** REX prefix bits (SDM Vol. 2A, 2.2.1.2, Table 2-4). */
const REX_W = 8;
const REX_R = 4;
const REX_X = 2;
const REX_B = 1;

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
  s16(): number {
    return (this.u16() << 16) >> 16;
  }
  u32(): number {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }
  s32(): number {
    return this.u32() | 0;
  }
  u64(): bigint {
    const lo = BigInt(this.u32());
    return lo | (BigInt(this.u32()) << 32n);
  }
}

interface Ctx {
  r: Reader;
  mode: CodeMode;
  /** 66h: the other operand size. */
  opPrefix: boolean;
  /** 67h: the other address size. */
  adPrefix: boolean;
  /** The REX prefix's low nibble (WRXB), undefined without one; only in 64-bit mode. */
  rex: number | undefined;
  seg: string;
  addr: bigint;
  /** A RIP-relative operand's displacement, for objdump's `# target` comment. */
  ripDisp: bigint | undefined;
}

function rexBit(c: Ctx, bit: number): boolean {
  return ((c.rex ?? 0) & bit) !== 0;
}

/** The register number a ModRM/SIB/opcode field names once the REX bit that extends it is added. */
function extend(c: Ctx, bit: number, field: number): number {
  return rexBit(c, bit) ? field | 8 : field;
}

/** Operand size (SDM Vol. 1, 3.6.1, Table 3-4): REX.W gives 64 bits, else 66h flips the mode's default. */
function operandSize(c: Ctx): 2 | 4 | 8 {
  if (rexBit(c, REX_W)) return 8;
  return (c.mode === 16) !== c.opPrefix ? 2 : 4;
}

/** Near branches and stack operations default to 64 bits in 64-bit mode (SDM Vol. 1, 3.6.1; the "d64" opcodes of Table A-2). */
function stackSize(c: Ctx): 2 | 4 | 8 {
  if (c.mode !== 64) return operandSize(c);
  return c.opPrefix ? 2 : 8;
}

function addressSize(c: Ctx): 2 | 4 | 8 {
  if (c.mode === 64) return c.adPrefix ? 4 : 8;
  return (c.mode === 16) !== c.adPrefix ? 2 : 4;
}

function mask(v: bigint, bytes: number): bigint {
  return BigInt.asUintN(bytes * 8, v);
}

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** An immediate as objdump shows it: sign- or zero-extended to the operand size, printed unsigned. */
function imm(v: bigint | number, size: Size): string {
  return `$${hex(mask(BigInt(v), size))}`;
}

/** A displacement added to a base or index register: signed. */
function signedDisp(v: bigint): string {
  return v < 0n ? `-${hex(-v)}` : hex(v);
}

function reg(c: Ctx, size: Size, n: number): string {
  if (size === 1) return (c.rex === undefined ? REG8_LEGACY : REG8_REX)[n]!;
  return REGS[size][n]!;
}

/** The accumulator-sized immediate most instructions take: at most 32 bits, sign-extended to a 64-bit operand. */
function readImm(c: Ctx, size: Size): string {
  if (size === 1) return imm(c.r.u8(), 1);
  if (size === 2) return imm(c.r.u16(), 2);
  return imm(size === 8 ? c.r.s32() : c.r.u32(), size);
}

/** An 8-bit immediate sign-extended to the operand size (83, 6A, 6B). */
function readImmS8(c: Ctx, size: Size): string {
  return imm(c.r.s8(), size);
}

interface ModRm {
  /** The reg field, REX.R applied. */
  reg: number;
  /** The r/m field as encoded (three bits, no REX.B): group 7 tells instructions apart by it when mod=11. */
  rmField: number;
  /** The r/m operand as text (a register of `size` bytes or a memory reference). */
  rm(size: Size): string;
  isReg: boolean;
}

function modrm(c: Ctx): ModRm {
  const b = c.r.u8();
  const mod = b >> 6;
  const regField = extend(c, REX_R, (b >> 3) & 7);
  const rmField = b & 7;
  if (mod === 3) {
    const n = extend(c, REX_B, rmField);
    return { reg: regField, rmField, isReg: true, rm: (size) => reg(c, size, n) };
  }
  const mem = c.seg + (addressSize(c) === 2 ? memory16(c, mod, rmField) : memory32(c, mod, rmField));
  return { reg: regField, rmField, isReg: false, rm: () => mem };
}

/** 16-bit addressing (SDM Vol. 2A, Table 2-1). */
function memory16(c: Ctx, mod: number, rm: number): string {
  if (mod === 0 && rm === 6) return hex(c.r.u16());
  if (mod === 0) return `(${MEM16[rm]})`;
  const d = mod === 1 ? c.r.s8() : c.r.s16();
  return `${signedDisp(BigInt(d))}(${MEM16[rm]})`;
}

/**
 * 32- and 64-bit addressing (SDM Vol. 2A, Tables 2-2 and 2-3; REX.X and
 * REX.B extend SIB.index and the base, Table 2-5). In 64-bit mode mod=00
 * r/m=101 is RIP-relative (2.2.1.6). The printing follows objdump: a
 * displacement without base or index is unsigned, one with them signed;
 * a SIB byte without an index shows %eiz/%riz when its scale or base would
 * otherwise be lost.
 */
function memory32(c: Ctx, mod: number, rm: number): string {
  const size = addressSize(c) as 4 | 8;
  const regs = REGS[size];
  if (mod === 0 && rm === 5) {
    if (c.mode !== 64) return hex(c.r.u32());
    c.ripDisp = BigInt(c.r.s32());
    return `${signedDisp(c.ripDisp)}(${size === 8 ? '%rip' : '%eip'})`;
  }
  if (rm !== 4) {
    const base = regs[extend(c, REX_B, rm)]!;
    return `${displacement(c, mod)}(${base})`;
  }
  const sib = c.r.u8();
  const scale = sib >> 6;
  const index = extend(c, REX_X, (sib >> 3) & 7);
  const baseField = sib & 7;
  const hasBase = !(baseField === 5 && mod === 0);
  const hasIndex = index !== 4;
  // Without base or index a 32-bit SIB address needs %eiz to differ from the plain disp32 form.
  const needsIndex = !hasBase && !hasIndex && c.mode !== 64;
  const d = hasBase ? displacement(c, mod) : hasIndex || needsIndex || scale !== 0 ? signedDisp(BigInt(c.r.s32())) : hex(mask(BigInt(c.r.s32()), size));
  const base = hasBase ? regs[extend(c, REX_B, baseField)]! : '';
  const showIndex = scale !== 0 || needsIndex || hasIndex || (hasBase && baseField !== 4);
  const indexText = showIndex ? `,${hasIndex ? regs[index] : size === 8 ? '%riz' : '%eiz'},${1 << scale}` : '';
  return base === '' && indexText === '' ? d : `${d}(${base}${indexText})`;
}

/** A mod=01/10 displacement (objdump prints it even when zero); none for mod=00. */
function displacement(c: Ctx, mod: number): string {
  if (mod === 0) return '';
  return signedDisp(BigInt(mod === 1 ? c.r.s8() : c.r.s32()));
}

/** The size suffix AT&T syntax needs when no register operand gives the size. */
function memSuffix(m: ModRm, size: Size): string {
  return m.isReg ? '' : suffix(size);
}

function suffix(size: Size): string {
  return ({ 1: 'b', 2: 'w', 4: 'l', 8: 'q' } as const)[size];
}

/** String instructions with their implicit operands, as objdump prints them. */
function stringOp(c: Ctx, name: string, size: Size): string {
  const a = addressSize(c);
  const [si, di] = [REGS[a][6], REGS[a][7]];
  const src = `${c.seg || '%ds:'}(${si})`;
  const dst = `%es:(${di})`;
  const acc = reg(c, size, 0);
  const operands: Record<string, string> = {
    movs: `${src},${dst}`, cmps: `${dst},${src}`, stos: `${acc},${dst}`, lods: `${src},${acc}`,
    scas: `${dst},${acc}`, ins: `(%dx),${dst}`, outs: `${src},(%dx)`,
  };
  // The size shows in the accumulator operand when there is one (stos, lods, scas), else in a suffix.
  const sized = name === 'stos' || name === 'lods' || name === 'scas' ? name : `${name}${suffix(size)}`;
  return `${sized} ${operands[name]}`;
}

/**
 * A branch target: the next instruction's address plus `rel`, wrapped to
 * the mode's address width (16-bit code is shown linear; IP wrapping inside
 * its segment is not modelled).
 */
function target(c: Ctx, rel: number): string {
  return hex(mask(c.addr + BigInt(c.r.pos + rel), c.mode === 64 ? 8 : 4));
}

/** A near relative branch's rel16/rel32 (always rel32 in 64-bit mode, as objdump decodes it without 66h). */
function readRel(c: Ctx): number {
  return operandSize(c) === 2 ? c.r.s16() : c.r.s32();
}

/** Decodes one instruction at `addr` from `bytes` in the given code-segment mode. */
export function disassembleOne(bytes: Uint8Array, addr: bigint, mode: CodeMode): DisasmLine {
  const c: Ctx = { r: new Reader(bytes), mode, opPrefix: false, adPrefix: false, rex: undefined, seg: '', addr, ripDisp: undefined };
  try {
    const text = decode(c);
    return { text: text + ripComment(c), length: c.r.pos };
  } catch {
    return { text: '(bad)', length: 1 };
  }
}

/** objdump follows a RIP-relative operand with the address it reaches, from the end of the instruction. */
function ripComment(c: Ctx): string {
  if (c.ripDisp === undefined) return '';
  return `        # ${hex(mask(c.addr + BigInt(c.r.pos) + c.ripDisp, 8))}`;
}

const SEGMENT_PREFIXES = [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];

function decode(c: Ctx): string {
  let rep = '';
  for (;;) {
    const op = c.r.u8();
    // A REX prefix counts only directly before the opcode (SDM Vol. 2A, 2.2.1): a later prefix cancels it.
    const rex = c.mode === 64 && op >= 0x40 && op < 0x50 ? op & 15 : undefined;
    if (rex !== undefined) {
      c.rex = rex;
      continue;
    }
    if (isLegacyPrefix(op)) c.rex = undefined;
    if (op === 0x66) c.opPrefix = !c.opPrefix;
    else if (op === 0x67) c.adPrefix = !c.adPrefix;
    else if (op === 0xf3) rep = 'rep';
    else if (op === 0xf2) rep = 'repnz';
    else if (op === 0xf0) rep = 'lock';
    else if (SEGMENT_PREFIXES.includes(op)) c.seg = SREG[SEGMENT_PREFIXES.indexOf(op)] + ':';
    else return layout(rep, decodeOp(c, op));
  }
}

function isLegacyPrefix(op: number): boolean {
  return op === 0x66 || op === 0x67 || op === 0xf0 || op === 0xf2 || op === 0xf3 || SEGMENT_PREFIXES.includes(op);
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

/** Instructions whose mnemonic names the operand size (CBW/CWDE/CDQE, CWD/CDQ/CQO, IRET, far RET). */
function sizedMnemonic(c: Ctx, op: number): string | undefined {
  const v = operandSize(c);
  switch (op) {
    case 0x98: return { 2: 'cbtw', 4: 'cwtl', 8: 'cltq' }[v];
    case 0x99: return { 2: 'cwtd', 4: 'cltd', 8: 'cqto' }[v];
    case 0xcb: return v === 8 ? 'lretq' : 'lret';
    case 0xcf: return v === 8 ? 'iretq' : 'iret';
  }
  return undefined;
}

function decodeOp(c: Ctx, op: number): string {
  if (c.mode === 64 && INVALID_IN_64.has(op)) throw new RangeError('invalid in 64-bit mode');
  const v = operandSize(c);
  if (op < 0x40 && (op & 7) < 6) {
    const size = op & 1 ? v : 1;
    const name = ALU[op >> 3]!;
    if ((op & 7) >= 4) return `${name}    ${readImm(c, size)},${reg(c, size, 0)}`;
    const m = modrm(c);
    return op & 2 ? `${name}    ${m.rm(size)},${reg(c, size, m.reg)}` : `${name}    ${reg(c, size, m.reg)},${m.rm(size)}`;
  }
  if (op >= 0x40 && op < 0x50) return `${op < 0x48 ? 'inc' : 'dec'}    ${reg(c, v, op & 7)}`;
  if (op >= 0x50 && op < 0x60) return `${op < 0x58 ? 'push' : 'pop'}    ${reg(c, stackSize(c), extend(c, REX_B, op & 7))}`;
  if (op >= 0x70 && op < 0x80) return `j${CC[op & 15]}     ${target(c, c.r.s8())}`;
  // 90 with REX.B is XCHG r8,rAX, not NOP (SDM Vol. 2B, NOP/XCHG).
  if ((op >= 0x91 && op < 0x98) || (op === 0x90 && rexBit(c, REX_B))) return `xchg   ${reg(c, v, 0)},${reg(c, v, extend(c, REX_B, op & 7))}`;
  if (op >= 0xb0 && op < 0xb8) return `mov    ${readImm(c, 1)},${reg(c, 1, extend(c, REX_B, op & 7))}`;
  if (op >= 0xb8 && op < 0xc0) return movImmediate(c, extend(c, REX_B, op & 7));
  const sized = sizedMnemonic(c, op);
  if (sized !== undefined) return sized;
  if (SIMPLE[op] !== undefined) return SIMPLE[op]!;
  const str = STRING[op & ~1];
  if (str !== undefined) return stringOp(c, str, op & 1 ? v : 1);
  switch (op) {
    case 0x06: case 0x0e: case 0x16: case 0x1e: return `push   ${SREG[op >> 3]}`;
    case 0x07: case 0x17: case 0x1f: return `pop    ${SREG[op >> 3]}`;
    case 0x0f: return decode0f(c);
    case 0x63: return movsxd(c);
    case 0x68: return `push   ${readImm(c, stackSize(c))}`;
    // IMUL Gv, Ev, Iz/Ib: AT&T puts the immediate first and the destination last.
    case 0x69: case 0x6b: {
      const m = modrm(c);
      const value = op === 0x6b ? readImmS8(c, v) : readImm(c, v);
      return `imul   ${value},${m.rm(v)},${reg(c, v, m.reg)}`;
    }
    case 0x6a: return `push   ${readImmS8(c, stackSize(c))}`;
    case 0x80: case 0x81: case 0x83: {
      const size = op === 0x80 ? 1 : v;
      const m = modrm(c);
      const value = op === 0x83 ? readImmS8(c, size) : readImm(c, size);
      return `${ALU[m.reg & 7]}${memSuffix(m, size)} ${value},${m.rm(size)}`;
    }
    case 0x84: case 0x85: case 0x86: case 0x87: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      return `${op < 0x86 ? 'test' : 'xchg'}   ${reg(c, size, m.reg)},${m.rm(size)}`;
    }
    case 0x88: case 0x89: case 0x8a: case 0x8b: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      return op & 2 ? `mov    ${m.rm(size)},${reg(c, size, m.reg)}` : `mov    ${reg(c, size, m.reg)},${m.rm(size)}`;
    }
    case 0x8c: { const m = modrm(c); return `mov    ${SREG[m.reg & 7]},${m.rm(v)}`; }
    case 0x8e: { const m = modrm(c); return `mov    ${m.rm(v)},${SREG[m.reg & 7]}`; }
    case 0x8d: { const m = modrm(c); return `lea    ${m.rm(v)},${reg(c, v, m.reg)}`; }
    case 0x8f: { const m = modrm(c); return `pop${stackSuffix(c, m)} ${m.rm(stackSize(c))}`; }
    case 0xa8: return `test   ${readImm(c, 1)},%al`;
    case 0xa9: return `test   ${readImm(c, v)},${reg(c, v, 0)}`;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: return movOffset(c, op);
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      const count = op < 0xd0 ? `${readImm(c, 1)},` : op < 0xd2 ? '' : '%cl,';
      return `${SHIFT[m.reg & 7]}${memSuffix(m, size)} ${count}${m.rm(size)}`;
    }
    case 0xc2: return `ret    ${imm(c.r.u16(), 2)}`;
    case 0xc6: case 0xc7: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      return `mov${memSuffix(m, size)} ${readImm(c, size)},${m.rm(size)}`;
    }
    case 0xcd: return `int    ${readImm(c, 1)}`;
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: {
      const jcxz = { 2: 'jcxz', 4: 'jecxz', 8: 'jrcxz' }[addressSize(c)];
      return `${['loopne', 'loope', 'loop', jcxz][op - 0xe0]}  ${target(c, c.r.s8())}`;
    }
    case 0xe4: return `in     ${readImm(c, 1)},%al`;
    case 0xe5: return `in     ${readImm(c, 1)},${reg(c, v, 0)}`;
    case 0xe6: return `out    %al,${readImm(c, 1)}`;
    case 0xe7: return `out    ${reg(c, v, 0)},${readImm(c, 1)}`;
    case 0xec: return 'in     (%dx),%al';
    case 0xed: return `in     (%dx),${reg(c, v, 0)}`;
    case 0xee: return 'out    %al,(%dx)';
    case 0xef: return `out    ${reg(c, v, 0)},(%dx)`;
    case 0xe8: return `call   ${target(c, readRel(c))}`;
    case 0xe9: return `jmp    ${target(c, readRel(c))}`;
    case 0xeb: return `jmp    ${target(c, c.r.s8())}`;
    case 0xea: {
      const off = v === 2 ? c.r.u16() : c.r.u32();
      return `ljmp   $${hex(c.r.u16())},$${hex(off)}`;
    }
    case 0xf6: case 0xf7: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      const name = ['test', 'test', 'not', 'neg', 'mul', 'imul', 'div', 'idiv'][m.reg & 7]!;
      return m.reg % 8 < 2 ? `${name}${memSuffix(m, size)} ${readImm(c, size)},${m.rm(size)}` : `${name}${memSuffix(m, size)} ${m.rm(size)}`;
    }
    case 0xfe: case 0xff: return group5(c, op === 0xfe ? 1 : v);
  }
  throw new RangeError('unknown opcode');
}

/** B8+r: MOV r, imm; with REX.W the immediate is 64 bits and objdump calls it movabs. */
function movImmediate(c: Ctx, r: number): string {
  const v = operandSize(c);
  if (v === 8) return `movabs $${hex(c.r.u64())},${reg(c, 8, r)}`;
  return `mov    ${readImm(c, v)},${reg(c, v, r)}`;
}

/** A0-A3: MOV between the accumulator and a moffs as wide as the address size (64 bits in 64-bit mode: movabs). */
function movOffset(c: Ctx, op: number): string {
  const size = op & 1 ? operandSize(c) : 1;
  const a = addressSize(c);
  const offset = a === 8 ? c.r.u64() : a === 4 ? c.r.u32() : c.r.u16();
  const at = `${c.seg}${hex(offset)}`;
  const name = a === 8 ? 'movabs' : 'mov   ';
  return op & 2 ? `${name} ${reg(c, size, 0)},${at}` : `${name} ${at},${reg(c, size, 0)}`;
}

/** 63: MOVSXD in 64-bit mode (objdump: movslq with REX.W, else movsxd); ARPL elsewhere, not decoded. */
function movsxd(c: Ctx): string {
  if (c.mode !== 64) throw new RangeError('arpl');
  const v = operandSize(c);
  const m = modrm(c);
  return `${v === 8 ? 'movslq' : 'movsxd'} ${m.rm(4)},${reg(c, v, m.reg)}`;
}

/** PUSH/POP r/m take a suffix only when 66h moves them off the stack's default size (as objdump 2.40 prints them). */
function stackSuffix(c: Ctx, m: ModRm): string {
  return c.opPrefix ? memSuffix(m, stackSize(c)) : '';
}

/** FE/FF: INC, DEC, near and far CALL/JMP, PUSH. */
function group5(c: Ctx, size: Size): string {
  const m = modrm(c);
  const n = m.reg & 7;
  const name = ['inc', 'dec', 'call', 'lcall', 'jmp', 'ljmp', 'push', '(bad)'][n]!;
  if (n === 2 || n === 4) return `${name} *${m.rm(stackSize(c))}`;
  if (n === 6) return `${name}${stackSuffix(c, m)} ${m.rm(stackSize(c))}`;
  return `${name}${memSuffix(m, size)} ${m.rm(size)}`;
}

function decode0f(c: Ctx): string {
  const op = c.r.u8();
  const v = operandSize(c);
  if (op >= 0x40 && op < 0x50) {
    const m = modrm(c);
    return `cmov${CC[op & 15]} ${m.rm(v)},${reg(c, v, m.reg)}`;
  }
  if (op >= 0x80 && op < 0x90) return `j${CC[op & 15]}     ${target(c, readRel(c))}`;
  if (op >= 0x90 && op < 0xa0) return `set${CC[op & 15]}   ${modrm(c).rm(1)}`;
  if (op >= 0xc8 && op < 0xd0) return `bswap  ${reg(c, v, extend(c, REX_B, op & 7))}`;
  // Control registers move at the mode's full width; REX.R reaches CR8 (SDM Vol. 2B, MOV—Move to/from Control Registers).
  const crSize = c.mode === 64 ? 8 : 4;
  switch (op) {
    case 0x00: return group6(c);
    case 0x01: return group7(c);
    case 0x05: if (c.mode === 64) return 'syscall'; break;
    case 0x06: return 'clts';
    case 0x07: if (c.mode === 64) return v === 8 ? 'sysretq' : 'sysretl'; break;
    case 0x08: return 'invd';
    case 0x09: return 'wbinvd';
    case 0x0b: return 'ud2';
    case 0x0d: return prefetch(c, ['prefetch', 'prefetchw']);
    case 0x18: return prefetch(c, ['prefetchnta', 'prefetcht0', 'prefetcht1', 'prefetcht2']);
    // The multi-byte NOP compilers pad with (SDM Vol. 2B, NOP): objdump sizes it unless it names a register.
    case 0x1f: { const m = modrm(c); return `nop${memSuffix(m, v)} ${m.rm(v)}`; }
    case 0x20: { const m = modrm(c); return `mov    %cr${m.reg},${m.rm(crSize)}`; }
    case 0x22: { const m = modrm(c); return `mov    ${m.rm(crSize)},%cr${m.reg}`; }
    case 0x30: return 'wrmsr';
    case 0x31: return 'rdtsc';
    case 0x32: return 'rdmsr';
    case 0x33: return 'rdpmc';
    case 0x34: if (c.mode !== 64) return 'sysenter'; break;
    case 0x35: if (c.mode !== 64) return 'sysexit'; break;
    // FS and GS: the segment is in bits 5-3, as in the one-byte PUSH/POP ES..DS.
    case 0xa0: case 0xa8: return `push   ${SREG[(op >> 3) & 7]}`;
    case 0xa1: case 0xa9: return `pop    ${SREG[(op >> 3) & 7]}`;
    case 0xa2: return 'cpuid';
    case 0xa3: case 0xab: case 0xb3: case 0xbb: { const m = modrm(c); return `${BIT_TEST[(op >> 3) & 3]} ${reg(c, v, m.reg)},${m.rm(v)}`; }
    case 0xba: return bitTestImmediate(c);
    case 0xa4: case 0xa5: case 0xac: case 0xad: {
      const m = modrm(c);
      const count = op & 1 ? '%cl' : readImm(c, 1);
      return `${op < 0xa8 ? 'shld' : 'shrd'}   ${count},${reg(c, v, m.reg)},${m.rm(v)}`;
    }
    case 0xae: return group15(c);
    case 0xb0: case 0xb1: case 0xc0: case 0xc1: {
      const size = op & 1 ? v : 1;
      const m = modrm(c);
      return `${op < 0xc0 ? 'cmpxchg' : 'xadd'}   ${reg(c, size, m.reg)},${m.rm(size)}`;
    }
    case 0xbc: case 0xbd: { const m = modrm(c); return `${op === 0xbc ? 'bsf' : 'bsr'}    ${m.rm(v)},${reg(c, v, m.reg)}`; }
    case 0xc7: {
      const m = modrm(c);
      if (m.isReg || (m.reg & 7) !== 1) throw new RangeError('unknown 0f c7 form');
      return `${v === 8 ? 'cmpxchg16b' : 'cmpxchg8b'} ${m.rm(v)}`;
    }
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {
      const m = modrm(c);
      const from = op & 1 ? 2 : 1;
      return `mov${op < 0xb8 ? 'z' : 's'}${suffix(from)}${suffix(v)} ${m.rm(from)},${reg(c, v, m.reg)}`;
    }
    case 0xaf: { const m = modrm(c); return `imul   ${m.rm(v)},${reg(c, v, m.reg)}`; }
  }
  throw new RangeError('unknown opcode');
}

const BIT_TEST = ['bt', 'bts', 'btr', 'btc'];

/** 0F BA /4-/7: BT, BTS, BTR, BTC with an immediate bit offset. */
function bitTestImmediate(c: Ctx): string {
  const v = operandSize(c);
  const m = modrm(c);
  if ((m.reg & 7) < 4) throw new RangeError('unknown 0f ba form');
  return `${BIT_TEST[m.reg & 3]}${memSuffix(m, v)} ${readImm(c, 1)},${m.rm(v)}`;
}

/** 0F 0D and 0F 18: prefetch hints by ModRM.reg (memory operands only; `names` by reg, the rest are hint NOPs not decoded). */
function prefetch(c: Ctx, names: string[]): string {
  const m = modrm(c);
  const name = names[m.reg & 7];
  if (m.isReg || name === undefined) throw new RangeError('unknown prefetch form');
  return `${name} ${m.rm(1)}`;
}

/**
 * 0F 00 (SDM Vol. 2D, Table A-6, group 6): SLDT and STR store a selector
 * (to a register at the operand size), LLDT, LTR, VERR and VERW read one
 * (a 16-bit register).
 */
function group6(c: Ctx): string {
  const m = modrm(c);
  const n = m.reg & 7;
  const name = ['sldt', 'str', 'lldt', 'ltr', 'verr', 'verw'][n];
  if (name === undefined) throw new RangeError('unknown 0f 00 form');
  return `${name} ${m.rm(n < 2 ? operandSize(c) : 2)}`;
}

/**
 * 0F AE (group 15): FXSAVE, FXRSTOR, LDMXCSR, STMXCSR and CLFLUSH take
 * memory; with mod=11, /5 /6 /7 are LFENCE, MFENCE, SFENCE.
 */
function group15(c: Ctx): string {
  const m = modrm(c);
  const n = m.reg & 7;
  if (m.isReg) {
    const fence = ['lfence', 'mfence', 'sfence'][n - 5];
    if (fence === undefined) throw new RangeError('unknown 0f ae form');
    return fence;
  }
  const name = ['fxsave', 'fxrstor', 'ldmxcsr', 'stmxcsr', undefined, undefined, undefined, 'clflush'][n];
  if (name === undefined) throw new RangeError('unknown 0f ae form');
  return `${name} ${m.rm(4)}`;
}

/**
 * 0F 01 (SDM Vol. 2D, Table A-6, group 7): descriptor-table loads and
 * stores take memory (objdump gives them a size suffix outside 64-bit
 * mode), SMSW/LMSW either; with mod=11, /7 r/m 000 is SWAPGS (64-bit mode
 * only) and r/m 001 RDTSCP. Other mod=11 forms (VMX, MONITOR...) are not decoded.
 */
function group7(c: Ctx): string {
  const m = modrm(c);
  const n = m.reg & 7;
  const name = ['sgdt', 'sidt', 'lgdt', 'lidt', 'smsw', '(bad)', 'lmsw', 'invlpg'][n]!;
  if (m.isReg) {
    if (n === 7 && m.rmField === 0 && c.mode === 64) return 'swapgs';
    if (n === 7 && m.rmField === 1) return 'rdtscp';
    if (n !== 4 && n !== 6) throw new RangeError('unknown 0f 01 form');
  }
  const sized = n < 4 && c.mode !== 64 ? name + suffix(operandSize(c)) : name;
  return `${sized} ${m.rm(operandSize(c))}`;
}
