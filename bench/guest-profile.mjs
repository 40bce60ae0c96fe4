// Where the i386 Linux guest's time goes under -accel tcg, by kernel function.
// Boots the guest in this process with `nokaslr` (so the kernel runs at the
// addresses of its /proc/kallsyms), samples CS:EIP before every 20,000 guest
// instructions and charges the wall time and instructions until the next
// sample to the function it was in; prints the functions that took most
// time between two serial-console milestones, with their guest MIPS and the
// share of their instructions that ran in translated blocks (the rest was
// interpreted). A hot loop at a few tens of MIPS, mostly "in blocks", is
// waiting for V8's optimising compiler.
//
// The kernel's symbols are taken once from the guest itself (a boot to the
// shell and `cat /proc/kallsyms`, about a minute) and kept beside the image.
//
// Usage: npx tsc && node bench/guest-profile.mjs [from text] [to text] [rows]
//   default: "Linux version" to "Freeing unused kernel" (the kernel's initialisation), 30 rows
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { captureSerial, i386LinuxArgs, runChunk } from './tcg-in-process.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const image = join(root, 'images/build/linux-i386');
const args = i386LinuxArgs({ append: 'console=ttyS0 nokaslr' });
const [from = 'Linux version', to = 'Freeing unused kernel', rows = '30'] = process.argv.slice(2);
const CHUNK = 20000;
const KERNEL_BASE = 0xc0000000;

const { execWithV8Flags, hasV8Flags } = await import('../dist/relaunch.js');
if (!hasV8Flags()) execWithV8Flags();
const symbols = parseKallsyms(await kallsyms());
await profile();

/**
 * The guest's /proc/kallsyms under nokaslr: from images/build/linux-i386/kallsyms when it was
 * taken from the kernel the image has now (its first line names the image's packages), else
 * from a boot that prints it.
 */
async function kallsyms() {
  const file = join(image, 'kallsyms');
  const sources = `# ${readFileSync(join(image, 'SOURCES'), 'latin1').trim()}\n`;
  if (existsSync(file)) {
    const kept = readFileSync(file, 'latin1');
    if (kept.startsWith(sources)) return kept;
  }
  process.stderr.write('reading the kernel symbols from the guest (once)...\n');
  const child = spawn(process.execPath, [join(root, 'bin/tsvm'), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const text = await new Promise((resolve) => {
    child.stdout.on('data', (d) => {
      const before = out.includes('~ # ');
      out += d.toString('latin1');
      if (!before && out.includes('~ # ')) child.stdin.write('cat /proc/kallsyms; echo KSYMS-END\n');
      // The marker on a line of its own (the echoed command has it too, after "echo ").
      const end = out.indexOf('\nKSYMS-END');
      if (end >= 0) resolve(out.slice(out.indexOf('\n', out.indexOf('cat /proc/kallsyms')) + 1, end + 1));
    });
  });
  child.kill('SIGKILL');
  writeFileSync(file, sources + text);
  return text;
}

/** Text symbols as sorted start addresses and names. */
function parseKallsyms(text) {
  const list = [];
  for (const line of text.split(/\r?\n/)) {
    const [addr, type, name] = line.split(' ');
    if (name !== undefined && /^[0-9a-f]{8}$/.test(addr) && (type === 't' || type === 'T')) list.push([parseInt(addr, 16), name]);
  }
  list.sort((a, b) => a[0] - b[0]);
  return { starts: Float64Array.from(list, (s) => s[0]), names: list.map((s) => s[1]) };
}

function functionAt(lin) {
  if (lin < KERNEL_BASE) return '(user space)';
  const { starts, names } = symbols;
  let lo = 0;
  let hi = starts.length - 1;
  if (hi < 0 || lin < starts[0]) return '(kernel, no symbol)';
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= lin) lo = mid;
    else hi = mid - 1;
  }
  return names[lo];
}

async function profile() {
  const { parseCommandLine } = await import('../dist/cli/parse.js');
  const { buildPc } = await import('../dist/machine/pc.js');
  const pc = await buildPc(parseCommandLine(args).config);
  const acc = pc.accel;
  const cpu = acc.cpu;
  const serial = captureSerial();
  const byFunction = new Map();
  let started = false;
  let t0 = 0;
  for (;;) {
    const name = cpu.halted ? '(halted)' : functionAt((cpu.segBase[1] + cpu.eip) >>> 0);
    const t = performance.now();
    const n = acc.executed;
    const inBlocks = acc.jit.executed;
    await runChunk(pc, CHUNK);
    if (!started && serial().includes(from)) {
      started = true;
      t0 = performance.now();
      continue;
    }
    if (!started) continue;
    const f = byFunction.get(name) ?? { ms: 0, insns: 0, inBlocks: 0 };
    f.ms += performance.now() - t;
    f.insns += acc.executed - n;
    f.inBlocks += acc.jit.executed - inBlocks;
    byFunction.set(name, f);
    const text = serial();
    if (text.slice(text.indexOf(from)).includes(to)) break;
  }
  const total = performance.now() - t0;
  const lines = [`"${from}" to "${to}": ${(total / 1000).toFixed(2)} s`, '    time  share   guest insns    MIPS  in blocks  function'];
  for (const [name, f] of [...byFunction].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(rows))) {
    const mips = f.insns / f.ms / 1000;
    lines.push(
      `${(f.ms / 1000).toFixed(3).padStart(7)} s ${((100 * f.ms) / total).toFixed(1).padStart(5)}% ${(f.insns / 1e6).toFixed(1).padStart(10)} M ${mips.toFixed(0).padStart(7)} ${((100 * f.inBlocks) / Math.max(1, f.insns)).toFixed(0).padStart(9)}%  ${name}`,
    );
  }
  process.stderr.write(lines.join('\n') + '\n');
  process.exit(0);
}
