#!/usr/bin/env node
// `npm run bench`: every benchmark, one after another (never two heavy runs
// at once on this 2-core machine), each side by side with its peer and
// reported as ratios. Nothing here is asserted; tests never time anything.
//
//   BENCH=linux,disk,kvm,img,mips,interp,transitions  choose which (default: all)
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const chosen = new Set((process.env.BENCH ?? 'linux,disk,kvm,img,mips,interp,transitions').split(','));

function ensureImages() {
  execFileSync('bash', [join(root, 'images/linux/build.sh'), 'i386'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('bash', [join(root, 'images/disk/build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('sh', [join(root, 'images/guests/build.sh')], { stdio: 'inherit' });
}

/** Runs a standalone bench script and passes its report through. */
function runScript(script, args = []) {
  execFileSync(process.execPath, [join(root, 'bench', script), ...args], { stdio: 'inherit', cwd: root });
}

ensureImages();
if (chosen.has('linux')) {
  const { runLinuxBootBench } = await import('./linux-boot.mjs');
  console.log(await runLinuxBootBench());
}
if (chosen.has('disk')) {
  const { runDiskBootBench } = await import('./disk-boot.mjs');
  console.log(await runDiskBootBench());
}
if (chosen.has('mips')) runScript('tcg-mips.mjs');
if (chosen.has('interp')) runScript('tcg-interp.mjs');
if (chosen.has('transitions')) {
  const { runTcgTransitionsBench } = await import('./tcg-transitions.mjs');
  await runTcgTransitionsBench();
}
if (chosen.has('kvm')) {
  if (existsSync('/dev/kvm')) {
    const { runKvmExitsBench } = await import('./kvm-exits.mjs');
    await runKvmExitsBench();
  } else {
    console.log('kvm bench skipped: /dev/kvm is missing');
  }
}
if (chosen.has('img')) runScript('img-bench.mjs');
