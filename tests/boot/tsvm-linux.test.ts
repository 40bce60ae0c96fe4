/**
 * Issue 4's real guest: tsvm -accel tcg boots Debian 12's i386 kernel with
 * the busybox initramfs to its shell, and the same commands print the same
 * results under tsvm and under qemu-system-i386 -accel tcg.
 *
 * Off until tsvm's TCG boots Linux: set TSVM_LINUX_BOOT=1 (and build dist/
 * first, `npm run build`), then drop the gate when it passes.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { driveGuest, type GuestRun } from '../../images/linux/check-guest.mjs';
import { ensureLinuxGuest } from './guest-images.js';
import { have } from './qemu-direct-boot.js';

const TSVM = path.join(import.meta.dirname, '../../bin/tsvm');

const COMMANDS = ['ls /', 'cat /proc/cmdline', 'uname -r', 'dd if=/dev/zero bs=1M count=8 2>/dev/null | md5sum', 'sleep 1', 'dmesg | grep -cE "BUG:|Oops:|invalid opcode"'];

function guestArgs(): string[] {
  const guest = ensureLinuxGuest('i386');
  return ['-accel', 'tcg', '-m', '256', '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', 'console=ttyS0', '-nographic'];
}

function byCommand(run: GuestRun): Record<string, string> {
  return Object.fromEntries(run.outputs.map((o) => [o.command, o.output]));
}

describe.runIf(process.env.TSVM_LINUX_BOOT && have('qemu-system-i386'))('Debian 12 i386 under tsvm -accel tcg', () => {
  it('reaches the shell, runs commands like QEMU does, keeps time, and powers off with status 0', async () => {
    const tsvm = await driveGuest({ command: [TSVM, ...guestArgs()], commands: COMMANDS, timeoutSeconds: 600 });
    const qemu = await driveGuest({ command: ['qemu-system-i386', ...guestArgs()], commands: COMMANDS, timeoutSeconds: 180 });

    const zeros = createHash('md5').update(Buffer.alloc(8 * 0x10_0000)).digest('hex');
    expect(byCommand(tsvm)['dd if=/dev/zero bs=1M count=8 2>/dev/null | md5sum']).toBe(`${zeros}  -`);
    expect(byCommand(tsvm)).toEqual(byCommand(qemu));
    expect(byCommand(tsvm)['dmesg | grep -cE "BUG:|Oops:|invalid opcode"']).toBe('0');
    const sleep = tsvm.outputs.find((o) => o.command === 'sleep 1')!;
    expect(sleep.ms).toBeGreaterThanOrEqual(1000);
    expect(sleep.ms).toBeLessThan(3000);
    expect(tsvm.transcript).not.toMatch(/unknown instruction|BUG:|Oops/);
    expect(tsvm.exitCode).toBe(0);
  }, 900_000);
});
