// Where the translator's time goes, phase by phase, on the i386 Linux guest
// run in this process: the boot to the shell prompt, then the commands of
// bench/linux-boot.mjs, each twice (the first run warms up: translating and
// V8's tiers; the second is the steady state). Besides wall and host CPU
// time, each phase reports counts that do not move with the load on this
// shared machine: guest instructions, the share the interpreter ran, block
// runs and instructions per block run (each block run is a trip through the
// dispatcher), blocks translated and the milliseconds spent translating.
// Compare changes by those counts as well as by time: two runs of the same
// build differed by up to half in time here.
//
// KINDS=1 also counts how the dispatcher found each block (it wraps the
// translator's own lookups, so time is slower then): through a static exit
// (successor) or the inline cache of a RET or indirect JMP/CALL (target),
// each to the same linear page or another, and full lookups (lookup), those
// made after a link or cache miss included.
//
// ACCEL sets the -accel value (default tcg; ACCEL=tcg,wasm=on for the
// WebAssembly backend, whose blocks the translated column then counts too).
//
// Usage: npm run build && node bench/tcg-phases.mjs [loop iterations=30000]
import { CS } from '../dist/accel/tcg/constants.js';
import { parseCommandLine } from '../dist/cli/parse.js';
import { buildPc } from '../dist/machine/pc.js';
import { execWithV8Flags, hasV8Flags } from '../dist/relaunch.js';
import { MD5SUM_16MIB, shellLoop } from './linux-boot.mjs';
import { captureSerial, i386LinuxArgs, runAtPrompt, runUntil, watchBlockFinds } from './tcg-in-process.mjs';

// The V8 flags tsvm itself runs under (src/relaunch.ts).
if (!hasV8Flags()) execWithV8Flags();

const iterations = Number(process.argv[2] ?? 30000);
const loop = shellLoop(iterations);
const commands = [loop, loop, MD5SUM_16MIB, MD5SUM_16MIB];

const serial = captureSerial();
const pc = await buildPc(parseCommandLine(i386LinuxArgs({ accel: process.env.ACCEL ?? 'tcg' })).config);
const acc = pc.accel;
const jit = acc.jit;
if (jit === undefined) throw new Error('tcg-phases needs the translator');
const kinds = process.env.KINDS === '1' ? countKinds(jit) : undefined;

/** The counters a phase reports, as they stand now. */
function counters() {
  const s = jit.snapshotStats();
  const u = process.cpuUsage();
  return {
    wall: performance.now() / 1000,
    cpu: (u.user + u.system) / 1e6,
    interpreted: acc.interp.executed,
    translatedInsns: jit.executed,
    blockRuns: s.blocksRun,
    blocks: s.translated,
    translateMs: s.translateMs,
    wasm: s.wasm,
    kinds: kinds === undefined ? undefined : { ...kinds },
  };
}

function report(name, from, to) {
  const insns = to.interpreted + to.translatedInsns - from.interpreted - from.translatedInsns;
  const runs = to.blockRuns - from.blockRuns;
  const fields = [
    `${name.padEnd(12)} ${(to.wall - from.wall).toFixed(2).padStart(6)} s`,
    `cpu ${(to.cpu - from.cpu).toFixed(2).padStart(6)} s`,
    `insns ${(insns / 1e6).toFixed(0).padStart(5)}M`,
    `interpreted ${((100 * (to.interpreted - from.interpreted)) / insns).toFixed(1).padStart(4)}%`,
    `block runs ${(runs / 1e6).toFixed(2).padStart(6)}M`,
    `insns/run ${((to.translatedInsns - from.translatedInsns) / runs).toFixed(1).padStart(5)}`,
    `translated ${String(to.blocks - from.blocks).padStart(5)}${to.wasm ? ` (wasm ${to.wasm - from.wasm})` : ''} (${(to.translateMs - from.translateMs).toFixed(0)} ms)`,
  ];
  console.error(fields.join('  '));
  if (to.kinds) {
    const found = Object.keys(to.kinds).map((k) => `${k} ${((to.kinds[k] - from.kinds[k]) / 1e6).toFixed(2)}M`);
    console.error(`${''.padEnd(12)} found by: ${found.join(', ')}`);
  }
}

/**
 * Counts how the dispatcher found each block (bench/tcg-in-process.mjs
 * watchBlockFinds); returns the live counts.
 */
function countKinds(t) {
  const n = { staticSamePage: 0, staticOtherPage: 0, indirectSamePage: 0, indirectOtherPage: 0, lookups: 0 };
  const cpu = t.cpu;
  const page = () => (cpu.segBase[CS] + cpu.eip) >>> 12;
  // The linear page of the entry of the block found last: the one that has just run, when the next is looked for.
  let entered = -1;
  watchBlockFinds(t, (kind) => {
    const samePage = page() === entered;
    if (kind === 'successor') n[samePage ? 'staticSamePage' : 'staticOtherPage']++;
    else if (kind === 'target') n[samePage ? 'indirectSamePage' : 'indirectOtherPage']++;
    else n.lookups++;
    entered = page();
  });
  return n;
}

let last = counters();
const start = last;
await runUntil(pc, serial, (s) => s.includes('~ # '));
let now = counters();
report('boot', last, now);
last = now;
for (const [i, cmd] of commands.entries()) {
  await runAtPrompt(pc, serial, cmd);
  now = counters();
  report(`${cmd === loop ? 'shell loop' : 'md5sum'} ${i % 2 === 0 ? '1st' : '2nd'}`, last, now);
  last = now;
}
report('all', start, last);
process.exit(0);
