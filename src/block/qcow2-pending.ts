/**
 * Metadata updates held back until the next flush, so that they reach the
 * disk in dependency order even across a power failure, with three fsyncs
 * per flush instead of several per write (QEMU's qcow2 cache does the same):
 *
 *   1. fsync: new data clusters and their refcounts are durable;
 *   2. the L2 entries pointing at them are written, fsync;
 *   3. the L1 entries pointing at new L2 tables are written, fsync;
 *   4. clusters no longer referenced are released (a loss here only leaks).
 *
 * Until then the tables live in memory (reads see them). A kill or a power
 * failure before the flush loses those writes, which the guest had not
 * flushed, and leaks their clusters: the image stays consistent.
 */
import type { HostFile } from './qcow2-host-file.js';

/** Pending changes past this many entries are written back without waiting for a flush. */
const MAX_PENDING = 8192;

interface DirtyRange {
  table: Uint8Array;
  first: number;
  last: number;
}

export class PendingMetadata {
  private readonly l2 = new Map<number, DirtyRange>();
  private l1: { first: number; last: number } | undefined;
  private releases: number[] = [];
  private count = 0;

  get full(): boolean {
    return this.count >= MAX_PENDING;
  }

  /** The pending version of an L2 table, which must win over any cached or on-disk copy. */
  l2Table(offset: number): Uint8Array | undefined {
    return this.l2.get(offset)?.table;
  }

  l2Entry(offset: number, table: Uint8Array, index: number): void {
    const range = this.l2.get(offset);
    if (range === undefined) this.l2.set(offset, { table, first: index, last: index });
    else {
      range.first = Math.min(range.first, index);
      range.last = Math.max(range.last, index);
    }
    this.count++;
  }

  l1Entry(index: number): void {
    this.l1 = this.l1 === undefined ? { first: index, last: index } : { first: Math.min(this.l1.first, index), last: Math.max(this.l1.last, index) };
    this.count++;
  }

  release(cluster: number): void {
    this.releases.push(cluster);
    this.count++;
  }

  /** Writes everything back in the order above; `sync` false (cache=unsafe) skips the fsyncs. */
  writeBack(file: HostFile, l1: Uint8Array, l1Offset: number, sync: boolean, decrement: (cluster: number) => void): void {
    const barrier = () => sync && file.sync();
    barrier();
    if (this.count === 0) return;
    for (const [offset, { table, first, last }] of this.l2) file.write(offset + first * 8, table.subarray(first * 8, (last + 1) * 8));
    if (this.l2.size > 0) barrier();
    if (this.l1 !== undefined) {
      file.write(l1Offset + this.l1.first * 8, l1.subarray(this.l1.first * 8, (this.l1.last + 1) * 8));
      barrier();
    }
    const releases = this.releases;
    this.l2.clear();
    this.l1 = undefined;
    this.releases = [];
    this.count = 0;
    for (const cluster of releases) decrement(cluster);
  }
}
