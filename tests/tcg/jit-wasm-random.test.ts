/**
 * The WebAssembly backend (jit/wasm-block.ts) against the interpreter on
 * random programs made of the forms it takes (ALU, MOV, MOVZX/MOVSX, LEA,
 * TEST, NOT, NEG, INC, DEC, PUSH/POP, LEAVE on registers, memory and
 * immediates, in 32 bits and for ALU/MOV/TEST/NOT/NEG/INC/DEC in bytes; Jcc
 * over an instruction, also at a label's start, where the flags come from
 * the live record; a loop; CALL and RET are left to the jit-diff suites in
 * jit-wasm.test.ts), shifts and rotates, ADC/SBB, SETcc, CMOVcc, IMUL,
 * 16-bit ALU and MOV forms, and forms it runs by their handlers:
 * the same registers, EFLAGS, memory and EIP, and most blocks WebAssembly.
 */
import { describe, expect, it } from 'vitest';
import { assemble, machine, runTranslated, type TestMachine } from './harness.js';
import { Translator } from '../../src/accel/tcg/jit/translator.js';
import { createArena } from '../../src/accel/tcg/jit/wasm-arena.js';
import { prng } from '../helpers/prng.js';

const DATA = 0x20000;
const LOOPS = 0x1ff00;
const R32 = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi'];
const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const ALU = ['add', 'or', 'and', 'sub', 'xor', 'cmp'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const R16 = ['ax', 'bx', 'cx', 'dx', 'si', 'di'];

function randomProgram(seed: number, length: number): string {
  const next = prng(seed);
  const int = () => Math.floor(next() * 2 ** 32) | 0;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const slot = () => `[ebp + ${4 * Math.floor(next() * 64)}]`;
  const imm = () => (next() < 0.5 ? Math.floor(next() * 256) - 128 : int());
  let labels = 0;
  const body: string[] = [];
  for (let i = 0; i < length; i++) {
    const [r, r2, r3] = [pick(R32), pick(R32), pick(R32)];
    const forms = [
      () => `${pick(ALU)} ${r}, ${r2}`,
      () => `${pick(ALU)} ${r}, ${imm()}`,
      () => `${pick(ALU)} ${r}, ${slot()}`,
      () => `${pick(ALU)} ${slot()}, ${r}`,
      () => `${pick(ALU)} dword ${slot()}, ${imm()}`,
      () => `mov ${r}, ${pick([r2, String(int()), slot()])}`,
      () => `mov ${slot()}, ${r}`,
      () => `mov dword ${slot()}, ${int()}`,
      () => `lea ${r}, [${r2} + ${r3} * 4 + ${int()}]`,
      () => `test ${r}, ${r2}`,
      () => `test eax, ${int()}`,
      () => `push ${r}\npop ${r2}`,
      () => `push ${pick([String(imm()), 'byte 5', 'dword -3'])}\npop ${r2}`,
      () => `mov eax, [${DATA + 4 * Math.floor(next() * 64)}]`,
      () => `mov [${DATA + 4 * Math.floor(next() * 64)}], eax`,
      () => `${pick(['movzx', 'movsx'])} ${r}, ${pick(['al', 'bh', 'cl', 'dh', `byte ${slot()}`, 'ax', 'si', `word ${slot()}`])}`,
      () => `${pick(['not', 'neg'])} ${pick([r, `dword ${slot()}`])}`,
      () => `test ${pick([r, `dword ${slot()}`])}, ${int()}`,
      () => `push ebp\nmov ebp, esp\nsub esp, 8\nmov [ebp - 4], ${r}\nleave`,
      () => `${pick(['inc', 'dec'])} ${pick([r, `dword ${slot()}`, pick(R8), `byte ${slot()}`])}`,
      () => `${pick(['inc', 'dec'])} ${r}\nj${pick(CC)} .l${labels}\nmov ${r3}, ${int()}\n.l${labels++}:\nj${pick(CC)} .l${labels}\nmov ${r2}, ${int()}\n.l${labels++}:`,
      () => {
        const [b, b2] = [pick(R8), pick(R8)];
        return pick([
          `${pick(ALU)} ${b}, ${pick([b2, String(imm() & 0xff), `byte ${slot()}`])}`,
          `${pick(ALU)} byte ${slot()}, ${pick([b, String(imm() & 0xff)])}`,
          `mov ${b}, ${pick([b2, String(imm() & 0xff), `byte ${slot()}`])}`,
          `mov byte ${slot()}, ${pick([b, String(imm() & 0xff)])}`,
          `test ${pick([b, `byte ${slot()}`])}, ${pick([b2, String(imm() & 0xff)])}`,
          `${pick(['not', 'neg'])} ${pick([b, `byte ${slot()}`])}`,
          `${pick(ALU)} ${b}, ${b2}\nj${pick(CC)} .l${labels}\nmov ${r3}, ${int()}\n.l${labels++}:`,
        ]);
      },
      () => `${pick(ALU)} ${r}, ${r2}\nj${pick(CC)} .l${labels}\nmov ${r3}, ${int()}\n.l${labels++}:`,
    ];
    // A quarter of the body: shifts and rotates, ADC/SBB, SETcc, CMOVcc, IMUL and 16-bit ALU and
    // MOV forms (the backend's own code since the handler calls came), and forms it runs by their
    // handlers in mid-block (XCHG, BT, CLC/STC/CMC, RCL/RCR, byte shifts, 16-bit INC and
    // PUSH/POP); a Jcc after one reads the record it left, and half are followed by PUSHFD and a
    // POP (a handler that reads every flag) so that the flags count after each, not only the last.
    const more = () => {
      const [w, w2] = [pick(R16), pick(R16)];
      return pick([
        `${pick(['shl', 'shr', 'sar', 'rol', 'ror'])} ${pick([r, `dword ${slot()}`])}, ${pick(['1', String(int() & 31), 'cl'])}`,
        `${pick(['adc', 'sbb'])} ${r}, ${pick([r2, String(imm()), slot()])}`,
        `set${pick(CC)} ${pick([pick(R8), `byte ${slot()}`])}`,
        `cmov${pick(CC)} ${r}, ${pick([r2, slot()])}`,
        `${pick(ALU)} ${w}, ${pick([w2, String(imm() & 0xffff), `word ${slot()}`])}`,
        `${pick(ALU)} word ${slot()}, ${pick([w, String(imm() & 0xffff)])}`,
        `mov ${w}, ${pick([w2, String(imm() & 0xffff), `word ${slot()}`])}`,
        `mov word ${slot()}, ${pick([w, String(imm() & 0xffff)])}`,
        `${pick(['inc', 'dec', 'not', 'neg'])} ${pick([w, `word ${slot()}`])}`,
        `push ${w}\npop ${w2}`,
        `${pick(['rcl', 'rcr'])} ${r}, ${pick(['1', String(int() & 31)])}`,
        `${pick(['shl', 'shr', 'sar', 'rol'])} ${pick(R8)}, ${pick(['1', String(int() & 7), 'cl'])}`,
        `imul ${r}, ${pick([r2, slot()])}, ${imm()}`,
        `xchg ${r}, ${pick([r2, slot()])}`,
        `bt ${r}, ${int() & 31}`,
        pick(['stc', 'clc', 'cmc']),
        `${pick(['shl', 'shr', 'sar', 'rol', 'ror'])} ${r}, ${pick(['1', String(int() & 31), 'cl'])}\nj${pick(CC)} .l${labels}\nmov ${r3}, ${int()}\n.l${labels++}:`,
        `${pick(['adc', 'sbb', 'imul'])} ${r}, ${r2}\nj${pick(CC)} .l${labels}\nmov ${r3}, ${int()}\n.l${labels++}:`,
      ]);
    };
    body.push(next() < 0.25 ? `${more()}${next() < 0.5 ? `\npushfd\npop ${pick(R32)}` : ''}` : pick(forms)());
  }
  const init = R32.map((r) => `mov ${r}, ${int()}`).join('\n');
  return `mov ebp, ${DATA}\nmov dword [${LOOPS}], 3\n${init}\ntop:\n${body.join('\n')}\nsub dword [${LOOPS}], 1\njnz top\nhlt`;
}

function run(code: Uint8Array, seed: number, wasm: boolean): { m: TestMachine; jit?: Translator } {
  const ram = wasm ? createArena(16 << 20)!.ram : undefined;
  const m = machine(code, 'pm32', undefined, 16 << 20, ram);
  const next = prng(seed ^ 0x5eed);
  for (let a = 0; a < 256; a += 4) m.mem.write32(DATA + a, Math.floor(next() * 2 ** 32));
  if (!wasm) {
    m.run(1_000_000);
    return { m };
  }
  return { m, jit: runTranslated(m) };
}

function state(m: TestMachine): Record<string, unknown> {
  const data: string[] = [];
  for (let a = 0; a < 256; a += 4) data.push(m.mem.read32(DATA + a).toString(16));
  return { regs: [...m.cpu.regs].map((v) => v.toString(16)), eflags: m.cpu.getEflags().toString(16), eip: m.cpu.eip.toString(16), halted: m.cpu.halted, data };
}

describe('WebAssembly blocks vs the interpreter (randomized)', () => {
  it('random programs of the forms the backend takes leave the same state', async () => {
    let wasm = 0;
    let translated = 0;
    for (let seed = 1; seed <= 40; seed++) {
      await new Promise((resolve) => setImmediate(resolve));
      const src = randomProgram(seed, 30);
      const code = assemble(src, 32);
      const a = run(code, seed, false).m;
      const { m: b, jit } = run(code, seed, true);
      wasm += jit!.stats.wasm;
      translated += jit!.stats.translated;
      expect(state(b), `seed ${seed}:\n${src}`).toEqual(state(a));
    }
    expect(wasm).toBeGreaterThan(translated * 0.9);
  }, 120_000);
});

describe('WebAssembly blocks: the flag record at a label', () => {
  it('a label reached with different records hands over the one of the path taken', () => {
    // L is reached by JB (a SUB record, CF set) and by falling through OR (a logic record, CF
    // clear); the JMP at L leaves the block, and the code it goes to reads CF.
    const src = `
      mov ecx, 50
      xor edi, edi
    top:
      mov eax, ecx
      and eax, 3
      cmp eax, 2
      jb L
      or eax, eax
    L:
      jmp away
    back:
      sub ecx, 1
      jnz top
      hlt
      align 4096
    away:
      jnb no
      add edi, 1
    no:
      jmp back`;
    const code = assemble(src, 32);
    const a = run(code, 1, false).m;
    const { m: b, jit } = run(code, 1, true);
    expect(a.cpu.regs[7]).toBe(25); // ECX mod 4 below 2 in half the rounds
    expect(state(b)).toEqual(state(a));
    expect(jit!.stats.wasm).toBeGreaterThan(0);
  });
});

describe('WebAssembly blocks: shifts, rotates and IMUL at their edges', () => {
  it('every count from 0 to 33 by an immediate and by CL, on both signs, leaves the flags as interpreted', () => {
    // After each, PUSHFD (run by its handler, which reads every flag) adds the flags into memory.
    const lines: string[] = [];
    let slot = 0;
    const keep = () => `pushfd\npop edx\nadd [${DATA + 4 * (slot++ % 64)}], edx`;
    for (const op of ['shl', 'shr', 'sar', 'rol', 'ror']) {
      for (const value of ['0x80000001', '0x40000000', '1']) {
        for (let n = 0; n <= 33; n++) {
          lines.push(`mov eax, ${value}\nadd eax, 0\n${op} eax, ${n & 31}\n${keep()}\nadd [${DATA + 4 * (slot % 64)}], eax`);
          lines.push(`mov ebx, ${value}\nmov ecx, ${n}\nsub ecx, 0\n${op} ebx, cl\n${keep()}\nadd [${DATA + 4 * (slot % 64)}], ebx`);
        }
        lines.push(`mov eax, ${value}\n${op} eax, 1\n${keep()}`);
      }
    }
    for (const [a, b] of [['0x10000', '0x10000'], ['-1', '-1'], ['0x7fffffff', '2'], ['-0x80000000', '-1'], ['46341', '46341']]) {
      lines.push(`mov eax, ${a}\nmov ebx, ${b}\nimul eax, ebx\n${keep()}\nimul ecx, ebx, ${b}\n${keep()}`);
    }
    // Three times round: the first pass is interpreted, and translates the code as it goes hot.
    const src = `mov ebp, ${DATA}\nmov dword [${LOOPS}], 3\ntop:\n${lines.join('\n')}\nsub dword [${LOOPS}], 1\njnz top\nhlt`;
    const code = assemble(src, 32);
    const a = run(code, 1, false).m;
    const { m: b, jit } = run(code, 1, true);
    expect(state(b)).toEqual(state(a));
    // All but the blocks running onto another page (the code is 30 KiB), which stay JavaScript.
    expect(jit!.stats.wasm).toBeGreaterThan(jit!.stats.translated * 0.9);
  });
});
