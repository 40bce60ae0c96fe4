/**
 * The qcow2 on-disk format (QEMU docs/interop/qcow2.txt): the header, its
 * extensions, and the bit layout of L1/L2 entries. Everything read from an
 * image is hostile input, so parsing validates every field against the file
 * before anyone uses it, and reports one clear message when it does not hold.
 */
import { readFully } from './file-io.js';

/** "QFI\xfb" (spec "Header", bytes 0-3). */
export const QCOW2_MAGIC = 0x514649fb;

/** Incompatible feature bits (spec "Header", bytes 72-79). */
export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
const INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT;
/** Compatible feature bits (bytes 80-87). */
export const COMPAT_LAZY_REFCOUNTS = 1n << 0n;

/** Header extension types (spec "Header extensions"). */
const EXT_END = 0;
const EXT_BACKING_FORMAT = 0xe2792aca;

/** Byte offsets of the header fields the driver rewrites in place. */
export const HDR = {
  size: 24,
  l1Size: 36,
  l1TableOffset: 40,
  refcountTableOffset: 48,
  refcountTableClusters: 56,
  nbSnapshots: 60,
  snapshotsOffset: 64,
  incompatibleFeatures: 72,
  compatibleFeatures: 80,
  autoclearFeatures: 88,
  refcountOrder: 96,
  headerLength: 100,
} as const;

export const V2_HEADER_LENGTH = 72;
export const V3_HEADER_LENGTH = 104;

/** Offsets in L1/L2 entries use bits 9-55 (spec "Cluster mapping"). */
const OFFSET_HI_MASK = 0x00ffffff;
/** Flags in the high word of an L1/L2 entry. */
export const HI_COPIED = 0x80000000;
export const HI_COMPRESSED = 0x40000000;
/** Flag in the low word of a standard L2 entry (v3): the cluster reads as zeros. */
export const LO_ZERO = 1;

/** QEMU's limits: 512 B .. 2 MiB clusters, an L1 table of at most 32 MiB. */
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
const MAX_L1_BYTES = 32 * 1024 * 1024;
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
const MAX_BACKING_NAME = 1023;

/** A corrupt or unsupported image; the message is what the user sees after "Could not open 'x': ". */
export class ImageFormatError extends Error {
  override name = 'ImageFormatError';
}

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  refcountOrder: number;
  headerLength: number;
  compressionType: number;
  /** From the extensions. */
  backingFile?: string;
  backingFormat?: string;
}

/** Reads a u64 that must fit a JS number (offsets and sizes: QEMU caps them far below 2^53). */
export function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ImageFormatError(`${what} is too large (0x${v.toString(16)})`);
  return Number(v);
}

export function putU64(view: DataView, at: number, v: number): void {
  view.setBigUint64(at, BigInt(v));
}

/** Host offset stored in bits 9-55 of an L1 or standard L2 entry. */
export function entryOffset(hi: number, lo: number): number {
  return (hi & OFFSET_HI_MASK) * 0x1_0000_0000 + ((lo & ~0x1ff) >>> 0);
}

/** The two 32-bit words of an L1/L2 entry. */
export interface EntryWords {
  hi: number;
  lo: number;
}

/** An L1 or standard L2 entry: host offset in bits 9-55, flags around it. */
export function entryWords(offset: number, hiFlags = 0, loFlags = 0): EntryWords {
  return { hi: (Math.floor(offset / 0x1_0000_0000) | hiFlags) >>> 0, lo: ((offset >>> 0) | loFlags) >>> 0 };
}

export function putEntry(buf: Uint8Array, index: number, words: EntryWords): void {
  const view = new DataView(buf.buffer, buf.byteOffset + index * 8, 8);
  view.setUint32(0, words.hi);
  view.setUint32(4, words.lo);
}

export function isClusterAligned(offset: number, clusterBits: number): boolean {
  return offset % 2 ** clusterBits === 0;
}

/**
 * A compressed L2 entry (spec "Compressed Clusters Descriptor"): x = 62 - (cluster_bits - 8);
 * bits 0..x-1 are the host byte offset, bits x..61 the number of additional 512-byte sectors.
 */
export function compressedExtent(hi: number, lo: number, clusterBits: number): { offset: number; length: number } {
  const entry = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
  const x = BigInt(62 - (clusterBits - 8));
  const offset = Number(entry & ((1n << x) - 1n));
  const sectors = Number((entry >> x) & ((1n << (62n - x)) - 1n)) + 1;
  return { offset, length: sectors * 512 - (offset % 512) };
}

/** Packs a compressed L2 entry for `length` bytes at host `offset`. */
export function compressedEntry(offset: number, length: number, clusterBits: number): EntryWords {
  const x = BigInt(62 - (clusterBits - 8));
  const sectors = BigInt(Math.ceil(((offset % 512) + length) / 512) - 1);
  const entry = (1n << 62n) | (sectors << x) | BigInt(offset);
  return { hi: Number(entry >> 32n) >>> 0, lo: Number(entry & 0xffffffffn) >>> 0 };
}

/** Parses and validates the header of an image whose file is `fileLength` bytes long. */
export function readHeader(fd: number, fileLength: number): Qcow2Header {
  const first = new Uint8Array(V3_HEADER_LENGTH + 8);
  if (fileLength < V2_HEADER_LENGTH) throw new ImageFormatError('Image is not in qcow2 format (header truncated)');
  readFully(fd, first, 0);
  const view = new DataView(first.buffer);
  if (view.getUint32(0) !== QCOW2_MAGIC) throw new ImageFormatError('Image is not in qcow2 format');
  const version = view.getUint32(4);
  if (version !== 2 && version !== 3) throw new ImageFormatError(`Unsupported qcow2 version ${version}`);
  const clusterBits = view.getUint32(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new ImageFormatError(`Unsupported cluster size: 2^${clusterBits}`);
  }
  const v3 = version === 3;
  if (v3 && fileLength < V3_HEADER_LENGTH) throw new ImageFormatError('qcow2 header truncated');
  const h: Qcow2Header = {
    version,
    backingFileOffset: u64(view, 8, 'Backing file offset'),
    backingFileSize: view.getUint32(16),
    clusterBits,
    size: u64(view, 24, 'Image size'),
    cryptMethod: view.getUint32(32),
    l1Size: view.getUint32(36),
    l1TableOffset: u64(view, 40, 'L1 table offset'),
    refcountTableOffset: u64(view, 48, 'Reference count table offset'),
    refcountTableClusters: view.getUint32(56),
    nbSnapshots: view.getUint32(60),
    snapshotsOffset: u64(view, 64, 'Snapshot table offset'),
    incompatibleFeatures: v3 ? view.getBigUint64(72) : 0n,
    compatibleFeatures: v3 ? view.getBigUint64(80) : 0n,
    autoclearFeatures: v3 ? view.getBigUint64(88) : 0n,
    refcountOrder: v3 ? view.getUint32(96) : 4,
    headerLength: v3 ? view.getUint32(100) : V2_HEADER_LENGTH,
    compressionType: v3 && view.getUint32(100) > V3_HEADER_LENGTH ? first[104]! : 0,
  };
  validateHeader(h, fileLength);
  readExtensions(fd, h, fileLength);
  readBackingName(fd, h);
  return h;
}

function validateHeader(h: Qcow2Header, fileLength: number): void {
  const clusterSize = 2 ** h.clusterBits;
  if (h.headerLength < (h.version === 3 ? V3_HEADER_LENGTH : V2_HEADER_LENGTH) || h.headerLength > clusterSize) {
    throw new ImageFormatError('qcow2 header exceeds cluster size');
  }
  if (h.headerLength % 8 !== 0) throw new ImageFormatError('Header size must be a multiple of 8');
  const unknown = h.incompatibleFeatures & ~INCOMPAT_KNOWN;
  if (unknown !== 0n) throw new ImageFormatError(`Unsupported qcow2 feature(s): 0x${unknown.toString(16)}`);
  if (h.compressionType !== 0) throw new ImageFormatError(`Unsupported compression type ${h.compressionType}`);
  if (h.cryptMethod !== 0) throw new ImageFormatError('Encrypted images are not supported by tsvm');
  if (h.refcountOrder > 6) throw new ImageFormatError('Reference count entry width too large; may not exceed 64 bits');
  if (h.size === 0 && h.l1Size !== 0) throw new ImageFormatError('Image size is zero but L1 table is not empty');
  const l2Bits = h.clusterBits - 3;
  const neededL1 = Math.ceil(h.size / 2 ** (h.clusterBits + l2Bits));
  if (h.l1Size * 8 > MAX_L1_BYTES) throw new ImageFormatError('Active L1 table too large');
  if (h.l1Size < neededL1) throw new ImageFormatError('L1 table is too small');
  checkTable('L1 table', h.l1TableOffset, h.l1Size * 8, h.clusterBits, fileLength);
  if (h.refcountTableClusters === 0) throw new ImageFormatError('Image does not contain a reference count table');
  if (h.refcountTableClusters * clusterSize > MAX_REFTABLE_BYTES) throw new ImageFormatError('Reference count table too large');
  checkTable('Reference count table', h.refcountTableOffset, h.refcountTableClusters * clusterSize, h.clusterBits, fileLength);
  checkTable('Snapshot table', h.snapshotsOffset, h.nbSnapshots === 0 ? 0 : 1, h.clusterBits, fileLength);
  if (h.backingFileOffset !== 0) {
    if (h.backingFileSize > MAX_BACKING_NAME) throw new ImageFormatError('Backing file name too long');
    if (h.backingFileOffset + h.backingFileSize > clusterSize) {
      throw new ImageFormatError('Backing file name is outside the header cluster');
    }
  }
}

/** A table must start on a cluster boundary and lie wholly inside the file. */
export function checkTable(what: string, offset: number, bytes: number, clusterBits: number, fileLength: number): void {
  if (bytes === 0) return;
  if (!isClusterAligned(offset, clusterBits) || offset === 0) {
    throw new ImageFormatError(`${what} offset invalid (0x${offset.toString(16)}); image may be corrupt`);
  }
  if (offset + bytes > fileLength) {
    throw new ImageFormatError(`${what} at 0x${offset.toString(16)} extends past the end of the file; image may be corrupt`);
  }
}

/** Walks the extensions between the header and the end of the first cluster (spec "Header extensions"). */
function readExtensions(fd: number, h: Qcow2Header, fileLength: number): void {
  const end = Math.min(2 ** h.clusterBits, fileLength, h.backingFileOffset || Infinity);
  if (end <= h.headerLength) return;
  const area = new Uint8Array(end - h.headerLength);
  readFully(fd, area, h.headerLength);
  const view = new DataView(area.buffer);
  let at = 0;
  while (at + 8 <= area.length) {
    const type = view.getUint32(at);
    const length = view.getUint32(at + 4);
    if (type === EXT_END) return;
    const dataEnd = at + 8 + length;
    if (dataEnd > area.length) throw new ImageFormatError('Header extension extends past the header cluster');
    if (type === EXT_BACKING_FORMAT) h.backingFormat = new TextDecoder().decode(area.subarray(at + 8, dataEnd));
    at = at + 8 + Math.ceil(length / 8) * 8;
  }
}

function readBackingName(fd: number, h: Qcow2Header): void {
  if (h.backingFileOffset === 0 || h.backingFileSize === 0) return;
  const name = new Uint8Array(h.backingFileSize);
  readFully(fd, name, h.backingFileOffset);
  h.backingFile = new TextDecoder().decode(name);
}

/**
 * Serializes a header, its extensions and the backing file name into the
 * first cluster (used by create, rebase and amend-style rewrites).
 */
export function encodeHeaderCluster(h: Qcow2Header): Uint8Array {
  const clusterSize = 2 ** h.clusterBits;
  const out = new Uint8Array(clusterSize);
  const view = new DataView(out.buffer);
  const headerLength = h.version === 3 ? V3_HEADER_LENGTH : V2_HEADER_LENGTH;
  view.setUint32(0, QCOW2_MAGIC);
  view.setUint32(4, h.version);
  view.setUint32(20, h.clusterBits);
  putU64(view, 24, h.size);
  view.setUint32(32, 0);
  view.setUint32(36, h.l1Size);
  putU64(view, 40, h.l1TableOffset);
  putU64(view, 48, h.refcountTableOffset);
  view.setUint32(56, h.refcountTableClusters);
  view.setUint32(60, h.nbSnapshots);
  putU64(view, 64, h.snapshotsOffset);
  if (h.version === 3) {
    view.setBigUint64(72, h.incompatibleFeatures);
    view.setBigUint64(80, h.compatibleFeatures);
    view.setBigUint64(88, h.autoclearFeatures);
    view.setUint32(96, h.refcountOrder);
    view.setUint32(100, headerLength);
  }
  let at = headerLength;
  const enc = new TextEncoder();
  if (h.backingFile !== undefined && h.backingFormat !== undefined) {
    const fmt = enc.encode(h.backingFormat);
    view.setUint32(at, EXT_BACKING_FORMAT);
    view.setUint32(at + 4, fmt.length);
    out.set(fmt, at + 8);
    at += 8 + Math.ceil(fmt.length / 8) * 8;
  }
  // EXT_END: eight zero bytes, already there.
  at += 8;
  if (h.backingFile !== undefined) {
    const name = enc.encode(h.backingFile);
    if (name.length > MAX_BACKING_NAME) throw new ImageFormatError('Backing file name too long');
    if (at + name.length > clusterSize) throw new ImageFormatError('Backing file name does not fit in the header cluster');
    out.set(name, at);
    putU64(view, 8, at);
    view.setUint32(16, name.length);
  }
  return out;
}
