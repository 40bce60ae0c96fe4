/**
 * `tsvm-img convert [-f fmt] [-O output_fmt] [-c] [-p] [-o options] [-l snapshot] filename [filename2 [...]] output_filename`
 *
 * Inputs (their guest view, backing files included) are concatenated into a
 * new image. Clusters that read as zeros are not written, so the output stays
 * sparse; with -c, qcow2 output clusters are deflated.
 */
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
      inputs.push(openImage(file, { format: imageFormat(flags.format), readOnly: true, snapshot: flags.snapshot }));
    }
    const total = inputs.reduce((n, i) => n + i.length, 0);
    create(output, String(total), { format: outFormat, options: flags.options, quiet: true });
    const out = openImage(output, { format: outFormat, readOnly: false });
    try {
      copyAll(inputs, out, flags);
    } finally {
      out.close(); // flushes: the image is durable when convert returns
    }
  } finally {
    for (const input of inputs) input.close();
  }
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
      for (let at = 0; at < chunk.length; at += granule) {
        const piece = chunk.subarray(at, Math.min(chunk.length, at + granule));
        if (Buffer.compare(piece, zeros.subarray(0, piece.length)) === 0) continue;
        const offset = base + pos + at;
        if (flags.compress && q && offset % granule === 0) {
          const whole = piece.length === granule ? piece : padded(piece, granule);
          q.writeCompressed(offset / granule, whole);
        } else {
          out.write(offset, piece);
        }
      }
      progress.update(base + pos + chunk.length, total);
    }
    base += input.length;
  }
  progress.finish();
}

function padded(piece: Uint8Array, size: number): Uint8Array {
  const whole = new Uint8Array(size);
  whole.set(piece);
  return whole;
}
