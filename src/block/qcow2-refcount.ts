/**
 * qcow2 reference counts (spec "Host cluster management"): a refcount table
 * of refcount block offsets, each block an array of refcount_bits-wide
 * counters, one per host cluster. Every change is written to the file at
 * once, and a cluster's refcount is written before anything points to it,
 * so a process killed at any moment leaves at worst a leaked cluster.
 */
import { HDR, ImageFormatError, checkTable, isClusterAligned, putU64, u64 } from './qcow2-format.js';
import type { HostFile } from './qcow2-host-file.js';

export class RefcountOverflowError extends ImageFormatError {
  override name = 'RefcountOverflowError';
}

export class Refcounts {
  readonly clusterSize: number;
  readonly bits: number;
  readonly max: number;
  /** Counters per refcount block. */
  readonly perBlock: number;
  private table: Uint8Array;
  private tableView: DataView;
  private readonly blocks = new Map<number, Uint8Array>();
  /** No cluster below this index is free (QEMU's free_cluster_index). */
  private freeHint = 0;
  /** Host clusters holding refcount blocks. */
  private readonly blockClusters = new Set<number>();
  /** Told when a cluster's refcount drops to zero (it may then be reused for anything). */
  onFree: ((cluster: number) => void) | undefined;

  constructor(
    private readonly file: HostFile,
    readonly clusterBits: number,
    refcountOrder: number,
    public tableOffset: number,
    public tableClusters: number,
    private readonly readOnly: boolean,
  ) {
    this.clusterSize = 2 ** clusterBits;
    this.bits = 2 ** refcountOrder;
    this.max = this.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** this.bits - 1;
    this.perBlock = (this.clusterSize * 8) / this.bits;
    this.table = new Uint8Array(tableClusters * this.clusterSize);
    file.readInside(tableOffset, this.table, 'Reference count table');
    this.tableView = new DataView(this.table.buffer);
    this.validateTable();
  }

  get tableEntries(): number {
    return this.table.length / 8;
  }

  /** Offset of refcount block `index`, 0 when it is not allocated. */
  blockOffset(index: number): number {
    if (index >= this.tableEntries) return 0;
    // Bits 0-8 are reserved (spec "Refcount table entry").
    return u64(this.tableView, index * 8, 'Refcount block offset') - (this.tableView.getUint32(index * 8 + 4) & 0x1ff);
  }

  get(cluster: number): number {
    const blockOff = this.blockOffset(Math.floor(cluster / this.perBlock));
    if (blockOff === 0) return 0;
    return this.readCounter(this.loadBlock(blockOff), cluster % this.perBlock);
  }

  /** Sets and writes one counter; the block covering `cluster` is created if needed. */
  set(cluster: number, value: number): void {
    if (this.readOnly) throw new Error('refcount update on a read-only image');
    if (value < 0 || value > this.max) {
      throw new RefcountOverflowError(`refcount overflow: cluster ${cluster} would get refcount ${value} (max ${this.max})`);
    }
    this.ensureBlock(cluster);
    const blockOff = this.blockOffset(Math.floor(cluster / this.perBlock));
    this.writeCounter(blockOff, this.loadBlock(blockOff), cluster % this.perBlock, value);
    if (value === 0) {
      this.freeHint = Math.min(this.freeHint, cluster);
      this.onFree?.(cluster);
    }
  }

  /** Whether a host cluster holds the refcount table or a refcount block. */
  isOwnMetadata(cluster: number): boolean {
    const first = this.tableOffset / this.clusterSize;
    return (cluster >= first && cluster < first + this.tableClusters) || this.blockClusters.has(cluster);
  }

  /** Sets `count` consecutive counters of fresh clusters to 1, with one write per refcount block. */
  claimRange(start: number, count: number): void {
    if (this.readOnly) throw new Error('refcount update on a read-only image');
    for (let c = start; c < start + count; ) {
      const index = Math.floor(c / this.perBlock);
      const end = Math.min(start + count, (index + 1) * this.perBlock);
      this.ensureBlock(c);
      const blockOff = this.blockOffset(index);
      const block = this.loadBlock(blockOff);
      for (let i = c; i < end; i++) this.putCounter(block, i % this.perBlock, 1);
      const from = Math.floor(((c % this.perBlock) * this.bits) / 8);
      const to = Math.ceil((((end - 1) % this.perBlock) + 1) * this.bits / 8);
      this.file.write(blockOff + from, block.subarray(from, to));
      c = end;
    }
  }

  increment(cluster: number, by = 1): void {
    this.set(cluster, this.get(cluster) + by);
  }

  decrement(cluster: number): void {
    const current = this.get(cluster);
    if (current === 0) {
      throw new ImageFormatError(`Corrupt image: cluster 0x${(cluster * this.clusterSize).toString(16)} freed while unreferenced`);
    }
    this.set(cluster, current - 1);
  }

  /**
   * Finds `count` contiguous free clusters and returns the first one's index,
   * with refcount blocks already covering them (their counters still zero:
   * the caller writes the content, then sets the refcount, then links it).
   */
  findFree(count = 1): number {
    for (;;) {
      const start = this.scanFree(count);
      for (let c = start; c < start + count; c++) this.ensureBlock(c);
      // Creating refcount blocks may have used some of those clusters: look again.
      if (this.isRunFree(start, count)) return start;
    }
  }

  /** Host offset of the first cluster past every counter that is in use. */
  endOfUse(): number {
    for (let b = this.tableEntries - 1; b >= 0; b--) {
      const off = this.blockOffset(b);
      if (off === 0) continue;
      const block = this.loadBlock(off);
      for (let i = this.perBlock - 1; i >= 0; i--) {
        if (this.readCounter(block, i) !== 0) return (b * this.perBlock + i + 1) * this.clusterSize;
      }
    }
    return 0;
  }

  private scanFree(count: number): number {
    let start = this.freeHint;
    for (let c = start; ; c++) {
      if (this.get(c) !== 0) {
        start = c + 1;
        continue;
      }
      if (c + 1 - start === count) {
        if (count === 1) this.freeHint = start;
        return start;
      }
    }
  }

  private isRunFree(start: number, count: number): boolean {
    for (let c = start; c < start + count; c++) if (this.get(c) !== 0) return false;
    return true;
  }

  /** Makes sure a refcount block covers `cluster`, growing the refcount table if needed. */
  private ensureBlock(cluster: number): void {
    const index = Math.floor(cluster / this.perBlock);
    if (this.blockOffset(index) !== 0) return;
    if (index >= this.tableEntries) {
      this.growTable(index + 1);
      if (this.blockOffset(index) !== 0) return;
    }
    this.allocateBlock(index);
  }

  /**
   * A new refcount block goes at the end of the file. If it falls in the
   * range it covers, it counts itself; otherwise its own counter goes in the
   * block covering the end of the file, created first.
   */
  private allocateBlock(index: number): void {
    const at = Math.ceil(this.file.length / this.clusterSize);
    const selfIndex = Math.floor(at / this.perBlock);
    const block = new Uint8Array(this.clusterSize);
    if (selfIndex === index) {
      this.putCounter(block, at % this.perBlock, 1);
      this.file.write(at * this.clusterSize, block);
    } else {
      this.ensureBlock(at);
      const slot = Math.ceil(this.file.length / this.clusterSize);
      this.file.write(slot * this.clusterSize, block);
      this.set(slot, 1);
      return this.linkBlock(index, slot * this.clusterSize, block);
    }
    this.linkBlock(index, at * this.clusterSize, block);
  }

  private linkBlock(index: number, offset: number, block: Uint8Array): void {
    // The block must be durable before the table points at it (power failure).
    this.file.sync();
    putU64(this.tableView, index * 8, offset);
    this.file.write(this.tableOffset + index * 8, this.table.subarray(index * 8, index * 8 + 8));
    this.blocks.set(offset, block);
    this.blockClusters.add(offset / this.clusterSize);
  }

  /**
   * Moves the refcount table to a larger one at the end of the file, with new
   * refcount blocks for the clusters the move itself uses. The header switches
   * to the new table in one write; a kill before that leaves the old table
   * intact and the new clusters unreferenced past its end.
   */
  private growTable(minEntries: number): void {
    const start = Math.ceil(this.file.length / this.clusterSize);
    const entriesPerCluster = this.clusterSize / 8;
    let tableClusters = Math.max(Math.ceil(minEntries / entriesPerCluster), Math.ceil((this.tableClusters * 3) / 2));
    let newBlocks: number[] = [];
    for (;;) {
      const end = start + newBlocks.length + tableClusters;
      const lastIndex = Math.floor((end - 1) / this.perBlock);
      const missing: number[] = [];
      for (let b = Math.floor(start / this.perBlock); b <= lastIndex; b++) if (this.blockOffset(b) === 0) missing.push(b);
      const needClusters = Math.ceil(Math.max(minEntries, lastIndex + 1) / entriesPerCluster);
      if (missing.length === newBlocks.length && needClusters <= tableClusters) {
        newBlocks = missing;
        break;
      }
      newBlocks = missing;
      tableClusters = Math.max(tableClusters, needClusters);
    }
    const tableAt = start + newBlocks.length;
    const end = tableAt + tableClusters;
    const table = new Uint8Array(tableClusters * this.clusterSize);
    table.set(this.table);
    const tableView = new DataView(table.buffer);
    // New blocks: written with the counters of every cluster this move uses.
    newBlocks.forEach((b, i) => {
      const block = new Uint8Array(this.clusterSize);
      for (let c = Math.max(start, b * this.perBlock); c < Math.min(end, (b + 1) * this.perBlock); c++) {
        this.putCounter(block, c % this.perBlock, 1);
      }
      const offset = (start + i) * this.clusterSize;
      this.file.write(offset, block);
      this.blocks.set(offset, block);
      this.blockClusters.add(offset / this.clusterSize);
      putU64(tableView, b * 8, offset);
    });
    // Clusters of the move that an existing block covers.
    for (let c = start; c < end; c++) {
      const b = Math.floor(c / this.perBlock);
      if (newBlocks.includes(b)) continue;
      const off = this.blockOffset(b);
      this.writeCounter(off, this.loadBlock(off), c % this.perBlock, 1);
    }
    this.file.write(tableAt * this.clusterSize, table);
    this.file.sync(); // new blocks and table durable before the header switches to them
    const header = new DataView(new ArrayBuffer(12));
    putU64(header, 0, tableAt * this.clusterSize);
    header.setUint32(8, tableClusters);
    this.file.write(HDR.refcountTableOffset, new Uint8Array(header.buffer));
    const oldOffset = this.tableOffset;
    const oldClusters = this.tableClusters;
    this.table = table;
    this.tableView = tableView;
    this.tableOffset = tableAt * this.clusterSize;
    this.tableClusters = tableClusters;
    this.file.sync(); // the header no longer points at the old table before it may be reused
    for (let i = 0; i < oldClusters; i++) this.decrement(oldOffset / this.clusterSize + i);
  }

  private validateTable(): void {
    for (let i = 0; i < this.tableEntries; i++) {
      const off = this.blockOffset(i);
      if (off === 0) continue;
      if (!isClusterAligned(off, this.clusterBits)) {
        throw new ImageFormatError(`Refcount block offset 0x${off.toString(16)} unaligned (reftable index: 0x${i.toString(16)}); image is corrupt`);
      }
      checkTable('Refcount block', off, this.clusterSize, this.clusterBits, this.file.length);
      this.blockClusters.add(off / this.clusterSize);
    }
  }

  private loadBlock(offset: number): Uint8Array {
    let block = this.blocks.get(offset);
    if (block === undefined) {
      block = new Uint8Array(this.clusterSize);
      this.file.readInside(offset, block, 'Refcount block');
      if (this.blocks.size >= 512) this.blocks.delete(this.blocks.keys().next().value!);
      this.blocks.set(offset, block);
    }
    return block;
  }

  /** Counters narrower than a byte are packed least significant first (spec "Refcount block entry"). */
  private readCounter(block: Uint8Array, i: number): number {
    const view = new DataView(block.buffer, block.byteOffset);
    switch (this.bits) {
      case 8: return block[i]!;
      case 16: return view.getUint16(i * 2);
      case 32: return view.getUint32(i * 4);
      case 64: return u64(view, i * 8, 'Refcount');
      default: return (block[(i * this.bits) >> 3]! >> ((i * this.bits) & 7)) & (this.max as number);
    }
  }

  private putCounter(block: Uint8Array, i: number, value: number): void {
    const view = new DataView(block.buffer, block.byteOffset);
    switch (this.bits) {
      case 8: block[i] = value; return;
      case 16: view.setUint16(i * 2, value); return;
      case 32: view.setUint32(i * 4, value); return;
      case 64: putU64(view, i * 8, value); return;
      default: {
        const byte = (i * this.bits) >> 3;
        const shift = (i * this.bits) & 7;
        block[byte] = (block[byte]! & ~(this.max << shift)) | (value << shift);
      }
    }
  }

  private writeCounter(blockOffset: number, block: Uint8Array, i: number, value: number): void {
    this.putCounter(block, i, value);
    const width = Math.max(1, this.bits / 8);
    const byte = Math.floor((i * this.bits) / 8);
    this.file.write(blockOffset + byte, block.subarray(byte, byte + width));
  }
}
