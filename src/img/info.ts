/** `tsvm-img info [-f fmt] [--output=human|json] filename`, with qemu-img's field names and order. */
import * as fs from 'node:fs';
import { COMPAT_LAZY_REFCOUNTS, INCOMPAT_CORRUPT, INCOMPAT_DIRTY } from '../block/qcow2-format.js';
import { openImage, resolveBackingPath } from '../block/qcow2-chain.js';
import { Qcow2Image } from '../block/qcow2.js';
import { ImgError } from './errors.js';
import { imageFormat } from './format.js';
import { humanSize } from './size.js';
import { snapshotJson, snapshotTable } from './snapshot-list.js';

export interface InfoFlags {
  format?: string;
  output?: string;
  /** --backing-chain: every image of the chain, top first. */
  backingChain?: boolean;
  /** -U: read an image another process is writing (no lock). */
  forceShare?: boolean;
}

export function info(file: string, flags: InfoFlags): void {
  const reports: Array<{ fields: Fields; human: string }> = [];
  const seen = new Set<string>();
  let next: { file: string; format?: string } | undefined = { file, format: flags.format };
  while (next !== undefined) {
    const real = fs.existsSync(next.file) ? fs.realpathSync(next.file) : next.file;
    if (seen.has(real)) throw new ImgError(`Backing file chain loop: '${next.file}' appears twice`);
    seen.add(real);
    const image = openImage(next.file, { format: imageFormat(next.format), readOnly: true, noBacking: true, locking: !flags.forceShare });
    try {
      const q = image instanceof Qcow2Image ? image : undefined;
      const fields = describe(next.file, q, image.length);
      reports.push({ fields, human: human(fields, image) });
      const backing = q?.header.backingFile;
      next = flags.backingChain && backing !== undefined ? { file: resolveBackingPath(next.file, backing), format: q!.header.backingFormat } : undefined;
    } finally {
      image.close();
    }
  }
  if (flags.output === 'json') {
    const value = flags.backingChain ? reports.map((r) => r.fields) : reports[0]!.fields;
    process.stdout.write(JSON.stringify(value, null, 4) + '\n');
  } else {
    process.stdout.write(reports.map((r) => r.human).join('\n'));
  }
}

type Fields = Record<string, unknown>;

function describe(file: string, q: Qcow2Image | undefined, length: number): Fields {
  const actual = fs.statSync(file).blocks * 512;
  if (q === undefined) return { 'virtual-size': length, filename: file, format: 'raw', 'actual-size': actual, 'dirty-flag': false };
  const h = q.header;
  const out: Fields = {};
  if (q.snapshots.length > 0) out.snapshots = q.snapshots.map(snapshotJson);
  if (h.backingFormat !== undefined) out['backing-filename-format'] = h.backingFormat;
  Object.assign(out, {
    'virtual-size': length,
    filename: file,
    'cluster-size': q.clusterSize,
    format: 'qcow2',
    'actual-size': actual,
    'format-specific': { type: 'qcow2', data: formatSpecific(q) },
  });
  if (h.backingFile !== undefined) {
    out['full-backing-filename'] = resolveBackingPath(file, h.backingFile);
    out['backing-filename'] = h.backingFile;
  }
  out['dirty-flag'] = (h.incompatibleFeatures & INCOMPAT_DIRTY) !== 0n;
  return out;
}

function formatSpecific(q: Qcow2Image): Fields {
  const h = q.header;
  if (h.version === 2) return { compat: '0.10', 'compression-type': 'zlib', 'refcount-bits': q.refcounts.bits };
  return {
    compat: '1.1',
    'compression-type': 'zlib',
    'lazy-refcounts': (h.compatibleFeatures & COMPAT_LAZY_REFCOUNTS) !== 0n,
    'refcount-bits': q.refcounts.bits,
    corrupt: (h.incompatibleFeatures & INCOMPAT_CORRUPT) !== 0n,
    'extended-l2': false,
  };
}

function human(f: Fields, image: unknown): string {
  let out = `image: ${f.filename}\nfile format: ${f.format}\n`;
  out += `virtual size: ${humanSize(f['virtual-size'] as number)} (${f['virtual-size']} bytes)\n`;
  out += `disk size: ${humanSize(f['actual-size'] as number)}\n`;
  if (!(image instanceof Qcow2Image)) return out;
  out += `cluster_size: ${f['cluster-size']}\n`;
  if (f['backing-filename'] !== undefined) {
    const full = f['full-backing-filename'];
    out += `backing file: ${f['backing-filename']}${full !== f['backing-filename'] ? ` (actual path: ${full})` : ''}\n`;
    if (f['backing-filename-format'] !== undefined) out += `backing file format: ${f['backing-filename-format']}\n`;
  }
  if (image.snapshots.length > 0) out += snapshotTable(image.snapshots);
  out += 'Format specific information:\n';
  const data = (f['format-specific'] as { data: Fields }).data;
  for (const [key, value] of Object.entries(data)) out += `    ${key.replace(/-/g, ' ')}: ${value}\n`;
  return out;
}
