#!/usr/bin/env node
// The syslinux hard disk (images/disk/build.sh: syslinux's MBR, syslinux,
// Debian's i386 kernel and the busybox initramfs, serial console) from
// process start to a milestone on the serial console, tsvm next to
// qemu-system-i386, under TCG and under KVM, one emulator at a time (the
// machine has two cores: never side by side). Each line is timed to:
//
//   tcg  the busybox shell prompt.
//   kvm  syslinux's banner: this host's nested KVM stops syslinux at its
//        switch to protected mode ("KVM internal error", QEMU's as well as
//        tsvm's), so the banner is the last text both print, and the one
//        tests/bios asserts under KVM.
//
// Under each accelerator: QEMU (SeaBIOS), tsvm with its built-in BIOS, and
// tsvm with QEMU's SeaBIOS image (-bios), which compares firmware like for
// like. Wall seconds from spawn, the emulator's host CPU seconds and its peak
// RSS (/proc), all taken when the milestone appears; then it is killed.
// Next to them, what else kept the host busy: the 1-minute load average at
// each run's start, and the cores the rest of the host used during the run
// (another engineer's boot starting halfway through shows there, not in the
// load average at the start).
// QEMU gets -net none: tsvm's PC has no NIC, and QEMU's default e1000 adds
// its iPXE option ROM's start-up (about half a second under KVM here).
//
// Usage: npm run build && node bench/disk-boot.mjs [timeout seconds per run, default 600]
//   BENCH_REPEAT=3      runs per line, medians reported (default 1)
//   BENCH_MAX_LOAD=1.2  before each run, wait until the 1-minute load average is below this
// Exports runDiskBootBench() for bench/run.mjs.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpuSeconds, peakRssMiB } from './linux-boot.mjs';
import { V8_FLAGS } from '../dist/relaunch.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const disk = join(root, 'images/build/disk/disk.img');
const SEABIOS = '/usr/share/seabios/bios-256k.bin';

// With the V8 flags tsvm would relaunch itself with: the process measured is the one running the guest.
const tsvm = (accel, firmware = []) => [process.execPath, ...V8_FLAGS, join(root, 'bin/tsvm'), '-accel', accel, '-m', '256', ...firmware, '-hda', disk, '-snapshot', '-nographic'];
const qemu = (accel) => ['qemu-system-i386', '-accel', accel, '-m', '256', '-hda', disk, '-snapshot', '-nographic', '-net', 'none'];

/** Per accelerator, what is timed and by whom; the ratios are each tsvm line over the qemu line. */
const SUITES = [
  { accel: 'tcg', milestone: 'shell prompt', until: /~ # / },
  { accel: 'kvm', milestone: 'syslinux banner', until: /SYSLINUX 6\.\d+ EDD \d+ Copyright/ },
].map((suite) => ({
  ...suite,
  lines: [
    { name: 'qemu-system-i386 (SeaBIOS)', argv: qemu(suite.accel) },
    { name: 'tsvm (built-in BIOS)', argv: tsvm(suite.accel) },
    { name: 'tsvm -bios bios-256k.bin', argv: tsvm(suite.accel, ['-bios', SEABIOS]) },
  ],
}));

/** Why the KVM lines cannot run here, or undefined when they can. */
function kvmMissing() {
  if (!existsSync('/dev/kvm')) return '/dev/kvm is missing';
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return 'no read/write access to /dev/kvm';
  }
  return undefined;
}

/**
 * Waits, when BENCH_MAX_LOAD is set, until the 1-minute load average is
 * below it (someone else's boot would slow the run down); returns the load
 * the run starts at.
 */
async function quietMachine() {
  const max = Number(process.env.BENCH_MAX_LOAD ?? Infinity);
  if (loadavg()[0] >= max) console.error(`disk-boot: waiting for the 1-minute load (${loadavg()[0].toFixed(2)}) to fall below ${max}`);
  while (loadavg()[0] >= max) await sleep(5000);
  return loadavg()[0];
}

/** Busy CPU seconds of the whole host so far, all cores (/proc/stat: everything but idle and iowait). */
function hostBusySeconds() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}

/**
 * One run: spawn to the first match of `until` on the serial console. CPU
 * time and peak RSS are read at that moment (tsvm under KVM exits right after
 * the banner, but is still running when the banner reaches us), then the
 * emulator is killed. Rejects with the last console line when the emulator
 * exits or times out before the milestone: where it stopped.
 */
async function timeToMilestone(argv, until, timeoutSeconds) {
  const t0 = performance.now();
  const busy0 = hostBusySeconds();
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'ignore'] });
  const closed = new Promise((r) => child.on('close', r));
  let out = '';
  const lastLine = () => JSON.stringify(out.replace(/\r/g, '').trimEnd().split('\n').pop().slice(-100));
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${until} within ${timeoutSeconds} s; last line ${lastLine()}`)), timeoutSeconds * 1000);
      child.on('close', (code) => reject(new Error(`exited (${code}) before ${until}; last line ${lastLine()}`)));
      child.stdout.on('data', (d) => {
        out += d.toString('latin1');
        if (!until.test(out)) return;
        clearTimeout(timer);
        const wall = (performance.now() - t0) / 1000;
        const cpu = cpuSeconds(child.pid);
        resolve({ wall, cpu, rss: peakRssMiB(child.pid), others: (hostBusySeconds() - busy0 - cpu) / wall });
      });
    });
  } finally {
    child.kill('SIGKILL');
    await closed;
  }
}

/** Median of the numbers that are there (each measure on its own), NaN for none. */
function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

const fixed = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

function table(suites, repeat) {
  const header = ['accel', 'timed to', 'emulator', 'wall s', 'CPU s', 'peak RSS MiB', 'tsvm/QEMU wall', 'tsvm/QEMU CPU', 'load', 'other cores'];
  const rows = [];
  for (const suite of suites) {
    const ref = suite.lines[0].result;
    for (const line of suite.lines) {
      const r = line.result;
      const ratio = (key) => (line === suite.lines[0] ? '' : `${fixed(r[key] / ref[key])}x`);
      rows.push([suite.accel, suite.milestone, line.name, fixed(r.wall), fixed(r.cpu), fixed(r.rss, 0), ratio('wall'), ratio('cpu'), r.load, fixed(r.others)]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const format = (row) => '  ' + row.map((cell, i) => String(cell).padEnd(widths[i])).join('  ').trimEnd();
  return [
    `Syslinux disk boot, spawn to the milestone (${repeat === 1 ? 'one run' : `median of ${repeat} runs`} per line; load = 1-minute load average at each run's start; other cores = the rest of the host's CPU use during the run)`,
    format(header),
    ...rows.map(format),
  ];
}

export async function runDiskBootBench({ timeoutSeconds = 600, repeat = Number(process.env.BENCH_REPEAT ?? 1) } = {}) {
  const notes = [];
  const kvmSkip = kvmMissing();
  const suites = SUITES.filter((s) => s.accel !== 'kvm' || !kvmSkip);
  if (kvmSkip) notes.push(`  KVM lines skipped: ${kvmSkip}`);
  for (const line of suites.flatMap((s) => s.lines)) line.runs = [];
  // Rounds outermost, so that a change in the machine's load hits every line alike.
  for (let round = 0; round < repeat; round++) {
    for (const suite of suites) {
      for (const line of suite.lines) {
        const load = await quietMachine();
        try {
          line.runs.push({ load, ...(await timeToMilestone(line.argv, suite.until, timeoutSeconds)) });
        } catch (err) {
          line.runs.push({ load, wall: NaN, cpu: NaN, rss: NaN, others: NaN });
          notes.push(`  ${suite.accel} ${line.name}, run ${round + 1}: ${err.message}`);
        }
      }
    }
  }
  for (const line of suites.flatMap((s) => s.lines)) {
    const loads = line.runs.map((r) => r.load.toFixed(2));
    line.result = { ...Object.fromEntries(['wall', 'cpu', 'rss', 'others'].map((key) => [key, median(line.runs.map((r) => r[key]))])), load: loads.join(',') };
  }
  return [...table(suites, repeat), ...notes].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await runDiskBootBench({ timeoutSeconds: Number(process.argv[2] ?? 600) }));
}
