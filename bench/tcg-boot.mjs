// Boots the i386 Linux guest under tsvm TCG to its shell prompt, runs
// `poweroff -f`, and prints when the first kernel message, the prompt and the
// exit came, with host CPU time. Usage: node bench/tcg-boot.mjs [extra tsvm args]
// (build first). Reported, never asserted. Run it under `/usr/bin/time -v` for host CPU time.
import { spawn } from 'node:child_process';
import { V8_FLAGS } from '../dist/relaunch.js';

const args = ['bin/tsvm', '-accel', 'tcg', '-m', '256', '-kernel', 'images/build/linux-i386/vmlinuz',
  '-initrd', 'images/build/linux-i386/initramfs.cpio.gz', '-append', 'console=ttyS0', '-nographic',
  ...process.argv.slice(2)];
const t0 = performance.now();
// NODE_ARGS: flags for the tsvm process, e.g. NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
const nodeArgs = process.env.NODE_ARGS ? process.env.NODE_ARGS.split(' ') : [];
const child = spawn(process.execPath, [...V8_FLAGS, ...nodeArgs, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
const since = () => ((performance.now() - t0) / 1000).toFixed(1) + 's';
let out = '';
let firstLine = false;
let prompted = false;
child.stdout.on('data', (chunk) => {
  const s = chunk.toString();
  process.stdout.write(s);
  out += s;
  if (!firstLine && out.includes('Linux version')) {
    firstLine = true;
    console.error(`[bench] kernel banner at ${since()}`);
  }
  if (!prompted && out.includes('~ # ')) {
    prompted = true;
    console.error(`[bench] shell prompt at ${since()}`);
    child.stdin.write('poweroff -f\n');
  }
});
child.on('exit', (code) => {
  console.error(`[bench] exit ${code} at ${since()}`);
});
