/** `tsvm-img create [-f fmt] [-b backing [-F backing_fmt]] [-u] [-o options] filename [size]` */
import * as fs from 'node:fs';
import { createLockedFile, ImageLockError } from '../block/lock.js';
import { openImage, resolveBackingPath } from '../block/qcow2-chain.js';
import { couldNotOpen } from '../host-errors.js';
import { createQcow2 } from '../block/qcow2-create.js';
import { ImgError } from './errors.js';
import { imageFormat } from './format.js';
import { onOff, parseCreateOptions } from './options.js';
import { parseSize } from './size.js';

export interface CreateFlags {
  format?: string;
  backing?: string;
  backingFormat?: string;
  unsafe?: boolean;
  options: string[];
  quiet?: boolean;
}

export function create(file: string, sizeText: string | undefined, flags: CreateFlags): void {
  const format = imageFormat(flags.format) ?? 'raw';
  const opts = parseCreateOptions(flags.options);
  if (opts.has('size')) sizeText ??= opts.get('size');
  if (opts.has('backing_file')) flags.backing ??= opts.get('backing_file');
  if (opts.has('backing_fmt')) flags.backingFormat ??= opts.get('backing_fmt');
  const backingFormat = imageFormat(flags.backingFormat);
  let size = sizeText === undefined ? undefined : parseSize(sizeText);
  if (flags.backing !== undefined) {
    if (format !== 'qcow2') throw new ImgError(`${file}: Backing file not supported for file format '${format}'`);
    const backingSize = probeBackingSize(file, flags.backing, backingFormat, flags.unsafe === true);
    size ??= backingSize;
  }
  if (size === undefined) throw new ImgError(`${file}: Image creation needs a size parameter`);
  if (format === 'raw') {
    for (const key of opts.keys()) if (key !== 'size') throw new ImgError(`${file}: Invalid parameter '${key}'`);
    announce(flags, file, `fmt=raw size=${size}`);
    createRaw(file, wholeSectors(size));
    return;
  }
  const known = new Set(['size', 'cluster_size', 'compat', 'lazy_refcounts', 'refcount_bits', 'backing_file', 'backing_fmt']);
  for (const key of opts.keys()) if (!known.has(key)) throw new ImgError(`${file}: Invalid parameter '${key}'`);
  const compat = opts.get('compat') ?? '1.1';
  if (compat !== '0.10' && compat !== '1.1' && compat !== 'v2' && compat !== 'v3') {
    throw new ImgError(`${file}: Invalid compatibility level: '${compat}'`);
  }
  const clusterSize = opts.has('cluster_size') ? parseSize(opts.get('cluster_size')!) : 65536;
  const lazy = onOff('lazy_refcounts', opts.get('lazy_refcounts')) ?? false;
  const refcountBits = opts.has('refcount_bits') ? Number(opts.get('refcount_bits')) : 16;
  const v2 = compat === '0.10' || compat === 'v2';
  const parts = [
    'fmt=qcow2',
    `cluster_size=${clusterSize}`,
    'extended_l2=off',
    'compression_type=zlib',
    `size=${size}`,
    ...(flags.backing !== undefined ? [`backing_file=${flags.backing}`] : []),
    ...(backingFormat !== undefined ? [`backing_fmt=${backingFormat}`] : []),
    ...(opts.has('compat') ? [`compat=${compat}`] : []),
    `lazy_refcounts=${lazy ? 'on' : 'off'}`,
    `refcount_bits=${refcountBits}`,
  ];
  announce(flags, file, parts.join(' '));
  try {
    createQcow2(file, {
      size: wholeSectors(size),
      clusterSize,
      compat: v2 ? '0.10' : '1.1',
      lazyRefcounts: lazy,
      refcountBits,
      backingFile: flags.backing,
      backingFormat,
    });
  } catch (err) {
    throw creationError(file, err);
  }
}

/** "x.qcow2: Could not open 'x.qcow2': Failed to get "write" lock..." and the like, as qemu-img words them. */
function creationError(file: string, err: unknown): ImgError {
  if (err instanceof ImageLockError) return new ImgError(`${file}: Could not open '${file}': ${err.message}`);
  if ((err as NodeJS.ErrnoException).code !== undefined) return new ImgError(`${file}: ${couldNotOpen(file, err).message}`);
  return new ImgError(`${file}: ${(err as Error).message}`);
}

/** The image holds whole 512-byte sectors: QEMU's raw and qcow2 drivers round the size up (the announced size is as given). */
function wholeSectors(size: number): number {
  return Math.ceil(size / 512) * 512;
}

function announce(flags: CreateFlags, file: string, what: string): void {
  if (!flags.quiet) process.stdout.write(`Formatting '${file}', ${what}\n`);
}

function createRaw(file: string, size: number): void {
  let fd: number;
  try {
    fd = createLockedFile(file);
  } catch (err) {
    throw creationError(file, err);
  }
  try {
    fs.ftruncateSync(fd, size);
  } finally {
    fs.closeSync(fd);
  }
}

/** The backing file must open (unless -u), and gives the size when none is given. */
function probeBackingSize(file: string, backing: string, format: 'raw' | 'qcow2' | undefined, unsafe: boolean): number | undefined {
  try {
    const image = openImage(resolveBackingPath(file, backing), { format, readOnly: true });
    const size = image.length;
    image.close();
    return size;
  } catch (err) {
    if (unsafe) return undefined;
    throw new ImgError(`${file}: ${(err as Error).message}`);
  }
}
