/**
 * Image format probing, as QEMU's bdrv_probe_all() does over the first
 * sector: each format recognises its own header, and raw is what is left.
 */
import { readFully } from './file-io.js';

export type ImageFormat = 'raw' | 'qcow2';

/** How much of the image's start probing looks at (QEMU's BLOCK_PROBE_BUF_SIZE). */
export const PROBE_BYTES = 512;

/** qcow2's header magic, "QFI\xfb" (docs/interop/qcow2.txt). */
const QCOW2_MAGIC = [0x51, 0x46, 0x49, 0xfb];

export function detectFormat(head: Uint8Array): ImageFormat {
  return QCOW2_MAGIC.every((b, i) => head[i] === b) ? 'qcow2' : 'raw';
}

/** Probes an open image's format from its first sector. */
export function probeFormat(fd: number): ImageFormat {
  const head = new Uint8Array(PROBE_BYTES);
  readFully(fd, head, 0);
  return detectFormat(head);
}
