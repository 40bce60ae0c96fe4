/**
 * `tsvm-img commit [-f fmt] [-d] filename`: writes the clusters the image
 * holds into its backing file, makes the backing file durable, then (unless
 * -d) empties the image so it reads through to the updated backing file.
 */
import { openImage, resolveBackingPath } from '../block/qcow2-chain.js';
import { Qcow2Image } from '../block/qcow2.js';
import { ImgError } from './errors.js';
import { imageFormat } from './format.js';

export function commit(file: string, flags: { format?: string; drop?: boolean }): void {
  const top = openImage(file, { format: imageFormat(flags.format), readOnly: false, noBacking: true });
  try {
    if (!(top instanceof Qcow2Image) || top.header.backingFile === undefined) {
      throw new ImgError(`Image '${file}' does not have a backing file`);
    }
    const backingPath = resolveBackingPath(file, top.header.backingFile);
    const backing = openImage(backingPath, { format: imageFormat(top.header.backingFormat), readOnly: false });
    const clusters = Math.ceil(top.length / top.clusterSize);
    try {
      if (backing.length < top.length) throw new ImgError(`Backing file '${backingPath}' is smaller than '${file}'; resize it first`);
      for (let c = 0; c < clusters; c++) {
        if (top.lookup(c).kind === 'unallocated') continue;
        const start = c * top.clusterSize;
        backing.write(start, top.readCluster(c).subarray(0, Math.min(top.clusterSize, top.length - start)));
      }
    } finally {
      backing.close(); // fsyncs: the data is safe in the backing file before the image lets go of it
    }
    if (!flags.drop) for (let c = 0; c < clusters; c++) top.discardCluster(c);
    process.stdout.write('Image committed.\n');
  } finally {
    top.close();
  }
}
