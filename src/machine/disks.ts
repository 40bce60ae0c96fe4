/**
 * Opens the -drive/-hda/-cdrom images and keeps them so every way out of
 * tsvm flushes and closes them (user data reaches the file before exit).
 */
import type { DriveConfig } from '../config.js';
import type { BlockBackend } from '../block/block-backend.js';
import { openBlockBackend } from '../block/open.js';
import { ImageLockError } from '../block/lock.js';
import { UserError } from './errors.js';

export interface OpenDrive {
  config: DriveConfig;
  /** Undefined for an empty CD-ROM drive. */
  backend: BlockBackend | undefined;
}

export class Disks {
  readonly drives: OpenDrive[] = [];

  /** Opens every drive; on the first failure closes what was opened and throws the user's error. */
  static open(configs: readonly DriveConfig[]): Disks {
    const disks = new Disks();
    try {
      for (const config of configs) {
        const backend = config.file === undefined ? undefined : openDrive(config);
        disks.drives.push({ config, backend });
      }
    } catch (err) {
      disks.closeAll();
      throw err;
    }
    return disks;
  }

  byInterface(iface: DriveConfig['interface']): OpenDrive[] {
    return this.drives.filter((d) => d.config.interface === iface);
  }

  flushAll(): void {
    for (const d of this.drives) d.backend?.flush();
  }

  closeAll(): void {
    for (const d of this.drives) d.backend?.close();
    this.drives.length = 0;
  }
}

/** Where QEMU's error points for a drive without a location: -hda for index 0 of if=ide, else -drive. */
function optionName(config: DriveConfig): string {
  if (config.interface === 'ide' && config.media === 'disk') return `-hd${'abcd'[config.index] ?? 'a'}`;
  if (config.interface === 'ide' && config.media === 'cdrom') return '-cdrom';
  if (config.interface === 'floppy') return `-fd${'ab'[config.index] ?? 'a'}`;
  return '-drive';
}

function openDrive(config: DriveConfig): BlockBackend {
  try {
    return openBlockBackend(config);
  } catch (err) {
    const where = config.location ?? `${optionName(config)} ${config.file!}`;
    const reason = lockConflict(err) ?? err;
    throw new UserError(`${where}: ${reason instanceof Error ? reason.message : String(reason)}`);
  }
}

/**
 * qemu-system reports a lock conflict when the disk takes its permissions,
 * after the image opened: its message has no "Could not open 'x':" in front
 * (qemu-img's, which locks while opening, does).
 */
function lockConflict(err: unknown): ImageLockError | undefined {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof ImageLockError) return e;
  return undefined;
}
