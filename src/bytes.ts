/** Little byte-layout helpers shared by the boot loaders, table builders, disk formats and devices. */

export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

export function alignDown(n: number, align: number): number {
  return Math.floor(n / align) * align;
}

/** A DataView over exactly the bytes of `bytes` (which may be a subarray). */
export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The bytes of an ASCII signature or identifier (ACPI, MP table). */
export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** The byte that makes `bytes` sum to 0 mod 256, given that its own slot holds 0 (ACPI and MP table checksums). */
export function checksum8(bytes: Uint8Array): number {
  return -bytes.reduce((s, b) => s + b, 0) & 0xff;
}
