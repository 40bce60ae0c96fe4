// The TCG CPU on warm code: the i386 Linux kernel from its entry (after the
// bzImage's decompressor) to its first console line, "Linux version", some
// 64 M instructions of code that runs a few to a few thousand times each.
// Timed twice, each in a process of its own: as the accelerator runs it
// (interpreting, translating what gets hot, V8 optimising in the background),
// and with no block ever hot enough to translate, which times the
// interpreter alone. Its numbers moved by a few percent from run to run
// where whole boots moved by a quarter.
//
// Usage: npx tsc && node bench/tcg-interp.mjs
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { captureSerial, i386LinuxArgs, runChunk } from './tcg-in-process.mjs';

const KERNEL_TEXT = 0xc1000000; // the i386 kernel's linked address (nokaslr)

if (process.argv[2] === 'child') await measure(process.argv[3]);
else for (const mode of ['translator', 'interpreter']) execFileSync(process.execPath, [fileURLToPath(import.meta.url), 'child', mode], { stdio: 'inherit' });

async function measure(mode) {
  const { parseCommandLine } = await import('../dist/cli/parse.js');
  const { buildPc } = await import('../dist/machine/pc.js');
  const { execWithV8Flags, hasV8Flags } = await import('../dist/relaunch.js');
  if (!hasV8Flags()) execWithV8Flags();
  const args = i386LinuxArgs({ append: 'console=ttyS0 nokaslr' });
  const pc = await buildPc(parseCommandLine(args).config);
  const acc = pc.accel;
  const cpu = acc.cpu;
  const serial = captureSerial();
  let start;
  while (!serial().includes('Linux version')) {
    await runChunk(pc, 20000);
    if (start === undefined && (cpu.segBase[1] + cpu.eip) >>> 0 >= KERNEL_TEXT) {
      start = { t: performance.now(), n: acc.executed, interp: acc.interp.executed };
      // Blocks start hot after this many entries: never, here.
      if (mode === 'interpreter') acc.jit.hotThreshold = Infinity;
    }
  }
  const secs = (performance.now() - start.t) / 1000;
  const n = acc.executed - start.n;
  const interpreted = acc.interp.executed - start.interp;
  process.stderr.write(
    `${mode.padEnd(11)} ${(n / 1e6).toFixed(1)} M instructions (${((100 * interpreted) / n).toFixed(0)}% interpreted) in ${secs.toFixed(2)} s: ${((secs * 1e9) / n).toFixed(1)} ns each\n`,
  );
  process.exit(0);
}
