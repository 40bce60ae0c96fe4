/**
 * `tsvm-img rebase [-f fmt] [-u] -b backing_file [-F backing_fmt] filename`.
 * Safe mode first copies into the image every cluster it does not hold whose
 * content differs between the old and the new backing file, so the guest
 * sees the same disk afterwards; -u only rewrites the backing file name.
 */
import type { BlockBackend } from '../block/block-backend.js';
import { openImage, resolveBackingPath } from '../block/qcow2-chain.js';
import { probeFormat } from '../block/probe.js';
import { Qcow2Image } from '../block/qcow2.js';
import * as fs from 'node:fs';
import { ImgError } from './errors.js';
import { imageFormat } from './format.js';

export interface RebaseFlags {
  format?: string;
  unsafe?: boolean;
  backing?: string;
  backingFormat?: string;
}

export function rebase(file: string, flags: RebaseFlags): void {
  if (flags.backing === undefined) throw new ImgError('Must specify backing file (-b) or use \'-b ""\' to remove it');
  const newName = flags.backing === '' ? undefined : flags.backing;
  let newFormat = imageFormat(flags.backingFormat);
  const image = openImage(file, { format: imageFormat(flags.format), readOnly: false, noBacking: flags.unsafe === true });
  try {
    if (!(image instanceof Qcow2Image)) throw new ImgError(`Could not change the backing file of '${file}': raw images have none`);
    if (newName !== undefined && newFormat === undefined) newFormat = probeBackingFormat(resolveBackingPath(file, newName), flags.unsafe === true);
    if (!flags.unsafe) {
      const target = newName === undefined ? undefined : openImage(resolveBackingPath(file, newName), { format: newFormat, readOnly: true });
      try {
        copyDifferences(image, target);
      } finally {
        target?.close();
      }
      image.flush();
    }
    image.setBackingFile(newName, newFormat);
  } finally {
    image.close();
  }
}

function copyDifferences(image: Qcow2Image, target: BlockBackend | undefined): void {
  const cs = image.clusterSize;
  const before = new Uint8Array(cs);
  const after = new Uint8Array(cs);
  for (let c = 0; c * cs < image.length; c++) {
    if (image.lookup(c).kind !== 'unallocated') continue;
    const start = c * cs;
    const len = Math.min(cs, image.length - start);
    readOrZero(image.backing, start, before.subarray(0, len));
    readOrZero(target, start, after.subarray(0, len));
    if (Buffer.compare(before.subarray(0, len), after.subarray(0, len)) !== 0) image.write(start, before.subarray(0, len));
  }
}

function readOrZero(image: BlockBackend | undefined, offset: number, out: Uint8Array): void {
  out.fill(0);
  if (image === undefined || offset >= image.length) return;
  image.read(offset, out.subarray(0, Math.min(out.length, image.length - offset)));
}

function probeBackingFormat(file: string, unsafe: boolean): 'raw' | 'qcow2' | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      return probeFormat(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (unsafe) return undefined;
    throw new ImgError(`Could not open new backing file '${file}': ${(err as Error).message}`);
  }
}
