// Two builds of tsvm side by side in one process: each boots the i386 Linux
// guest (bench/tcg-in-process.mjs), then they take turns running the same
// shell command (A then B, B then A, ...), and the report gives each round's
// time and the ratio of the medians after the first round (which warms up).
//
// Why: this machine's speed drifts by a third from minute to minute, and two
// processes run one after the other differ by more than most changes to the
// translator; turns of a second or two within one process share more of the
// drift. Not all of it: the same build as A and B (a copy under another
// path: a module is loaded once per path) gave A/B 1.04 in one run, and on a
// busy afternoon single rounds of one build ranged from 1.65 to 3.08 s. Run
// it in both orders, more than once, and trust only a consistent ratio.
//
// Usage: node bench/tcg-ab.mjs <treeA> <treeB> [rounds=6] [loop|md5] [loop iterations=20000]
// where each tree is a built checkout (npm run build) with images/build (a symlink will do).
import { isAbsolute, resolve } from 'node:path';
import { execWithV8Flags, hasV8Flags } from '../dist/relaunch.js';

if (!hasV8Flags()) execWithV8Flags();

const [treeA, treeB] = process.argv.slice(2, 4).map((t) => (t === undefined ? undefined : isAbsolute(t) ? t : resolve(t)));
if (treeA === undefined || treeB === undefined) {
  console.error('usage: node bench/tcg-ab.mjs <treeA> <treeB> [rounds=6] [loop|md5] [loop iterations=20000]');
  process.exit(2);
}
const rounds = Number(process.argv[4] ?? 6);
const kind = process.argv[5] ?? 'loop';
const iterations = Number(process.argv[6] ?? 20000);

// Both guests write their serial console here; only one runs at a time.
let serial = '';
process.stdout.write = (d) => ((serial += String(d)), true);

/** Boots `tree`'s PC; returns its boot time and a function running the command once (its time). */
async function guest(tree) {
  const { parseCommandLine } = await import(`${tree}/dist/cli/parse.js`);
  const { buildPc } = await import(`${tree}/dist/machine/pc.js`);
  const { shellLoop, MD5SUM_16MIB } = await import(`${tree}/bench/linux-boot.mjs`);
  const { i386LinuxArgs, runChunk } = await import(`${tree}/bench/tcg-in-process.mjs`);
  // Each PC's serial port reads stdin: take its listener off, so that a command goes to one guest.
  const before = new Set(process.stdin.listeners('data'));
  const pc = await buildPc(parseCommandLine(i386LinuxArgs()).config);
  const type = process.stdin.listeners('data').find((l) => !before.has(l));
  process.stdin.removeListener('data', type);
  const cmd = kind === 'md5' ? MD5SUM_16MIB : shellLoop(iterations);
  const runUntil = async (done) => {
    while (!done(serial)) await runChunk(pc, 100_000);
  };
  serial = '';
  const t0 = performance.now();
  await runUntil((s) => s.includes('~ # '));
  const boot = (performance.now() - t0) / 1000;
  return {
    boot,
    async run() {
      serial = '';
      type(Buffer.from(cmd + '\n'));
      const t = performance.now();
      await runUntil((s) => {
        const at = s.indexOf(cmd);
        return at >= 0 && s.indexOf('~ # ', at + cmd.length) >= 0;
      });
      return (performance.now() - t) / 1000;
    },
  };
}

const a = await guest(treeA);
const b = await guest(treeB);
const times = { A: [], B: [] };
for (let i = 0; i < rounds; i++) {
  const order = i % 2 === 0 ? [['A', a], ['B', b]] : [['B', b], ['A', a]];
  for (const [name, g] of order) times[name].push(await g.run());
}
const median = (xs) => {
  const s = xs.slice(1).sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};
const list = (xs) => xs.map((x) => x.toFixed(2)).join(' ');
console.error(`${kind === 'md5' ? 'md5sum of 16 MiB' : `shell loop of ${iterations}`}, ${rounds} rounds (boots A ${a.boot.toFixed(1)} s, then B ${b.boot.toFixed(1)} s)`);
console.error(`A ${treeA}: ${list(times.A)}`);
console.error(`B ${treeB}: ${list(times.B)}`);
console.error(`median after the first round: A ${median(times.A).toFixed(3)} s, B ${median(times.B).toFixed(3)} s, A/B ${(median(times.A) / median(times.B)).toFixed(3)}`);
process.exit(0);
