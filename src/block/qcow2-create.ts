/**
 * Creating an empty qcow2 image, laid out as QEMU lays it out: the header
 * cluster, the refcount table, refcount blocks, then the L1 table. Nothing
 * is allocated for data; every guest cluster starts unallocated.
 */
import * as fs from 'node:fs';
import { createLockedFile } from './lock.js';
import {
  COMPAT_LAZY_REFCOUNTS,
  ImageFormatError,
  MAX_CLUSTER_BITS,
  MIN_CLUSTER_BITS,
  V2_HEADER_LENGTH,
  V3_HEADER_LENGTH,
  encodeHeaderCluster,
  putU64,
  type Qcow2Header,
} from './qcow2-format.js';

export interface Qcow2CreateOptions {
  size: number;
  clusterSize?: number;
  /** '0.10' is version 2, '1.1' version 3 (QEMU's compat= names). */
  compat?: '0.10' | '1.1';
  backingFile?: string;
  backingFormat?: string;
  lazyRefcounts?: boolean;
  refcountBits?: number;
}

export function createQcow2(file: string, options: Qcow2CreateOptions): void {
  const header = planHeader(options);
  const clusterSize = 2 ** header.clusterBits;
  const { refcountTableClusters: tableClusters } = header;
  const blocks = (header.l1TableOffset / clusterSize) - 1 - tableClusters;
  const l1Clusters = Math.ceil((header.l1Size * 8) / clusterSize);
  const used = 1 + tableClusters + blocks + l1Clusters;
  const bits = 2 ** header.refcountOrder;
  const perBlock = (clusterSize * 8) / bits;

  const image = new Uint8Array(used * clusterSize);
  image.set(encodeHeaderCluster(header), 0);
  const table = new DataView(image.buffer, clusterSize, tableClusters * clusterSize);
  for (let b = 0; b < blocks; b++) putU64(table, b * 8, (1 + tableClusters + b) * clusterSize);
  for (let c = 0; c < used; c++) {
    const block = new DataView(image.buffer, (1 + tableClusters + Math.floor(c / perBlock)) * clusterSize, clusterSize);
    setCounterToOne(block, c % perBlock, bits);
  }
  const fd = createLockedFile(file);
  try {
    fs.writeSync(fd, image, 0, image.length, 0);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function planHeader(o: Qcow2CreateOptions): Qcow2Header {
  const clusterSize = o.clusterSize ?? 65536;
  const clusterBits = Math.log2(clusterSize);
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new ImageFormatError('Cluster size must be a power of two between 512 and 2048k');
  }
  const version = o.compat === '0.10' ? 2 : 3;
  const refcountBits = o.refcountBits ?? 16;
  const refcountOrder = Math.log2(refcountBits);
  if (!Number.isInteger(refcountOrder) || refcountOrder > 6) {
    throw new ImageFormatError('Refcount width must be a power of two and may not exceed 64 bits');
  }
  if (version === 2 && refcountBits !== 16) throw new ImageFormatError('Different refcount widths than 16 bits require compatibility level 1.1 or above (use compat=1.1 or greater)');
  if (version === 2 && o.lazyRefcounts) throw new ImageFormatError('Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or greater)');
  if (!Number.isSafeInteger(o.size) || o.size < 0) throw new ImageFormatError('Invalid image size');
  const l1Size = Math.ceil(o.size / (clusterSize * (clusterSize / 8)));
  const l1Clusters = Math.ceil((l1Size * 8) / clusterSize);
  const perBlock = (clusterSize * 8) / refcountBits;
  // Refcount blocks must count every cluster of the layout, themselves included.
  let blocks = 1;
  let tableClusters = 1;
  for (;;) {
    const total = 1 + tableClusters + blocks + l1Clusters;
    const needBlocks = Math.ceil(total / perBlock);
    const needTable = Math.ceil((needBlocks * 8) / clusterSize);
    if (needBlocks === blocks && needTable === tableClusters) break;
    blocks = needBlocks;
    tableClusters = needTable;
  }
  return {
    version,
    backingFileOffset: 0,
    backingFileSize: 0,
    clusterBits,
    size: o.size,
    cryptMethod: 0,
    l1Size,
    l1TableOffset: (1 + tableClusters + blocks) * clusterSize,
    refcountTableOffset: clusterSize,
    refcountTableClusters: tableClusters,
    nbSnapshots: 0,
    snapshotsOffset: 0,
    incompatibleFeatures: 0n,
    compatibleFeatures: o.lazyRefcounts ? COMPAT_LAZY_REFCOUNTS : 0n,
    autoclearFeatures: 0n,
    refcountOrder,
    headerLength: version === 3 ? V3_HEADER_LENGTH : V2_HEADER_LENGTH,
    compressionType: 0,
    backingFile: o.backingFile,
    backingFormat: o.backingFormat,
  };
}

function setCounterToOne(block: DataView, i: number, bits: number): void {
  if (bits >= 8) {
    block.setUint8(i * (bits / 8) + bits / 8 - 1, 1);
  } else {
    const byte = (i * bits) >> 3;
    block.setUint8(byte, block.getUint8(byte) | (1 << ((i * bits) & 7)));
  }
}
