/**
 * SeaBIOS drives the floppy controller itself (tsvm's 82077AA and 8237 DMA,
 * src/devices/fdc.ts and i8237.ts): `-bios bios-256k.bin -fda floppy.img`
 * boots syslinux's floppy to its prompt, and a label typed on the serial
 * console makes syslinux read its config from the diskette, with the same
 * serial output as qemu-system-i386 with the same SeaBIOS and the same
 * command line. The serial port is syslinux's alone (-serial stdio, not
 * -nographic, whose SeaBIOS serial console would mirror the screen into it).
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SEABIOS, ensureDiskImages, image, runQemu, runTsvm } from './harness.js';
import { requireTool } from '../helpers/tools.js';

requireTool('qemu-system-i386', 'qemu-system-x86');

/** syslinux looking for the config's kernel: it read syslinux.cfg from the diskette and took the typed label. */
const MISSING_KERNEL = /Loading tsvm-floppy-kernel\.\.\. failed: No such file or directory/;

beforeAll(() => {
  expect(existsSync(SEABIOS), `${SEABIOS}: run scripts/setup.sh (it installs Debian's seabios)`).toBe(true);
  ensureDiskImages();
}, 600_000);

describe('SeaBIOS -fda under TCG', () => {
  it('boots the syslinux floppy to its prompt and takes a label, printing what QEMU prints', async () => {
    const args = ['-accel', 'tcg', '-fda', image('floppy.img'), '-snapshot', '-display', 'none', '-serial', 'stdio'];
    const opts = { until: MISSING_KERNEL, timeoutMs: 120_000, input: { after: /boot: $/, text: 'tsvm\r' } };
    const tsvm = await runTsvm(['-bios', SEABIOS, ...args], opts);
    const qemu = await runQemu(args, opts);
    for (const run of [tsvm, qemu]) expect(run.matched, run.serial + run.stderr).toBe(true);
    // Each run is stopped once the answer appears: compare up to its end.
    const upToAnswer = (serial: string) => serial.slice(0, serial.search(MISSING_KERNEL)) + MISSING_KERNEL.exec(serial)![0];
    expect(upToAnswer(tsvm.serial)).toMatch(/^\nSYSLINUX 6\.\d+ \d+ Copyright [^\n]*\nboot: tsvm/);
    expect(upToAnswer(tsvm.serial)).toBe(upToAnswer(qemu.serial));
  }, 300_000);
});
