/**
 * Blocks shaped by what the guest did before they were translated: a way out
 * of a conditional jump that the interpreted runs (before the block start
 * was hot) took rarely or never is left out of the block, whose run then
 * leaves it there; a JMP through a pointer goes on to where the pointer
 * pointed. The guest gets the same result when it finally goes another way.
 * -d in_asm shows which instructions a block holds (as the monitor's x/i
 * prints them: AT&T syntax).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { configureLogging } from '../../src/log.js';
import { Translator } from '../../src/accel/tcg/jit/translator.js';
import { assemble, machine } from './harness.js';
import { EAX, EBX } from '../../src/accel/tcg/constants.js';
import { scratchDir } from '../helpers/scratch.js';

// ECX counts down from 3000; the JE is taken once, at ECX = 100, long after the loop's head
// (entered once an iteration) reached the translator's threshold of 50 entries.
const LOOP = `
    xor eax, eax
    xor ebx, ebx
    mov ecx, 3000
  top:
    cmp ecx, 100
    je rare
  back:
    add eax, ecx
    dec ecx
    jnz top
    hlt
  rare:
    add ebx, 7
    jmp back`;

// Counts down from 60000; the JBE is taken from ECX = 30000 on, every time, long after the loop's
// head was translated. The taken way goes back to the head by an indirect jump, through the
// dispatcher: every iteration from then on leaves the head's block by the way it left out.
const PHASED = `
    xor eax, eax
    xor ebx, ebx
    mov ecx, 60000
  top:
    cmp ecx, 30000
    jbe rare
    add eax, ecx
    dec ecx
    jmp top
  rare:
    add ebx, 7
    add eax, ecx
    dec ecx
    jz done
    mov edx, top
    jmp edx
  done:
    hlt`;

// A PLT-style stub, JMP through a pointer on a page of data, called 3000 times; the pointer is
// rebound from func_a to func_b after the call at ECX = 1000, long after the loop was translated.
const POINTER = `
    xor eax, eax
    xor ebx, ebx
    mov ecx, 3000
  top:
    call stub
    cmp ecx, 1000
    jne same
    mov dword [ptr], func_b
  same:
    dec ecx
    jnz top
    hlt
  stub:
    jmp [ptr]
  func_a:
    add eax, 1
    ret
  func_b:
    add ebx, 1
    ret
    align 4096
  ptr:
    dd func_a`;

/** The guest's EAX and EBX, and the instructions of each block -d in_asm logged, run with a translator that translates a block start on its `threshold`-th entry. */
function runLogged(threshold: number, src = LOOP): { eax: number; ebx: number; blocks: string[][] } {
  const dir = scratchDir('tsvm-jit-profile-');
  const log = join(dir, 'in_asm.log');
  configureLogging(['in_asm'], log);
  const m = machine(assemble(src), 'pm32');
  const jit = new Translator(m.cpu, m.interp, threshold);
  for (let i = 0; i < 10000 && !m.cpu.halted; i++) jit.run(1000);
  expect(m.cpu.halted).toBe(true);
  const blocks = readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.includes('translated block'))
    .map((l) => (JSON.parse(l) as { insns: string[] }).insns);
  return { eax: m.cpu.regs[EAX]!, ebx: m.cpu.regs[EBX]!, blocks };
}

it('leaves a way a conditional jump never took while interpreted out of the block, and still takes it', () => {
  const expected = { eax: (3000 * 3001) / 2, ebx: 7 };
  // Translated on first entry, with nothing seen yet: the loop's block holds both ways of the JE.
  const unseen = runLogged(1);
  expect(unseen).toMatchObject(expected);
  // The first block holding the loop: the entry's, or the loop's head's.
  const head = (blocks: string[][]): string[] => blocks.find((b) => b.some((i) => / cmp +\$0x64,%ecx$/.test(i)))!;
  expect(head(unseen.blocks).some((i) => / add +\$0x7,%ebx$/.test(i))).toBe(true);
  // Translated after 50 entries in which the JE always fell through: the taken way is an exit, and
  // so is the way out of the loop (the JNZ always jumped back).
  const profiled = runLogged(50);
  expect(profiled).toMatchObject(expected);
  const insns = head(profiled.blocks);
  expect(insns.some((i) => / add +\$0x7,%ebx$/.test(i))).toBe(false);
  expect(insns.some((i) => / hlt$/.test(i))).toBe(false);
  expect(insns.map((i) => i.split(/:\s+/)[1]!.split(/\s+/)[0])).toEqual(['cmp', 'je', 'add', 'dec', 'jne']);
});

it('translates a block again with every way once it often leaves by one it left out', () => {
  const { eax, ebx, blocks } = runLogged(50, PHASED);
  expect({ eax, ebx }).toEqual({ eax: (60000 * 60001) / 2, ebx: 30000 * 7 });
  const heads = blocks.filter((b) => / cmp +\$0x7530,%ecx$/.test(b[0]!));
  // First without the JBE's taken way (never taken while interpreted), then with it.
  expect(heads.map((b) => b.some((i) => / add +\$0x7,%ebx$/.test(i)))).toEqual([false, true]);
});

it('goes on through a JMP to where its pointer pointed, and leaves for where it points after it changes', () => {
  const { eax, ebx, blocks } = runLogged(50, POINTER);
  expect({ eax, ebx }).toEqual({ eax: 2001, ebx: 999 });
  // What each block holding the JMP goes on with after it: func_a's ADD, in the stub's block and
  // the loop's, both translated before the pointer changed. After it the loop's block leaves at
  // the JMP, for func_b's block.
  const after = blocks.flatMap((b) => {
    const jmp = b.findIndex((i) => / jmp +\*0x/.test(i));
    return jmp < 0 ? [] : [b[jmp + 1]!.split(/:\s+/)[1]];
  });
  expect(after).toEqual(['add    $0x1,%eax', 'add    $0x1,%eax']);
  expect(blocks.at(-1)!.map((i) => i.split(/:\s+/)[1])).toEqual(['add    $0x1,%ebx', 'ret']);
});
