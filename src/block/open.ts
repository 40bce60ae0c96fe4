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
import { readFully } from './file-io.js';
import { RawFileBackend } from './raw-file.js';
import { SnapshotOverlay } from './snapshot-overlay.js';

export type ImageFormat = 'raw' | 'qcow2';

/** qcow2's header magic, "QFI\xfb" (docs/interop/qcow2.txt). */
const QCOW2_MAGIC = 0x514649fb;

export function openBlockBackend(drive: DriveConfig): BlockBackend {
  if (drive.file === undefined) throw new Error(`drive ${drive.id} has no medium`);
  const readOnly = drive.readonly || drive.media === 'cdrom';
  const overlay = drive.snapshot && !readOnly;
  // Under -snapshot the base is only ever read, so it is opened read-only.
  const fd = openImageFile(drive.file, readOnly || overlay);
  let base: BlockBackend;
  try {
    const format = drive.format ?? probeFormat(fd);
    if (format !== 'raw') throw new Error(`Image format '${format}' is not supported by tsvm yet`);
    base = new RawFileBackend(drive.file, fd, readOnly || overlay, drive.cache);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return overlay ? new SnapshotOverlay(base) : base;
}

/** QEMU's probing among the formats tsvm knows: a qcow2 header, else raw. */
export function probeFormat(fd: number): ImageFormat {
  const head = new Uint8Array(4);
  readFully(fd, head, 0);
  const magic = new DataView(head.buffer).getUint32(0);
  return magic === QCOW2_MAGIC ? 'qcow2' : 'raw';
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
