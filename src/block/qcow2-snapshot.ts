/**
 * Internal snapshots (spec "Snapshots"): a snapshot is a copy of the active
 * L1 table plus one more reference on every cluster of its tree, so the
 * first write to a shared cluster afterwards copies it (the COPIED flag is
 * clear). Refcount changes are all checked before any is written, so an
 * overflow (e.g. refcount_bits=1) is refused with the file unchanged.
 */
import { HDR, HI_COPIED, ImageFormatError, LO_ZERO, entryWords, putU64 } from './qcow2-format.js';
import { RefcountOverflowError } from './qcow2-refcount.js';
import { encodeSnapshotTable, findSnapshot, type SnapshotEntry } from './qcow2-snapshot-table.js';
import type { Qcow2Image } from './qcow2.js';
import { tableClusters, walkTree } from './qcow2-walk.js';

export function createSnapshot(image: Qcow2Image, name: string, now = Date.now()): SnapshotEntry {
  if (image.snapshots.some((s) => s.name === name)) {
    throw new ImageFormatError(`Could not create snapshot '${name}': -17 (File exists)`);
  }
  image.flush(); // the snapshot is of the tables as they are in memory: put them on disk first
  const deltas = treeCounts(image, image.l1);
  checkDeltas(image, deltas, +1);
  const l1Offset = writeTable(image, withoutCopiedFlags(image.l1));
  applyDeltas(image, deltas, +1);
  syncCopiedFlags(image);
  const entry: SnapshotEntry = {
    l1TableOffset: l1Offset,
    l1Size: image.l1.length / 8,
    id: String(nextId(image.snapshots)),
    name,
    dateSec: Math.floor(now / 1000),
    dateNsec: (now % 1000) * 1_000_000,
    vmClockNsec: 0,
    vmStateSize: 0,
    diskSize: image.length,
    icount: 0,
    extraTail: new Uint8Array(0),
  };
  replaceSnapshotTable(image, [...image.snapshots, entry]);
  image.remapMetadata();
  return entry;
}

/** Reverts the active state to a snapshot (qemu-img snapshot -a). */
export function applySnapshot(image: Qcow2Image, idOrName: string): void {
  const snap = requireSnapshot(image, idOrName);
  image.flush();
  const snapL1 = image.loadL1(snap.l1TableOffset, snap.l1Size, `Snapshot ${snap.id} L1 table`);
  const gained = treeCounts(image, snapL1);
  checkDeltas(image, gained, +1);
  const lost = treeCounts(image, image.l1);
  applyDeltas(image, gained, +1);
  image.replaceL1(snapL1.slice(), snap.diskSize ?? image.length);
  applyDeltas(image, lost, -1);
  image.dropCaches();
  syncCopiedFlags(image);
  image.remapMetadata();
}

export function deleteSnapshot(image: Qcow2Image, idOrName: string): void {
  const snap = requireSnapshot(image, idOrName);
  image.flush();
  const snapL1 = image.loadL1(snap.l1TableOffset, snap.l1Size, `Snapshot ${snap.id} L1 table`);
  const lost = treeCounts(image, snapL1);
  replaceSnapshotTable(image, image.snapshots.filter((s) => s !== snap));
  applyDeltas(image, lost, -1);
  for (const c of tableClusters(image, snap.l1TableOffset, snap.l1Size * 8)) image.refcounts.decrement(c);
  image.dropCaches();
  syncCopiedFlags(image);
  image.remapMetadata();
}

function requireSnapshot(image: Qcow2Image, idOrName: string): SnapshotEntry {
  const snap = findSnapshot(image.snapshots, idOrName);
  if (snap === undefined) throw new ImageFormatError(`Can't find snapshot '${idOrName}'`);
  return snap;
}

function nextId(snapshots: SnapshotEntry[]): number {
  return snapshots.reduce((max, s) => Math.max(max, Number.parseInt(s.id, 10) || 0), 0) + 1;
}

/** How many references a tree holds on each host cluster (its L2 tables and their data). */
function treeCounts(image: Qcow2Image, l1: Uint8Array): Map<number, number> {
  const counts = new Map<number, number>();
  const add = (c: number) => counts.set(c, (counts.get(c) ?? 0) + 1);
  walkTree(image, l1, {
    l2: (_i, offset) => {
      add(offset / image.clusterSize);
      return image.loadL2(offset);
    },
    entry: (_l2, _i, _m, hosts) => hosts.forEach(add),
  });
  return counts;
}

function checkDeltas(image: Qcow2Image, counts: Map<number, number>, sign: 1 | -1): void {
  for (const [cluster, n] of counts) {
    const after = image.refcounts.get(cluster) + sign * n;
    if (after > image.refcounts.max) {
      throw new RefcountOverflowError(
        `refcount overflow: cluster ${cluster} would need refcount ${after}, but refcount_bits=${image.refcounts.bits} allows at most ${image.refcounts.max}`,
      );
    }
  }
}

function applyDeltas(image: Qcow2Image, counts: Map<number, number>, sign: 1 | -1): void {
  for (const [cluster, n] of counts) image.refcounts.set(cluster, image.refcounts.get(cluster) + sign * n);
}

/** Makes COPIED in the active L1 and L2 entries say "refcount is 1" again. */
function syncCopiedFlags(image: Qcow2Image): void {
  const l1 = image.l1;
  walkTree(image, l1, {
    l2: (l1Index, offset, copied) => {
      const single = image.refcounts.get(offset / image.clusterSize) === 1;
      if (single !== copied) image.setL1Entry(l1Index, offset, single);
      return image.loadL2(offset);
    },
    entry: (l2Offset, index, m) => {
      if (m.kind === 'compressed' || m.host === 0) return;
      const single = image.refcounts.get(m.host / image.clusterSize) === 1;
      if (single !== m.copied) image.setL2Entry(l2Offset, index, entryWords(m.host, single ? HI_COPIED : 0, m.lo & LO_ZERO));
    },
  });
}

/** A snapshot's L1 shares every L2 table, so none of its entries is COPIED. */
function withoutCopiedFlags(l1: Uint8Array): Uint8Array {
  const copy = l1.slice();
  for (let i = 0; i < copy.length; i += 8) copy[i]! &= 0x7f;
  return copy;
}

/** Writes a copy of a table into fresh clusters and returns its offset. */
function writeTable(image: Qcow2Image, table: Uint8Array): number {
  const clusters = Math.max(1, Math.ceil(table.length / image.clusterSize));
  const start = image.refcounts.findFree(clusters);
  const bytes = new Uint8Array(clusters * image.clusterSize);
  bytes.set(table);
  image.file.write(start * image.clusterSize, bytes);
  for (let c = start; c < start + clusters; c++) image.refcounts.set(c, 1);
  return start * image.clusterSize;
}

/** Writes the new table, switches the header to it in one write, then frees the old one. */
function replaceSnapshotTable(image: Qcow2Image, entries: SnapshotEntry[]): void {
  const bytes = encodeSnapshotTable(entries);
  const offset = entries.length === 0 ? 0 : writeTable(image, bytes);
  image.barrier(); // the new table is durable before the header points at it
  const fields = new DataView(new ArrayBuffer(12));
  fields.setUint32(0, entries.length);
  putU64(fields, 4, offset);
  image.file.write(HDR.nbSnapshots, new Uint8Array(fields.buffer));
  const old = tableClusters(image, image.header.snapshotsOffset, image.snapshotTableBytes);
  image.header.nbSnapshots = entries.length;
  image.header.snapshotsOffset = offset;
  image.snapshots = entries;
  image.snapshotTableBytes = bytes.length;
  image.barrier(); // the header no longer points at the old table before it may be reused
  for (const c of old) image.refcounts.decrement(c);
}
