/**
 * Consistency check of a qcow2 image, as `qemu-img check` does it: count the
 * references to every host cluster from all metadata (header, L1 tables of
 * the active state and of each snapshot, L2 tables, data, refcount
 * structures, snapshot table), then compare with the stored refcounts.
 * A refcount above the references is a leak (wasted space); below, or a
 * reference past the end of the file, is a corruption (data at risk).
 * With repair, refcounts are set to the reference counts and the COPIED
 * flags of the active tables are made to agree with them.
 */
import { HDR, HI_COMPRESSED, HI_COPIED, INCOMPAT_DIRTY, entryOffset, isClusterAligned } from './qcow2-format.js';
import type { Qcow2Image } from './qcow2.js';
import { tableClusters, walkTree } from './qcow2-walk.js';

export type RepairMode = 'leaks' | 'all';

export interface CheckResult {
  /** Lines as qemu-img prints them before the summary. */
  messages: string[];
  corruptions: number;
  leaks: number;
  corruptionsFixed: number;
  leaksFixed: number;
  totalClusters: number;
  allocatedClusters: number;
  fragmentedClusters: number;
  compressedClusters: number;
  imageEndOffset: number;
}

export function checkQcow2(image: Qcow2Image, repair?: RepairMode): CheckResult {
  const result = scan(image);
  if (repair === undefined || (result.leaks === 0 && result.corruptions === 0 && !isDirty(image))) return result;
  const fixed = repairRefcounts(image, result, repair);
  if (repair === 'all') clearDirty(image);
  const after = scan(image);
  after.leaksFixed = fixed.leaks;
  after.corruptionsFixed = fixed.corruptions;
  return after;
}

interface Scan extends CheckResult {
  references: Map<number, number>;
  /** Active-table entries whose COPIED flag disagrees with the refcount: [table offset, index, is L1]. */
  badCopied: Array<{ table: number; index: number; l1: boolean }>;
}

function scan(image: Qcow2Image): Scan {
  const cs = image.clusterSize;
  const refs = new Map<number, number>();
  const res: Scan = {
    messages: [],
    corruptions: 0,
    leaks: 0,
    corruptionsFixed: 0,
    leaksFixed: 0,
    totalClusters: Math.ceil(image.header.size / cs),
    allocatedClusters: 0,
    fragmentedClusters: 0,
    compressedClusters: 0,
    imageEndOffset: 0,
    references: refs,
    badCopied: [],
  };
  const fileClusters = Math.ceil(image.file.length / cs);
  const reference = (cluster: number, what: string): boolean => {
    if (cluster >= fileClusters) {
      res.messages.push(
        `ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x${(cluster * cs).toString(16)} size 0x${cs.toString(16)} (${what})`,
      );
      res.corruptions++;
      return false;
    }
    refs.set(cluster, (refs.get(cluster) ?? 0) + 1);
    return true;
  };
  const h = image.header;
  reference(0, 'header');
  for (const c of tableClusters(image, h.refcountTableOffset, h.refcountTableClusters * cs)) reference(c, 'refcount table');
  for (let b = 0; b < image.refcounts.tableEntries; b++) {
    const off = image.refcounts.blockOffset(b);
    if (off !== 0) reference(off / cs, 'refcount block');
  }
  for (const c of tableClusters(image, h.snapshotsOffset, image.snapshotTableBytes)) reference(c, 'snapshot table');

  const activeL1 = image.loadL1Raw(h.l1TableOffset, h.l1Size);
  walkOne(image, activeL1, h.l1TableOffset, true, res, reference);
  for (const snap of image.snapshots) {
    walkOne(image, image.loadL1Raw(snap.l1TableOffset, snap.l1Size), snap.l1TableOffset, false, res, reference);
  }
  compareRefcounts(image, res, fileClusters);
  if (res.corruptions === 0) checkCopiedFlags(image, activeL1, res);
  return res;
}

function walkOne(
  image: Qcow2Image,
  l1: Uint8Array,
  l1Offset: number,
  active: boolean,
  res: Scan,
  reference: (cluster: number, what: string) => boolean,
): void {
  const cs = image.clusterSize;
  for (const c of tableClusters(image, l1Offset, l1.length)) reference(c, 'L1 table');
  let nextContiguous = 0;
  walkTree(image, l1, {
    l2: (l1Index, offset) => {
      if (!isClusterAligned(offset, image.clusterBits)) {
        res.messages.push(`ERROR l2_offset=${offset.toString(16)}: Table is not cluster aligned; L1 entry corrupted`);
        res.corruptions++;
        return undefined;
      }
      if (!reference(offset / cs, `L2 table (L1 index ${l1Index})`)) return undefined;
      const table = new Uint8Array(cs);
      image.file.read(offset, table);
      return table;
    },
    entry: (_l2, _index, m, hosts) => {
      if (m.kind === 'data' && !isClusterAligned(m.host, image.clusterBits)) {
        res.messages.push(`ERROR offset=${m.host.toString(16)}: Cluster is not properly aligned; L2 entry corrupted.`);
        res.corruptions++;
        return;
      }
      for (const c of hosts) reference(c, m.kind === 'compressed' ? 'compressed data' : 'data cluster');
      if (!active || m.kind === 'zero' || m.kind === 'unallocated') return;
      res.allocatedClusters++;
      if (m.kind === 'compressed') {
        res.compressedClusters++;
        return;
      }
      if (nextContiguous !== 0 && m.host !== nextContiguous) res.fragmentedClusters++;
      nextContiguous = m.host + cs;
    },
  });
}

function compareRefcounts(image: Qcow2Image, res: Scan, fileClusters: number): void {
  const end = Math.max(fileClusters, image.refcounts.endOfUse() / image.clusterSize);
  let highest = -1;
  for (let c = 0; c < end; c++) {
    const refcount = image.refcounts.get(c);
    const references = res.references.get(c) ?? 0;
    if (refcount !== 0 || references !== 0) highest = c;
    if (refcount === references) continue;
    if (refcount > references) {
      res.messages.push(`Leaked cluster ${c} refcount=${refcount} reference=${references}`);
      res.leaks++;
    } else {
      res.messages.push(`ERROR cluster ${c} refcount=${refcount} reference=${references}`);
      res.corruptions++;
    }
  }
  res.imageEndOffset = (highest + 1) * image.clusterSize;
}

/** COPIED must be set exactly when the refcount is 1 (spec "L1/L2 table entry" bit 63). */
function checkCopiedFlags(image: Qcow2Image, l1: Uint8Array, res: Scan): void {
  walkTree(image, l1, {
    l2: (l1Index, offset, copied) => {
      if ((image.refcounts.get(offset / image.clusterSize) === 1) !== copied) {
        res.messages.push(`ERROR OFLAG_COPIED L2 cluster: l1_index=${l1Index} l1_entry=${offset.toString(16)} refcount=${image.refcounts.get(offset / image.clusterSize)}`);
        res.corruptions++;
        res.badCopied.push({ table: image.header.l1TableOffset, index: l1Index, l1: true });
      }
      const table = new Uint8Array(image.clusterSize);
      image.file.read(offset, table);
      return table;
    },
    entry: (l2Offset, index, m) => {
      if (m.kind === 'compressed' || m.host === 0) return;
      const refcount = image.refcounts.get(m.host / image.clusterSize);
      if ((refcount === 1) !== m.copied) {
        res.messages.push(`ERROR OFLAG_COPIED data cluster: l2_entry=${m.hi.toString(16)}${m.lo.toString(16).padStart(8, '0')} refcount=${refcount}`);
        res.corruptions++;
        res.badCopied.push({ table: l2Offset, index, l1: false });
      }
    },
  });
}

function repairRefcounts(image: Qcow2Image, res: Scan, mode: RepairMode): { leaks: number; corruptions: number } {
  let leaks = 0;
  let corruptions = 0;
  const end = Math.max(Math.ceil(image.file.length / image.clusterSize), image.refcounts.endOfUse() / image.clusterSize);
  for (let c = 0; c < end; c++) {
    const refcount = image.refcounts.get(c);
    const references = res.references.get(c) ?? 0;
    if (refcount > references) {
      image.refcounts.set(c, references);
      leaks++;
    } else if (refcount < references && mode === 'all') {
      image.refcounts.set(c, references);
      corruptions++;
    }
  }
  if (mode === 'all') corruptions += fixCopiedFlags(image, res.badCopied);
  image.dropCaches();
  return { leaks, corruptions };
}

function fixCopiedFlags(image: Qcow2Image, bad: Scan['badCopied']): number {
  for (const { table, index, l1 } of bad) {
    const entry = new Uint8Array(8);
    image.file.read(table + index * 8, entry);
    const view = new DataView(entry.buffer);
    const hi = view.getUint32(0);
    if (hi & HI_COMPRESSED) continue;
    const host = entryOffset(hi, view.getUint32(4));
    const single = image.refcounts.get(host / image.clusterSize) === 1;
    view.setUint32(0, single ? (hi | HI_COPIED) >>> 0 : hi & ~HI_COPIED);
    image.file.write(table + index * 8, entry);
    if (l1) image.l1.set(entry, index * 8);
  }
  return bad.length;
}

function isDirty(image: Qcow2Image): boolean {
  return (image.header.incompatibleFeatures & INCOMPAT_DIRTY) !== 0n;
}

function clearDirty(image: Qcow2Image): void {
  if (!isDirty(image)) return;
  image.file.sync();
  image.header.incompatibleFeatures &= ~INCOMPAT_DIRTY;
  const field = new DataView(new ArrayBuffer(8));
  field.setBigUint64(0, image.header.incompatibleFeatures);
  image.file.write(HDR.incompatibleFeatures, new Uint8Array(field.buffer));
}
