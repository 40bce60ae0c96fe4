/**
 * Debian 12's i386 kernel with a busybox initramfs (images/linux/build.sh),
 * booted directly with -kernel on tsvm's own CPU: it reaches the shell,
 * runs what is typed on the serial console, and `poweroff -f` ends tsvm
 * with status 0. The same commands under qemu-system-i386 -accel tcg must
 * print the same results. As under QEMU, the kernel finds the HPET, lets it
 * watch the TSC and keeps the TSC as its clocksource.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { driveGuest, type GuestRun } from '../../images/linux/check-guest.mjs';
import { ensureLinuxGuest, type LinuxGuest } from '../boot/guest-images.js';
import { TSVM } from '../helpers/tsvm-process.js';

/** Boot plus commands; generous because the software CPU runs on a loaded 2-core machine. */
const BOOT_SECONDS = Number(process.env.TSVM_LINUX_BOOT_SECONDS ?? 900);
const EIGHT_MIB_OF_ZEROS_MD5 = '96995b58d4cbf6aaa9041b4f00c7f6ae';
const CLOCKSOURCE = 'cat /sys/devices/system/clocksource/clocksource0/current_clocksource';
const AVAILABLE_CLOCKSOURCES = 'cat /sys/devices/system/clocksource/clocksource0/available_clocksource';
const TSC_MARKED_UNSTABLE = `dmesg | grep -c "Marking clocksource 'tsc"`;
/** \_SB.HPET of the DSDT, as ACPI enumerated it: its _STA. */
const HPET_ACPI_STATUS = 'cat /sys/bus/acpi/devices/PNP0103:00/status';

const COMMANDS = [
  'ls /',
  'cat /proc/cpuinfo | grep -c ^processor',
  'dd if=/dev/zero bs=1M count=8 2>/dev/null | md5sum',
  'echo $((7*191))',
  'dmesg | grep -ciE "unknown instruction|invalid opcode|BUG:|Oops"',
  'time sleep 1',
  CLOCKSOURCE,
  AVAILABLE_CLOCKSOURCES,
  TSC_MARKED_UNSTABLE,
  HPET_ACPI_STATUS,
];

function withoutKernelMessages(output: string): string {
  return output
    .split('\n')
    .filter((line) => !/^\[\s*\d+\.\d+\] /.test(line))
    .join('\n');
}

function commandLine(emulator: string[], guest: LinuxGuest): string[] {
  return [...emulator, '-m', '256', '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', 'console=ttyS0', '-nographic'];
}

describe('Debian i386 Linux under -accel tcg', () => {
  let guest: LinuxGuest;
  let tsvm: GuestRun;

  beforeAll(async () => {
    guest = ensureLinuxGuest('i386');
    tsvm = await driveGuest({ command: commandLine([process.execPath, TSVM, '-accel', 'tcg'], guest), commands: COMMANDS, timeoutSeconds: BOOT_SECONDS });
  }, (BOOT_SECONDS + 300) * 1000);

  /**
   * What `cmd` printed, without kernel console messages: one the kernel
   * logs while a command runs ("random: crng init done" comes late on a slow
   * boot) lands in its output. None of these commands prints such lines.
   */
  const output = (cmd: string) => withoutKernelMessages(tsvm.outputs.find((o) => o.command === cmd)!.output);

  it('reaches the busybox shell and powers off with status 0', () => {
    expect(tsvm.transcript).toContain('tsvm-guest: init ready');
    expect(tsvm.exitCode).toBe(0);
  });

  it('runs commands typed on the serial console', () => {
    expect(output('ls /').split(/\s+/)).toEqual(expect.arrayContaining(['bin', 'dev', 'proc', 'sys']));
    expect(output('echo $((7*191))')).toBe('1337');
    expect(output('cat /proc/cpuinfo | grep -c ^processor')).toBe('1');
  });

  it('computes the same md5sum as the host', () => {
    expect(output('dd if=/dev/zero bs=1M count=8 2>/dev/null | md5sum')).toMatch(new RegExp(`^${EIGHT_MIB_OF_ZEROS_MD5}\\s`));
  });

  it('logs no unknown instruction, BUG or oops', () => {
    expect(output('dmesg | grep -ciE "unknown instruction|invalid opcode|BUG:|Oops"')).toBe('0');
  });

  it('keeps time: sleep 1 takes about a second of guest time', () => {
    const real = /real\s+0m\s*([\d.]+)s/.exec(output('time sleep 1'));
    expect(real).not.toBeNull();
    expect(Number(real![1])).toBeGreaterThanOrEqual(0.9);
    expect(Number(real![1])).toBeLessThan(5);
  });

  it('keeps the TSC as its clocksource, the HPET watching it, instead of marking it unstable', () => {
    expect(output(CLOCKSOURCE)).toBe('tsc');
    expect(output(AVAILABLE_CLOCKSOURCES).split(/\s+/)).toContain('hpet');
    expect(output(TSC_MARKED_UNSTABLE)).toBe('0');
    expect(output(HPET_ACPI_STATUS)).toBe('15'); // present, enabled, shown, functioning
  });

  it('prints what qemu-system-i386 -accel tcg prints for the same commands', async () => {
    const qemu = await driveGuest({ command: commandLine(['qemu-system-i386', '-accel', 'tcg'], guest), commands: COMMANDS, timeoutSeconds: 300 });
    for (const cmd of ['ls /', 'cat /proc/cpuinfo | grep -c ^processor', 'dd if=/dev/zero bs=1M count=8 2>/dev/null | md5sum', 'echo $((7*191))', CLOCKSOURCE, HPET_ACPI_STATUS]) {
      expect(output(cmd), cmd).toBe(withoutKernelMessages(qemu.outputs.find((o) => o.command === cmd)!.output));
    }
    expect(qemu.exitCode).toBe(0);
  }, 400_000);
});
