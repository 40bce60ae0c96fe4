/**
 * Debian 12's netboot installer (its `linux` and `initrd.gz`, fetched by
 * images/linux/build.sh d-i) on tsvm's own CPU with the serial console:
 * it must get as far as its first dialog, as under qemu-system-i386.
 * (With -m 256 the installer stops at a "Low memory" warning instead, under
 * QEMU too, so the guest gets 512 MiB.)
 */
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureDebianInstaller } from '../boot/guest-images.js';
import { TSVM } from '../helpers/tsvm-process.js';
import { slowTestsEnabled } from '../helpers/slow.js';

/** The installer's 30 MB initrd makes this the longest boot: about 10 minutes on a loaded 2-core machine. */
const BOOT_SECONDS = Number(process.env.TSVM_LINUX_BOOT_SECONDS ?? 1800);
const FIRST_DIALOG = '[!!] Select a language';
/** The dialog's text, drawn after its title: the run goes on until it is there too. */
const DIALOG_TEXT = 'Choose the language to be used for the installation process.';

/** Runs the installer until `text` is on the serial console (then stops it) or the time is up; returns the console. */
function consoleUntil(text: string, seconds: number): Promise<string> {
  const { kernel, initrd } = ensureDebianInstaller();
  const args = [TSVM, '-accel', 'tcg', '-m', '512', '-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyS0', '-nographic'];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let transcript = '';
  return new Promise((resolve) => {
    const stop = () => {
      clearTimeout(deadline);
      child.kill('SIGTERM');
      resolve(transcript);
    };
    const deadline = setTimeout(stop, seconds * 1000);
    child.stdout.on('data', (chunk: Buffer) => {
      transcript += chunk.toString('latin1');
      if (transcript.includes(text)) stop();
    });
    child.on('exit', () => stop());
  });
}

const slow = slowTestsEnabled("Debian's i386 installer to its first dialog (minutes)");

describe.runIf(slow)("Debian's i386 installer under -accel tcg", () => {
  let transcript = '';

  beforeAll(async () => {
    transcript = await consoleUntil(DIALOG_TEXT, BOOT_SECONDS);
  }, (BOOT_SECONDS + 60) * 1000);

  it('reaches its first dialog on the serial console', () => {
    const lastScreen = transcript.slice(-2000).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(transcript.includes(FIRST_DIALOG), `the console ended with: ${lastScreen}`).toBe(true);
    expect(transcript).toContain(DIALOG_TEXT);
  });

  it('boots without an oops or an unknown instruction on the way', () => {
    expect(transcript).not.toMatch(/invalid opcode|BUG:|Oops|Kernel panic/);
  });
});
