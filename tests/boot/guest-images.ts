/**
 * The Linux test guests built by images/linux/build.sh from Debian packages
 * (once per machine; later calls find them in images/build/ and return at once).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.join(ROOT, 'images/build');

export interface LinuxGuest {
  kernel: string;
  initrd: string;
}

/** Builds (if needed) and returns the busybox guest for `arch`; allow minutes on a fresh machine. */
export function ensureLinuxGuest(arch: 'i386' | 'amd64'): LinuxGuest {
  execFileSync('bash', [path.join(ROOT, 'images/linux/build.sh'), arch], { stdio: ['ignore', 'ignore', 'inherit'] });
  const dir = path.join(BUILD, `linux-${arch}`);
  return { kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initramfs.cpio.gz') };
}

/** Builds (if needed) and returns Debian's i386 netboot installer kernel and initrd. */
export function ensureDebianInstaller(): LinuxGuest {
  execFileSync('bash', [path.join(ROOT, 'images/linux/build.sh'), 'd-i'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const dir = path.join(BUILD, 'd-i-i386');
  return { kernel: path.join(dir, 'linux'), initrd: path.join(dir, 'initrd.gz') };
}
