// Guest MIPS of the TCG CPU on the Linux boot (first: the kernel's xz decompressor).
// Usage: node bench/tcg-mips.mjs [MILLION_INSNS=200] [-- tsvm args]; build first (npx tsc).
// ACCEL=tcg,one-insn-per-tb=on measures the interpreter alone.
// Runs the CPU in chunks like the accelerator does (timers between chunks) up
// to a fixed instruction count, and reports MIPS per second of host CPU time
// (this machine is shared: CPU time is steadier than wall time).
import { parseCommandLine } from '../dist/cli/parse.js';
import { buildPc } from '../dist/machine/pc.js';
import { execWithV8Flags, hasV8Flags } from '../dist/relaunch.js';
import { i386LinuxArgs, runChunk } from './tcg-in-process.mjs';

// The V8 flags tsvm itself runs under (src/relaunch.ts).
if (!hasV8Flags()) execWithV8Flags();

const dash = process.argv.indexOf('--');
const target = Number(process.argv[2] ?? 200) * 1e6;
const args = dash > 0 ? process.argv.slice(dash + 1) : i386LinuxArgs({ accel: process.env.ACCEL });
// PROFILE_FROM=<million insns>: write a CPU profile of the rest of the run only (to $TMPDIR/tcg-mips.cpuprofile).
const profileFrom = process.env.PROFILE_FROM ? Number(process.env.PROFILE_FROM) * 1e6 : Infinity;
// STEADY_FROM=<million insns>: also report the MIPS from there to the end, past the warm-up (translating,
// V8's tiers): e.g. `STEADY_FROM=1000 node bench/tcg-mips.mjs 2300` times the xz decompressor's steady
// state, which moved far less from run to run than whole runs on this shared machine.
const steadyFrom = process.env.STEADY_FROM ? Number(process.env.STEADY_FROM) * 1e6 : Infinity;
let steady;
let profiler;
const pc = await buildPc(parseCommandLine(args).config);
const acc = pc.accel;
const cpu = acc.cpu;
const executed = () => acc.executed ?? acc.interp.executed;
const cpuSecs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const t0 = performance.now(), c0 = cpuSecs();
let last = t0, lastN = 0, lastC = c0;
while (executed() < target) {
  await runChunk(pc, 100000);
  if (pc.bus.lifecycle.hasRequest) { console.log('request', pc.bus.lifecycle.take()); break; }
  if (!steady && executed() >= steadyFrom) steady = { t: performance.now(), n: executed(), c: cpuSecs() };
  if (!profiler && executed() >= profileFrom) {
    const { Session } = await import('node:inspector/promises');
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    console.log(`profiling from ${executed()} insns`);
  }
  const now = performance.now();
  if (now - last > 2000) {
    const n = executed();
    const cs = cpuSecs();
    console.log(`${((now - t0) / 1000).toFixed(1)}s eip=${cpu.eip.toString(16)} insns=${n} MIPS/cpu-s=${((n - lastN) / (cs - lastC) / 1e6).toFixed(1)}`);
    last = now; lastN = n; lastC = cs;
  }
}
const wall = (performance.now() - t0) / 1000, cpuUsed = cpuSecs() - c0;
console.log(`total ${executed()} insns in ${wall.toFixed(1)}s wall, ${cpuUsed.toFixed(1)}s cpu: ${(executed() / cpuUsed / 1e6).toFixed(1)} MIPS per cpu-second`);
if (steady) {
  const n = executed() - steady.n, secs = (performance.now() - steady.t) / 1000;
  console.log(`steady from ${steady.n} insns: ${(n / secs / 1e6).toFixed(1)} MIPS per wall second, ${(n / (cpuSecs() - steady.c) / 1e6).toFixed(1)} per cpu-second`);
}
if (acc.jitStats) console.log('jit', JSON.stringify(acc.jitStats()));
if (profiler) {
  const { profile } = await profiler.post('Profiler.stop');
  const out = (await import('node:path')).join((await import('node:os')).tmpdir(), 'tcg-mips.cpuprofile');
  (await import('node:fs')).writeFileSync(out, JSON.stringify(profile));
  console.log(`profile written to ${out}`);
}
process.exit(0);
