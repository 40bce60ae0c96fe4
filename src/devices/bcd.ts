/** Packed binary-coded decimal, up to four digits (the RTC uses two, the PIT's BCD mode four). */

export function toBcd(value: number): number {
  let bcd = 0;
  for (let digit = 0; digit < 4; digit++) {
    bcd |= (Math.floor(value / 10 ** digit) % 10) << (4 * digit);
  }
  return bcd;
}

/** Nibbles above 9 are taken at face value, as the chips' counters do: no exception, just a strange number. */
export function fromBcd(bcd: number): number {
  return ((bcd >> 12) & 15) * 1000 + ((bcd >> 8) & 15) * 100 + ((bcd >> 4) & 15) * 10 + (bcd & 15);
}
