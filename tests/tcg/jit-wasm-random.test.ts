/**
 * The WebAssembly backend (jit/wasm-block.ts) against the interpreter on
 * random programs made of the forms it takes (ALU, MOV, MOVZX/MOVSX, LEA,
 * TEST, NOT, NEG, INC, DEC, PUSH/POP, LEAVE on registers, memory and
 * immediates, in 32 bits and for ALU/MOV/TEST/NOT/NEG/INC/DEC in bytes; Jcc
 * over an instruction, also at a label's start, where the flags come from
 * the live record; a loop; CALL and RET are left to the jit-diff suites in
 * jit-wasm.test.ts):
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
/** Conditions but parity (the backend leaves PF to JavaScript). */
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'l', 'ge', 'le', 'g'];

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
    body.push(pick(forms)());
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
    expect(wasm).toBeGreaterThan(translated / 2);
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

