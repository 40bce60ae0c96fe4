/**
 * Opening a drive's image as QEMU does: probe the format (unless format= is
 * given), open read-only for readonly=on and CD-ROMs, and stack the
 * -snapshot overlay on top. Errors carry QEMU's wording so main can print
 * `tsvm: -hda x.img: Could not open 'x.img': No such file or directory`.
 */
import * as fs from 'node:fs';
import type { DriveConfig } from '../config.js';
import type { BlockBackend } from './block-backend.js';
import { couldNotOpen } from '../host-errors.js';
import { probeFormat } from './probe.js';
import { RawFileBackend } from './raw-file.js';
import { SnapshotOverlay } from './snapshot-overlay.js';

export type { ImageFormat } from './probe.js';

export interface OpenOptions {
  /** Receives QEMU's warning about a probed raw image (default: printed on stderr). */
  warn?(message: string): void;
}

export function openBlockBackend(drive: DriveConfig, options: OpenOptions = {}): BlockBackend {
  if (drive.file === undefined) throw new Error(`drive ${drive.id} has no medium`);
  const readOnly = drive.readonly || drive.media === 'cdrom';
  const overlay = drive.snapshot && !readOnly;
  // Under -snapshot the base is only ever read, so it is opened read-only.
  const fd = openImageFile(drive.file, readOnly || overlay);
  let base: BlockBackend;
  try {
    const format = drive.format ?? probeFormat(fd);
    if (format !== 'raw') throw new Error(`Image format '${format}' is not supported by tsvm yet`);
    const baseReadOnly = readOnly || overlay;
    // A guest must not turn a probed raw image into something that probes as another format
    // (a qcow2 header naming a host file as its backing file, say): QEMU's raw driver refuses
    // such writes to block 0, and warns the user.
    const guardProbe = drive.format === undefined && !baseReadOnly;
    if (guardProbe) (options.warn ?? printWarning)(probedRawWarning(drive.file));
    base = new RawFileBackend(drive.file, fd, { readOnly: baseReadOnly, cache: drive.cache, guardProbe });
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  if (!overlay) return base;
  const file = drive.file;
  return new SnapshotOverlay(base, () => {
    const fd = openImageFile(file, false);
    return new RawFileBackend(file, fd, { readOnly: false, cache: drive.cache, guardProbe: drive.format === undefined });
  });
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

function openImageFile(file: string, readOnly: boolean): number {
  let fd: number;
  try {
    fd = fs.openSync(file, readOnly ? 'r' : 'r+');
  } catch (err) {
    throw couldNotOpen(file, err);
  }
  if (fs.fstatSync(fd).isDirectory()) {
    fs.closeSync(fd);
    throw couldNotOpen(file, Object.assign(new Error(), { code: 'EISDIR' }));
  }
  return fd;
}
