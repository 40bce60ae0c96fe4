#!/usr/bin/env node
// Drives a busybox test guest through its serial console.
//
// As a command: checks that a guest works.
//
//   node images/linux/check-guest.mjs [--timeout S] -- <emulator command line...>
//
// e.g. node images/linux/check-guest.mjs -- qemu-system-i386 -accel tcg -m 256 \
//        -kernel images/build/linux-i386/vmlinuz \
//        -initrd images/build/linux-i386/initramfs.cpio.gz -append console=ttyS0 -nographic
//
// It waits for the init banner and the `~ # ` prompt, types a few commands one
// prompt at a time, checks their output, ends with `poweroff -f` and expects
// the emulator to exit 0. The console goes to stderr; exit status 0 when
// every check passed.
//
// As a module (types in check-guest.d.mts): driveGuest() runs any list of
// commands and returns their outputs, for tests that compare emulators.
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

export const BANNER = 'tsvm-guest: init ready';
export const PROMPT = '~ # ';

/** [command, pattern its output must match] */
const CHECKS = [
  ['echo hello-$((6*7))', 'hello-42'],
  ['ls /', 'proc'],
  ['cat /proc/cmdline', 'console=ttyS0'],
  ['uname -m', 'i686|x86_64'],
];

/**
 * Starts `command`, waits for the banner and prompt, types each of `commands`
 * after a prompt, then `poweroff -f`, and waits for the emulator to exit.
 * Resolves with each command's output (between its echo and the next
 * prompt) and how long it took; rejects if the guest stops early or
 * `timeoutSeconds` pass.
 */
export async function driveGuest({ command, commands, timeoutSeconds = 180, onConsole = () => {} }) {
  const child = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  let transcript = '';
  let waiter = null;
  child.stdout.on('data', (chunk) => {
    const text = chunk.toString('latin1');
    transcript += text;
    onConsole(text);
    waiter?.();
  });
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      waiter?.();
    }),
  );
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutSeconds * 1000);

  // Resolves with the index just after `text` once it appears at or after `from`.
  const waitFor = (text, from) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const i = transcript.indexOf(text, from);
        if (i >= 0) {
          waiter = null;
          resolve(i + text.length);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiter = null;
          const why = timedOut ? `timed out after ${timeoutSeconds}s` : 'the guest stopped';
          reject(new Error(`${why} before printing ${JSON.stringify(text)}`));
        }
      };
      waiter = check;
      check();
    });

  try {
    let pos = await waitFor(PROMPT, await waitFor(BANNER, 0));
    const outputs = [];
    for (const cmd of commands) {
      const started = Date.now();
      child.stdin.write(cmd + '\n');
      const echoed = await waitFor(cmd, pos);
      pos = await waitFor(PROMPT, echoed);
      outputs.push({ command: cmd, output: transcript.slice(echoed, pos - PROMPT.length).replace(/\r/g, '').trim(), ms: Date.now() - started });
    }
    child.stdin.write('poweroff -f\n');
    const { code, signal } = await exited;
    return { outputs, exitCode: code, signal, transcript };
  } finally {
    clearTimeout(deadline);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

async function main(argv) {
  const sep = argv.indexOf('--');
  if (sep < 0 || sep === argv.length - 1) throw new Error('usage: check-guest.mjs [--timeout S] -- <command...>');
  const timeoutSeconds = argv[0] === '--timeout' ? Number(argv[1]) : 180;
  const result = await driveGuest({
    command: argv.slice(sep + 1),
    commands: CHECKS.map(([cmd]) => cmd),
    timeoutSeconds,
    onConsole: (text) => process.stderr.write(text),
  });
  const failures = CHECKS.flatMap(([cmd, expect], i) =>
    new RegExp(expect).test(result.outputs[i].output) ? [] : [`${cmd}: expected /${expect}/, got ${JSON.stringify(result.outputs[i].output)}`],
  );
  if (result.exitCode !== 0) failures.push(`emulator exit status ${result.exitCode ?? result.signal} after poweroff -f (expected 0)`);
  for (const f of failures) console.error(`check-guest: FAIL ${f}`);
  console.error(failures.length ? '\ncheck-guest: FAILED' : '\ncheck-guest: OK');
  return failures.length ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (status) => process.exit(status),
    (err) => {
      console.error(`\ncheck-guest: ${err.message}`);
      process.exit(1);
    },
  );
}
