#!/usr/bin/env node
// Drives a busybox test guest through its serial console and checks it works.
//
//   node images/linux/check-guest.mjs [--timeout S] -- <emulator command line...>
//
// e.g. node images/linux/check-guest.mjs -- qemu-system-i386 -accel tcg -m 256 \
//        -kernel images/build/linux-i386/vmlinuz \
//        -initrd images/build/linux-i386/initramfs.cpio.gz -append console=ttyS0 -nographic
//
// Waits for the init banner and the `~ # ` prompt, types a few commands one
// prompt at a time, checks their output, ends with `poweroff -f` and expects
// the emulator to exit 0. Prints the console transcript to stderr and exits
// 0 when every check passed.
import { spawn } from 'node:child_process';

const BANNER = 'tsvm-guest: init ready';
const PROMPT = '~ # ';

// [command, text its output must contain]
const STEPS = [
  ['echo hello-$((6*7))', 'hello-42'],
  ['ls /', 'proc'],
  ['cat /proc/cmdline', 'console=ttyS0'],
  ['uname -m', 'i686|x86_64'],
];

function parseArgs(argv) {
  let timeout = 180;
  const sep = argv.indexOf('--');
  if (sep < 0 || sep === argv.length - 1) throw new Error('usage: check-guest.mjs [--timeout S] -- <command...>');
  const opts = argv.slice(0, sep);
  if (opts[0] === '--timeout') timeout = Number(opts[1]);
  return { timeout, command: argv.slice(sep + 1) };
}

async function main() {
  const { timeout, command } = parseArgs(process.argv.slice(2));
  const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  let transcript = '';
  let waiter = null;
  child.stdout.on('data', (chunk) => {
    const text = chunk.toString('latin1');
    transcript += text;
    process.stderr.write(text);
    waiter?.();
  });
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      waiter?.();
    }),
  );
  const deadline = setTimeout(() => {
    console.error(`\ncheck-guest: timed out after ${timeout}s`);
    child.kill('SIGKILL');
  }, timeout * 1000);

  // Resolves once `text` appears in the transcript after offset `from`; returns the index after it.
  const waitFor = (text, from) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const i = transcript.indexOf(text, from);
        if (i >= 0) {
          waiter = null;
          resolve(i + text.length);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          reject(new Error(`guest ended before printing ${JSON.stringify(text)}`));
        }
      };
      waiter = check;
      check();
    });

  const failures = [];
  let pos = await waitFor(BANNER, 0);
  pos = await waitFor(PROMPT, pos);
  for (const [cmd, expect] of STEPS) {
    child.stdin.write(cmd + '\n');
    const echoed = await waitFor(cmd, pos);
    const next = await waitFor(PROMPT, echoed);
    const output = transcript.slice(echoed, next - PROMPT.length);
    if (!new RegExp(expect).test(output)) failures.push(`${cmd}: expected /${expect}/, got ${JSON.stringify(output)}`);
    pos = next;
  }
  child.stdin.write('poweroff -f\n');
  const { code, signal } = await exited;
  clearTimeout(deadline);
  if (code !== 0) failures.push(`emulator exit status ${code ?? signal} after poweroff -f (expected 0)`);
  for (const f of failures) console.error(`check-guest: FAIL ${f}`);
  console.error(failures.length ? '\ncheck-guest: FAILED' : '\ncheck-guest: OK');
  process.exit(failures.length ? 1 : 0);
}

main().catch((err) => {
  console.error(`check-guest: ${err.message}`);
  process.exit(1);
});
