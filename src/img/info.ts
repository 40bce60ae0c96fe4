/** `tsvm-img info [-f fmt] [--output=human|json] filename`, with qemu-img's field names and order. */
import * as fs from 'node:fs';
import { COMPAT_LAZY_REFCOUNTS, INCOMPAT_CORRUPT, INCOMPAT_DIRTY } from '../block/qcow2-format.js';
import { openImage, resolveBackingPath } from '../block/qcow2-chain.js';
import { Qcow2Image } from '../block/qcow2.js';
import { imageFormat } from './format.js';
import { humanSize } from './size.js';
import { snapshotJson, snapshotTable } from './snapshot-list.js';

export function info(file: string, flags: { format?: string; output?: string }): void {
  const image = openImage(file, { format: imageFormat(flags.format), readOnly: true, noBacking: true });
  try {
    const fields = describe(file, image instanceof Qcow2Image ? image : undefined, image.length);
    process.stdout.write(flags.output === 'json' ? JSON.stringify(fields, null, 4) + '\n' : human(fields, image));
  } finally {
    image.close();
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
