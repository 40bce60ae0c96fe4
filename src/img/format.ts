/** The image formats tsvm-img knows, by qemu-img's names. */
import type { ImageFormat } from '../block/probe.js';
import { ImgError } from './errors.js';

export function imageFormat(name: string | undefined): ImageFormat | undefined {
  if (name === undefined) return undefined;
  if (name === 'raw' || name === 'qcow2') return name;
  throw new ImgError(`Unknown file format '${name}'`);
}
