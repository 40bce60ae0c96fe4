// The way from one translated block to the next: tsvm -accel tcg next to
// qemu-system-i386 -accel tcg on images/guests/calls.asm (10,000,000 passes
// of a CALL to another page that CALLs a third; every CALL and RET leaves a
// block), one run each. The hello guest's whole run (start-up, shutdown) is
// subtracted, leaving the loop. tsvm's translator counts its block runs
// (-d jit), which gives the time per block run too.
//
// Usage: npm run build && node bench/tcg-transitions.mjs [rounds=1]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEBUG_EXIT, guest, timeRun } from './kvm-exits.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PASSES = 10_000_000;

const VMMS = {
  tsvm: (name, extra = []) => [process.execPath, [join(root, 'bin', 'tsvm'), '-accel', 'tcg', '-kernel', guest(name), '-nographic', ...DEBUG_EXIT, ...extra]],
  qemu: (name) => ['qemu-system-i386', ['-accel', 'tcg', '-kernel', guest(name), '-nographic', '-net', 'none', ...DEBUG_EXIT]],
};

export async function runTcgTransitionsBench({ rounds = 1, log = console.log } = {}) {
  execFileSync('sh', [join(root, 'images', 'guests', 'build.sh')], { stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'tsvm-transitions-'));
  const stats = join(dir, 'jit.log');
  const jitStats = ['-d', 'jit', '-D', stats];
  const results = {};
  try {
    for (const vmm of Object.keys(VMMS)) {
      let loopMs = Infinity;
      for (let i = 0; i < rounds; i++) {
        // tsvm logs its translator's counts in both runs, so that the subtraction takes that cost out too.
        const hello = await timeRun(VMMS[vmm]('hello', jitStats), 'Hello');
        const calls = await timeRun(VMMS[vmm]('calls', jitStats), '!');
        if (hello.status !== 33 || calls.status !== 1) throw new Error(`${vmm}: unexpected exit status ${hello.status}/${calls.status}`);
        loopMs = Math.min(loopMs, calls.totalMs - hello.totalMs);
      }
      results[vmm] = { loopMs, nsPerPass: (loopMs * 1e6) / PASSES };
    }
    const blocksRun = JSON.parse(readFileSync(stats, 'utf8').trim().split('\n').at(-1)).blocksRun;
    results.tsvm.nsPerBlockRun = (results.tsvm.loopMs * 1e6) / blocksRun;
    for (const [vmm, r] of Object.entries(results)) {
      const perBlock = r.nsPerBlockRun === undefined ? '' : `, ${r.nsPerBlockRun.toFixed(1)} ns per block run (${(blocksRun / PASSES).toFixed(1)} per pass)`;
      log(`${vmm.padEnd(5)} ${PASSES / 1e6}M cross-page CALL/RET passes ${(r.loopMs / 1000).toFixed(2)} s: ${r.nsPerPass.toFixed(1)} ns per pass${perBlock}`);
    }
    log(`tsvm/qemu: block transitions ${(results.tsvm.loopMs / results.qemu.loopMs).toFixed(2)}x`);
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runTcgTransitionsBench({ rounds: Number(process.argv[2] ?? 1) });
}
