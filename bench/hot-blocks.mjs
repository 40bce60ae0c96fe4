// The generated JavaScript of the blocks the i386 Linux guest spends most
// translated instructions in while running a shell command: boots the guest
// in this process (bench/tcg-in-process.mjs), runs the command once to warm
// up, then again counting each block's runs as the dispatcher finds it (so a
// block's loop passes and the callees it runs nested are not counted), and
// writes the top blocks by runs x instructions with their source (the
// factory codegen.ts's blockSource makes) to a file. For reading what the
// translator makes of hot guest code: `-d op` logs every block's source.
//
// Usage: npm run build && node bench/hot-blocks.mjs [md5|loop] [blocks=8] [out=/tmp/hot-<command>.js]
import { writeFileSync } from 'node:fs';
import { blockSource } from '../dist/accel/tcg/jit/codegen.js';
import { blockName } from '../dist/accel/tcg/jit/block.js';
import { parseCommandLine } from '../dist/cli/parse.js';
import { buildPc } from '../dist/machine/pc.js';
import { execWithV8Flags, hasV8Flags } from '../dist/relaunch.js';
import { MD5SUM_16MIB, shellLoop } from './linux-boot.mjs';
import { captureSerial, i386LinuxArgs, runAtPrompt, runUntil, watchBlockFinds } from './tcg-in-process.mjs';

if (!hasV8Flags()) execWithV8Flags();

const [which = 'md5', top = '8', out = `/tmp/hot-${which}.js`] = process.argv.slice(2);
const command = which === 'md5' ? MD5SUM_16MIB : shellLoop(20000);
const serial = captureSerial();
const pc = await buildPc(parseCommandLine(i386LinuxArgs()).config);
const jit = pc.accel.jit;
if (jit === undefined) throw new Error('hot-blocks needs the translator');

await runUntil(pc, serial, (s) => s.includes('~ # '));
await runAtPrompt(pc, serial, command);
const runs = new Map();
watchBlockFinds(jit, (_, b) => {
  if (b !== undefined) runs.set(b, (runs.get(b) ?? 0) + 1);
});
await runAtPrompt(pc, serial, command);
const hottest = [...runs].sort(([a, m], [b, n]) => n * b.insns.length - m * a.insns.length).slice(0, Number(top));
const ram = pc.accel.cpu.mmu.ram.length;
writeFileSync(out, hottest.map(([b, n]) => `// ${n} runs of ${b.insns.length} instructions\n${blockSource(b, ram, blockName(b)).source}\n`).join('\n'));
console.error(hottest.map(([b, n]) => `${blockName(b)}: ${n} runs x ${b.insns.length} instructions`).join('\n'));
console.error(`sources in ${out}`);
process.exit(0);
