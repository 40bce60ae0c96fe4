/** Sizes as qemu-img reads and prints them. */
import { ImgError } from './errors.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
const SUFFIXES: Record<string, number> = { b: 0, k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

/** qemu_strtosz(): a number, optionally fractional, with a binary suffix (k, M, G, T, P, E); bytes by default. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([bkmgtpe])?$/i.exec(text);
  const value = match ? Number(match[1]) * 1024 ** SUFFIXES[(match[2] ?? 'b').toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(Math.round(value)) || (match?.[1]!.includes('.') && !match[2])) {
    throw new ImgError(
      'Invalid image size specified. You may use k, M, G, T, P or E suffixes for\ntsvm-img: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.',
    );
  }
  return Math.round(value);
}

/** QEMU's size_to_str(): three significant digits in the largest unit that keeps the value under 1000. */
export function humanSize(bytes: number): string {
  if (bytes === 0) return '0 B';
  const unit = Math.min(UNITS.length - 1, Math.max(0, Math.floor(Math.floor(Math.log2((bytes * 1024) / 1000)) / 10)));
  return `${threeSignificant(bytes / 1024 ** unit)} ${UNITS[unit]}`;
}

/** printf("%0.3g"): three significant digits, an exact tie rounded to even, trailing zeros dropped. */
function threeSignificant(value: number): string {
  const decimals = Math.max(0, 2 - Math.floor(Math.log10(value)));
  const scaled = value * 10 ** decimals;
  const floor = Math.floor(scaled);
  const tie = scaled - floor === 0.5;
  const rounded = tie ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(scaled);
  return String(rounded / 10 ** decimals);
}
