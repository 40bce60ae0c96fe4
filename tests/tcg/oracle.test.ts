/**
 * The host CPU as the oracle: each user-level instruction below runs on
 * random operands and flags both natively (a C harness compiled with gcc at
 * test time, inline asm between POPF and PUSHF) and on tsvm's CPU (the same
 * instruction in a nasm loop over the same inputs). Registers and the flags
 * the SDM defines for the instruction must match. A sampled subset runs by
 * default; TSVM_FULL_TESTS=1 runs the full sweep. Pass rates per opcode are
 * printed.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assemble, machine } from './harness.js';
import { scratchDir } from '../helpers/scratch.js';

const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const ALL = CF | PF | AF | ZF | SF | OF;
const FULL = process.env.TSVM_FULL_TESTS === '1';
const CASES = FULL ? 20000 : 300;

interface Template {
  insn: string;
  /** Flags the SDM defines for these inputs [eax, ebx, ecx, edx, eflags]. */
  defined: (inp: number[]) => number;
  /** Adjust random inputs (e.g. keep DIV from overflowing). */
  fix?: (inp: number[]) => void;
  /** Registers whose value is defined (default all four). */
  regsDefined?: (inp: number[]) => boolean[];
}

const all = (): number => ALL;
const logic = (): number => ALL & ~AF;
const carryOverflow = (): number => CF | OF;
const onlyCf = (): number => CF;
const none = (): number => 0;

/** Shifts: count 0 changes nothing; OF only for count 1; AF undefined. */
function shiftFlags(width: number, rotate: boolean, through = false) {
  return (inp: number[]): number => {
    const n = inp[2]! & 0x1f;
    if (n === 0) return ALL;
    if (rotate) {
      // RCL/RCR of 8/16-bit operands rotate modulo width+1: a zero effective count still counts.
      void through;
      return n === 1 ? CF | OF : CF;
    }
    let f = CF | ZF | SF | PF;
    if (n === 1) f |= OF;
    if (n > width) f &= ~CF;
    return f;
  };
}

const TEMPLATES: Template[] = [
  ...['add', 'adc', 'sub', 'sbb', 'cmp'].flatMap((op) => [
    { insn: `${op} eax, ebx`, defined: all },
    { insn: `${op} ax, bx`, defined: all },
    { insn: `${op} al, bl`, defined: all },
    { insn: `${op} ah, bl`, defined: all },
  ]),
  ...['and', 'or', 'xor', 'test'].flatMap((op) => [
    { insn: `${op} eax, ebx`, defined: logic },
    { insn: `${op} al, bh`, defined: logic },
  ]),
  { insn: 'inc eax', defined: all },
  { insn: 'dec bx', defined: all },
  { insn: 'inc cl', defined: all },
  { insn: 'neg eax', defined: all },
  { insn: 'neg al', defined: all },
  { insn: 'not edx', defined: none },
  ...['shl', 'shr', 'sar'].flatMap((op) => [
    { insn: `${op} eax, cl`, defined: shiftFlags(32, false) },
    { insn: `${op} bx, cl`, defined: shiftFlags(16, false) },
    { insn: `${op} dl, cl`, defined: shiftFlags(8, false) },
  ]),
  ...['rol', 'ror', 'rcl', 'rcr'].flatMap((op) => [
    { insn: `${op} eax, cl`, defined: shiftFlags(32, true) },
    { insn: `${op} bx, cl`, defined: shiftFlags(16, true, op.startsWith('rc')) },
    { insn: `${op} dl, cl`, defined: shiftFlags(8, true, op.startsWith('rc')) },
  ]),
  { insn: 'shld eax, ebx, cl', defined: shiftFlags(32, false) },
  { insn: 'shrd eax, ebx, cl', defined: shiftFlags(32, false) },
  { insn: 'mul ebx', defined: carryOverflow },
  { insn: 'mul bx', defined: carryOverflow },
  { insn: 'mul bl', defined: carryOverflow },
  { insn: 'imul ebx', defined: carryOverflow },
  { insn: 'imul bx', defined: carryOverflow },
  { insn: 'imul bl', defined: carryOverflow },
  { insn: 'imul eax, ebx', defined: carryOverflow },
  { insn: 'imul ax, bx, -1234', defined: carryOverflow },
  {
    insn: 'div ebx',
    defined: none,
    fix: (i) => {
      i[1] = i[1]! | 1;
      i[3] = (i[3]! >>> 0) % (i[1]! >>> 0);
    },
  },
  {
    insn: 'idiv ebx',
    defined: none,
    fix: (i) => {
      i[1] = ((i[1]! & 0xffff) | 0x10000) >>> 0;
      i[3] = i[0]! & 0x80000000 ? 0xffffffff : 0; // EDX:EAX = sign-extended EAX
    },
  },
  {
    insn: 'div bl',
    defined: none,
    fix: (i) => {
      i[1] = (i[1]! & ~0xff) | ((i[1]! & 0xff) | 1);
      i[0] = (i[0]! & ~0xff00) | ((((i[0]! >>> 8) & 0xff) % (i[1]! & 0xff)) << 8);
    },
  },
  { insn: 'bsf eax, ebx', defined: () => ZF, fix: (i) => void (i[1] = i[1]! & (Math.random() < 0.1 ? 0 : 0xffffffff)) },
  { insn: 'bsr eax, ebx', defined: () => ZF, fix: (i) => void (i[1] = i[1]! >>> Math.floor(Math.random() * 32)) },
  ...['bt', 'bts', 'btr', 'btc'].map((op) => ({ insn: `${op} eax, ebx`, defined: onlyCf })),
  { insn: 'bts ax, 13', defined: onlyCf },
  { insn: 'bswap ecx', defined: none },
  { insn: 'xadd eax, ebx', defined: all },
  { insn: 'cmpxchg ecx, edx', defined: all, fix: (i) => void (Math.random() < 0.5 && (i[0] = i[2]!)) },
  { insn: 'cmovbe eax, ebx', defined: none },
  { insn: 'cmovl ecx, edx', defined: none },
  { insn: 'setg al', defined: none },
  { insn: 'setp bl', defined: none },
  { insn: 'cbw', defined: none },
  { insn: 'cwde', defined: none },
  { insn: 'cdq', defined: none },
  { insn: 'movsx eax, bl', defined: none },
  { insn: 'movzx ecx, dx', defined: none },
  { insn: 'lea eax, [ebx+ecx*4+0x1234]', defined: none },
  { insn: 'sahf', defined: () => CF | PF | AF | ZF | SF },
  { insn: 'lahf', defined: all },
  { insn: 'cmc', defined: all },
  { insn: 'xchg al, bh', defined: none },
  // Memory operands: [esi] points into a scratch buffer whose dword at [esi] is random.
  ...['add', 'adc', 'sub', 'sbb', 'cmp'].flatMap((op) => [
    { insn: `${op} dword [esi], ebx`, defined: all },
    { insn: `${op} word [esi], bx`, defined: all },
    { insn: `${op} bl, [esi]`, defined: all },
    { insn: `${op} dword [esi], -3`, defined: all },
  ]),
  ...['and', 'or', 'xor'].map((op) => ({ insn: `${op} [esi], ecx`, defined: logic })),
  { insn: 'test [esi], dh', defined: logic },
  { insn: 'inc dword [esi]', defined: all },
  { insn: 'dec byte [esi]', defined: all },
  { insn: 'neg word [esi]', defined: all },
  { insn: 'not dword [esi]', defined: none },
  ...['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr'].flatMap((op) => [
    { insn: `${op} dword [esi], cl`, defined: shiftFlags(32, op.startsWith('r')) },
    { insn: `${op} word [esi], 5`, defined: shiftFlags(16, op.startsWith('r')) },
    { insn: `${op} byte [esi], 1`, defined: shiftFlags(8, op.startsWith('r')) },
  ]).map((t) => ({ ...t, defined: (inp: number[]) => t.defined([inp[0]!, inp[1]!, /, 5$/.test(t.insn) ? 5 : /, 1$/.test(t.insn) ? 1 : inp[2]!]) })),
  { insn: 'shld [esi], ebx, cl', defined: shiftFlags(32, false) },
  { insn: 'shrd [esi], ebx, 7', defined: () => shiftFlags(32, false)([0, 0, 7]) },
  ...['bt', 'bts', 'btr', 'btc'].map((op) => ({
    insn: `${op} [esi], ebx`,
    defined: onlyCf,
    fix: (i: number[]) => void (i[1] = (Math.floor(Math.random() * 128) - 64) >>> 0),
  })),
  { insn: 'btc dword [esi], 37', defined: onlyCf },
  { insn: 'xchg [esi], eax', defined: none },
  { insn: 'xadd [esi], bx', defined: all },
  { insn: 'cmpxchg [esi], ecx', defined: all, fix: (i) => void (Math.random() < 0.5 && (i[5] = i[0]!)) },
  { insn: 'imul eax, [esi], 1000', defined: carryOverflow },
  { insn: 'mul dword [esi]', defined: carryOverflow },
  { insn: 'imul word [esi]', defined: carryOverflow },
  { insn: 'movsx eax, word [esi]', defined: none },
  { insn: 'movzx ebx, byte [esi]', defined: none },
  { insn: 'setnz byte [esi]', defined: none },
  { insn: 'cmovs eax, [esi]', defined: none },
  { insn: 'bsr ecx, [esi]', defined: () => ZF },
  {
    insn: 'div dword [esi]',
    defined: none,
    fix: (i) => {
      i[5] = i[5]! | 1;
      i[3] = (i[3]! >>> 0) % (i[5]! >>> 0);
    },
  },
  {
    insn: 'idiv dword [esi]',
    defined: none,
    fix: (i) => {
      i[5] = (i[5]! & 0xffff) | 0x10000;
      i[3] = i[0]! & 0x80000000 ? 0xffffffff : 0;
    },
  },
  {
    insn: 'idiv ebx',
    defined: none,
    fix: (i) => {
      // 64-bit dividends whose quotient fits: |EDX:EAX| < 2^31 * |EBX|.
      i[1] = (i[1]! | 0x40000000) >>> 0;
      const q = BigInt(Math.floor(Math.random() * 0x7fffffff)) * (Math.random() < 0.5 ? -1n : 1n);
      const n = BigInt.asUintN(64, q * BigInt(i[1]! | 0) + BigInt(Math.floor(Math.random() * 1000)));
      i[0] = Number(n & 0xffffffffn);
      i[3] = Number(n >> 32n);
    },
  },
  {
    insn: 'div ebx',
    defined: none,
    fix: (i) => {
      i[1] = (i[1]! | 0x10000000) >>> 0;
      i[3] = Math.floor(Math.random() * (i[1]! >>> 0));
    },
  },
];

function randomInputs(): number[] {
  const r = (): number => {
    const k = Math.random();
    if (k < 0.1) return 0;
    if (k < 0.2) return 0xffffffff;
    if (k < 0.3) return 0x80000000 + Math.floor(Math.random() * 3) - 1;
    if (k < 0.45) return Math.floor(Math.random() * 64);
    return Math.floor(Math.random() * 0x100000000);
  };
  const flags = (Math.floor(Math.random() * 0x10000) & ALL) | 2;
  return [r(), r(), r(), r(), flags, r()];
}

const dir = scratchDir('tsvm-oracle-');

/** nasm syntax to GNU as Intel syntax: size keywords take "ptr", registers their "%". */
function hostSyntax(insn: string): string {
  return insn.replace(/\b(byte|word|dword) \[/g, '$1 ptr [').replace(/\b(e?[abcd]x|[abcd][lh])\b/g, '%%$1');
}

function buildHost(): string {
  const cases = TEMPLATES.map(
    (t, i) => `    case ${i}: __asm__ volatile("push %[fl]\\n popf\\n ${hostSyntax(t.insn)}\\n pushf\\n pop %[fl]"
          : "+a"(a), "+b"(b), "+c"(c), "+d"(d), [fl] "+r"(fl) : "S"(m) : "cc", "memory"); break;`,
  );
  const src = `
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
static uint32_t buf[64];
int main(int argc, char **argv) {
  int t = atoi(argv[1]);
  uint32_t in[6];
  uint32_t *m = &buf[32];
  while (fread(in, 4, 6, stdin) == 6) {
    uint32_t a = in[0], b = in[1], c = in[2], d = in[3];
    uint64_t fl = in[4];
    for (int i = 0; i < 64; i++) buf[i] = 0;
    m[0] = in[5];
    switch (t) {
${cases.join('\n')}
    }
    uint32_t out[9] = { a, b, c, d, (uint32_t)fl, m[-2], m[-1], m[0], m[1] };
    fwrite(out, 4, 9, stdout);
  }
  return 0;
}`;
  const cFile = join(dir, 'oracle.c');
  const exe = join(dir, 'oracle');
  // Intel syntax so the templates read the same as for nasm.
  writeFileSync(cFile, src);
  // -no-pie keeps the scratch buffer below 4 GiB, so [esi] addresses it.
  execFileSync('gcc', ['-O1', '-masm=intel', '-mno-red-zone', '-no-pie', '-o', exe, cFile], { stdio: 'pipe' });
  return exe;
}

function runHost(exe: string, index: number, inputs: number[][]): number[][] {
  const buf = Buffer.alloc(inputs.length * 24);
  inputs.forEach((inp, i) => inp.forEach((v, j) => buf.writeUInt32LE(v >>> 0, i * 24 + j * 4)));
  const out = execFileSync(exe, [String(index)], { input: buf, maxBuffer: 1 << 26 });
  const res: number[][] = [];
  for (let i = 0; i < inputs.length; i++) res.push(OUT_WORDS.map((j) => out.readUInt32LE(i * 36 + j * 4)));
  return res;
}

const IN = 0x100000;
const OUT = 0x200000;
/** Scratch buffer: [esi] is SCRATCH + 128 (as &buf[32] on the host). */
const SCRATCH = 0x300000;
const OUT_WORDS = [0, 1, 2, 3, 4, 5, 6, 7, 8];

function runTsvm(t: Template, inputs: number[][]): number[][] {
  const code = assemble(`
      mov ebp, ${IN}
      mov edi, ${OUT}
      mov dword [count], ${inputs.length}
    next:
      mov esi, ${SCRATCH}
      mov ecx, 64
      xor eax, eax
      push edi
      mov edi, esi
      rep stosd
      pop edi
      mov esi, ${SCRATCH + 128}
      mov eax, [ebp+20]
      mov [esi], eax
      mov eax, [ebp]
      mov ebx, [ebp+4]
      mov ecx, [ebp+8]
      mov edx, [ebp+12]
      push dword [ebp+16]
      popfd
      ${t.insn}
      pushfd
      mov [edi], eax
      mov [edi+4], ebx
      mov [edi+8], ecx
      mov [edi+12], edx
      pop dword [edi+16]
      mov esi, ${SCRATCH + 128}
      mov eax, [esi-8]
      mov [edi+20], eax
      mov eax, [esi-4]
      mov [edi+24], eax
      mov eax, [esi]
      mov [edi+28], eax
      mov eax, [esi+4]
      mov [edi+32], eax
      add ebp, 24
      add edi, 36
      dec dword [count]
      jnz next
      hlt
    count: dd 0`);
  const m = machine(code, 'pm32');
  inputs.forEach((inp, i) => inp.forEach((v, j) => m.mem.write32(IN + i * 24 + j * 4, v >>> 0)));
  m.run(inputs.length * 200 + 100);
  return inputs.map((_, i) => OUT_WORDS.map((j) => m.mem.read32(OUT + i * 36 + j * 4)));
}

describe('host CPU oracle (user-level integer instructions)', () => {
  it(`matches the host on ${CASES} random cases per instruction`, async () => {
    const exe = buildHost();
    const report: string[] = [];
    const failures: string[] = [];
    for (const [index, t] of TEMPLATES.entries()) {
      // The full sweep runs for minutes: let the worker answer vitest's RPC between instructions.
      await new Promise((resolve) => setImmediate(resolve));
      const inputs = Array.from({ length: CASES }, () => {
        const i = randomInputs();
        t.fix?.(i);
        return i.map((v) => v >>> 0);
      });
      const host = runHost(exe, index, inputs);
      const ours = runTsvm(t, inputs);
      let pass = 0;
      inputs.forEach((inp, i) => {
        const mask = t.defined(inp);
        const h = host[i]!;
        const o = ours[i]!;
        const ok = [0, 1, 2, 3, 5, 6, 7, 8].every((r) => h[r] === o[r]) && (h[4]! & mask) === (o[4]! & mask);
        if (ok) pass++;
        else if (failures.length < 20) {
          failures.push(
            `${t.insn} in=${inp.map((v) => v.toString(16)).join(',')} host=${h.map((v) => v.toString(16)).join(',')} tsvm=${o.map((v) => v.toString(16)).join(',')} mask=${mask.toString(16)}`,
          );
        }
      });
      report.push(`${(100 * pass / CASES).toFixed(1).padStart(6)}%  ${t.insn}`);
    }
    console.log('pass rate per opcode:\n' + report.join('\n'));
    expect(failures).toEqual([]);
  }, FULL ? 1_800_000 : 120_000);
});
