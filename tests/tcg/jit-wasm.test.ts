/**
 * The instruction tests of tests/tcg/basic.test.ts and the translator's
 * own (jit-diff.test.ts, its randomized sequences among them), run with the
 * WebAssembly backend (jit/wasm-block.ts) on: guest RAM in an arena, every
 * block the backend takes as WebAssembly, the rest as JavaScript. Same
 * assertions, other engine; and the backend must take some of the blocks.
 */
import { afterAll, expect, vi } from 'vitest';
import type * as Harness from './harness.js';

const made = vi.hoisted(() => ({ wasm: 0 }));

vi.mock('./harness.js', async (importOriginal) => {
  const h = await importOriginal<typeof Harness>();
  const { Translator } = await import('../../src/accel/tcg/jit/translator.js');
  const { createArena } = await import('../../src/accel/tcg/jit/wasm-arena.js');
  const machine: typeof h.machine = (code, mode, model, ramSize = 16 << 20) => h.machine(code, mode, model, ramSize, createArena(ramSize)!.ram);
  const runTranslated: typeof h.runTranslated = (m, jit) => {
    const t = h.runTranslated(m, jit);
    made.wasm += t.stats.wasm;
    return t;
  };
  const inTranslator = (m: Harness.TestMachine): Harness.TestMachine => {
    m.run = (maxInsns = 1_000_000) => {
      const jit = new Translator(m.cpu, m.interp, 1);
      for (let done = 0; done < maxInsns && !m.cpu.halted && !m.interp.shutdown; done += 1000) jit.run(1000);
      made.wasm += jit.stats.wasm;
      if (!m.cpu.halted && !m.interp.shutdown) throw new Error(`did not halt; eip=0x${m.cpu.eip.toString(16)}`);
    };
    return m;
  };
  const run32: typeof h.run32 = (src, setup) => {
    const m = inTranslator(machine(h.assemble(src, 32), 'pm32'));
    setup?.(m);
    m.run();
    return m;
  };
  const run16: typeof h.run16 = (src, setup) => {
    const m = inTranslator(machine(h.assemble(src, 16, 0), 'real'));
    setup?.(m);
    m.run();
    return m;
  };
  return { ...h, machine, runTranslated, run32, run16 };
});

await import('./basic.test.js');
await import('./jit-diff.test.js');

afterAll(() => {
  expect(made.wasm).toBeGreaterThan(0);
});
