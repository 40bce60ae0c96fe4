/**
 * Byte-array comparison for disk-sized buffers: vitest's deep equality walks
 * typed arrays element by element and takes seconds on a few hundred KiB.
 */

/** Index of the first byte where `a` and `b` differ, the shorter length if one is a prefix, or -1 if equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  const cmp = Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length));
  if (cmp === 0) return -1;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
