/**
 * `tsvm-img convert [-f fmt] [-O output_fmt] [-c] [-p] [-o options] [-l snapshot] filename [filename2 [...]] output_filename`
 *
 * Inputs (their guest view, backing files included) are concatenated into a
 * new image. Clusters that read as zeros are not written, so the output stays
 * sparse; with -c, qcow2 output clusters are deflated.
 */
import type { CacheMode } from '../config.js';
import type { BlockBackend } from '../block/block-backend.js';
import { openImage } from '../block/qcow2-chain.js';
import { Qcow2Image } from '../block/qcow2.js';
import { create } from './create.js';
import { ImgError } from './errors.js';
import { imageFormat } from './format.js';
import { Progress } from './progress.js';

export interface ConvertFlags {
  format?: string;
  outputFormat?: string;
  compress?: boolean;
  progress?: boolean;
  options: string[];
  snapshot?: string;
  /** Output cache mode: the default writes back and fsyncs at the end; 'unsafe' skips the fsync (qemu-img's default). */
  cache?: string;
  /** -U: read inputs another process is writing (no lock). */
  forceShare?: boolean;
}

const CHUNK = 2 * 1024 * 1024;
/** Granularity of zero detection for raw output (qemu-img's default -S is 4k; a cluster for qcow2). */
const RAW_GRANULE = 4096;

export function convert(files: string[], flags: ConvertFlags): void {
  if (files.length < 2) throw new ImgError('Expecting one image file name');
  const output = files[files.length - 1]!;
  const outFormat = imageFormat(flags.outputFormat) ?? 'raw';
  if (flags.compress && outFormat !== 'qcow2') throw new ImgError('Compression not supported for this file format');
  const inputs: BlockBackend[] = [];
  try {
    for (const file of files.slice(0, -1)) {
      inputs.push(openImage(file, { format: imageFormat(flags.format), readOnly: true, snapshot: flags.snapshot, locking: !flags.forceShare }));
    }
    const total = inputs.reduce((n, i) => n + i.length, 0);
    create(output, String(total), { format: outFormat, options: flags.options, quiet: true });
    const out = openImage(output, { format: outFormat, readOnly: false, cache: cacheMode(flags.cache) });
    try {
      copyAll(inputs, out, flags);
    } finally {
      out.close(); // flushes (unless -t unsafe): the image is durable when convert returns
    }
  } finally {
    for (const input of inputs) input.close();
  }
}

function cacheMode(name: string | undefined): CacheMode {
  const modes: CacheMode[] = ['writeback', 'writethrough', 'none', 'unsafe', 'directsync'];
  if (name === undefined) return 'writeback';
  if (!modes.includes(name as CacheMode)) throw new ImgError(`Invalid cache option: ${name}`);
  return name as CacheMode;
}

function copyAll(inputs: BlockBackend[], out: BlockBackend, flags: ConvertFlags): void {
  const q = out instanceof Qcow2Image ? out : undefined;
  const granule = q ? q.clusterSize : RAW_GRANULE;
  const zeros = new Uint8Array(granule);
  const buf = new Uint8Array(Math.max(CHUNK, granule));
  const total = inputs.reduce((n, i) => n + i.length, 0);
  const progress = new Progress(flags.progress === true);
  let base = 0;
  for (const input of inputs) {
    for (let pos = 0; pos < input.length; pos += buf.length) {
      const chunk = buf.subarray(0, Math.min(buf.length, input.length - pos));
      input.read(pos, chunk);
      if (flags.compress && q) compressChunk(q, chunk, base + pos, zeros);
      else writeNonZeroRuns(out, chunk, base + pos, zeros);
      progress.update(base + pos + chunk.length, total);
    }
    base += input.length;
  }
  progress.finish();
}

/** Writes each run of granules that are not all zeros with one call: the output is fresh, so zeros are already there. */
function writeNonZeroRuns(out: BlockBackend, chunk: Uint8Array, offset: number, zeros: Uint8Array): void {
  const granule = zeros.length;
  let runStart = -1;
  for (let at = 0; at < chunk.length; at += granule) {
    const piece = chunk.subarray(at, Math.min(chunk.length, at + granule));
    const zero = Buffer.compare(piece, zeros.subarray(0, piece.length)) === 0;
    if (!zero && runStart < 0) runStart = at;
    if (zero && runStart >= 0) {
      out.write(offset + runStart, chunk.subarray(runStart, at));
      runStart = -1;
    }
  }
  if (runStart >= 0) out.write(offset + runStart, chunk.subarray(runStart));
}

/** Deflates each output cluster that is not all zeros; a piece off a cluster boundary (after an input of odd size) is written plainly. */
function compressChunk(q: Qcow2Image, chunk: Uint8Array, offset: number, zeros: Uint8Array): void {
  const granule = zeros.length;
  for (let at = 0; at < chunk.length; at += granule) {
    const piece = chunk.subarray(at, Math.min(chunk.length, at + granule));
    if (Buffer.compare(piece, zeros.subarray(0, piece.length)) === 0) continue;
    const position = offset + at;
    if (position % granule === 0) q.writeCompressed(position / granule, piece.length === granule ? piece : padded(piece, granule));
    else q.write(position, piece);
  }
}

function padded(piece: Uint8Array, size: number): Uint8Array {
  const whole = new Uint8Array(size);
  whole.set(piece);
  return whole;
}
