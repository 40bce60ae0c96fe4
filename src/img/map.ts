/** `tsvm-img map [-f fmt] [--output=human|json] filename`: where each guest range comes from. */
import type { BlockBackend } from '../block/block-backend.js';
import { openImage } from '../block/qcow2-chain.js';
import { Qcow2Image } from '../block/qcow2.js';
import { RawFileBackend } from '../block/raw-file.js';
import { ImgError } from './errors.js';
import { imageFormat } from './format.js';

interface Extent {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  offset?: number;
  file: string;
}

/** Raw images have no allocation map tsvm can read (no SEEK_DATA in Node): zero ranges are found by reading. */
const RAW_GRANULE = 64 * 1024;

export function map(file: string, flags: { format?: string; output?: string; forceShare?: boolean }): void {
  const image = openImage(file, { format: imageFormat(flags.format), readOnly: true, locking: !flags.forceShare });
  try {
    const extents: Extent[] = [];
    for (let pos = 0; pos < image.length; ) {
      const e = status(image, file, pos, 0);
      e.length = Math.min(e.length, image.length - pos);
      merge(extents, e);
      pos += e.length;
    }
    process.stdout.write(flags.output === 'json' ? json(extents) : human(extents));
  } finally {
    image.close();
  }
}

/** The extent starting at `pos`, at most to the end of its cluster. */
function status(image: BlockBackend, name: string, pos: number, depth: number): Extent {
  if (image instanceof Qcow2Image) {
    const cluster = Math.floor(pos / image.clusterSize);
    const inCluster = pos - cluster * image.clusterSize;
    const base = { start: pos, length: image.clusterSize - inCluster, depth, file: name };
    const m = image.lookup(cluster);
    switch (m.kind) {
      case 'data':
        return { ...base, present: true, zero: false, data: true, offset: m.host + inCluster };
      case 'compressed':
        return { ...base, present: true, zero: false, data: true };
      case 'zero':
        return { ...base, present: true, zero: true, data: false };
      case 'unallocated': {
        const backing = image.backing;
        if (backing !== undefined && pos < backing.length) {
          const e = status(backing, backingName(backing), pos, depth + 1);
          e.length = Math.min(e.length, base.length);
          return e;
        }
        return { ...base, depth: backing ? depth + 1 : depth, present: false, zero: true, data: false };
      }
    }
  }
  const length = Math.min(RAW_GRANULE - (pos % RAW_GRANULE), image.length - pos);
  const bytes = new Uint8Array(length);
  image.read(pos, bytes);
  const zero = bytes.every((b) => b === 0);
  return { start: pos, length, depth, present: true, zero, data: !zero, offset: pos, file: name };
}

function backingName(image: BlockBackend): string {
  if (image instanceof Qcow2Image || image instanceof RawFileBackend) return image.path;
  return '';
}

function merge(extents: Extent[], e: Extent): void {
  const last = extents[extents.length - 1];
  const same =
    last !== undefined &&
    last.depth === e.depth &&
    last.present === e.present &&
    last.zero === e.zero &&
    last.data === e.data &&
    last.file === e.file &&
    (last.offset === undefined) === (e.offset === undefined) &&
    (last.offset === undefined || last.offset + last.length === e.offset);
  if (same) last.length += e.length;
  else extents.push(e);
}

function json(extents: Extent[]): string {
  const lines = extents.map((e) => {
    const offset = e.offset === undefined ? '' : `, "offset": ${e.offset}`;
    return `{ "start": ${e.start}, "length": ${e.length}, "depth": ${e.depth}, "present": ${e.present}, "zero": ${e.zero}, "data": ${e.data}${offset}}`;
  });
  return `[${lines.join(',\n')}]\n`;
}

function human(extents: Extent[]): string {
  const hex = (n: number) => (n === 0 ? '0' : `0x${n.toString(16)}`);
  let out = `${'Offset'.padEnd(16)}${'Length'.padEnd(16)}${'Mapped to'.padEnd(16)}File\n`;
  for (const e of extents) {
    if (!e.data || e.zero) continue;
    if (e.offset === undefined) throw new ImgError('File contains external, encrypted or compressed clusters.');
    out += `${hex(e.start).padEnd(16)}${hex(e.length).padEnd(16)}${hex(e.offset).padEnd(16)}${e.file}\n`;
  }
  return out;
}
