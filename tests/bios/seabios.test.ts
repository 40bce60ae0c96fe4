/**
 * SeaBIOS (-bios bios-256k.bin, Debian's seabios package) on tsvm's PC, and
 * the same images under qemu-system-i386 with the same SeaBIOS as the
 * reference: what each prints on the serial console (SeaBIOS's sercon,
 * enabled through fw_cfg's etc/sercon-port under -nographic), what the
 * guest writes to its disk, and the exit status. Under KVM and TCG; the
 * Linux images are followed as far as the bootloader's banner.
 * SeaBIOS with -fda is in seabios-floppy.test.ts, with -kernel in
 * seabios-linuxboot.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEBUG_EXIT, SEABIOS, ensureDiskImages, image, readSector, runQemu, runTsvm, scratchCopy, type Run, type RunOptions } from './harness.js';
import { kvmUnavailable } from '../kvm/harness.js';
import { requireFile, requireTool } from '../helpers/tools.js';

requireTool('qemu-system-i386', 'qemu-system-x86');
requireFile(SEABIOS, 'seabios');
const kvmSkip = kvmUnavailable();
if (kvmSkip) console.warn(`tests/bios/seabios: skipping -accel kvm: ${kvmSkip}`);

const EMULATORS: { name: string; accel: string; run: (args: string[], opts: RunOptions) => Promise<Run> }[] = [];
for (const accel of kvmSkip ? ['tcg'] : ['kvm', 'tcg']) {
  EMULATORS.push(
    { name: 'tsvm -bios bios-256k.bin', accel, run: (args, opts) => runTsvm(['-accel', accel, '-bios', SEABIOS, ...args], opts) },
    { name: 'qemu-system-i386', accel, run: (args, opts) => runQemu(['-accel', accel, ...args], opts) },
  );
}

beforeAll(() => ensureDiskImages(), 600_000);

describe.each(EMULATORS)('SeaBIOS under $name -accel $accel', ({ run }) => {
  it('boots the INT 13h writing boot sector: sectors in the image, exit status from the guest', async () => {
    const { file, cleanup } = scratchCopy('bootsect.img');
    try {
      const r = await run(['-drive', `file=${file},format=raw`, '-nographic', ...DEBUG_EXIT], { timeoutMs: 90_000 });
      expect(r.serial).toContain('SeaBIOS (version');
      expect(r.serial).toContain('Booting from Hard Disk...');
      expect(r.serial).toContain('tsvm-bootsect: hello');
      expect(r.status).toBe(1);
      expect(readSector(file, 4).toString('latin1')).toMatch(/^TSVM-WRITTEN-BY-INT13-CHS\0+$/);
      expect(readSector(file, 6).toString('latin1')).toMatch(/^TSVM-WRITTEN-BY-INT13-EDD\0+$/);
    } finally {
      cleanup();
    }
  }, 120_000);

  it('boots the syslinux disk into syslinux', async () => {
    const r = await run(['-drive', `file=${image('disk.img')},format=raw,snapshot=on`, '-nographic'], {
      until: /SYSLINUX 6\.\d+ EDD \d+ Copyright/,
      timeoutMs: 90_000,
    });
    expect(r.serial).toContain('Booting from Hard Disk...');
    expect(r.matched).toBe(true);
  }, 120_000);

  it('boots the isolinux CD with -cdrom -boot d (through the ATAPI drive)', async () => {
    const r = await run(['-cdrom', image('boot.iso'), '-boot', 'd', '-nographic'], {
      until: /ISOLINUX 6\.\d+ \d+ ETCD/,
      timeoutMs: 90_000,
    });
    expect(r.serial).toContain('Booting from DVD/CD...');
    expect(r.matched).toBe(true);
  }, 120_000);
});
