#!/usr/bin/env node
// The i386 Linux guest (images/linux/build.sh) under tsvm -accel tcg,
// qemu-system-i386 -accel tcg and v86, same kernel, initramfs and command
// line, one after the other in one run (the machine has two cores: never
// side by side). For each: time from start to the shell prompt, a busybox
// shell loop of 200,000 iterations, and md5sum of 16 MiB; wall time and
// the host CPU time the emulator used (v86 and tsvm keep JS compiler and
// GC threads busy too), and each emulator's peak resident memory. For tsvm
// also its translation cache at the end (`info jit` through the Ctrl-A c
// monitor). Ratios are tsvm over each peer.
//
// Usage: npm run build && node bench/linux-boot.mjs [timeout seconds per boot, default 600]
// Exports runLinuxBootBench() for bench/run.mjs, and the /proc readers
// cpuSeconds() and peakRssMiB() for bench/disk-boot.mjs.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { V8_FLAGS } from '../dist/relaunch.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kernel = join(root, 'images/build/linux-i386/vmlinuz');
const initrd = join(root, 'images/build/linux-i386/initramfs.cpio.gz');
const CMDLINE = 'console=ttyS0';
const PROMPT = '~ # ';
/** The guest's shell loop of `iterations` iterations, as a command line. */
export function shellLoop(iterations) {
  return `i=0; while [ $i -lt ${iterations} ]; do i=$((i+1)); done; echo loop-$i`;
}
export const MD5SUM_16MIB = 'dd if=/dev/zero bs=1M count=16 2>/dev/null | md5sum';
const WORKLOADS = [
  ['shell loop', shellLoop(200000)],
  ['md5sum 16 MiB', MD5SUM_16MIB],
];

const PEERS = {
  // With the V8 flags tsvm would relaunch itself with: the process measured is the one running the guest.
  tsvm: [process.execPath, ...V8_FLAGS, join(root, 'bin/tsvm'), '-accel', 'tcg', '-m', '256', '-kernel', kernel, '-initrd', initrd, '-append', CMDLINE, '-nographic'],
  qemu: ['qemu-system-i386', '-accel', 'tcg', '-m', '256', '-kernel', kernel, '-initrd', initrd, '-append', CMDLINE, '-nographic'],
  v86: [process.execPath, join(root, 'bench/v86-console.mjs'), kernel, initrd, CMDLINE, '256'],
};

/** Peak resident set of a process in MiB (VmHWM, from /proc), NaN when gone. */
export function peakRssMiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Host CPU seconds used so far by a process (user + system, from /proc). */
export function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function measure(name, argv, timeoutSeconds) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  let wake = () => {};
  child.stdout.on('data', (d) => {
    out += d.toString('latin1');
    wake();
  });
  const exited = new Promise((r) => child.on('exit', r));
  const until = (text, from) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no ${JSON.stringify(text)} within ${timeoutSeconds}s`)), timeoutSeconds * 1000);
      const check = () => {
        const i = out.indexOf(text, from);
        if (i >= 0) {
          clearTimeout(timer);
          resolve(i + text.length);
        }
      };
      wake = check;
      check();
    });
  const t0 = performance.now();
  const result = { name, ok: true };
  try {
    let pos = await until(PROMPT, 0);
    result.boot = { wall: (performance.now() - t0) / 1000, cpu: cpuSeconds(child.pid) };
    for (const [label, cmd] of WORKLOADS) {
      const w0 = performance.now();
      const c0 = cpuSeconds(child.pid);
      child.stdin.write(cmd + '\n');
      pos = await until(PROMPT, await until(cmd, pos));
      result[label] = { wall: (performance.now() - w0) / 1000, cpu: cpuSeconds(child.pid) - c0 };
    }
    if (name === 'tsvm') {
      // Ctrl-A c switches the -nographic terminal to the monitor.
      child.stdin.write('\x01c');
      pos = await until('(qemu) ', pos);
      child.stdin.write('info jit\n');
      const end = await until('(qemu) ', await until('guest insns', pos));
      result.jit = out.slice(pos, end).split('\n').filter((l) => /^(TB count|TB avg|TBs translated|guest insns)/.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));
    }
  } catch (err) {
    result.ok = false;
    result.error = err.message;
  } finally {
    result.peakRss = peakRssMiB(child.pid);
    child.kill('SIGKILL');
    await exited;
  }
  return result;
}

export async function runLinuxBootBench(timeoutSeconds = 600) {
  const results = {};
  for (const [name, argv] of Object.entries(PEERS)) results[name] = await measure(name, argv, timeoutSeconds);
  const lines = ['Linux i386 boot and workloads (wall s / host CPU s; ratio = tsvm wall / peer wall)'];
  for (const label of ['boot', ...WORKLOADS.map(([l]) => l)]) {
    const cells = Object.values(results).map((r) => (r[label] ? `${r.name} ${r[label].wall.toFixed(2)}/${r[label].cpu.toFixed(2)}` : `${r.name} -`));
    const ratios = ['qemu', 'v86'].map((peer) =>
      results.tsvm[label] && results[peer][label] ? `tsvm/${peer} ${(results.tsvm[label].wall / results[peer][label].wall).toFixed(2)}x` : `tsvm/${peer} -`,
    );
    lines.push(`  ${label.padEnd(14)} ${cells.join('  ')}  | ${ratios.join('  ')}`);
  }
  lines.push(`  peak RSS (MiB, 256 MiB guest): ${Object.values(results).map((r) => `${r.name} ${r.peakRss?.toFixed(0) ?? '-'}`).join('  ')}`);
  if (results.tsvm.jit) lines.push(`  tsvm translation cache: ${results.tsvm.jit.join('; ')}`);
  for (const r of Object.values(results)) if (!r.ok) lines.push(`  ${r.name}: ${r.error}`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await runLinuxBootBench(Number(process.argv[2] ?? 600)));
}
