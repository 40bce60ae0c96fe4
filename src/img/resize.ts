/** `tsvm-img resize [-f fmt] [--shrink] filename [+|-]size` */
import * as fs from 'node:fs';
import { openImage } from '../block/qcow2-chain.js';
import { Qcow2Image } from '../block/qcow2.js';
import { ImgError } from './errors.js';
import { imageFormat } from './format.js';
import { parseSize } from './size.js';

export function resize(file: string, sizeText: string, flags: { format?: string; shrink?: boolean }): void {
  const image = openImage(file, { format: imageFormat(flags.format), readOnly: false, noBacking: true });
  try {
    const relative = sizeText.startsWith('+') || sizeText.startsWith('-');
    const amount = parseSize(relative ? sizeText.slice(1) : sizeText);
    const size = sizeText.startsWith('+') ? image.length + amount : sizeText.startsWith('-') ? image.length - amount : amount;
    if (size < 0) throw new ImgError('New image size must be positive');
    if (size < image.length && !flags.shrink) {
      throw new ImgError(
        "Use the --shrink option to perform a shrink operation.\ntsvm-img: warning: Shrinking an image will delete all data beyond the shrunken image's end. Before performing such an operation, make sure there is no important data there.",
      );
    }
    if (image instanceof Qcow2Image) resizeQcow2(image, size);
    else resizeRaw(file, size);
    process.stdout.write('Image resized.\n');
  } finally {
    image.close();
  }
}

function resizeRaw(file: string, size: number): void {
  fs.truncateSync(file, size);
}

/** Growing needs at most a larger L1 table; shrinking frees the clusters past the new end. */
function resizeQcow2(image: Qcow2Image, size: number): void {
  if (size < image.length) {
    shrinkQcow2(image, size);
    return;
  }
  const l1Entries = Math.ceil(size / (image.clusterSize * image.l2Entries));
  if (l1Entries * 8 <= image.l1.length) {
    image.setVirtualSize(size);
    return;
  }
  const l1 = new Uint8Array(l1Entries * 8);
  l1.set(image.l1);
  image.replaceL1(l1, size);
}

/**
 * Clusters wholly past the new end are released; the tail of a cluster cut
 * in two is zeroed, so that growing the image again later shows zeros there.
 */
function shrinkQcow2(image: Qcow2Image, size: number): void {
  const cs = image.clusterSize;
  const tail = size % cs;
  if (tail !== 0 && image.lookup(Math.floor(size / cs)).kind !== 'unallocated') {
    image.write(size, new Uint8Array(Math.min(cs - tail, Math.ceil(image.length / 512) * 512 - size)));
  }
  const oldClusters = Math.ceil(image.length / cs);
  image.setVirtualSize(size);
  for (let c = Math.ceil(size / cs); c < oldClusters; c++) image.discardCluster(c);
}
