/**
 * The built-in BIOS (no -kernel, no -bios) booting real guests under both
 * accelerators, seen from the serial console (-nographic mirrors INT 10h
 * output to COM1), the disk image files and tsvm's exit status.
 *
 * How far the Linux images get: under KVM on these hosts the paravirtual
 * KVM stops syslinux/isolinux at their switch to protected mode ("KVM
 * internal error", exactly as qemu-system-i386 -accel kvm does here), so
 * KVM runs check the firmware and the bootloader's banner. TCG runs go on
 * into the kernel's real-mode setup ("Probing EDD"), printed through INT 10h.
 * Booting on to the busybox shell, through the built-in BIOS and through
 * SeaBIOS, takes TCG minutes: those two runs are part of the long sweep.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEBUG_EXIT, SEABIOS, ensureDiskImages, image, readSector, runTsvm, scratchCopy } from './harness.js';
import { slowTestsEnabled } from '../helpers/slow.js';
import { kvmUnavailable } from '../kvm/harness.js';

const SYSLINUX_EDD = /SYSLINUX 6\.\d+ EDD \d+ Copyright \(C\) 1994-2015 H\. Peter Anvin et al/;
const SYSLINUX_CHS = /SYSLINUX 6\.\d+ CHS \d+ Copyright \(C\) 1994-2015 H\. Peter Anvin et al/;
/** isolinux prints its banner in two steps; KVM here stops it between them (as QEMU's KVM does). */
const ISOLINUX = /ISOLINUX 6\.\d+ \d+ ETCD/;
const ISOLINUX_FULL = /ISOLINUX 6\.\d+ \d+ +Copyright \(C\) 1994-2015 H\. Peter Anvin et al/;
const KERNEL_SETUP = /Probing EDD \(edd=off to disable\)\.\.\. ok/;

const ACCELS = [
  { accel: 'kvm', skip: kvmUnavailable(), bootTimeout: 30_000 },
  { accel: 'tcg', skip: undefined, bootTimeout: 240_000 },
] as const;

beforeAll(() => ensureDiskImages(), 600_000);

for (const { accel, skip, bootTimeout } of ACCELS) {
  if (skip) console.warn(`tests/bios: skipping -accel ${accel}: ${skip}`);
  const kvm = accel === 'kvm';

  describe.skipIf(skip !== undefined)(`built-in BIOS, -accel ${accel}`, () => {
    it('runs a boot sector whose INT 13h writes (CHS and EDD) land in the image file', async () => {
      const { file, cleanup } = scratchCopy('bootsect.img');
      try {
        const run = await runTsvm(['-accel', accel, '-drive', `file=${file},format=raw`, '-nographic', ...DEBUG_EXIT], { timeoutMs: 60_000 });
        expect(run.serial).toContain('Booting from Hard Disk...');
        expect(run.serial).toContain('tsvm-bootsect: hello\ntsvm-bootsect: ok\n');
        expect(run.status).toBe(1); // isa-debug-exit with 0
        expect(readSector(file, 4).toString('latin1')).toMatch(/^TSVM-WRITTEN-BY-INT13-CHS\0+$/);
        expect(readSector(file, 6).toString('latin1')).toMatch(/^TSVM-WRITTEN-BY-INT13-EDD\0+$/);
      } finally {
        cleanup();
      }
    }, 90_000);

    it('-snapshot leaves the image byte-identical while the guest still sees its writes', async () => {
      const { file, cleanup } = scratchCopy('bootsect.img');
      try {
        const before = readFileSync(file);
        const run = await runTsvm(['-accel', accel, '-drive', `file=${file},format=raw`, '-snapshot', '-nographic', ...DEBUG_EXIT], { timeoutMs: 60_000 });
        expect(run.serial).toContain('tsvm-bootsect: ok');
        expect(run.status).toBe(1);
        expect(readFileSync(file).equals(before)).toBe(true);
      } finally {
        cleanup();
      }
    }, 90_000);

    it('boots the syslinux hard disk through the MBR into syslinux', async () => {
      const until = kvm ? SYSLINUX_EDD : KERNEL_SETUP;
      const run = await runTsvm(['-accel', accel, '-drive', `file=${image('disk.img')},format=raw,snapshot=on`, '-nographic'], { until, timeoutMs: bootTimeout });
      expect(run.serial).toContain('Booting from Hard Disk...');
      expect(run.serial).toMatch(SYSLINUX_EDD);
      if (!kvm) {
        expect(run.serial).toContain('Loading vmlinuz... ok');
        expect(run.serial).toContain('Loading initramfs.cpio.gz...ok');
      }
      expect(run.matched).toBe(true);
    }, bootTimeout + 30_000);

    it('boots the isolinux CD with -cdrom -boot d (El Torito, no emulation)', async () => {
      const until = kvm ? ISOLINUX : KERNEL_SETUP;
      const run = await runTsvm(['-accel', accel, '-cdrom', image('boot.iso'), '-boot', 'd', '-nographic'], { until, timeoutMs: bootTimeout });
      expect(run.serial).toContain('Booting from DVD/CD...');
      expect(run.serial).toMatch(ISOLINUX);
      if (!kvm) {
        expect(run.serial).toMatch(ISOLINUX_FULL);
        expect(run.serial).toContain('Loading /vmlinuz... ok');
      }
      expect(run.matched).toBe(true);
    }, bootTimeout + 30_000);

    it('boots the syslinux floppy with -fda (CHS reads); its prompt takes a label typed on the serial console', async () => {
      const until = kvm ? SYSLINUX_CHS : /Loading tsvm-floppy-kernel\.\.\. failed: No such file or directory/;
      const run = await runTsvm(['-accel', accel, '-fda', image('floppy.img'), '-snapshot', '-nographic'], {
        until,
        timeoutMs: bootTimeout,
        input: { after: /boot: $/, text: 'tsvm\r' },
      });
      expect(run.serial).toContain('Booting from Floppy...');
      expect(run.serial).toMatch(SYSLINUX_CHS);
      expect(run.matched).toBe(true);
    }, bootTimeout + 30_000);

    it('says "No bootable device." and exits 1 when nothing boots', async () => {
      const run = await runTsvm(['-accel', accel, '-nographic'], { timeoutMs: 60_000 });
      expect(run.serial).toContain('No bootable device.\n');
      expect(run.stderr).toContain('tsvm: No bootable device.\n');
      expect(run.status).toBe(1);
    }, 90_000);

    it('skips a disk without the 55AAh signature, then finds nothing else to boot', async () => {
      const { file, cleanup } = scratchCopy('bootsect.img');
      try {
        const fd = openSync(file, 'r+');
        writeSync(fd, Buffer.from([0, 0]), 0, 2, 510);
        closeSync(fd);
        const run = await runTsvm(['-accel', accel, '-drive', `file=${file},format=raw`, '-nographic'], { timeoutMs: 60_000 });
        expect(run.serial).toContain('Booting from Hard Disk...\nBoot failed: not a bootable disk\n');
        expect(run.serial).not.toContain('tsvm-bootsect');
        expect(run.serial).toContain('No bootable device.');
        expect(run.status).toBe(1);
      } finally {
        cleanup();
      }
    }, 90_000);
  });
}

const FIRMWARES = [
  { name: 'the built-in BIOS', args: [] },
  { name: 'SeaBIOS', args: ['-bios', SEABIOS] },
];

describe.runIf(slowTestsEnabled('tests/bios: the syslinux disk to the busybox shell (minutes)'))('-accel tcg, the syslinux disk to the busybox shell', () => {
  for (const firmware of FIRMWARES) {
    it(`boots through ${firmware.name}, syslinux and the kernel to the shell, which runs a command`, async () => {
      const run = await runTsvm(['-accel', 'tcg', ...firmware.args, '-drive', `file=${image('disk.img')},format=raw,snapshot=on`, '-nographic'], {
        until: /tsvm-guest: init ready[\s\S]*~ # [\s\S]*fw-ok-42/,
        input: { after: /~ # /, text: 'echo fw-ok-$((6*7))\n' },
        timeoutMs: 1_500_000,
      });
      expect(run.serial).toMatch(SYSLINUX_EDD);
      expect(run.serial).toContain('Kernel command line: BOOT_IMAGE=vmlinuz initrd=initramfs.cpio.gz console=ttyS0');
      expect(run.matched).toBe(true);
    }, 1_600_000);
  }
});
