/**
 * Differential test of the translator against the interpreter: random
 * instruction sequences (seeded, reproducible) in a flat 32-bit test program
 * run once under Interpreter.step and once through translated blocks; every
 * register, EFLAGS, EIP, the data area, the stack and the recorded exception
 * must match. The body runs twice (a loop around it) so the second pass runs
 * blocks translated during the first, from a different state.
 */
import { describe, expect, it } from 'vitest';
import { assemble, CODE, GDT, machine, pagingOn, REC, runTranslated, STACK, type TestMachine } from './harness.js';
import { Translator } from '../../src/accel/tcg/jit/translator.js';
import { DS, SS } from '../../src/accel/tcg/constants.js';

const DATA = 0x20000;
const LOOPS = 0x1ff00;

/** xorshift32: a small seeded generator so a failure names its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const R32 = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi'];
const R16 = ['ax', 'bx', 'cx', 'dx', 'si', 'di'];
const R8 = ['al', 'bl', 'cl', 'dl', 'ah', 'bh', 'ch', 'dh'];
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const SHIFTS = ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr'];

/** One random instruction (or a short idiom) in NASM syntax; EBP points at the data area and is never written. */
function randomInsn(next: () => number, label: () => string, depth: { push: number }): string {
  const pick = <T>(a: T[]): T => a[next() % a.length]!;
  const imm = (): number => pick([0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, next()]);
  const size = pick([4, 4, 4, 2, 1]);
  const regs = size === 4 ? R32 : size === 2 ? R16 : R8;
  const kw = size === 4 ? 'dword' : size === 2 ? 'word' : 'byte';
  const m = `${kw} [ebp + ${next() % 250}]`;
  const r = pick(regs);
  const r2 = pick(regs);
  const i = imm() & (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff);
  switch (next() % 31) {
    case 0:
      return `mov ${r}, ${r2}`;
    case 1:
      return `mov ${r}, ${i}`;
    case 2:
      return `mov ${r}, ${m}`;
    case 3:
      return `mov ${m}, ${r}`;
    case 4:
      return `mov ${m}, ${i}`;
    case 5:
      return `${pick(ALU)} ${r}, ${r2}`;
    case 6:
      return `${pick(ALU)} ${r}, ${i}`;
    case 7:
      return `${pick(ALU)} ${r}, ${m}`;
    case 8:
      return `${pick(ALU)} ${m}, ${r}`;
    case 9:
      return `${pick(ALU)} ${m}, ${next() & 1 ? i : (next() % 256) - 128}`;
    case 10:
      return `test ${next() & 1 ? r : m}, ${next() & 1 ? r2 : i}`;
    case 11:
      return `${pick(['inc', 'dec'])} ${next() & 1 ? r : m}`;
    case 12:
      return `lea ${pick(R32)}, [ebp + ${pick(R32)}*${pick([1, 2, 4, 8])} + ${next() % 1000}]`;
    case 13:
      return `${pick(['movzx', 'movsx'])} ${pick(R32)}, ${pick([`byte [ebp + ${next() % 250}]`, `word [ebp + ${next() % 250}]`, pick(R8), pick(R16)])}`;
    case 14:
      if (depth.push > 0 && next() & 1) {
        depth.push--;
        return `pop ${pick(R32)}`;
      }
      depth.push++;
      return `push ${pick([pick(R32), `byte ${(next() % 256) - 128}`, `dword ${imm()}`, `dword [ebp + ${next() % 250}]`])}`;
    case 15: {
      const l = label();
      return `cmp ${r}, ${next() & 1 ? r2 : i}\nj${pick(CC)} ${l}\n${pick(ALU)} ${pick(R32)}, ${imm()}\n${l}:`;
    }
    case 16:
      return `${pick(SHIFTS)} ${next() & 1 ? r : m}, ${pick(['cl', 1, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, next() % 256])}`;
    case 17:
      return `imul ${pick(R32)}, ${pick([pick(R32), `dword [ebp + ${next() % 250}]`, `${pick(R32)}, ${imm() | 0}`, `${pick(R32)}, ${(next() % 256) - 128}`])}`;
    case 18:
      return `set${pick(CC)} ${next() & 1 ? pick(R8) : `byte [ebp + ${next() % 256}]`}`;
    case 19:
      return next() & 1
        ? `cmov${pick(CC)} ${pick(R32)}, ${next() & 1 ? pick(R32) : `dword [ebp + ${next() % 250}]`}`
        : `cmov${pick(CC)} ${pick(R16)}, ${next() & 1 ? pick(R16) : `word [ebp + ${next() % 250}]`}`;
    case 20:
      return `${pick(['neg', 'not'])} ${next() & 1 ? r : m}`;
    case 21: {
      if (next() & 1) return `xchg ${r}, ${next() & 1 ? r2 : m}`;
      // CMPXCHG, eAX often loaded from the operand first so that both outcomes come up.
      const acc = size === 4 ? 'eax' : size === 2 ? 'ax' : 'al';
      const dest = next() & 1 ? r : m;
      return `${next() & 1 ? `mov ${acc}, ${dest}\n` : ''}cmpxchg ${dest}, ${r2}`;
    }
    case 22:
      // A divide that may raise #DE: precise exception state inside a block (EDX 0 often, as after CDQ or XOR).
      if (next() % 4 === 0) return `${next() & 1 ? 'xor edx, edx\n' : ''}div ${pick([pick(R32), `dword [ebp + ${next() % 250}]`])}`;
      if (next() % 3 === 0) {
        // MUL/IMUL EDX:EAX, often of small signed factors, so that products that fit (CF=OF=0) come up too.
        const src = pick(R32);
        const small = () => (next() % 512) - 256;
        const factors = next() & 1 ? `mov eax, ${small()}\nmov ${src}, ${small()}\n` : '';
        return `${factors}${pick(['mul', 'imul'])} ${next() & 1 ? src : `dword [ebp + ${next() % 250}]`}`;
      }
      if (next() % 3 === 0) return `bt ${pick([pick(R32), pick(R16), `dword [ebp + ${next() % 250}]`, `word [ebp + ${next() % 250}]`])}, ${next() % 40}`;
      if (next() % 3 === 0) return next() & 1 ? `bswap ${pick(R32)}` : `xchg ${size === 2 ? 'ax' : 'eax'}, ${size === 2 ? pick(R16) : pick(R32)}`;
      return pick(['clc', 'stc', 'cmc', 'nop', 'pause', 'cld', 'std', 'cli', 'sti']);
    case 23: {
      // One string instruction over the data area, either direction (MOVS may overlap its source).
      const op = `${pick(['movs', 'lods', 'scas'])}${pick(['b', 'w', 'd'])}`;
      const dir = pick(['cld', 'std']);
      if (next() % 3 === 0) {
        // A REP form (it ends its block), over a few elements so that it stays in the data area.
        const rep = `${pick(['rep movs', 'rep stos', 'repe cmps', 'repne scas'])}${pick(['b', 'w', 'd'])}`;
        return `lea esi, [ebp + ${96 + (next() % 48)}]\nlea edi, [ebp + ${96 + (next() % 48)}]\nmov ecx, ${next() % 9}\n${dir}\n${rep}\ncld`;
      }
      return `lea esi, [ebp + ${next() % 240}]\nlea edi, [ebp + ${next() % 240}]\n${dir}\n${op}\ncld`;
    }
    case 26:
    case 27:
    case 28:
      // Every flag the previous instructions left, into the compared data area.
      return `pushfd\npop dword [ebp + ${next() % 250}]`;
    case 24:
    case 25: {
      // A short counted loop: a block that jumps back to its own start.
      const l = label();
      const body = [0, 1, 2].map(() => randomStraightInsn(next, depth));
      return `mov dword [ebp + 1000], ${1 + (next() % 5)}\n${l}:\n${body.join('\n')}\ndec dword [ebp + 1000]\njnz ${l}`;
    }
    case 29:
    case 30: {
      // MOV AL/AX/EAX to or from an absolute address (the moffs forms A0-A3).
      const acc = size === 4 ? 'eax' : size === 2 ? 'ax' : 'al';
      const abs = `${kw} [${DATA + (next() % 250)}]`;
      return next() & 1 ? `mov ${acc}, ${abs}` : `mov ${abs}, ${acc}`;
    }
    default: {
      const l = label();
      return `${pick(ALU)} ${r}, ${r2}\nj${pick(CC)} ${l}\ninc ${pick(R32)}\n${l}:`;
    }
  }
}

/** A random instruction without labels or stack effects (loop bodies). */
function randomStraightInsn(next: () => number, depth: { push: number }): string {
  for (;;) {
    const insn = randomInsn(next, () => '.none', depth);
    if (!insn.includes('.none') && !/^(push|pop)/.test(insn)) return insn;
    if (insn.startsWith('pushfd')) continue;
    if (insn.startsWith('push')) depth.push--;
    if (insn.startsWith('pop')) depth.push++;
  }
}

function randomProgram(seed: number, length: number): string {
  const next = rng(seed);
  let labels = 0;
  const depth = { push: 0 };
  const body: string[] = [];
  for (let i = 0; i < length; i++) {
    body.push(randomInsn(next, () => `.l${labels++}`, depth));
    // Often keep the flags too, so that flags later overwritten are compared as well.
    if (next() % 3 === 0) body.push(`pushfd\npop dword [ebp + ${256 + (next() % 64) * 4}]`);
  }
  while (depth.push-- > 0) body.push('pop esi');
  const init = R32.map((r) => `mov ${r}, ${next()}`).join('\n');
  return `mov ebp, ${DATA}\nmov dword [${LOOPS}], 2\n${init}\ntop:\n${body.join('\n')}\ndec dword [${LOOPS}]\njnz top\nhlt`;
}

/** Gives segment `s` a new limit as a descriptor load would (the CPU derives the translator's fast-path bounds from it). */
function setLimit(m: TestMachine, s: number, limit: number): void {
  const c = m.cpu;
  c.setSegCache(s, c.segSel[s]!, c.segBase[s]!, limit, c.segAttr[s]!);
}

/** Fills the data area; every fifth seed also cuts SS (EBP-based operands use it) short so some accesses raise #SS. */
function fillData(m: TestMachine, seed: number): void {
  const next = rng(seed ^ 0x5eed);
  for (let a = 0; a < 512; a += 4) m.mem.write32(DATA + a, next());
  if (seed % 5 === 0) setLimit(m, 2, DATA + 200);
}

function interpreted(code: Uint8Array, seed: number): TestMachine {
  const m = machine(code, 'pm32');
  fillData(m, seed);
  m.run(100_000);
  return m;
}

function translated(code: Uint8Array, seed: number): { m: TestMachine; jit: Translator } {
  const m = machine(code, 'pm32');
  fillData(m, seed);
  return { m, jit: runTranslated(m) };
}

/** `code` run in a fresh pm32 machine (after `setup`), interpreted or (`jit`) through the translator. */
function runProgram(code: Uint8Array, jit: boolean, setup: (m: TestMachine) => void = () => {}): { m: TestMachine; t?: Translator } {
  const m = machine(code, 'pm32');
  setup(m);
  if (!jit) {
    m.run(100_000);
    return { m };
  }
  return { m, t: runTranslated(m) };
}

/** `src` (32-bit code) translated, after checking it leaves the state it leaves interpreted (after `setup`, in both). */
function matchesInterpreter(src: string, setup?: (m: TestMachine) => void): { m: TestMachine; t: Translator } {
  const code = assemble(src, 32);
  const a = runProgram(code, false, setup).m;
  const { m, t } = runProgram(code, true, setup);
  expect(state(m)).toEqual(state(a));
  return { m, t: t! };
}

/**
 * Fills the TLB's fast-path entries for reading and writing the pages of
 * the stack, DATA and the exception record, as the interpreted runs before
 * a block is translated do: with a cold entry the block leaves before the
 * access, and a test counting blocks counts those exits.
 */
function warmTlb(m: TestMachine): void {
  for (const [seg, at] of [
    [SS, STACK - 4],
    [DS, DATA],
    [DS, REC],
  ] as const) {
    m.cpu.write(seg, at, 4, m.cpu.read(seg, at, 4));
  }
}

function state(m: TestMachine): Record<string, unknown> {
  const c = m.cpu;
  const data: number[] = [];
  for (let a = 0; a < 512; a += 4) data.push(m.mem.read32(DATA + a));
  const stack: number[] = [];
  for (let a = STACK - 64; a < STACK; a += 4) stack.push(m.mem.read32(a));
  return {
    regs: [...c.regs].map((v) => v.toString(16)),
    eip: c.eip.toString(16),
    eflags: c.getEflags().toString(16),
    halted: c.halted,
    vector: m.mem.read32(REC) | 0,
    data,
    stack,
  };
}

describe('translator vs interpreter (randomized)', () => {
  // About 35 s alone on this 2-core machine; beside a boot test, which keeps both cores busy (its
  // main thread and V8's compiler), it took over 60 s in CI.
  it('random instruction sequences leave the same state', async () => {
    const seeds = Number(process.env.TSVM_JIT_DIFF_SEEDS ?? 80);
    let blocks = 0;
    let faulted = 0;
    for (let seed = 1; seed <= seeds; seed++) {
      // Half a minute in all: let the worker answer vitest's RPC between seeds (it times out after 60 s).
      await new Promise((resolve) => setImmediate(resolve));
      const src = randomProgram(seed, 40);
      const code = assemble(src, 32);
      const a = interpreted(code, seed);
      const { m: b, jit } = translated(code, seed);
      blocks += jit.stats.translated;
      if (a.vector() >= 0) faulted++;
      expect(state(b), `seed ${seed}:\n${src}`).toEqual(state(a));
    }
    expect(blocks).toBeGreaterThan(seeds);
    expect(faulted).toBeGreaterThan(seeds / 10); // #DE and #SS inside blocks
  }, 180_000);
});

/** A loop that patches the immediate of the MOV two instructions ahead, in its own basic block, on each pass. */
const PATCHES_AHEAD = `
  mov ecx, 3
  xor ebx, ebx
top:
  mov dword [patch + 1], ecx
  nop
patch:
  mov eax, 0x11111111
  add ebx, eax
  dec ecx
  jnz top
  hlt`;

describe('translator: self-modifying code', () => {
  it('a store into the running block takes effect at the next instruction', () => {
    // Translated at once: the store changes the block it runs in.
    const code = assemble(PATCHES_AHEAD, 32);
    const a = interpreted(code, 0);
    const { m: b, jit } = translated(code, 0);
    expect(state(b)).toEqual(state(a));
    expect(b.cpu.regs[3]).toBe(3 + 2 + 1);
    expect(jit.stats.invalidated).toBeGreaterThan(0);
  });

  it('a store into a basic block the translator interprets (not yet hot) takes effect at the next instruction', () => {
    // Nothing hot enough to translate: the loop body runs from the basic
    // block the translator decoded on its first pass, which the store then
    // changes under it.
    const m = machine(assemble(PATCHES_AHEAD, 32), 'pm32');
    const jit = runTranslated(m, new Translator(m.cpu, m.interp, 1000));
    expect(jit.stats.translated).toBe(0);
    expect(m.cpu.regs[3]).toBe(3 + 2 + 1);
  });

  it('code written then jumped to runs the new bytes', () => {
    // Run a routine, overwrite it with another (MOV EAX, imm32; RET), run it again.
    const src = `
      mov esi, 2
    again:
      call routine
      add ebx, eax
      mov byte [routine], 0xb8
      mov dword [routine + 1], 0x1234
      mov byte [routine + 5], 0xc3
      dec esi
      jnz again
      hlt
    routine:
      mov eax, 7
      inc eax
      ret`;
    const code = assemble(src, 32);
    const a = interpreted(code, 0);
    const { m: b } = translated(code, 0);
    expect(state(b)).toEqual(state(a));
    expect(b.cpu.regs[3]).toBe(8 + 0x1234);
  });
});

describe('translator: code interpreted before it is hot', () => {
  it('a basic block the translator interprets runs on through an instruction that crosses into the next page', () => {
    const src = `
      mov ecx, 3
      xor ebx, ebx
    top:
      times 0xffc - ($ - $$) nop
      add ebx, ecx
      mov eax, 0x01020304 ; 0x10ffe-0x11002: across the page boundary
      add ebx, eax
      dec ecx
      jnz top
      hlt`;
    const m = machine(assemble(src, 32), 'pm32');
    const jit = runTranslated(m, new Translator(m.cpu, m.interp, 1000));
    expect(jit.stats.translated).toBe(0);
    expect(m.cpu.regs[3]).toBe(3 + 2 + 1 + 3 * 0x01020304);
  });
});

describe('self-modifying code: a page written as data before its code first runs', () => {
  it('a store after the code ran there reaches the decoded code (interpreted and translated)', () => {
    // Page 0x30000 is written as data first (its writes may then go
    // straight to RAM), then run as code: a later patch must still reach
    // the decoded and translated code there.
    const src = `
      mov edi, 0x30000
      mov dword [edi], 0x000007b8
      mov dword [edi + 4], 0x0000c300
      call edi
      mov ebx, eax
      mov byte [edi + 1], 9
      call edi
      add ebx, eax
      hlt`;
    expect(matchesInterpreter(src).m.cpu.regs[3]).toBe(7 + 9);
  });
});

describe('translator: blocks compiled for flat segments', () => {
  it('a block run again after DS stopped being flat checks DS (here #GP past a 64 KiB limit)', () => {
    // routine's block (entered by an indirect CALL, so a block of its own) is
    // translated while DS is flat, so its load skips the segment check; once
    // DS holds the 16-bit data segment the block must not run as it was: the
    // load at 0x20000 is past DS's limit.
    const src = `
      mov ecx, 3
      xor ebx, ebx
      mov edx, routine
    again:
      mov esi, ${DATA}
      call edx
      dec ecx
      jnz again
      mov ax, 0x20
      mov ds, ax
      call edx
      hlt
    routine:
      mov eax, [esi]
      add ebx, eax
      ret`;
    expect(matchesInterpreter(src).m.vector()).toBe(13);
  });

  it('a block run again after the CS limit shrank from 4 GiB checks its jump against the limit (#GP at the JMP)', () => {
    // routine's JMP to 2 MiB is translated while CS reaches 4 GiB, so it skips the limit check;
    // once CS is a 32-bit segment of 1 MiB the block must not run as it was.
    const src = `
      mov ecx, 3
      mov edx, routine
    again:
      call edx
      dec ecx
      jnz again
      mov dword [${GDT} + 0x18], 0x0000ffff
      mov dword [${GDT} + 0x1c], 0x004f9a00
      jmp 0x18:small
    small:
      call edx
      hlt
    routine:
      jmp 0x200000`;
    const { m } = matchesInterpreter(src, (m) => m.mem.write8(0x200000, 0xc3));
    expect(m.vector()).toBe(13);
    expect(m.cpu.regs[1]).toBe(0);
  });
});

/** A loop that stores to a counter on its own code page every pass and, once, patches the ADD in bump: EBX ends at 5 + 100. */
const PATCH_LOOP = `
      mov ecx, 6
      xor ebx, ebx
    top:
      add dword [counter], 1
      call bump
      cmp ecx, 2
      jne .keep
      mov byte [bump + 2], 100
    .keep:
      dec ecx
      jnz top
      mov eax, [counter]
      hlt
    bump:
      add ebx, 1
      ret
    counter:
      dd 0`;

/**
 * NASM that turns on paging with a page directory at 1 MiB whose 4 MiB
 * pages map physical 0-4 MiB at 0 (where the program runs) and at each of
 * `aliases`.
 */
function aliasLowMemory(...aliases: number[]): string {
  const pdes = [0, ...aliases].map((a) => `mov dword [0x100000 + ${(a >>> 22) * 4}], 0x83`);
  return [...pdes, pagingOn(0x10)].join('\n');
}

describe('translator: data stores into a code page', () => {
  it('blocks of a page whose data was written are revived unchanged, and a later code patch still takes effect', () => {
    // The loop body shares its page with a counter it stores to on every
    // pass; on the last pass it also patches the ADD's immediate.
    const src = PATCH_LOOP;
    const code = assemble(src, 32);
    const a = interpreted(code, 0);
    const { m: b, jit } = translated(code, 0);
    expect(state(b)).toEqual(state(a));
    expect(b.cpu.regs[0]).toBe(6);
    expect(b.cpu.regs[3]).toBe(5 + 100);
    expect(jit.stats.revived).toBeGreaterThan(0);
  });
});

describe('translator: accesses the fast path does not allow', () => {
  // A device register page: each read returns the next count (a read has an effect, as a
  // FIFO's does), and every access is logged.
  const MMIO = 0x30000;
  const device = (log: string[]) => (m: TestMachine) => {
    let count = 0;
    m.mem.addMmio('counter', MMIO, 4096, {
      read: (offset, size) => {
        log.push(`r${size}@${offset}`);
        return ++count;
      },
      write: (offset, size, value) => {
        log.push(`w${size}@${offset}=${value}`);
      },
    });
  };

  it('a loop over device registers makes each access once and in order, as interpreted, its block leaving before each', () => {
    // A read, a write, a read-modify-write and a MOVS from RAM to the device, 20 times round.
    const src = `
      mov ecx, 20
      xor ebx, ebx
      mov esi, ${DATA}
    .loop:
      mov eax, [${MMIO}]
      add ebx, eax
      mov [${MMIO + 4}], ebx
      add dword [${MMIO + 8}], 3
      mov edi, ${MMIO + 12}
      movsd
      dec ecx
      jnz .loop
      hlt`;
    const code = assemble(src, 32);
    const interpretedLog: string[] = [];
    const translatedLog: string[] = [];
    const fill = (m: TestMachine) => {
      for (let i = 0; i < 20; i++) m.mem.write32(DATA + i * 4, 100 + i);
    };
    const a = runProgram(code, false, (m) => (device(interpretedLog)(m), fill(m))).m;
    const { m: b, t } = runProgram(code, true, (m) => (device(translatedLog)(m), fill(m)));
    expect(state(b)).toEqual(state(a));
    expect(translatedLog).toEqual(interpretedLog);
    // Per pass: the read, the write, the ADD's read and write, the MOVS's write.
    expect(translatedLog.length).toBe(20 * 5);
    // Each pass reads two counts (MOV, then ADD); EBX sums the MOV's: 1 + 3 + ... + 39.
    expect(b.cpu.regs[3]).toBe(20 * 20);
    // Blocks ran the loop and left before each device access their own code makes: the MOVs' and
    // the ADD's (the MOVS's too in JavaScript blocks; WebAssembly ones run it by its handler).
    expect(t!.stats.slowExits).toBeGreaterThanOrEqual(20 * 3);
  });
});

describe('translator: code at EIPs from 0x80000000 up (where kernels live)', () => {
  it('a block whose code was patched while it was dead is not revived with its old bytes', () => {
    // The same patch as above, run through a 4 MiB alias at 0x80000000: the
    // kept bytes of multi-instruction blocks up there once came out empty
    // (EIP turned negative), so any dead block was revived and Linux ran
    // static_cpu_has() sites as they were before apply_alternatives().
    const src = `
      HIGH equ 0x80000000
      ${aliasLowMemory(0x8000_0000)}
      mov eax, HIGH + high
      jmp eax
    high:
    ${PATCH_LOOP}`;
    const code = assemble(src, 32);
    const a = interpreted(code, 0);
    const { m: b } = translated(code, 0);
    expect(a.cpu.eip >>> 0).toBeGreaterThan(0x8000_0000);
    expect(b.cpu.regs[3]).toBe(5 + 100);
    expect(state(b)).toEqual(state(a));
  });
});

describe('translator: one block for every linear alias of its code', () => {
  it('a routine run through two mappings of its page is translated once and pushes each alias its own return address', () => {
    // Physical 0-4 MiB appears at 0 (the program), 0x40000000 and
    // 0x80000000: the routine, a loop with a CALL, runs through the first
    // alias, the program halts, then it runs through the second. The
    // helper records the return address it sees, which must be the alias's.
    const src = `
      ${aliasLowMemory(0x4000_0000, 0x8000_0000)}
      mov ebp, ${DATA}
      mov eax, 0x40000000 + routine
      call eax
      mov [ebp + 4], eax
      hlt
      mov eax, 0x80000000 + routine
      call eax
      mov [ebp + 8], eax
      hlt
    routine:
      mov ecx, 5
      xor eax, eax
    .loop:
      add eax, ecx
      call helper
      dec ecx
      jnz .loop
      ret
    helper:
      add eax, 100
      mov edx, [esp]
      mov [ebp + 12 + ecx * 4], edx
      ret`;
    const code = assemble(src, 32);
    const a = machine(code, 'pm32');
    a.run(100_000);
    a.cpu.halted = false;
    a.run(100_000);
    const b = machine(code, 'pm32');
    const jit = runTranslated(b);
    const firstAlias = jit.stats.translated;
    expect(b.mem.read32(DATA + 16) >>> 0).toBeGreaterThan(0x4000_0000); // a return address in the first alias
    b.cpu.halted = false;
    runTranslated(b, jit);
    expect(state(b)).toEqual(state(a));
    expect(b.mem.read32(DATA + 4)).toBe(15 + 500);
    expect(b.mem.read32(DATA + 16) >>> 0).toBeGreaterThan(0x8000_0000); // and now in the second
    // Only the program's two new blocks (the call through the second alias, the store after it).
    expect(jit.stats.translated - firstAlias).toBe(2);
  });
});

describe('translator: stack fast path', () => {
  it('a POP past the SS limit raises #SS inside a block with ESP, EIP and the pending flags as interpreted', () => {
    // SS ends just below the initial ESP: pushes fit, the second POP reads past the limit.
    const src = `
      mov eax, 0x7fffffff
      push eax
      call sub
      add eax, 1
      pop ecx
      cmp eax, ecx
      pop edx
      hlt
    sub:
      ret`;
    const limitStack = (m: TestMachine) => {
      setLimit(m, 2, STACK - 1);
    };
    const b = matchesInterpreter(src, limitStack).m;
    expect(b.vector()).toBe(12);
  });
});

describe('translator: stack fast path with ESP from 0x80000000 up', () => {
  // SS based at 0x80000000 with a 1 MiB limit: ESP 0x80020000 lies past the limit, though
  // SS.base + ESP wraps to the data area, which a read through DS has just put in the TLB.
  // POP, RET and LEAVE must raise #SS, not read that RAM.
  const highStack = (m: TestMachine) => {
    const c = m.cpu;
    c.setSegCache(2, c.segSel[2]!, 0x8000_0000, 0xf_ffff, c.segAttr[2]!);
  };
  it.each([
    ['pop eax', 'mov esp, 0x80020000\npop eax'],
    ['ret', 'mov esp, 0x80020000\nret'],
    ['leave', 'mov ebp, 0x80020000\nleave'],
  ])('%s past the SS limit leaves the interpreted state', (_name, body) => {
    const src = `mov eax, 0x1234\nmov edx, [${DATA}]\n${body}\nmov ecx, 0x5678\nhlt`;
    const { m } = matchesInterpreter(src, highStack);
    expect(m.cpu.regs[0]).toBe(0x1234);
    expect(m.cpu.regs[1]).not.toBe(0x5678);
  });
});

describe('translator: a CALL whose push kills its own block', () => {
  // The stack lies on the code page: the push writes it, the block dies, and it must leave for
  // the callee, not for the return address.
  it.each([
    ['call rel32', 'call callee'],
    ['call reg', 'mov edx, callee\ncall edx'],
    ['call mem', 'mov dword [stk + 16], callee\ncall [stk + 16]'],
  ])('%s runs the callee, as interpreted', (_name, call) => {
    const src = `
      mov esp, stk
      mov eax, 1
      ${call}
      add eax, 10
      hlt
      times 64 db 0
    stk:
      times 64 db 0
      times 4200 nop
    callee:
      mov eax, 5
      ret`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[0]).toBe(15);
  });
});

describe('translator: a MOVS or XCHG whose store kills its own block', () => {
  it('finishes the instruction first (indexes advanced, register swapped), as interpreted', () => {
    const src = `
      mov esi, source
      mov edi, dest
      cld
      movsd
      mov eax, 7
      xchg eax, [dest + 4]
      mov ebx, [dest]
      hlt
    source:
      dd 0x11223344
    dest:
      dd 0, 0x55`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[0]).toBe(0x55);
    expect(m.cpu.regs[3]).toBe(0x11223344);
    expect(m.cpu.regs[7]! - m.cpu.regs[6]!).toBe(4);
  });
});

describe('translator: a block ending in a REP string op', () => {
  it('goes on at the next instruction once the REP is done, and at the REP again when it stops part-way, as interpreted', () => {
    // REPNE SCASB over 40,000 bytes stops after each 16,384 (string.ts's budget) with EIP at
    // itself; REP MOVSD and REP STOSB are done in one go. The loop runs the blocks linked.
    const src = `
      mov edx, 6
    again:
      mov edi, 0x30000
      mov ecx, 40000
      mov byte [0x30000 + 39990], dl
      mov al, dl
      cld
      repne scasb
      mov [0x20000 + edx * 4], ecx
      mov [0x20040 + edx * 4], edi
      mov esi, 0x20000
      mov edi, 0x20100
      mov ecx, 32
      rep movsd
      mov edi, 0x20180
      mov ecx, edx
      mov al, 0x5a
      rep stosb
      dec edx
      jnz again
      hlt`;
    const { m } = matchesInterpreter(src);
    expect(m.mem.read32(0x20000 + 4)).toBe(40000 - 39991);
    expect(m.mem.read32(0x20040 + 4)).toBe(0x30000 + 39991);
    expect(m.mem.read32(0x20100 + 4 * 4)).toBe(m.mem.read32(0x20000 + 4 * 4));
  });
});

describe('translator: indirect JMP and CALL', () => {
  it('a jump table, CALL through a register and through memory, as interpreted', () => {
    const src = `
      mov ebp, ${DATA}
      mov dword [ebp], one
      mov dword [ebp + 4], two
      mov dword [ebp + 8], done
      mov dword [ebp + 12], sub
      xor ebx, ebx
      xor ecx, ecx
    next:
      jmp [ebp + ebx*4]
    one:
      add ecx, 1
      inc ebx
      jmp next
    two:
      add ecx, 20
      mov edx, sub
      call edx
      call [ebp + 12]
      inc ebx
      mov eax, next
      jmp eax
    done:
      hlt
    sub:
      add ecx, 300
      ret`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[1]).toBe(621);
  });

  it('a JMP or CALL through memory to past the CS limit raises #GP with ESP and the pending flags as interpreted', () => {
    for (const insn of ['jmp', 'call']) {
      const src = `
        mov ebp, ${DATA}
        mov dword [ebp], 0x00fffff0
        push eax
        cmp eax, ebx
        ${insn} [ebp]
        hlt`;
      const { m } = matchesInterpreter(src, (m) => setLimit(m, 1, 0xfffff));
      expect(m.vector()).toBe(13);
    }
  });
});

describe('translator: LEAVE', () => {
  it('a routine with a stack frame restores EBP and ESP, as interpreted', () => {
    const src = `
      mov ebp, 0x1111
      mov eax, 7
      call frame
      push ebp
      pop ecx
      hlt
    frame:
      push ebp
      mov ebp, esp
      sub esp, 12
      mov [ebp - 4], eax
      add eax, [ebp - 4]
      leave
      ret`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[0]).toBe(14);
    expect(m.cpu.regs[1]).toBe(0x1111);
  });
});

describe('translator: RET and its inline cache', () => {
  const runBoth = (src: string, setup: (m: TestMachine) => void = () => {}): [TestMachine, TestMachine] => {
    const code = assemble(src, 32);
    return [runProgram(code, false, setup).m, runProgram(code, true, setup).m];
  };

  it('one routine returning to two call sites alternately, with RET imm16, returns to each', () => {
    const [a, b] = runBoth(`
      mov ecx, 20
      xor ebx, ebx
    top:
      push ecx
      call twice
      add ebx, eax
      test ecx, 1
      jz .even
      push ecx
      call twice
      sub ebx, 3
    .even:
      dec ecx
      jnz top
      hlt
    twice:
      mov eax, [esp + 4]
      add eax, eax
      ret 4`);
    expect(state(b)).toEqual(state(a));
    expect(b.cpu.regs[4]).toBe(STACK);
  });

  it('a routine returning to two call sites, one on a page a CR3 switch remaps, returns to the code mapped there now', () => {
    // The routine, on a page of its own, is called from the main loop and from a stub at
    // 0x40000000, which the two page directories map to two copies adding 1 or 100. Its RET's
    // cache holds both return addresses; after each switch the return to the main loop comes
    // first: its refill must not carry the stub's entry into the new mapping.
    const src = `
      mov esi, stub_a
      mov edi, 0x400000
      mov ecx, stub_end - stub_a
      rep movsb
      mov esi, stub_b
      mov edi, 0x800000
      mov ecx, stub_end - stub_b
      rep movsb
      mov dword [0x101000], 0x83
      mov dword [0x100000 + 0x100 * 4], 0x400083
      mov dword [0x101000 + 0x100 * 4], 0x800083
      ${aliasLowMemory()}
      mov ecx, 6
      xor ebx, ebx
    .loop:
      ${SWITCH_CR3}
      call routine
      call 0x40000000
      dec ecx
      jnz .loop
      hlt
    stub_a:
      mov eax, routine
      call eax
      add ebx, 1
      ret
    stub_b:
      mov eax, routine
      call eax
      add ebx, 100
      ret
    stub_end:
      times 0x1000 - ($ - $$) db 0x90
    routine:
      test ecx, ecx
      jz .out
    .out:
      ret`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[3]).toBe(3 * 1 + 3 * 100);
  });

  it('a RET past the CS limit raises #GP with ESP unmoved and the pending flags, as interpreted', () => {
    const [a, b] = runBoth(
      `
      push 0x200000
      cmp eax, ebx
      ret
      hlt`,
      (m) => {
        setLimit(m, 1, 0xfffff);
        m.cpu.regs[0] = 5;
        m.cpu.regs[3] = 7;
      },
    );
    expect(state(b)).toEqual(state(a));
    expect(b.vector()).toBe(13);
  });
});

describe('translator: decoder substitutions', () => {
  it('a LOCK prefix on a register MOV raises #UD inside a block, as interpreted', () => {
    const src = `
      mov eax, 1
      mov ebx, 2
      db 0xf0, 0x89, 0xd8 ; lock mov eax, ebx
      mov ecx, 3
      hlt`;
    const code = assemble(src, 32);
    const a = interpreted(code, 0);
    const { m: b } = translated(code, 0);
    expect(state(b)).toEqual(state(a));
    expect(b.vector()).toBe(6);
    expect(b.cpu.regs[0]).toBe(1);
  });
});

describe('translator: a block start is translated once it is hot', () => {
  // Interpreted, the start at CODE runs once, f and the return address once per call, the loop
  // head (reached by JNZ) once per call but the first. The return address's block, once
  // translated, takes in the loop head (its JNZ's target) and f (a short leaf): the loop then runs
  // in it, and its head is not entered again.
  const calls = (n: number) => `
      mov ecx, ${n}
    again:
      call f
      dec ecx
      jnz again
      hlt
    f:
      add eax, 1
      ret`;

  it.each([
    [4, 0],
    [5, 2],
    [9, 2],
  ])('with a threshold of 5 entries, %i calls translate %i block starts', (n, blocks) => {
    const m = machine(assemble(calls(n), 32), 'pm32');
    const jit = runTranslated(m, new Translator(m.cpu, m.interp, 5));
    expect(m.cpu.regs[0]).toBe(n);
    expect(jit.stats.translated).toBe(blocks);
  });
});

describe('translator: two block starts counted in the same slot of the heat table', () => {
  it('both are translated once hot, though the loop enters them in turn', () => {
    // a at 0x10100 and b at 0x30102 share a slot (slotOf: 0x0100 ^ 0x1 = 0x0102 ^ 0x3); each is
    // reached by a JMP from another page, so each is a block start of its own.
    const src = `
      mov ecx, 50
      jmp main
      times 0x100 - ($ - $$) db 0x90
    a:
      add eax, 1
      jmp b
      times 0x1000 - ($ - $$) db 0x90
    main:
      jmp a
    back:
      dec ecx
      jnz main
      hlt
      times 0x20102 - ($ - $$) db 0x90
    b:
      add ebx, 2
      jmp back`;
    const m = machine(assemble(src, 32), 'pm32');
    const jit = runTranslated(m, new Translator(m.cpu, m.interp, 5));
    expect([m.cpu.regs[0], m.cpu.regs[3]]).toEqual([50, 100]);
    expect(jit.stats.translated).toBeGreaterThanOrEqual(3);
    expect(m.interp.executed).toBeLessThan(50);
  });
});

describe('translator: blocks follow JMP and CALL rel to targets on their page', () => {
  it('a CALL, the callee, a JMP back before the entry and on: one block, run as interpreted', () => {
    // mov, call (followed: a short leaf), the callee up to its RET, which goes on at the return
    // address (decoded next): add, jmp (followed back, before the entry), add, hlt.
    const src = `
      mov eax, 1
      call f
      add eax, 2
      jmp back
    f:
      add eax, 4
      mov [${DATA}], esp
      ret
    back:
      add eax, 8
      hlt`;
    const { m: b, t } = matchesInterpreter(src, warmTlb);
    expect(b.cpu.regs[0]).toBe(15);
    expect(b.mem.read32(DATA)).toBe(STACK - 4); // the followed CALL pushed its return address
    expect(t.stats.translated).toBe(1);
  });

  it('a block entered after code it jumps back to runs that code', () => {
    const src = `
      mov ebx, start
      jmp ebx
    back:
      add eax, 5
      hlt
    start:
      mov eax, 2
      jmp back`;
    const b = matchesInterpreter(src).m;
    expect(b.cpu.regs[0]).toBe(7);
  });

  it('a fault in a followed callee reports the callee instruction, with the return address pushed', () => {
    const src = `
      mov ecx, 0
      mov eax, 10
      call f
      hlt
    f:
      xor edx, edx
      div ecx
      ret`;
    const b = matchesInterpreter(src).m;
    expect(b.vector()).toBe(0); // #DE
  });

  it('a JMP whose target lies past the CS limit raises #GP at the JMP, as interpreted', () => {
    const src = `
      mov eax, 1
      jmp beyond
      hlt
      times 64 nop
    beyond:
      hlt`;
    const limit = (m: TestMachine) => {
      setLimit(m, 1, m.cpu.eip + 16);
    };
    const b = matchesInterpreter(src, limit).m;
    expect(b.vector()).toBe(13);
  });
});

/**
 * NASM that turns on paging with 4 KiB pages mapping the low 4 MiB
 * one-to-one: page directory at 1 MiB, its page table (PT) after it. A
 * test remaps linear page `a` to physical `p` with
 * `mov dword [PT + a / 1024], p | 3` and an INVLPG (a label's address as a
 * number is `label - $$ + BASE`).
 */
const SMALL_PAGES = `
      PT equ 0x101000
      BASE equ ${CODE}
      mov edi, PT
      mov eax, 3
      mov ecx, 1024
    .fill:
      mov [edi], eax
      add eax, 0x1000
      add edi, 4
      dec ecx
      jnz .fill
      mov dword [0x100000], PT | 3
      ${pagingOn()}`;

/**
 * A loop of five calls to 'remote' (in 'sum', called indirectly so that it
 * is a block of its own), run before and after linear page 'remote' is
 * remapped from its own bytes (the callee `callee(3)`, returning EAX = 3) to
 * those of 'other' (`callee(7)`): its calls must reach what the page tables
 * map there now. `refill` runs after the INVLPG: a data read there puts the
 * new mapping in the TLB, so that only the RAM page tells the two apart.
 * EBX ends as the sum of the returned EAXs.
 */
function calleeRemapped(refill: string, callee: (eax: number) => string): string {
  return `
      ${SMALL_PAGES}
      xor ebx, ebx
      mov esi, sum
      call remote
      call esi
      mov dword [PT + (remote - $$ + BASE) / 1024], (other - $$ + BASE) | 3
      invlpg [remote]
      ${refill}
      call esi
      hlt
    sum:
      mov ecx, 5
    .loop:
      call remote
      add ebx, eax
      dec ecx
      jnz .loop
      ret
      align 4096
    remote:
      ${callee(3)}
      align 4096
    other:
      ${callee(7)}`;
}

describe('translator: calls into other pages', () => {
  it('a loop calling a short function on the next page runs as one block', () => {
    // The first call puts the callee's page in the TLB (the translator reads, not fills, it);
    // the indirect JMP ends the entry's block, so that the loop's is translated after that.
    const src = `
      mov ecx, 20
      xor ebx, ebx
      call remote
      mov edx, .loop
      jmp edx
    .loop:
      call remote
      add ebx, eax
      dec ecx
      jnz .loop
      hlt
      align 4096
    remote:
      mov eax, 3
      ret`;
    const { m, t } = matchesInterpreter(src);
    expect(m.cpu.regs[3]).toBe(60);
    // The entry's block, the callee's and the loop's, with the callee in it: not two runs per
    // iteration of blocks that end at CALL and RET.
    expect(t.stats.blocksRun).toBeLessThan(6);
  });

  it.each([
    ['not yet in the TLB', ''],
    ['in the TLB', 'mov eax, [remote]'],
  ])('the callee page remapped to other code (%s): the block leaves for what the page tables map there now', (_, refill) => {
    const { m } = matchesInterpreter(calleeRemapped(refill, (eax) => `mov eax, ${eax}\n      ret`));
    expect(m.cpu.regs[3]).toBe(5 * 3 + 5 * 7);
  });

  it('a store patching a callee on another page: the patched callee runs', () => {
    const src = `
      xor ebx, ebx
      mov ecx, 6
    .loop:
      call remote
      add ebx, eax
      cmp ecx, 3
      jne .keep
      mov byte [remote + 1], 100
    .keep:
      dec ecx
      jnz .loop
      hlt
      align 4096
    remote:
      mov eax, 3
      ret`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[3]).toBe(4 * 3 + 2 * 100);
  });

  it('a run that reaches the end of its page leaves there for the next page', () => {
    // INC EAX up to the page boundary, then code on the next page.
    const src = `
      mov eax, 0
      align 4096, db 0x40
      add eax, 1000
      hlt`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[0]).toBe(4096 - 5 + 1000);
  });

  it('an instruction crossing into the next page runs in the block, which goes on there', () => {
    // The ADD straddles the page boundary: the loop, from its head to the JNZ on the next page,
    // is one block run once per pass, not the ADD interpreted alone between two blocks.
    const src = `
      mov ecx, 2000
      xor eax, eax
      xor ebx, ebx
    top:
      inc ebx
      jmp cross
      times 4096 - 2 - (($ - $$ + ${CODE}) % 4096) db 0x90
    cross:
      add eax, 0x01010101
      %rep 20
      add ebx, 2
      %endrep
      dec ecx
      jnz top
      hlt`;
    const { m, t } = matchesInterpreter(src);
    expect(m.cpu.regs[0]).toBe((2000 * 0x01010101) >>> 0);
    expect(m.cpu.regs[3]).toBe(2000 * 41);
    expect(m.interp.executed).toBeLessThan(50);
    expect(t.stats.blocksRun).toBeLessThan(2000 + 10);
  });

  it('a CALL that ends its page, to a callee on that page: the RET leaves for the next page', () => {
    const src = `
      mov eax, 0
      jmp start
    f:
      add eax, 7
      ret
    start:
      times 4096 - 5 - 2 - 4 - 5 db 0x90
      call f
      add eax, 1000
      hlt`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[0]).toBe(1007);
  });

  it('a callee that moves its return address returns where it points, on the same page and on another', () => {
    // Each callee skips the 5-byte MOV after its call.
    const src = `
      xor ebx, ebx
      mov ecx, 4
    .loop:
      call local
      mov ebx, 1000
      call remote
      mov ebx, 2000
      add ebx, 1
      dec ecx
      jnz .loop
      hlt
    local:
      add dword [esp], 5
      ret
      align 4096
    remote:
      add dword [esp], 5
      ret`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[3]).toBe(4);
  });
});

/** A function on its own page adding 3 or 5 to EBX as EAX is odd or even: no short leaf (it branches), so a block leaves at its CALL unless it nests the call. */
const COUNT = `
      align 4096
    count:
      test eax, 1
      jz .even
      add ebx, 3
      ret
    .even:
      add ebx, 5
      ret`;

/** A loop calling COUNT 50 times: EBX ends 25 * 3 + 25 * 5. */
const COUNT_LOOP = `
      mov ecx, 50
      xor ebx, ebx
    .loop:
      mov eax, ecx
      call count
      dec ecx
      jnz .loop
      hlt
      ${COUNT}`;

describe('translator: nested calls (a block calls the block of a callee on another page)', () => {
  it('a loop calling a function on another page goes on after each call within its block run', () => {
    const { m, t } = matchesInterpreter(COUNT_LOOP);
    expect(m.cpu.regs[3]).toBe(25 * 3 + 25 * 5);
    // 101 when each CALL and RET went through the dispatcher.
    expect(t.stats.blocksRun).toBeLessThan(10);
  });

  it('a callee that returns elsewhere: the caller leaves from where it went', () => {
    // skip adds 2 to its return address, past the caller's 'inc edx' and 'inc ebx' (one byte each).
    const src = `
      mov ecx, 30
      xor edx, edx
      xor ebx, ebx
    .loop:
      mov eax, ecx
      call count
      call skip
      inc edx
      inc ebx
      dec ecx
      jnz .loop
      hlt
      ${COUNT}
    skip:
      test eax, 0
      jnz .never
      add dword [esp], 2
    .never:
      ret`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[2]).toBe(0);
    expect(m.cpu.regs[3]).toBe(15 * 3 + 15 * 5);
  });

  it('recursion across two pages deeper than the nested-call budget ends with the same state', () => {
    const src = `
      mov ecx, 300
      xor ebx, ebx
      call down
      hlt
      align 4096
    down:
      test ecx, ecx
      jz .done
      dec ecx
      inc ebx
      call up
    .done:
      ret
      align 4096
    up:
      test ecx, ecx
      jz .done
      dec ecx
      add ebx, 2
      call down
    .done:
      ret`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[3]).toBe(150 * 1 + 150 * 2);
  });

  it('a callee that rewrites its caller\'s code: the caller runs the new code', () => {
    // patch turns the caller's 'mov eax, 1' after the call into 'mov eax, 2' on the third call.
    const src = `
      mov ecx, 5
      xor ebx, ebx
    again:
      call patch
    site:
      mov eax, 1
      add ebx, eax
      dec ecx
      jnz again
      hlt
      align 4096
    patch:
      cmp ecx, 3
      jne .keep
      mov byte [site + 1], 2
    .keep:
      ret`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[3]).toBe(2 * 1 + 3 * 2);
  });

  it('a fault in a nested callee is delivered with the callee\'s state: its EIP, the return address on the stack', () => {
    // DS ends after 16 dwords: the 17th call's read raises #GP inside 'load', called from the loop's block.
    const src = `
      mov esi, ${DATA}
      mov ecx, 40
      xor ebx, ebx
    .loop:
      call load
      add esi, 4
      dec ecx
      jnz .loop
      hlt
      align 4096
    load:
      test ecx, ecx
      jz .none
      mov eax, [esi]
      add ebx, eax
    .none:
      ret`;
    const limit = (m: TestMachine) => {
      for (let i = 0; i < 16; i++) m.mem.write32(DATA + i * 4, i + 1);
      setLimit(m, 3, DATA + 63);
      warmTlb(m);
    };
    const { m, t } = matchesInterpreter(src, limit);
    expect(m.vector()).toBe(13);
    expect(m.cpu.regs[3]).toBe((16 * 17) / 2);
    // The handler's frame: error code, EIP of the faulting read; above it the return address of the CALL.
    const esp = m.cpu.regs[4]!;
    // 'load' starts the next page: test ecx, ecx and jz .none (2 bytes each), then mov eax, [esi].
    const fetch = CODE + 4096 + 4;
    expect([m.mem.read8(fetch), m.mem.read8(fetch + 1)]).toEqual([0x8b, 0x06]);
    expect(m.mem.read32(esp)).toBe(0);
    expect(m.mem.read32(esp + 4)).toBe(fetch);
    // The return address: after mov esi (5 bytes), mov ecx (5), xor ebx (2) and the CALL (5).
    expect(m.mem.read8(CODE + 12)).toBe(0xe8);
    expect(m.mem.read32(esp + 16)).toBe(CODE + 17);
    // Each call nested in the loop's block: two block runs an iteration without it.
    expect(t.stats.blocksRun).toBeLessThan(10);
  });

  it('the callee\'s page remapped to other code: the nested call runs what the page tables map there now', () => {
    // As 'the callee page remapped to other code' above, with callees that branch (no short
    // leaves, which blocks take in, so the loop's block nests its calls).
    const callee = (eax: number) => `test ecx, ecx
      jz .zero
      mov eax, ${eax}
      ret
    .zero:
      ret`;
    const { m } = matchesInterpreter(calleeRemapped('mov eax, [remote]', callee));
    expect(m.cpu.regs[3]).toBe(5 * 3 + 5 * 7);
  });
});


describe('translator: blocks entered at a label of another block', () => {

  it('a callee returning through the dispatcher goes on in its caller\'s code at the return address, not in a block translated there', () => {
    // The first CALL leaves the block (it is not linked to the callee's block yet) and the
    // callee's RET goes through the dispatcher to the return address, a label of the block.
    const { m, t } = matchesInterpreter(COUNT_LOOP);
    expect(m.cpu.regs[3]).toBe(25 * 3 + 25 * 5);
    expect(t.stats.translated).toBe(2); // the entry's block and the callee's
    expect(t.stats.entries).toBeGreaterThanOrEqual(1);
  });

  it('16-bit code: a loop whose head is not the entry, left every 256 times round, goes on from the head in the same code', () => {
    // Real mode, the code at CS:0: the entry block's EIPs are counted from its first instruction,
    // also when it runs from the loop's head.
    const src = `
      mov cx, 1000
      xor ax, ax
    top:
      add ax, cx
      test cx, 1
      jz even
      inc dx
    even:
      dec cx
      jnz top
      hlt`;
    const code = assemble(src, 16, 0);
    const a = machine(code, 'real');
    a.run(100_000);
    const b = machine(code, 'real');
    const t = runTranslated(b);
    expect(b.cpu.halted).toBe(true);
    expect([b.cpu.eip, b.cpu.regs[0], b.cpu.regs[2], b.cpu.getEflags()]).toEqual([a.cpu.eip, a.cpu.regs[0], a.cpu.regs[2], a.cpu.getEflags()]);
    expect(b.cpu.regs[0]! & 0xffff).toBe((1000 * 1001) / 2 & 0xffff);
    expect(t.stats.translated).toBe(1);
    expect(t.stats.entries).toBe(1);
  });

  it('code patched after a return address: the block entered there runs the new bytes', () => {
    // At ECX = 20 the loop patches the ADD after the call (immediate 1 to 2); the block's entry
    // at the return address, made before, has the old bytes.
    const src = `
      mov ecx, 40
      xor ebx, ebx
      xor edx, edx
    .loop:
      mov eax, ecx
      call count
    .site:
      add edx, 1
      cmp ecx, 20
      jne .same
      mov byte [.site + 2], 2
    .same:
      dec ecx
      jnz .loop
      hlt
      ${COUNT}`;
    const { m, t } = matchesInterpreter(src);
    expect(m.cpu.regs[2]).toBe(21 * 1 + 19 * 2);
    expect(t.stats.entries).toBeGreaterThanOrEqual(1);
  });
});

describe('translator: callees on the caller\'s page return within the block', () => {
  it('a callee with two RETs goes on at the return address from either: the loop runs as one block', () => {
    // One of pick's RETs comes just before the return address in the block, the other jumps there.
    const src = `
      mov ecx, 50
      xor eax, eax
      xor edx, edx
    top:
      mov ebx, ecx
      and ebx, 1
      call pick
      add edx, eax
      dec ecx
      jnz top
      hlt
    pick:
      test ebx, ebx
      jz .even
      add eax, 3
      ret
    .even:
      add eax, 5
      ret`;
    const { m, t } = matchesInterpreter(src, warmTlb);
    // EAX grows by 3 and 5 in turn (ECX 50 is even): EDX sums it after each call.
    let eax = 0;
    let edx = 0;
    for (let ecx = 50; ecx > 0; ecx--) edx += eax += ecx & 1 ? 3 : 5;
    expect([m.cpu.regs[0], m.cpu.regs[2]]).toEqual([eax, edx]);
    expect(t.stats.translated).toBe(1);
    expect(t.stats.blocksRun).toBe(1);
  });

  it('a callee called from two places returns to each; one whose return address was changed returns where it points', () => {
    // The block follows f from its first CALL: f's RETs (one just before that return address in
    // the block, one jumping there) go on there when they pop it, and leave as RETs for the
    // second CALL's; g's leaves for the address g moved.
    const src = `
      xor eax, eax
      mov ecx, 3
    .loop:
      call f
      add eax, 10
      call f
      add eax, 100
      call g
      add eax, 1000
      add eax, 10000
      dec ecx
      jnz .loop
      hlt
    f:
      test ecx, 1
      jz .even
      inc eax
      ret
    .even:
      add eax, 2
      ret
    g:
      add dword [esp], 5
      ret`;
    const { m } = matchesInterpreter(src);
    // ECX 3, 2, 1: f adds 1, 2, 1 at each of its two calls.
    expect(m.cpu.regs[0]).toBe(2 * (1 + 2 + 1) + 3 * (10 + 100 + 10000));
  });
});

/**
 * NASM for a routine `f` whose MOV EAX, imm32 starts `lead` bytes after it
 * and 2 bytes before the end of a page (linear page `tail` is the next):
 * B8 11 on the first page, the other three immediate bytes and the RET on
 * the second, which maps to physical page `first` and whose bytes there
 * are 11 11 11 C3 (a read puts that mapping in the TLB, so that f's first
 * block has the MOV). Physical page `second` holds 22 22 22 C3. `pass` runs
 * after each of 4 calls of f (ECX 4 down to 1), summing EAX into EBX.
 */
function straddlingRoutine(lead: number, pass: string): string {
  return `
      ${SMALL_PAGES}
      mov dword [PT + (tail - $$ + BASE) / 1024], (first - $$ + BASE) | 3
      invlpg [tail]
      mov eax, [tail]
      xor ebx, ebx
      mov ecx, 4
      mov esi, f
    .loop:
      call esi
      add ebx, eax
      ${pass}
      dec ecx
      jnz .loop
      hlt
      times 4096 - 2 - ${lead} - (($ - $$ + BASE) % 4096) db 0x90
    f:
      times ${lead} nop
      db 0xb8, 0x11
    tail:
      db 0xcc, 0xcc, 0xcc, 0xc3
      align 4096
    first:
      db 0x11, 0x11, 0x11, 0xc3
      align 4096
    second:
      db 0x22, 0x22, 0x22, 0xc3`;
}

describe('translator: an instruction running into the next page', () => {
  it.each([
    ['first in its block', 0],
    ['after others in its block', 3],
  ])('(%s) runs the bytes the page tables map there now, also after they map other bytes', (_, lead) => {
    // After the second call the tail page maps to 'second': the next two calls return 0x22222211.
    const remap = `
      cmp ecx, 3
      jne .keep
      mov dword [PT + (tail - $$ + BASE) / 1024], (second - $$ + BASE) | 3
      invlpg [tail]
    .keep:`;
    const { m } = matchesInterpreter(straddlingRoutine(lead, remap));
    expect(m.cpu.regs[3]).toBe((2 * 0x11111111 + 2 * 0x22222211) >>> 0);
  });

  it('a store to its bytes on the next page (mapped from a RAM page not next to its first) takes effect', () => {
    // The immediate's top byte becomes 0x33 after the second call.
    const patch = `
      cmp ecx, 3
      jne .keep
      mov byte [tail + 2], 0x33
    .keep:`;
    const { m } = matchesInterpreter(straddlingRoutine(3, patch));
    expect(m.cpu.regs[3]).toBe((2 * 0x11111111 + 2 * 0x33111111) >>> 0);
  });
});

/**
 * NASM for a loop of 6 passes (ECX 6 down to 1) running `pass`, which calls
 * linear 0x40000000. "add ebx, 1; ret" is copied to physical 0x400000 and
 * "add ebx, 100; ret" to 0x800000; `mapping` (run before paging is on)
 * maps 0x40000000 to them. Page directories at 0x100000 and 0x101000 both
 * map linear 0 (this program) to itself.
 */
function routineCalls(mapping: string, pass: string): string {
  return `
      mov esi, routine_a
      mov edi, 0x400000
      mov ecx, 4
      rep movsb
      mov esi, routine_b
      mov edi, 0x800000
      mov ecx, 4
      rep movsb
      mov dword [0x101000], 0x83
      ${mapping}
      ${aliasLowMemory()}
      mov ecx, 6
      xor ebx, ebx
    .loop:
      ${pass}
      dec ecx
      jnz .loop
      hlt
    routine_a:
      add ebx, 1
      ret
    routine_b:
      add ebx, 100
      ret`;
}

/** NASM loading CR3 with 0x100000 when ECX is even, else 0x101000 (routineCalls' two page directories). */
const SWITCH_CR3 = `
      mov eax, 0x100000
      test ecx, 1
      jz .set
      mov eax, 0x101000
    .set:
      mov cr3, eax`;

/** A pass of routineCalls that switches CR3 (SWITCH_CR3) and calls the routine. */
const SWITCH_AND_CALL = `${SWITCH_CR3}
      call 0x40000000`;

/** routineCalls' mapping of 0x40000000, in both page directories, through the page table at 0x102000 (its entry `pte`); CR4.PGE on. */
function pageTableMapping(pte: number): string {
  return `
      mov dword [0x102000], 0x${pte.toString(16)}
      mov dword [0x100000 + 0x100 * 4], 0x102003
      mov dword [0x101000 + 0x100 * 4], 0x102003
      mov eax, cr4
      or eax, 0x80
      mov cr4, eax`;
}

describe('translator: links across a CR3 switch', () => {
  it('a CALL to another page runs the code the new page tables map there, while links within a page keep working', () => {
    // The two page directories map 0x40000000 to different 4 MiB pages:
    // the link from the caller must not outlive the switch.
    const mapping = `
      mov dword [0x100000 + 0x100 * 4], 0x400083
      mov dword [0x101000 + 0x100 * 4], 0x800083`;
    const b = matchesInterpreter(routineCalls(mapping, SWITCH_AND_CALL)).m;
    expect(b.cpu.regs[3]).toBe(3 * 1 + 3 * 100);
  });
});

describe('translator: links to a global page', () => {
  it('after CR3 switches, which keep the page, an INVLPG of it makes the next CALL run what it maps then', () => {
    // Both page directories map 0x40000000 to the same global 4 KiB page
    // ("add ebx, 1"); after the third call the page is remapped ("add ebx,
    // 100") and invalidated with INVLPG: the link from the caller must not
    // survive that.
    const pass = `
      ${SWITCH_AND_CALL}
      cmp ecx, 4
      jne .next
      mov dword [0x102000], 0x800103
      invlpg [0x40000000]
    .next:`;
    const { m, t } = matchesInterpreter(routineCalls(pageTableMapping(0x400103), pass));
    expect(m.cpu.regs[3]).toBe(3 * 1 + 3 * 100);
    expect(t.stats.translated).toBeGreaterThan(0);
  });

  it('a page entered first as not global, then as global, keeps its entry across a CR3 write, so a later INVLPG still breaks the link', () => {
    // The call starts the same block every pass (MOV from CR0 ends the one
    // before). Pass 1 enters the routine's page as not global; pass 2 makes
    // it global, invalidates it and reads it (entering it as global: the
    // call links to it); pass 3 reloads CR3 and calls through the link;
    // pass 4 remaps and invalidates it. Had the CR3 write dropped the entry
    // (the page is also on the list of pages entered as not global), that
    // INVLPG would find no global entry and the link would run the old
    // routine.
    const pass = `
      cmp ecx, 5
      jne .third
      mov dword [0x102000], 0x400103
      invlpg [0x40000000]
      mov eax, [0x40000000]
    .third:
      cmp ecx, 4
      jne .fourth
      mov eax, cr3
      mov cr3, eax
    .fourth:
      cmp ecx, 3
      jne .call
      mov dword [0x102000], 0x800103
      invlpg [0x40000000]
    .call:
      mov edx, cr0
      call 0x40000000`;
    const { m } = matchesInterpreter(routineCalls(pageTableMapping(0x400003), pass));
    expect(m.cpu.regs[3]).toBe(3 * 1 + 3 * 100);
  });
});

describe('translator: jumps within a block', () => {
  it('a loop whose head is not the entry, with an if-then skip inside, runs within blocks that return every 256 times round', () => {
    const src = `
      mov ecx, 1000
      xor eax, eax
    top:
      test ecx, 1
      jz even
      add eax, 3
    even:
      add eax, 1
      dec ecx
      jnz top
      hlt`;
    const { m: b, t } = matchesInterpreter(src);
    expect(b.cpu.regs[0]).toBe(1000 + 500 * 3);
    // 1,499 jumps taken, 999 of them back to the loop's head: 1,500 block runs if each left the
    // block; a run goes round at most 256 times (then the dispatcher checks interrupts, and goes on
    // in the entry's code from the loop's head: an entry block).
    expect(t.stats.blocksRun).toBeGreaterThanOrEqual(Math.ceil(999 / 256));
    expect(t.stats.blocksRun).toBeLessThan(12);
  });

  it('a fault in a later pass of the loop leaves the registers and flags of the pass before it', () => {
    const src = `
      mov esi, ${DATA}
      xor ecx, ecx
    top:
      add ecx, [esi]
      add esi, 4
      cmp esi, ${DATA + 256}
      jb top
      hlt`;
    const limit = (m: TestMachine) => {
      setLimit(m, 3, DATA + 63); // DS ends after 16 dwords: the 17th read raises #GP
    };
    const b = matchesInterpreter(src, limit).m;
    expect(b.vector()).toBe(13);
    expect(b.cpu.regs[6]).toBe(DATA + 64);
  });
});

describe('translator: a byte at the last offset of its page', () => {
  it('is read and written in RAM; on a page not present it raises #PF there with the registers of the pass before', () => {
    // A loop over the last byte of four 4 KiB pages: 0x3fd000-0x3ff000 are mapped, 0x400000 up is
    // not (one 4 MiB page, then nothing), so the fourth pass faults at its read.
    const src = `
      mov dword [0x100000], 0x83
      ${pagingOn(0x10)}
      mov byte [0x3fdfff], 0x11
      mov byte [0x3fefff], 0x22
      mov byte [0x3fffff], 0x33
      mov esi, 0x3fdfff
      xor ebx, ebx
    top:
      movzx eax, byte [esi]
      add ebx, eax
      inc byte [esi]
      add esi, 0x1000
      jmp top`;
    const { m } = matchesInterpreter(src);
    expect(m.vector()).toBe(14);
    expect(m.cpu.cr2).toBe(0x400fff);
    expect(m.cpu.regs[3]).toBe(0x11 + 0x22 + 0x33);
    expect([m.mem.read8(0x3fdfff), m.mem.read8(0x3fefff), m.mem.read8(0x3fffff)]).toEqual([0x12, 0x23, 0x34]);
  });
});

describe('translator: accesses through one base register checked once', () => {
  // One 4 MiB page maps 0-0x3fffff; 0x400000 up is not present.
  const mapped = `
      mov dword [0x100000], 0x83
      ${pagingOn(0x10)}`;

  // ESI 16 bytes below a page boundary, linear page 0x201000 mapped to RAM page 0x300000 (not the
  // next one): 5 at [ESI], 7 at [ESI + 0x10]; ECX 6000, EBX 0.
  const straddling = `
      ${SMALL_PAGES}
      mov dword [PT + 0x201 * 4], 0x300000 | 3
      invlpg [0x201000]
      mov esi, 0x200ff0
      mov dword [esi], 5
      mov dword [esi + 0x10], 7
      mov ecx, 6000
      xor ebx, ebx`;

  it('a loop whose accesses through ESI straddle two pages: every one made where its page maps, as interpreted', () => {
    // The window [ESI, ESI + 0x14) crosses into the next linear page, which maps to RAM page
    // 0x300000 rather than the one after the first: the window's check fails on every pass and
    // the interpreter runs the accesses, until the loop's block is translated again without
    // windows (after 4,096 such exits).
    const src = `
      ${straddling}
    top:
      mov eax, [esi]
      add ebx, eax
      mov eax, [esi + 0x10]
      add ebx, eax
      add dword [esi + 8], 1
      dec ecx
      jnz top
      hlt`;
    const { m, t } = matchesInterpreter(src);
    expect(m.cpu.regs[3]).toBe(6000 * 12);
    expect(m.mem.read32(0x200ff8)).toBe(6000);
    expect(m.mem.read32(0x300000)).toBe(7);
    // Two blocks straddle (the loop's, and the one from after its first access, where it leaves),
    // each leaving 4,096 times at most: 12,000 exits when their windows stay.
    expect(t.stats.slowExits).toBeLessThan(2 * 4096 + 500);
  });

  it('a callee whose window straddles two pages is translated again without windows, not its caller', () => {
    // sum (not a short leaf, which the caller's block would follow: it branches) runs as a
    // nested call and leaves by SLOW_EXIT on every call while its window stays; the
    // exits must count against it, not the loop's block: translated again, that block would
    // keep calling the same sum.
    const src = `
      ${straddling}
    .loop:
      call sum
      dec ecx
      jnz .loop
      hlt
      align 4096
    sum:
      mov eax, [esi]
      add ebx, eax
      mov eax, [esi + 0x10]
      add ebx, eax
      test ecx, ecx
      jz .never
      ret
    .never:
      hlt`;
    const { m, t } = matchesInterpreter(src);
    expect(m.cpu.regs[3]).toBe(6000 * 12);
    // 6,000 when the caller is charged: one a call.
    expect(t.stats.slowExits).toBeLessThan(4096 + 500);
  });

  it('a later access of a window on a page not present raises #PF there, after the earlier ones', () => {
    const src = `
      ${mapped}
      mov esi, 0x3ffff0
      mov dword [esi], 3
      mov dword [esi + 8], 4
      xor ebx, ebx
      mov eax, [esi]
      add ebx, eax
      mov eax, [esi + 8]
      add ebx, eax
      mov dword [esi + 0xc], 9
      mov eax, [esi + 0x10]
      add ebx, eax
      hlt`;
    const { m } = matchesInterpreter(src);
    expect(m.vector()).toBe(14);
    expect(m.cpu.cr2).toBe(0x400000);
    expect(m.cpu.regs[3]).toBe(7);
    expect(m.mem.read32(0x3ffffc)).toBe(9);
  });

  it('PUSHes and POPs whose stack straddles two pages: each to where its page maps, as interpreted', () => {
    // ESP starts 8 bytes above a page boundary; linear page 0x200000 maps to RAM page 0x300000.
    const src = `
      ${SMALL_PAGES}
      mov dword [PT + 0x200 * 4], 0x300000 | 3
      invlpg [0x200000]
      mov esp, 0x201008
      mov eax, 0x1111
      mov ebx, 0x2222
      xor esi, esi
      mov ecx, 200
    top:
      push ecx
      push eax
      push ebx
      pop ebx
      pop eax
      pop edx
      add esi, edx
      dec ecx
      jnz top
      hlt`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.regs[6]).toBe((200 * 201) / 2);
    expect(m.mem.read32(0x300ffc)).toBe(0x2222);
    expect(m.mem.read32(0x201000)).toBe(0x1111);
  });

  it('a PUSH into a page not present faults there, after the PUSHes before it', () => {
    // The #PF cannot be delivered on that stack either: the machine shuts down, as interpreted.
    const src = `
      ${SMALL_PAGES}
      mov dword [PT + 0x1ff * 4], 0
      invlpg [0x1ff000]
      mov esp, 0x200008
      mov eax, 5
      push eax
      push eax
      push eax
      hlt`;
    const { m } = matchesInterpreter(src);
    expect(m.cpu.cr2).toBe(0x1ffffc);
    expect([m.mem.read32(0x200004), m.mem.read32(0x200000)]).toEqual([5, 5]);
  });

  it('a base register changed between accesses: each access through its own value', () => {
    // EDI moves on to the next 4 KiB page, then past the mapping: #PF at the access through the new value.
    const src = `
      ${mapped}
      mov edi, 0x3fe100
      mov dword [edi], 1
      mov dword [edi + 0x1000], 2
      xor ebx, ebx
      mov ecx, 3
    top:
      mov eax, [edi + 4]
      add eax, [edi]
      add ebx, eax
      add edi, 0x1000
      mov dword [edi + 4], 10
      dec ecx
      jnz top
      hlt`;
    const { m } = matchesInterpreter(src);
    expect(m.vector()).toBe(14);
    expect(m.cpu.cr2).toBe(0x400104);
    expect(m.cpu.regs[3]).toBe(1 + 12);
  });
});

describe('translator: a JMP back before code already in the block', () => {
  it('the run from its target falls into that code, and each jump goes to its own instruction', () => {
    // The first block follows `jmp x` and then `jmp t` back before x; the run from t falls into x,
    // decoded before. (When blocks were straight traces, decoding ran through x..z a second time,
    // and the repeated offset gave z, the jz's target, the case number of x.)
    const src = `
      mov ecx, 6
      xor eax, eax
      xor ebx, ebx
      jmp x
    t:
      add ebx, 100
    x:
      add eax, 1
      test ecx, 1
      jz z
      add eax, 10
    z:
      dec ecx
      jz done
      jmp t
    done:
      hlt`;
    const b = matchesInterpreter(src).m;
    expect(b.cpu.regs[0]).toBe(6 + 3 * 10);
    expect(b.cpu.regs[3]).toBe(5 * 100);
  });
});

describe('translator: blocks span the code their jumps reach on the page', () => {
  it('an if-then-else in a loop (a jump forward past a JMP, a run falling into code decoded before) runs within one block', () => {
    const src = `
      mov ecx, 300
      xor eax, eax
    top:
      test ecx, 1
      jnz odd
      add eax, 2
      jmp next
    odd:
      add eax, 5
    next:
      dec ecx
      jnz top
      hlt`;
    const { m: b, t } = matchesInterpreter(src);
    expect(b.cpu.regs[0]).toBe(150 * 2 + 150 * 5);
    // About 450 jumps within the block (jnz odd, the fall into next, jnz top): a return every 256, after
    // which the loop goes on in a block entered at top.
    expect(t.stats.translated).toBeLessThanOrEqual(2);
    expect(t.stats.blocksRun).toBeLessThan(6);
  });

  it('a CALL rel to a routine already in the block pushes its return address and goes on there', () => {
    const src = `
      xor eax, eax
      xor ecx, ecx
      test ecx, ecx
      jz later
      jmp f
    later:
      call f
      add eax, 100
      hlt
    f:
      add eax, 1
      ret`;
    const b = matchesInterpreter(src).m;
    expect(b.cpu.regs[0]).toBe(101);
  });

  it('an indirect JMP ends its run even when the next run starts right after it', () => {
    // jnz queues a run at \`after\`, which then comes right after \`jmp eax\` in the block.
    const src = `
      xor ecx, ecx
      mov eax, target
      test ecx, ecx
      jnz after
      jmp eax
    after:
      mov ebx, 111
      hlt
    target:
      mov ebx, 222
      hlt`;
    const b = matchesInterpreter(src).m;
    expect(b.cpu.regs[3]).toBe(222);
  });

  it('a write between the instructions of a block (data in the code page) keeps the block: it is revived, not translated again', () => {
    const src = `
      mov ecx, 200
    top:
      mov [datum], ecx
      dec ecx
      jnz skip
      hlt
    datum:
      dd 0
    skip:
      jmp top`;
    const { t } = matchesInterpreter(src);
    expect(t.stats.revived).toBeGreaterThan(100);
    expect(t.stats.translated).toBeLessThan(5);
  });
});

describe('translator: shifts of a 32-bit register by CL', () => {
  it('a count of 0 (CL = 32) keeps the register and the flags; 1 and 31 set CF and OF as interpreted', () => {
    const src = `
      mov eax, 0x80000001
      mov ebx, 0xc0000000
      mov edx, 0x40000003
      mov ecx, 32
      cmp ecx, 33
      shl eax, cl
      pushf
      mov ecx, 1
      shr eax, cl
      pushf
      shl edx, cl
      pushf
      mov ecx, 31
      sar ebx, cl
      pushf
      hlt`;
    const b = matchesInterpreter(src).m;
    expect(b.cpu.regs[0]).toBe(0x40000000);
    expect(b.cpu.regs[3]).toBe(0xffffffff);
  });
});

describe('translator: 32-bit values on both sides of 2^31', () => {
  it('unsigned compares, carries and shifts of values from 0x80000000 up give the interpreted registers and flags', () => {
    // Translated code keeps 32-bit values as int32 bits: unsigned order must still hold across the sign bit.
    const src = `
      mov eax, 0x7fffffff
      mov ebx, 0x80000000
      xor edi, edi
      cmp eax, ebx
      setb cl
      setl ch
      cmp ebx, 0xffffffff
      setbe dl
      setg dh
      cmp ebx, eax
      jb wrong
      add ebx, ebx
      adc edi, 0
      add eax, 0x80000001
      adc edi, 0
      mov esi, 0xfffffffe
      inc esi
      setz al
      sub esi, 0xffffffff
      sbb edi, 0
      mov ebx, 0xf0000000
      shr ebx, 4
      mov edx, [esp]
      movsx ebp, byte [esp + 3]
      pushf
      hlt
    wrong:
      mov edi, 0xbad
      hlt`;
    const b = matchesInterpreter(src).m;
    expect(b.cpu.regs[1]! & 0xffff).toBe(0x0001); // CL = 1 (0x7fffffff below 0x80000000), CH = 0 (not less, signed)
    expect(b.cpu.regs[3]).toBe(0x0f000000);
    expect(b.cpu.regs[7]).toBe(2); // two carries, no borrow
  });
});

describe('translator: IP wrapping to 16 bits', () => {
  it('a block whose last instruction ends at IP 0xffff goes on at IP 0, as interpreted', () => {
    // Real mode: CS covers CODE..CODE+0xffff. The code at 0xfff0 fills the segment's last 16 bytes,
    // so the block there ends at its page's end with IP 0x10000, which wraps to the start.
    const src = `
      cmp bx, 3
      je done
      inc bx
      jmp word 0xfff0
    done:
      hlt
      times 0xfff0 - ($ - $$) db 0xf4
      times 16 inc ax`;
    const code = assemble(src, 16, 0);
    const run = (jit: boolean): TestMachine => {
      const m = machine(code, 'real');
      if (jit) runTranslated(m);
      else m.run(100_000);
      return m;
    };
    const a = run(false);
    const b = run(true);
    expect(b.cpu.regs[3]! & 0xffff).toBe(3);
    expect(b.cpu.regs[0]! & 0xffff).toBe(48); // three passes of 16 INCs
    expect([b.cpu.eip, b.cpu.regs[0], b.cpu.getEflags()]).toEqual([a.cpu.eip, a.cpu.regs[0], a.cpu.getEflags()]);
  });

  it('a 16-bit JMP in 32-bit code back to its block entry goes to the entry EIP wrapped to 16 bits, as interpreted', () => {
    // The entry is at CODE (0x10000): the JMP's target is IP 0, where a HLT waits.
    const src = `
    top:
      inc ecx
      cmp ecx, 3
      je done
      o16 jmp short top
    done:
      hlt`;
    const b = matchesInterpreter(src, (m) => m.mem.write8(0, 0xf4)).m;
    expect(b.cpu.eip).toBe(1);
    expect(b.cpu.regs[1]).toBe(1);
  });
});
