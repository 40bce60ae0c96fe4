/**
 * Every instruction test of the software CPU, run through translated blocks:
 * the harness's machines are swapped for ones whose run() goes through the
 * translator with every block translated on first entry (the interpreter
 * still runs them in their own files). Same assertions, other engine.
 */
import { vi } from 'vitest';
import type * as Harness from './harness.js';

vi.mock('./harness.js', async (importOriginal) => {
  const h = await importOriginal<typeof Harness>();
  const { Translator } = await import('../../src/accel/tcg/jit/translator.js');
  const machine: typeof h.machine = (code, mode, model, ramSize) => {
    const m = h.machine(code, mode, model, ramSize);
    const jit = new Translator(m.cpu, m.interp, 1);
    m.run = (maxInsns = 1_000_000) => {
      for (let done = 0; done < maxInsns && !m.cpu.halted && !m.interp.shutdown; done += 1000) jit.run(1000);
      if (!m.cpu.halted && !m.interp.shutdown) throw new Error(`did not halt; eip=0x${m.cpu.eip.toString(16)}`);
    };
    return m;
  };
  const run32: typeof h.run32 = (src, setup) => {
    const m = machine(h.assemble(src, 32), 'pm32');
    setup?.(m);
    m.run();
    return m;
  };
  const run16: typeof h.run16 = (src, setup) => {
    const m = machine(h.assemble(src, 16, 0), 'real');
    setup?.(m);
    m.run();
    return m;
  };
  return { ...h, machine, run32, run16 };
});

await import('./basic.test.js');
await import('./system.test.js');
await import('./paging.test.js');
await import('./cpuid-msr.test.js');
await import('./x87-glue.test.js');
