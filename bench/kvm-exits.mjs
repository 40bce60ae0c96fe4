// tsvm -accel kvm next to qemu-system-x86_64 -accel kvm, same guests, one run:
//
//   exits     1,000,000 `out` to an unclaimed port, then debug-exit
//             (images/guests/exits.asm): the exit round trip. Each side's
//             start-up and shutdown (the hello guest's whole run) is
//             subtracted, leaving the loop; the ratio is tsvm over QEMU.
//   start-up  process start to the guest's first serial byte (hello guest).
//   memory    resident set of an idle guest with -m 128 (idle.asm), which
//             touches under 1 MiB of its RAM: the RSS is the VMM's own.
//   idle CPU  host CPU time the idle guest costs per second (after its first second idle).
//
// Usage: npm run build && node bench/kvm-exits.mjs [rounds=1]
// Exports runKvmExitsBench() for bench/run.mjs.
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const guest = (name) => join(root, 'images', 'build', 'guests', `${name}.bin`);
export const DEBUG_EXIT = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=4'];

const VMMS = {
  tsvm: (name, extra = []) => [process.execPath, [join(root, 'bin', 'tsvm'), '-accel', 'kvm', '-kernel', guest(name), '-nographic', ...DEBUG_EXIT, ...extra]],
  qemu: (name, extra = []) => ['qemu-system-x86_64', ['-accel', 'kvm', '-kernel', guest(name), '-nographic', '-net', 'none', ...DEBUG_EXIT, ...extra]],
};

/**
 * Runs a VMM on a guest. Resolves with the wall time to the first appearance
 * of `firstOutput` in its serial output and to its exit; `whenSeen` may act
 * on the child (sample it, stop it) once that output appeared.
 */
export function timeRun([cmd, args], firstOutput, whenSeen) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    let firstAt;
    child.stdout.setEncoding('latin1').on('data', (chunk) => {
      out += chunk;
      if (firstAt === undefined && out.includes(firstOutput)) {
        firstAt = performance.now() - start;
        whenSeen?.(child);
      }
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ firstMs: firstAt, totalMs: performance.now() - start, status }));
  });
}

function procStatus(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** RSS (MiB) and CPU cost (fraction of a core) of an idle guest: one second after it idles, sampled over three. */
async function idleCost(vmm) {
  let sample;
  await timeRun(VMMS[vmm]('idle', ['-m', '128']), 'idling', (child) => {
    setTimeout(() => {
      const cpu0 = cpuSeconds(child.pid);
      setTimeout(() => {
        sample = { rssMiB: procStatus(child.pid), cpuPerSecond: (cpuSeconds(child.pid) - cpu0) / 3 };
        child.kill('SIGTERM');
      }, 3000);
    }, 1000);
  });
  return sample;
}

export async function runKvmExitsBench({ rounds = 1, log = console.log } = {}) {
  execFileSync(join(root, 'images', 'guests', 'build.sh'), { stdio: 'inherit' });
  const results = {};
  for (const vmm of Object.keys(VMMS)) {
    let best = { loopMs: Infinity, startupMs: Infinity };
    for (let i = 0; i < rounds; i++) {
      const hello = await timeRun(VMMS[vmm]('hello'), 'Hello');
      const exits = await timeRun(VMMS[vmm]('exits'), '!');
      if (hello.status !== 33 || exits.status !== 1) throw new Error(`${vmm}: unexpected exit status ${hello.status}/${exits.status}`);
      best = { loopMs: Math.min(best.loopMs, exits.totalMs - hello.totalMs), startupMs: Math.min(best.startupMs, hello.firstMs) };
    }
    results[vmm] = { ...best, ...(await idleCost(vmm)) };
    const r = results[vmm];
    log(
      `${vmm.padEnd(5)} 1M PIO exits ${(r.loopMs / 1000).toFixed(2)} s (${((r.loopMs * 1000) / 1e6).toFixed(2)} us/exit)` +
        `  first serial byte ${r.startupMs.toFixed(0)} ms  idle RSS ${r.rssMiB.toFixed(1)} MiB  idle CPU ${(r.cpuPerSecond * 100).toFixed(1)}%`,
    );
  }
  const ratio = (key) => (results.tsvm[key] / results.qemu[key]).toFixed(2);
  log(`tsvm/qemu: exits ${ratio('loopMs')}x (goal <= 1.1x)  start-up ${ratio('startupMs')}x  idle RSS ${ratio('rssMiB')}x`);
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await runKvmExitsBench({ rounds: Number(process.argv[2] ?? 1) });
}
