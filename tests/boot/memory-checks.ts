/** Helpers the boot tests use to look at guest memory. */
import type { AddressSpace } from '../../src/memory/address-space.js';

/** True when no byte is set (a plain loop: fast over hundreds of MiB). */
export function allZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Byte equality of large arrays without vitest's slow deep diff. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

/** The NUL-terminated string at `addr`. */
export function cString(mem: AddressSpace, addr: number): string {
  let s = '';
  for (let c = mem.read8(addr); c !== 0; c = mem.read8(++addr)) s += String.fromCharCode(c);
  return s;
}

/** Runs `load`; passes if it returns or throws a plain one-line Error (no RangeError, TypeError, ...). */
export function expectCleanOutcome(load: () => unknown): void {
  try {
    load();
  } catch (err) {
    if (!(err instanceof Error) || err.constructor !== Error || err.message.includes('\n')) throw err;
  }
}
