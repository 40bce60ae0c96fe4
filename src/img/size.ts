/** Sizes as qemu-img reads and prints them. */
import { parseSize as strtosz } from '../cli/suboptions.js';
import { ImgError } from './errors.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** A size as qemu-img takes it (qemu_strtosz), refused in its words when it is not one. */
export function parseSize(text: string): number {
  const bytes = strtosz(text);
  if (bytes === undefined || !Number.isSafeInteger(bytes)) {
    throw new ImgError(
      'Invalid image size specified. You may use k, M, G, T, P or E suffixes for\ntsvm-img: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.',
    );
  }
  return bytes;
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
