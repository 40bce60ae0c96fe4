/**
 * Debian's amd64 kernel with the busybox initramfs under tsvm -accel kvm:
 * reaches its shell and answers commands. Where the host's KVM cannot run it
 * even under qemu-system-x86_64 -accel kvm (this paravirtual kvm_pvm host:
 * the kernel does not get past decompression), the test is skipped with
 * QEMU's failure printed.
 */
import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { driveGuest } from '../../images/linux/check-guest.mjs';
import { ensureLinuxGuest } from '../boot/guest-images.js';
import { requireTool } from '../helpers/tools.js';
import { kvmUnavailable } from './harness.js';

requireTool('qemu-system-x86_64', 'qemu-system-x86');
const noKvm = kvmUnavailable();
if (noKvm) console.log(`skipping the Linux-under-KVM test: ${noKvm}`);

const TSVM = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'tsvm');
const COMMANDS = ['echo hello-$((6*7))', 'uname -m', 'cat /proc/cmdline'];

describe.skipIf(noKvm)('Debian amd64 under -accel kvm', () => {
  it('reaches the busybox shell under tsvm when it does under QEMU', async (ctx) => {
    const guest = ensureLinuxGuest('amd64');
    const args = ['-accel', 'kvm', '-m', '256', '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', 'console=ttyS0', '-nographic'];
    let qemuFailure: string | undefined;
    try {
      const qemu = await driveGuest({ command: ['qemu-system-x86_64', ...args, '-net', 'none'], commands: COMMANDS, timeoutSeconds: 60 });
      if (qemu.exitCode !== 0) qemuFailure = `qemu exited with ${qemu.exitCode ?? qemu.signal} after poweroff -f`;
    } catch (e) {
      qemuFailure = (e as Error).message;
    }
    if (qemuFailure) {
      console.log(`skipping: qemu-system-x86_64 -accel kvm cannot boot the Debian kernel on this host either (${qemuFailure})`);
      ctx.skip();
    }
    const tsvm = await driveGuest({ command: [process.execPath, TSVM, ...args], commands: COMMANDS, timeoutSeconds: 120 });
    expect(tsvm.outputs.map((o) => o.output)).toEqual(['hello-42', 'x86_64', 'console=ttyS0']);
    expect(tsvm.exitCode).toBe(0);
  }, 300_000);
});
