/**
 * Walking the cluster tree of one L1 table (the active one or a snapshot's):
 * every L2 table it points to and every host cluster those reference. Used to
 * count references (check) and to adjust refcounts (snapshots).
 */
import { compressedExtent, entryOffset } from './qcow2-format.js';
import type { ClusterMapping, Qcow2Image } from './qcow2.js';

export interface TreeVisitor {
  /** An L2 table referenced by L1 entry `l1Index`; return its content, or undefined to skip it. */
  l2(l1Index: number, offset: number, copied: boolean): Uint8Array | undefined;
  /** A non-empty L2 entry; `hosts` are the host clusters it references. */
  entry(l2Offset: number, index: number, m: ClusterMapping, hosts: number[]): void;
}

export function walkTree(image: Qcow2Image, l1: Uint8Array, visit: TreeVisitor): void {
  const view = new DataView(l1.buffer, l1.byteOffset, l1.length);
  for (let i = 0; i < l1.length / 8; i++) {
    const hi = view.getUint32(i * 8);
    const l2Offset = entryOffset(hi, view.getUint32(i * 8 + 4));
    if (l2Offset === 0) continue;
    const table = visit.l2(i, l2Offset, (hi & 0x80000000) !== 0);
    if (table === undefined) continue;
    for (let j = 0; j < image.l2Entries; j++) {
      const m = image.mappingOf(table, j);
      const hosts = hostClusters(image, m);
      if (m.kind !== 'unallocated' || hosts.length > 0) visit.entry(l2Offset, j, m, hosts);
    }
  }
}

/** The host clusters an L2 entry references: one, none, or each cluster compressed data spans. */
export function hostClusters(image: Qcow2Image, m: ClusterMapping): number[] {
  if (m.kind === 'compressed') {
    const { offset, length } = compressedExtent(m.hi, m.lo, image.clusterBits);
    const first = Math.floor(offset / image.clusterSize);
    const last = Math.floor((Math.min(offset + length, Math.max(image.file.length, offset + 1)) - 1) / image.clusterSize);
    const out: number[] = [];
    for (let c = first; c <= last; c++) out.push(c);
    return out;
  }
  return m.host === 0 ? [] : [m.host / image.clusterSize];
}

/** Cluster indexes of a table of `bytes` bytes at `offset`. */
export function tableClusters(image: Qcow2Image, offset: number, bytes: number): number[] {
  const out: number[] = [];
  if (bytes === 0) return out;
  for (let c = Math.floor(offset / image.clusterSize); c <= Math.floor((offset + bytes - 1) / image.clusterSize); c++) out.push(c);
  return out;
}
