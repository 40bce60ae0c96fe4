/**
 * `tsvm-img check [-f fmt] [--output=human|json] [-r leaks|all] filename`.
 * Exit status as qemu-img documents it: 0 consistent, 1 not checked because
 * of an error, 2 corruptions, 3 leaks only, 63 format without checks.
 */
import { checkQcow2, type CheckResult, type RepairMode } from '../block/qcow2-check.js';
import { openImage } from '../block/qcow2-chain.js';
import { Qcow2Image } from '../block/qcow2.js';
import { ImgError } from './errors.js';
import { imageFormat } from './format.js';

export function check(file: string, flags: { format?: string; output?: string; repair?: string; forceShare?: boolean }): number {
  const repair = repairMode(flags.repair);
  if (repair !== undefined && flags.forceShare) throw new ImgError('--force-share/-U is not allowed with -r');
  const image = openImage(file, {
    format: imageFormat(flags.format),
    readOnly: repair === undefined,
    noBacking: true,
    inspect: repair === undefined,
    locking: !flags.forceShare,
    ...(repair ? { repair: true } : {}),
  });
  try {
    if (!(image instanceof Qcow2Image)) throw new ImgError('This image format does not support checks', 63);
    let result: CheckResult;
    let before: CheckResult | undefined;
    try {
      if (repair !== undefined) before = checkQcow2(image);
      result = checkQcow2(image, repair);
    } catch (err) {
      process.stderr.write(`tsvm-img: Check failed: ${(err as Error).message}\n`);
      if (flags.output === 'json') process.stdout.write(JSON.stringify({ filename: file, format: 'qcow2', 'check-errors': 1 }, null, 4) + '\n');
      else process.stdout.write('\n1 internal errors have occurred during the check.\n');
      return 1;
    }
    for (const line of (before ?? result).messages) process.stderr.write(line + '\n');
    if (flags.output === 'json') process.stdout.write(JSON.stringify(json(file, result), null, 4) + '\n');
    else process.stdout.write(human(result));
    if (result.corruptions > 0) return 2;
    return result.leaks > 0 ? 3 : 0;
  } finally {
    image.close();
  }
}

function repairMode(text: string | undefined): RepairMode | undefined {
  if (text === undefined) return undefined;
  if (text === 'leaks' || text === 'all') return text;
  throw new ImgError(`Unknown option value for -r (expecting 'leaks' or 'all'): ${text}`);
}

function human(r: CheckResult): string {
  let out = '';
  if (r.leaksFixed > 0 || r.corruptionsFixed > 0) {
    out += `The following inconsistencies were found and repaired:\n\n    ${r.leaksFixed} leaked clusters\n    ${r.corruptionsFixed} corruptions\n\nDouble checking the fixed image now...\n`;
  }
  if (r.corruptions === 0 && r.leaks === 0) out += 'No errors were found on the image.\n';
  if (r.corruptions > 0) {
    out += `\n${r.corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n`;
  }
  if (r.leaks > 0) out += `\n${r.leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n`;
  if (r.totalClusters > 0 && r.allocatedClusters > 0) {
    const pct = (n: number, of: number) => ((n * 100) / of).toFixed(2);
    out += `${r.allocatedClusters}/${r.totalClusters} = ${pct(r.allocatedClusters, r.totalClusters)}% allocated, ${pct(r.fragmentedClusters, r.allocatedClusters)}% fragmented, ${pct(r.compressedClusters, r.allocatedClusters)}% compressed clusters\n`;
  }
  if (r.imageEndOffset > 0) out += `Image end offset: ${r.imageEndOffset}\n`;
  return out;
}

function json(file: string, r: CheckResult): Record<string, unknown> {
  return {
    'image-end-offset': r.imageEndOffset,
    'total-clusters': r.totalClusters,
    'check-errors': 0,
    ...(r.leaks > 0 ? { leaks: r.leaks } : {}),
    ...(r.corruptions > 0 ? { corruptions: r.corruptions } : {}),
    ...(r.leaksFixed > 0 ? { 'leaks-fixed': r.leaksFixed } : {}),
    ...(r.corruptionsFixed > 0 ? { 'corruptions-fixed': r.corruptionsFixed } : {}),
    'allocated-clusters': r.allocatedClusters,
    filename: file,
    format: 'qcow2',
    'fragmented-clusters': r.fragmentedClusters,
    'compressed-clusters': r.compressedClusters,
  };
}
