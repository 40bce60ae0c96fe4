/**
 * `-bios bios-256k.bin -kernel vmlinuz -initrd ... -append ...`: SeaBIOS
 * runs tsvm's linuxboot option ROM from fw_cfg "genroms/", which copies the
 * kernel's setup, the kernel, the initrd and the command line out of fw_cfg
 * and enters the setup code. Followed on the serial console as far as the
 * kernel's banner, its command line, the initrd's place and "Memory:" (the
 * rest of a Linux boot under TCG takes minutes), next to qemu-system-i386
 * with the same SeaBIOS. Then the ROM itself, as SeaBIOS checks it.
 */
import { existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SEABIOS, runQemu, runTsvm } from './harness.js';
import { requireTool } from '../helpers/tools.js';
import { buildLinuxbootRom } from '../../src/boot/bios/linuxboot-rom.js';

requireTool('qemu-system-i386', 'qemu-system-x86');
const LINUX = path.resolve(import.meta.dirname, '../../images/build/linux-i386');
const CMDLINE = 'console=ttyS0 tsvm.linuxboot=1';

beforeAll(() => {
  expect(existsSync(SEABIOS), `${SEABIOS}: run scripts/setup.sh (it installs Debian's seabios)`).toBe(true);
  expect(existsSync(path.join(LINUX, 'vmlinuz')), 'run images/linux/build.sh i386').toBe(true);
});

const EMULATORS = [
  { name: 'tsvm -bios bios-256k.bin', run: (args: string[], timeoutMs: number) => runTsvm(['-bios', SEABIOS, ...args], { until: /Memory: \d+K/, timeoutMs }) },
  { name: 'qemu-system-i386', run: (args: string[], timeoutMs: number) => runQemu(args, { until: /Memory: \d+K/, timeoutMs }) },
];

describe.each(EMULATORS)('SeaBIOS -kernel under $name -accel tcg', ({ run }) => {
  it('boots the Debian i386 kernel with its initrd and command line', async () => {
    const args = ['-accel', 'tcg', '-m', '256', '-kernel', path.join(LINUX, 'vmlinuz'), '-initrd', path.join(LINUX, 'initramfs.cpio.gz')];
    const r = await run([...args, '-append', CMDLINE, '-nographic'], 240_000);
    expect(r.matched, r.serial + r.stderr).toBe(true);
    expect(r.serial).toContain('Booting from ROM...');
    expect(r.serial).toMatch(/Linux version 6\.\d+\.\d+-\d+-686 /);
    expect(r.serial).toContain(`Kernel command line: ${CMDLINE}\n`);
    // The initrd is where the setup header says, below the firmware's tables at the top of RAM.
    const [, start, end] = /RAMDISK: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]/.exec(r.serial) ?? [];
    expect(start, `no RAMDISK line in:\n${r.serial}`).toBeDefined();
    expect(parseInt(end!, 16) - parseInt(start!, 16)).toBeGreaterThan(0);
    expect(parseInt(end!, 16)).toBeLessThan(256 << 20);
    // The HPET's table: QEMU hands SeaBIOS its own; tsvm hands none and SeaBIOS builds one after finding the chip at 0xFED00000.
    expect(r.serial).toMatch(/ACPI: HPET 0x[0-9A-F]+ 000038 /);
  }, 300_000);
});

describe('SeaBIOS -kernel that does not fit', () => {
  it('says which file does not fit in one line and exits 1, as the direct boot does', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tsvm-linuxboot-'));
    try {
      const initrd = path.join(dir, 'big.img');
      writeFileSync(initrd, '');
      truncateSync(initrd, 40 << 20);
      const kernel = path.join(LINUX, 'vmlinuz');
      const big = await runTsvm(['-bios', SEABIOS, '-m', '48', '-kernel', kernel, '-initrd', initrd, '-nographic'], { timeoutMs: 30_000 });
      expect(big.stderr).toMatch(new RegExp(`^tsvm: -initrd ${initrd}: initrd is too large, cannot support \\(max: \\d+, need ${40 << 20}\\)\n$`));
      expect(big.status).toBe(1);
      const small = await runTsvm(['-bios', SEABIOS, '-m', '8', '-kernel', kernel, '-nographic'], { timeoutMs: 30_000 });
      expect(small.stderr).toMatch(/^tsvm: -kernel \S+vmlinuz: not enough RAM for this kernel \(it needs \d+ MiB\)\n$/);
      expect(small.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the linuxboot option ROM', () => {
  const rom = buildLinuxbootRom();
  const sum = (bytes: Uint8Array) => bytes.reduce((a, b) => (a + b) & 0xff, 0);

  it('has an option ROM header, its size in 512-byte blocks and a zero checksum', () => {
    expect([rom[0], rom[1]]).toEqual([0x55, 0xaa]);
    expect(rom[2]! * 512).toBe(rom.length);
    expect(sum(rom)).toBe(0);
  });

  it('has a PnP header with a zero checksum, a product name and a boot entry vector inside the ROM', () => {
    const at = rom[0x1a]! | (rom[0x1b]! << 8);
    const pnp = rom.subarray(at, at + rom[at + 5]! * 16);
    expect(new TextDecoder().decode(pnp.subarray(0, 4))).toBe('$PnP');
    expect(sum(pnp)).toBe(0);
    const word = (off: number) => pnp[off]! | (pnp[off + 1]! << 8);
    const product = word(0x10);
    expect(new TextDecoder().decode(rom.subarray(product, rom.indexOf(0, product)))).toBe('Linux loader');
    expect(word(0x1a)).toBeGreaterThan(at);
    expect(word(0x1a)).toBeLessThan(rom.length);
  });
});
