/**
 * The qcow2 image format (QEMU docs/interop/qcow2.txt), versions 2 and 3.
 *
 * Guest offset -> L1 entry -> L2 table -> host cluster. Unallocated clusters
 * read from the backing file (or as zeros), zero clusters as zeros,
 * compressed clusters are inflated. A write to a cluster that is not ours
 * alone (unallocated, zero, compressed, or shared with an internal snapshot:
 * the COPIED flag is clear) goes to a fresh cluster, carrying over the rest
 * of the old content (copy-on-write).
 *
 * Crash safety without a journal: new content and its refcount are written
 * at once; the L2 and L1 entries that point at them wait for the next flush,
 * which fsyncs between each level (qcow2-pending.ts). So the file is a valid
 * image at every moment, for a kill and for a power failure alike; what was
 * not flushed may be lost and leak its clusters (refcount 1, no reference),
 * which `qemu-img check` reports as harmless.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import type { CacheMode } from '../config.js';
import { BlockReadOnlyError, checkRange, type BlockBackend } from './block-backend.js';
import { openBackingFile } from './qcow2-chain.js';
import {
  HDR,
  HI_COMPRESSED,
  HI_COPIED,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  ImageFormatError,
  LO_ZERO,
  compressedEntry,
  compressedExtent,
  encodeHeaderCluster,
  entryWords,
  entryOffset,
  isClusterAligned,
  putEntry,
  readHeader,
  type EntryWords,
  type Qcow2Header,
} from './qcow2-format.js';
import { HostFile } from './qcow2-host-file.js';
import { Refcounts } from './qcow2-refcount.js';
import { findSnapshot, readSnapshotTable, type SnapshotEntry } from './qcow2-snapshot-table.js';
import { lockImage } from './lock.js';
import { checkQcow2 } from './qcow2-check.js';
import { MetadataMap } from './qcow2-metadata.js';
import { PendingMetadata } from './qcow2-pending.js';
import { hostClusters } from './qcow2-walk.js';

export interface Qcow2OpenOptions {
  readOnly: boolean;
  /** An already open descriptor for `path` (read-write unless readOnly); the image owns it once open succeeds. */
  fd?: number;
  cache?: CacheMode;
  /** Take QEMU-compatible advisory locks (file.locking=on). Default true. */
  locking?: boolean;
  /** Open an internal snapshot (by id or name), read-only. */
  snapshot?: string;
  /** Do not open the backing file (qemu-img info/rebase -u/check need only this file). */
  noBacking?: boolean;
  /** The caller repairs the image itself (check -r): do not repair a dirty image on open. */
  repair?: boolean;
  /** For check: take the L1 table as it is, so that check reports bad entries rather than refusing to open. */
  inspect?: boolean;
  /** Real paths of the images above this one in a backing chain, to detect loops. */
  chain?: readonly string[];
}

/** What one guest cluster maps to. */
export type ClusterKind = 'unallocated' | 'zero' | 'data' | 'compressed';
export interface ClusterMapping {
  kind: ClusterKind;
  /** Host offset of a data cluster (or of a preallocated zero cluster), else 0. */
  host: number;
  /** The image holds the only reference (refcount 1): it may be written in place. */
  copied: boolean;
  hi: number;
  lo: number;
}

const UNALLOCATED: ClusterMapping = { kind: 'unallocated', host: 0, copied: false, hi: 0, lo: 0 };
const L2_CACHE_TABLES = 256;

export function openQcow2(path: string, options: Qcow2OpenOptions): Qcow2Image {
  const readOnly = options.readOnly || options.snapshot !== undefined;
  const fd = options.fd ?? fs.openSync(path, readOnly ? 'r' : 'r+');
  try {
    if (options.locking !== false) lockImage(fd, path, readOnly ? 'read' : 'write');
    return new Qcow2Image(path, fd, { ...options, readOnly });
  } catch (err) {
    // A descriptor the caller passed in stays the caller's to close.
    if (options.fd === undefined) fs.closeSync(fd);
    throw err;
  }
}

export class Qcow2Image implements BlockBackend {
  readonly file: HostFile;
  readonly header: Qcow2Header;
  readonly readOnly: boolean;
  readonly clusterSize: number;
  readonly clusterBits: number;
  /** Entries per L2 table. */
  readonly l2Entries: number;
  readonly refcounts: Refcounts;
  snapshots: SnapshotEntry[];
  /** Bytes the snapshot table takes in the file. */
  snapshotTableBytes: number;
  backing: BlockBackend | undefined;
  /** The L1 table in use: the active one, or a snapshot's when opened with `snapshot`. */
  l1: Uint8Array;
  /** Metadata clusters, for refusing in-place writes onto them (read-write images only). */
  private metadata: MetadataMap | undefined;
  private length_: number;
  private readonly l2Cache = new Map<number, Uint8Array>();
  private readonly pending = new PendingMetadata();
  private inflated: { host: number; data: Uint8Array } | undefined;
  /** End of the last compressed data written, where the next may be packed. */
  private compressedEnd = 0;
  private closed = false;
  private readonly cache: CacheMode;

  constructor(
    readonly path: string,
    fd: number,
    options: Qcow2OpenOptions,
  ) {
    this.file = new HostFile(path, fd);
    this.readOnly = options.readOnly;
    this.cache = options.cache ?? 'writeback';
    this.header = readHeader(fd, this.file.length);
    const h = this.header;
    if (!this.readOnly && (h.incompatibleFeatures & INCOMPAT_CORRUPT) !== 0n) {
      throw new ImageFormatError('qcow2: Image is corrupt; cannot be opened read/write');
    }
    this.clusterBits = h.clusterBits;
    this.clusterSize = 2 ** h.clusterBits;
    this.l2Entries = this.clusterSize / 8;
    this.refcounts = new Refcounts(this.file, h.clusterBits, h.refcountOrder, h.refcountTableOffset, h.refcountTableClusters, this.readOnly);
    const table = readSnapshotTable(this.file, h.snapshotsOffset, h.nbSnapshots, h.clusterBits);
    this.snapshots = table.entries;
    this.snapshotTableBytes = table.bytes;
    this.length_ = h.size;
    this.l1 = options.inspect ? this.loadL1Raw(h.l1TableOffset, h.l1Size) : this.loadL1(h.l1TableOffset, h.l1Size, 'L1 table');
    if (options.snapshot !== undefined) this.selectSnapshot(options.snapshot);
    if (!this.readOnly) {
      this.remapMetadata();
      this.refcounts.onFree = (cluster) => this.metadata?.delete(cluster);
    }
    this.backing = h.backingFile !== undefined && !options.noBacking ? openBackingFile(this, options.chain ?? []) : undefined;
    // The first writes to the file, once nothing else can fail the open.
    if (!this.readOnly && !options.repair && (h.incompatibleFeatures & INCOMPAT_DIRTY) !== 0n) this.repairRefcounts();
    if (!this.readOnly) this.clearAutoclearFeatures();
  }

  get length(): number {
    return this.length_;
  }

  read(offset: number, buf: Uint8Array): void {
    checkRange(this.path, offset, buf.length, this.length);
    for (let done = 0; done < buf.length; ) {
      const pos = offset + done;
      const cluster = Math.floor(pos / this.clusterSize);
      const inCluster = pos - cluster * this.clusterSize;
      const m = this.lookup(cluster);
      // Guest clusters that follow each other in the file too are read with one call.
      let len = Math.min(buf.length - done, this.clusterSize - inCluster);
      if (m.kind === 'data') {
        for (let next = cluster + 1; done + len < buf.length; next++) {
          const n = this.lookup(next);
          if (n.kind !== 'data' || n.host !== m.host + (next - cluster) * this.clusterSize) break;
          len = Math.min(buf.length - done, len + this.clusterSize);
        }
        this.file.read(m.host + inCluster, buf.subarray(done, done + len));
      } else {
        this.readFromCluster(cluster, inCluster, buf.subarray(done, done + len));
      }
      done += len;
    }
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockReadOnlyError(this.path);
    checkRange(this.path, offset, data.length, this.length);
    for (let done = 0; done < data.length; ) {
      const pos = offset + done;
      const cluster = Math.floor(pos / this.clusterSize);
      const inCluster = pos - cluster * this.clusterSize;
      const run = inCluster === 0 ? this.allocationRun(cluster, Math.floor((data.length - done) / this.clusterSize)) : 0;
      if (run > 1) {
        this.writeNewClusters(cluster, run, data.subarray(done, done + run * this.clusterSize));
        done += run * this.clusterSize;
        continue;
      }
      const len = Math.min(data.length - done, this.clusterSize - inCluster);
      this.writeToCluster(cluster, inCluster, data.subarray(done, done + len));
      done += len;
    }
    if (this.cache === 'writethrough' || this.cache === 'directsync') this.flush();
    else if (this.pending.full) this.writeBackMetadata();
  }

  /** Pending metadata reaches the file in dependency order; then all of it is durable (except cache=unsafe). */
  flush(): void {
    if (this.closed || this.readOnly) return;
    this.writeBackMetadata();
  }

  private writeBackMetadata(): void {
    this.pending.writeBack(this.file, this.l1, this.header.l1TableOffset, this.cache !== 'unsafe', (c) => this.refcounts.decrement(c));
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.backing?.close();
    fs.closeSync(this.file.fd);
  }

  /** The mapping of guest cluster `cluster` through the L1 table in use. */
  lookup(cluster: number): ClusterMapping {
    const l1Index = Math.floor(cluster / this.l2Entries);
    const l2Offset = this.l2OffsetAt(l1Index);
    if (l2Offset === 0) return UNALLOCATED;
    return this.mappingOf(this.loadL2(l2Offset), cluster % this.l2Entries);
  }

  /** Decodes entry `index` of an L2 table (spec "Standard Cluster Descriptor"). */
  mappingOf(l2: Uint8Array, index: number): ClusterMapping {
    const view = new DataView(l2.buffer, l2.byteOffset + index * 8, 8);
    const hi = view.getUint32(0);
    const lo = view.getUint32(4);
    const copied = (hi & HI_COPIED) !== 0;
    if (hi & HI_COMPRESSED) return { kind: 'compressed', host: 0, copied: false, hi, lo };
    const host = entryOffset(hi, lo);
    if (lo & LO_ZERO) return { kind: 'zero', host, copied, hi, lo };
    if (host === 0) return UNALLOCATED;
    return { kind: 'data', host, copied, hi, lo };
  }

  /** L2 table offset from L1 entry `l1Index` of the table in use, 0 if none. */
  l2OffsetAt(l1Index: number): number {
    if (l1Index * 8 >= this.l1.length) return 0;
    const view = new DataView(this.l1.buffer, this.l1.byteOffset + l1Index * 8, 8);
    return entryOffset(view.getUint32(0), view.getUint32(4));
  }

  l1Copied(l1Index: number): boolean {
    return (new DataView(this.l1.buffer, this.l1.byteOffset).getUint32(l1Index * 8) & HI_COPIED) !== 0;
  }

  /** Reads an L1 table and checks that every L2 offset in it is aligned and inside the file. */
  loadL1(offset: number, entries: number, what: string): Uint8Array {
    const table = this.loadL1Raw(offset, entries, what);
    const view = new DataView(table.buffer);
    for (let i = 0; i < entries; i++) {
      const l2 = entryOffset(view.getUint32(i * 8), view.getUint32(i * 8 + 4));
      if (l2 === 0) continue;
      if (!isClusterAligned(l2, this.clusterBits) || l2 + this.clusterSize > this.file.length) {
        throw new ImageFormatError(
          `L2 table offset 0x${l2.toString(16)} (${what} index 0x${i.toString(16)}) is ${isClusterAligned(l2, this.clusterBits) ? 'past the end of the file' : 'unaligned'}; image is corrupt`,
        );
      }
    }
    return table;
  }

  /** Reads an L1 table as it is (check inspects the entries itself). */
  loadL1Raw(offset: number, entries: number, what = 'L1 table'): Uint8Array {
    const table = new Uint8Array(entries * 8);
    if (entries > 0) this.file.readInside(offset, table, what);
    return table;
  }

  /** An L2 table, from the cache or the file; every entry is checked when it is loaded. */
  loadL2(offset: number): Uint8Array {
    let table = this.pending.l2Table(offset) ?? this.l2Cache.get(offset);
    if (table !== undefined) return table;
    table = new Uint8Array(this.clusterSize);
    this.file.readInside(offset, table, 'L2 table');
    this.validateL2(offset, table);
    this.cacheL2(offset, table);
    return table;
  }

  private cacheL2(offset: number, table: Uint8Array): void {
    if (this.l2Cache.size >= L2_CACHE_TABLES) this.l2Cache.delete(this.l2Cache.keys().next().value!);
    this.l2Cache.set(offset, table);
  }

  private validateL2(offset: number, table: Uint8Array): void {
    for (let i = 0; i < this.l2Entries; i++) {
      const m = this.mappingOf(table, i);
      let host = m.host;
      if (m.kind === 'compressed') host = compressedExtent(m.hi, m.lo, this.clusterBits).offset;
      else if (host !== 0 && !isClusterAligned(host, this.clusterBits)) {
        throw new ImageFormatError(`Cluster offset 0x${host.toString(16)} unaligned (L2 table at 0x${offset.toString(16)}, index 0x${i.toString(16)}); image is corrupt`);
      }
      if (host !== 0 && host >= this.file.length) {
        throw new ImageFormatError(
          `Cluster offset 0x${host.toString(16)} (L2 table at 0x${offset.toString(16)}, index 0x${i.toString(16)}) points past the end of the file; image is corrupt`,
        );
      }
    }
  }

  /** The guest-visible content of one whole cluster. */
  readCluster(cluster: number): Uint8Array {
    const out = new Uint8Array(this.clusterSize);
    this.readFromCluster(cluster, 0, out);
    return out;
  }

  private readFromCluster(cluster: number, inCluster: number, out: Uint8Array): void {
    const m = this.lookup(cluster);
    switch (m.kind) {
      case 'data':
        this.file.read(m.host + inCluster, out);
        return;
      case 'compressed':
        out.set(this.inflate(m).subarray(inCluster, inCluster + out.length));
        return;
      case 'zero':
        out.fill(0);
        return;
      case 'unallocated':
        this.readBacking(cluster * this.clusterSize + inCluster, out);
    }
  }

  /** Reads through to the backing file; past its end (or without one) reads zeros. */
  private readBacking(offset: number, out: Uint8Array): void {
    const backingLength = this.backing ? Math.ceil(this.backing.length / 512) * 512 : 0;
    const inside = Math.max(0, Math.min(out.length, backingLength - offset));
    if (inside > 0) this.backing!.read(offset, out.subarray(0, inside));
    out.fill(0, inside);
  }

  /** Inflates a compressed cluster: raw deflate, no zlib header (spec "Compressed Clusters Descriptor"). */
  private inflate(m: ClusterMapping): Uint8Array {
    const { offset, length } = compressedExtent(m.hi, m.lo, this.clusterBits);
    if (this.inflated?.host === offset) return this.inflated.data;
    const packed = new Uint8Array(Math.min(length, this.file.length - offset));
    this.file.read(offset, packed);
    let data: Uint8Array;
    try {
      data = zlib.inflateRawSync(packed, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: this.clusterSize });
    } catch {
      throw new ImageFormatError(`Compressed cluster at 0x${offset.toString(16)} does not inflate; image is corrupt`);
    }
    if (data.length !== this.clusterSize) {
      throw new ImageFormatError(`Compressed cluster at 0x${offset.toString(16)} inflates to ${data.length} bytes; image is corrupt`);
    }
    this.inflated = { host: offset, data };
    return data;
  }

  private writeToCluster(cluster: number, inCluster: number, chunk: Uint8Array): void {
    const m = this.lookup(cluster);
    if (m.kind === 'data' && m.copied) {
      this.assertOwned(m.host, undefined);
      this.file.write(m.host + inCluster, chunk);
      return;
    }
    const l1Index = Math.floor(cluster / this.l2Entries);
    const l2Offset = this.writableL2(l1Index);
    const host = this.refcounts.findFree() * this.clusterSize;
    const fresh = host >= this.file.length;
    const oldIsZero = m.kind === 'zero' || (m.kind === 'unallocated' && !this.backingCovers(cluster));
    if (chunk.length === this.clusterSize) {
      this.file.write(host, chunk);
    } else if (fresh && oldIsZero) {
      // Past the end of the file, the rest of the cluster is a hole: zeros.
      this.file.write(host + inCluster, chunk);
      this.file.extendTo(host + this.clusterSize);
    } else {
      const content = oldIsZero ? new Uint8Array(this.clusterSize) : this.readCluster(cluster);
      content.set(chunk, inCluster);
      this.file.write(host, content);
    }
    this.refcounts.set(host / this.clusterSize, 1);
    this.setL2Entry(l2Offset, cluster % this.l2Entries, entryWords(host, HI_COPIED));
    this.releaseCluster(m);
  }

  /** How many of the next `max` whole guest clusters, within one L2 table, need fresh host clusters. */
  private allocationRun(cluster: number, max: number): number {
    const tableEnd = (Math.floor(cluster / this.l2Entries) + 1) * this.l2Entries;
    let n = 0;
    while (n < max && cluster + n < tableEnd) {
      const m = this.lookup(cluster + n);
      if (m.kind === 'data' && m.copied) break;
      n++;
    }
    return n;
  }

  /**
   * Whole clusters replaced outright go to one contiguous run of fresh host
   * clusters: one data write, one refcount write per refcount block, then the
   * L2 entries (large sequential writes and convert).
   */
  private writeNewClusters(first: number, count: number, data: Uint8Array): void {
    const l2Offset = this.writableL2(Math.floor(first / this.l2Entries));
    const old = Array.from({ length: count }, (_, i) => this.lookup(first + i));
    const start = this.refcounts.findFree(count);
    this.file.write(start * this.clusterSize, data);
    this.refcounts.claimRange(start, count);
    for (let i = 0; i < count; i++) {
      this.setL2Entry(l2Offset, (first + i) % this.l2Entries, entryWords((start + i) * this.clusterSize, HI_COPIED));
      this.releaseCluster(old[i]!);
    }
  }

  private backingCovers(cluster: number): boolean {
    return this.backing !== undefined && cluster * this.clusterSize < this.backing.length;
  }

  /**
   * Writes one whole guest cluster deflated (qemu-img convert -c). Compressed
   * data is packed into shared host clusters, each counting one reference per
   * compressed cluster in it. Falls back to a plain write when the data does
   * not shrink or the cluster is already allocated.
   */
  writeCompressed(cluster: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockReadOnlyError(this.path);
    const packed = zlib.deflateRawSync(data);
    if (data.length !== this.clusterSize || packed.length >= this.clusterSize - 512 || this.lookup(cluster).kind !== 'unallocated') {
      const start = cluster * this.clusterSize;
      // The last cluster may reach past the end of the disk: write only what is inside.
      this.write(start, data.subarray(0, Math.min(data.length, Math.ceil(this.length / 512) * 512 - start)));
      return;
    }
    const l2Offset = this.writableL2(Math.floor(cluster / this.l2Entries));
    const at = this.compressedSpace(packed.length);
    this.file.write(at, packed);
    this.refcounts.increment(Math.floor(at / this.clusterSize));
    this.setL2Entry(l2Offset, cluster % this.l2Entries, compressedEntry(at, packed.length, this.clusterBits));
    this.compressedEnd = at + packed.length;
  }

  /** Where `length` compressed bytes go: after the previous ones if they fit in that host cluster. */
  private compressedSpace(length: number): number {
    const end = this.compressedEnd;
    if (end % this.clusterSize !== 0 && (end % this.clusterSize) + length <= this.clusterSize && this.file.length === end) return end;
    return this.refcounts.findFree() * this.clusterSize;
  }

  /** Drops this image's reference to the host cluster(s) a mapping used. */
  releaseCluster(m: ClusterMapping): void {
    // Only once the entry that stopped pointing at them is durable (see qcow2-pending.ts).
    for (const c of hostClusters(this, m)) this.pending.release(c);
    if (m.kind === 'compressed') this.inflated = undefined;
  }

  /**
   * The offset of an L2 table for `l1Index` that this image alone uses,
   * allocating an empty one or copying a snapshot-shared one as needed.
   */
  writableL2(l1Index: number): number {
    const old = this.l2OffsetAt(l1Index);
    if (old !== 0 && this.l1Copied(l1Index)) {
      this.assertOwned(old, 'L2 table');
      return old;
    }
    const table = old === 0 ? new Uint8Array(this.clusterSize) : this.loadL2(old).slice();
    const host = this.refcounts.findFree() * this.clusterSize;
    if (old === 0 && host >= this.file.length) this.file.extendTo(host + this.clusterSize);
    else this.file.write(host, table);
    this.refcounts.set(host / this.clusterSize, 1);
    this.metadata?.add(host / this.clusterSize, 'L2 table');
    this.cacheL2(host, table);
    this.setL1Entry(l1Index, host);
    if (old !== 0) this.pending.release(old / this.clusterSize);
    return host;
  }

  setL1Entry(l1Index: number, l2Offset: number, copied = l2Offset !== 0): void {
    putEntry(this.l1, l1Index, entryWords(l2Offset, copied ? HI_COPIED : 0));
    this.pending.l1Entry(l1Index);
  }

  setL2Entry(l2Offset: number, index: number, words: EntryWords): void {
    const table = this.loadL2(l2Offset);
    putEntry(table, index, words);
    this.pending.l2Entry(l2Offset, table, index);
  }

  /** Writes the L1 table in use to a new place and switches the header to it (resize, snapshot revert). */
  replaceL1(table: Uint8Array, virtualSize: number): void {
    this.writeBackMetadata();
    const clusters = Math.max(1, Math.ceil(table.length / this.clusterSize));
    const start = this.refcounts.findFree(clusters);
    const bytes = new Uint8Array(clusters * this.clusterSize);
    bytes.set(table);
    this.file.write(start * this.clusterSize, bytes);
    for (let c = 0; c < clusters; c++) this.refcounts.set(start + c, 1);
    this.metadata?.addRange(start * this.clusterSize, table.length, 'L1 table');
    this.barrier();
    const fields = new DataView(new ArrayBuffer(24));
    fields.setBigUint64(0, BigInt(virtualSize));
    fields.setUint32(8, 0);
    fields.setUint32(12, table.length / 8);
    fields.setBigUint64(16, BigInt(start * this.clusterSize));
    // size, crypt_method, l1_size and l1_table_offset are adjacent (bytes 24-47): one write.
    this.file.write(HDR.size, new Uint8Array(fields.buffer));
    const oldOffset = this.header.l1TableOffset;
    const oldClusters = Math.ceil((this.header.l1Size * 8) / this.clusterSize);
    this.header.l1TableOffset = start * this.clusterSize;
    this.header.l1Size = table.length / 8;
    this.header.size = virtualSize;
    this.length_ = virtualSize;
    this.l1 = table;
    for (let c = 0; c < oldClusters; c++) this.pending.release(oldOffset / this.clusterSize + c);
  }

  /** Makes everything written so far durable before what follows (nothing for cache=unsafe). */
  barrier(): void {
    if (this.cache !== 'unsafe') this.file.sync();
  }

  /** Updates the virtual size in place (the L1 table already covers it). */
  setVirtualSize(size: number): void {
    const field = new DataView(new ArrayBuffer(8));
    field.setBigUint64(0, BigInt(size));
    this.file.write(HDR.size, new Uint8Array(field.buffer));
    this.header.size = size;
    this.length_ = size;
  }

  /** Makes a guest cluster unallocated again (reads fall through to the backing file). */
  discardCluster(cluster: number): void {
    const m = this.lookup(cluster);
    if (m.kind === 'unallocated') return;
    const l2Offset = this.writableL2(Math.floor(cluster / this.l2Entries));
    this.setL2Entry(l2Offset, cluster % this.l2Entries, entryWords(0));
    this.releaseCluster(m);
  }

  /**
   * Points the image at another backing file (or none) by rewriting the
   * header cluster in one write. Header extensions other than the backing
   * format are dropped; the autoclear bits that would vouch for them were
   * cleared when the image was opened read-write.
   */
  setBackingFile(name: string | undefined, format: string | undefined): void {
    if (this.readOnly) throw new BlockReadOnlyError(this.path);
    const header = { ...this.header, backingFile: name, backingFormat: name === undefined ? undefined : format };
    this.file.write(0, encodeHeaderCluster(header));
    this.header.backingFile = header.backingFile;
    this.header.backingFormat = header.backingFormat;
  }

  /**
   * A cluster about to be written in place must be what the image says it
   * is and ours alone: COPIED in a hostile image may point at metadata or at
   * a cluster a snapshot shares.
   */
  private assertOwned(host: number, kind: 'L2 table' | undefined): void {
    const cluster = host / this.clusterSize;
    const actual = this.metadata?.kindOf(cluster);
    const what = kind ?? 'data cluster';
    if (actual !== kind) {
      throw new ImageFormatError(`Corrupt image: ${what} at 0x${host.toString(16)} overlaps ${actual ? `the ${actual}` : 'guest data'}; refusing to write`);
    }
    const refcount = this.refcounts.get(cluster);
    if (refcount !== 1) {
      throw new ImageFormatError(`Corrupt image: ${what} at 0x${host.toString(16)} is marked COPIED but has refcount ${refcount}; refusing to write`);
    }
  }

  /**
   * The dirty bit says refcounts may be stale (lazy_refcounts and a crash):
   * as QEMU does on a read-write open, recount them from the tables, then
   * clear the bit. An image whose tables are themselves broken is refused.
   */
  private repairRefcounts(): void {
    const result = checkQcow2(this, 'all');
    if (result.corruptions > 0) {
      throw new ImageFormatError(`qcow2: the image is dirty and its refcounts could not be repaired (${result.messages[0] ?? 'corrupt tables'})`);
    }
    this.remapMetadata();
  }

  /** Rebuilds the metadata map after snapshot operations moved tables around. */
  remapMetadata(): void {
    this.metadata = new MetadataMap(this);
  }

  /** Forgets cached L2 tables (after metadata was rewritten behind the cache). */
  dropCaches(): void {
    this.l2Cache.clear();
    this.inflated = undefined;
  }

  private selectSnapshot(idOrName: string): void {
    const snap = findSnapshot(this.snapshots, idOrName);
    if (snap === undefined) throw new ImageFormatError(`Can't find snapshot '${idOrName}'`);
    this.l1 = this.loadL1(snap.l1TableOffset, snap.l1Size, `Snapshot ${snap.id} L1 table`);
    this.length_ = snap.diskSize ?? this.header.size;
  }

  /** A writer that does not maintain autoclear features must clear them (spec "autoclear_features"). */
  private clearAutoclearFeatures(): void {
    if (this.header.autoclearFeatures === 0n) return;
    this.file.write(HDR.autoclearFeatures, new Uint8Array(8));
    this.header.autoclearFeatures = 0n;
  }
}
