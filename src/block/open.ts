/**
 * Opening a drive's image as QEMU does: probe the format (unless format= is
 * given), open read-only for readonly=on and CD-ROMs, take the image lock
 * (file.locking), and stack the -snapshot overlay on top. Errors carry
 * QEMU's wording so main can print
 * `tsvm: -hda x.img: Could not open 'x.img': No such file or directory`.
 */
import type { DriveConfig } from '../config.js';
import type { BlockBackend } from './block-backend.js';
import { openImage } from './qcow2-chain.js';
import { RawFileBackend } from './raw-file.js';
import { SnapshotOverlay } from './snapshot-overlay.js';

export type { ImageFormat } from './probe.js';

export interface OpenOptions {
  /** Receives QEMU's warning about a probed raw image (default: printed on stderr). */
  warn?(message: string): void;
}

export function openBlockBackend(drive: DriveConfig, options: OpenOptions = {}): BlockBackend {
  const file = drive.file;
  if (file === undefined) throw new Error(`drive ${drive.id} has no medium`);
  const readOnly = drive.readonly || drive.media === 'cdrom';
  const overlay = drive.snapshot && !readOnly;
  // Under -snapshot the base is only ever read, so it is opened read-only.
  const baseReadOnly = readOnly || overlay;
  const open = (ro: boolean, locking: boolean) => openImage(file, { format: drive.format, readOnly: ro, cache: drive.cache, locking });
  const base = open(baseReadOnly, drive.locking);
  // A guest must not turn a probed raw image into something that probes as another format
  // (a qcow2 header naming a host file as its backing file, say): QEMU's raw driver refuses
  // such writes to block 0 (RawFileBackend's guardProbe), and warns the user.
  if (base instanceof RawFileBackend && drive.format === undefined && !baseReadOnly) {
    (options.warn ?? printWarning)(probedRawWarning(file));
  }
  if (!overlay) return base;
  // Committing the overlay (Ctrl-A s) writes the base through a second descriptor in this
  // process: its lock would conflict with the base's own read lock, so it takes none.
  return new SnapshotOverlay(base, () => open(false, false));
}

/** QEMU's warn_report() text from raw_open() for a probed, writable raw image. */
function probedRawWarning(file: string): string {
  return (
    `WARNING: Image format was not specified for '${file}' and probing guessed raw.\n` +
    '         Automatically detecting the format is dangerous for raw images, write operations on block 0 will be restricted.\n' +
    "         Specify the 'raw' format explicitly to remove the restrictions."
  );
}

function printWarning(message: string): void {
  process.stderr.write(`tsvm: ${message}\n`);
}
