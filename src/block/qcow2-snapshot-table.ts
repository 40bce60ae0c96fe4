/**
 * The internal snapshot table (spec "Snapshots"): nb_snapshots variable-size
 * entries at snapshots_offset, each padded to a multiple of 8 bytes.
 */
import { ImageFormatError, checkTable, isClusterAligned, putU64, u64 } from './qcow2-format.js';
import type { HostFile } from './qcow2-host-file.js';
import { concat } from '../bytes.js';

export interface SnapshotEntry {
  l1TableOffset: number;
  l1Size: number;
  id: string;
  name: string;
  dateSec: number;
  dateNsec: number;
  vmClockNsec: number;
  vmStateSize: number;
  /** Virtual disk size when the snapshot was taken (extra data; absent in old images). */
  diskSize?: number;
  icount?: number;
  /** Extra data bytes we do not interpret, kept as they are. */
  extraTail: Uint8Array;
}

const FIXED = 40;
/** QEMU's cap on the number of snapshots (QCOW_MAX_SNAPSHOTS). */
const MAX_SNAPSHOTS = 65536;
const MAX_EXTRA = 1024;

/** The entries, and how many bytes the table takes in the file. */
export function readSnapshotTable(
  file: HostFile,
  offset: number,
  count: number,
  clusterBits: number,
): { entries: SnapshotEntry[]; bytes: number } {
  if (count === 0) return { entries: [], bytes: 0 };
  if (count > MAX_SNAPSHOTS) throw new ImageFormatError('Too many snapshots');
  checkTable('Snapshot table', offset, 1, clusterBits, file.length);
  const entries: SnapshotEntry[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    const fixed = new Uint8Array(FIXED);
    file.readInside(at, fixed, 'Snapshot table');
    const view = new DataView(fixed.buffer);
    const idSize = view.getUint16(12);
    const nameSize = view.getUint16(14);
    const extraSize = view.getUint32(36);
    if (extraSize > MAX_EXTRA) throw new ImageFormatError('Too much extra metadata in snapshot table entry');
    const rest = new Uint8Array(extraSize + idSize + nameSize);
    file.readInside(at + FIXED, rest, 'Snapshot table');
    const extra = new DataView(rest.buffer, 0, extraSize);
    const entry: SnapshotEntry = {
      l1TableOffset: u64(view, 0, 'Snapshot L1 table offset'),
      l1Size: view.getUint32(8),
      dateSec: view.getUint32(16),
      dateNsec: view.getUint32(20),
      vmClockNsec: u64(view, 24, 'Snapshot VM clock'),
      vmStateSize: view.getUint32(32),
      id: new TextDecoder().decode(rest.subarray(extraSize, extraSize + idSize)),
      name: new TextDecoder().decode(rest.subarray(extraSize + idSize)),
      extraTail: rest.slice(Math.min(24, extraSize), extraSize),
    };
    if (extraSize >= 8) entry.vmStateSize = Math.max(entry.vmStateSize, u64(extra, 0, 'Snapshot VM state size'));
    if (extraSize >= 16) entry.diskSize = u64(extra, 8, 'Snapshot disk size');
    if (extraSize >= 24) entry.icount = Number(extra.getBigInt64(16));
    if (!isClusterAligned(entry.l1TableOffset, clusterBits)) {
      throw new ImageFormatError(`Snapshot L1 table offset invalid (snapshot ${entry.id}); image may be corrupt`);
    }
    checkTable('Snapshot L1 table', entry.l1TableOffset, entry.l1Size * 8, clusterBits, file.length);
    entries.push(entry);
    at += Math.ceil((FIXED + rest.length) / 8) * 8;
  }
  return { entries, bytes: at - offset };
}

export function encodeSnapshotTable(entries: SnapshotEntry[]): Uint8Array {
  return concat(entries.map(encodeEntry));
}

function encodeEntry(e: SnapshotEntry): Uint8Array {
  const enc = new TextEncoder();
  const id = enc.encode(e.id);
  const name = enc.encode(e.name);
  const extraSize = 24 + e.extraTail.length;
  const size = Math.ceil((FIXED + extraSize + id.length + name.length) / 8) * 8;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  putU64(view, 0, e.l1TableOffset);
  view.setUint32(8, e.l1Size);
  view.setUint16(12, id.length);
  view.setUint16(14, name.length);
  view.setUint32(16, e.dateSec);
  view.setUint32(20, e.dateNsec);
  putU64(view, 24, e.vmClockNsec);
  view.setUint32(32, Math.min(e.vmStateSize, 0xffffffff));
  view.setUint32(36, extraSize);
  putU64(view, 40, e.vmStateSize);
  putU64(view, 48, e.diskSize ?? 0);
  view.setBigInt64(56, BigInt(e.icount ?? -1));
  out.set(e.extraTail, 64);
  out.set(id, FIXED + extraSize);
  out.set(name, FIXED + extraSize + id.length);
  return out;
}

export function findSnapshot(entries: SnapshotEntry[], idOrName: string): SnapshotEntry | undefined {
  return entries.find((s) => s.id === idOrName) ?? entries.find((s) => s.name === idOrName);
}
