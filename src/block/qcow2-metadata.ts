/**
 * Which host clusters hold metadata, so that a hostile image cannot make a
 * guest write land on them: an L2 entry marked COPIED that points at the
 * header, an L1 table placed over the refcount table, and the like. QEMU
 * guards the same way (qcow2_check_metadata_overlap). Built when an image is
 * opened for writing; reading such an image is harmless and stays lenient.
 */
import { ImageFormatError, entryOffset } from './qcow2-format.js';
import type { Qcow2Image } from './qcow2.js';

export type MetadataKind = 'header' | 'L1 table' | 'L2 table' | 'snapshot table' | 'snapshot L1 table' | 'refcount structure';

export class MetadataMap {
  private readonly kinds = new Map<number, MetadataKind>();

  constructor(private readonly image: Qcow2Image) {
    const h = image.header;
    this.addRange(0, h.headerLength, 'header');
    this.addRange(h.l1TableOffset, h.l1Size * 8, 'L1 table');
    this.addRange(h.snapshotsOffset, image.snapshotTableBytes, 'snapshot table');
    this.addL2Tables(image.l1);
    for (const snap of image.snapshots) {
      this.addRange(snap.l1TableOffset, snap.l1Size * 8, 'snapshot L1 table');
      this.addL2Tables(image.loadL1(snap.l1TableOffset, snap.l1Size, `Snapshot ${snap.id} L1 table`));
    }
  }

  kindOf(cluster: number): MetadataKind | undefined {
    return this.image.refcounts.isOwnMetadata(cluster) ? 'refcount structure' : this.kinds.get(cluster);
  }

  /** Records a metadata cluster; a cluster claimed by two different structures is corruption. */
  add(cluster: number, kind: MetadataKind): void {
    const existing = this.kindOf(cluster);
    if (existing !== undefined && existing !== kind) {
      throw new ImageFormatError(`The ${kind} at 0x${(cluster * this.image.clusterSize).toString(16)} overlaps the ${existing}; image is corrupt`);
    }
    this.kinds.set(cluster, kind);
  }

  addRange(offset: number, bytes: number, kind: MetadataKind): void {
    if (bytes === 0) return;
    const cs = this.image.clusterSize;
    for (let c = Math.floor(offset / cs); c <= Math.floor((offset + bytes - 1) / cs); c++) this.add(c, kind);
  }

  delete(cluster: number): void {
    this.kinds.delete(cluster);
  }

  private addL2Tables(l1: Uint8Array): void {
    const view = new DataView(l1.buffer, l1.byteOffset, l1.length);
    for (let i = 0; i < l1.length / 8; i++) {
      const offset = entryOffset(view.getUint32(i * 8), view.getUint32(i * 8 + 4));
      if (offset !== 0) this.add(offset / this.image.clusterSize, 'L2 table');
    }
  }
}
