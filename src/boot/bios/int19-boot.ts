/**
 * INT 19h, bootstrap: the first bootable device in -boot order (a floppy,
 * c hard disk, d CD-ROM; n network is not supported), then the others
 * unless strict=on, as SeaBIOS orders QEMU's devices. A floppy's or disk's
 * first sector goes to 0000:7C00 (a disk's must end in 55h AAh); a CD boots
 * its El Torito image. The loaded code is entered by rewriting the INT 19h
 * frame's CS:IP, with DL = the boot drive. When nothing boots, INT 18h's
 * answer: "No bootable device." on the screen (and COM1 under -nographic),
 * and tsvm ends with status 1 and that line on stderr (where SeaBIOS would
 * wait and reboot forever).
 */
import type { AddressSpace } from '../../memory/address-space.js';
import type { Lifecycle } from '../../machine/lifecycle.js';
import type { BootConfig } from '../../config.js';
import { linear, isRamRange, type RegisterFrame } from './frame.js';
import type { BiosDrive, BiosDrives } from './drives.js';
import type { DiskService } from './int13-disk.js';
import type { Video } from './int10-video.js';
import { findBootImage } from './eltorito.js';
import type { ServiceResult } from './trap-port.js';

const BOOT_SECTOR_ADDR = 0x7c00;
export const NO_BOOTABLE_DEVICE = 'No bootable device.';
const ALL_DEVICES = 'acd';

interface BootTarget {
  segment: number;
  drive: number;
}

export class BootService {
  /** -boot once= applies to the first boot only; resets boot in the normal order. */
  private bootedOnce = false;

  constructor(
    private readonly mem: AddressSpace,
    private readonly drives: BiosDrives,
    private readonly disk: DiskService,
    private readonly video: Video,
    private readonly lifecycle: Lifecycle,
    private readonly boot: BootConfig,
  ) {}

  /** INT 19h: boot, or fail. */
  bootstrap(f: RegisterFrame): ServiceResult {
    this.disk.cdBoot = undefined;
    for (const letter of this.bootOrder()) {
      const target = this.tryDevice(letter);
      if (!target) continue;
      f.set('cs', target.segment);
      f.set('ip', target.segment === 0 ? BOOT_SECTOR_ADDR : 0);
      f.set('dx', target.drive);
      return 'done';
    }
    return this.noBootableDevice();
  }

  /** INT 18h: what a BIOS does when the boot code gives up (or there is none). */
  noBootableDevice(): ServiceResult {
    this.video.print(`${NO_BOOTABLE_DEVICE}\r\n`);
    this.lifecycle.request({ kind: 'error', message: NO_BOOTABLE_DEVICE });
    return 'done';
  }

  private bootOrder(): string[] {
    const once = this.bootedOnce ? undefined : this.boot.once;
    this.bootedOnce = true;
    const order = (once ?? this.boot.order).toLowerCase();
    const rest = this.boot.strict ? '' : [...ALL_DEVICES].filter((d) => !order.includes(d)).join('');
    return [...new Set(order + rest)];
  }

  private tryDevice(letter: string): BootTarget | undefined {
    switch (letter) {
      case 'a':
        return this.bootSector(this.drives.first('floppy'), 'Floppy', false);
      case 'c':
        return this.bootSector(this.drives.first('hd'), 'Hard Disk', true);
      case 'd':
        return this.bootCdrom();
      default:
        return undefined;
    }
  }

  private bootSector(drive: BiosDrive | undefined, name: string, needSignature: boolean): BootTarget | undefined {
    if (!drive) return undefined;
    this.video.print(`Booting from ${name}...\r\n`);
    const sector = drive.read(0, 1);
    if (!sector) {
      this.video.print(`Boot failed: could not read the boot disk\r\n\r\n`);
      return undefined;
    }
    if (needSignature && (sector[510] !== 0x55 || sector[511] !== 0xaa)) {
      this.video.print('Boot failed: not a bootable disk\r\n\r\n');
      return undefined;
    }
    this.mem.writeBytes(BOOT_SECTOR_ADDR, sector);
    return { segment: 0, drive: drive.number };
  }

  private bootCdrom(): BootTarget | undefined {
    const cd = this.drives.first('cdrom');
    if (!cd) return undefined;
    this.video.print('Booting from DVD/CD...\r\n');
    const image = findBootImage(cd);
    if (typeof image === 'string') {
      this.video.print(`Boot failed: ${image}\r\n\r\n`);
      return undefined;
    }
    const bytes = image.sectorCount * 512;
    const data = cd.read(image.imageLba, Math.ceil(bytes / cd.sectorSize));
    const addr = linear(image.loadSegment, 0);
    if (!data || bytes === 0 || !isRamRange(this.mem, addr, bytes) || addr + bytes > 0xa0000) {
      this.video.print('Boot failed: could not read the CD boot image\r\n\r\n');
      return undefined;
    }
    this.mem.writeBytes(addr, data.subarray(0, bytes));
    this.disk.cdBoot = image;
    return { segment: image.loadSegment, drive: cd.number };
  }
}
