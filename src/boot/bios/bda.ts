/**
 * The BIOS data area at 0x400 (Ralf Brown's "MEMORY.LST", segment 0040h):
 * the offsets the built-in BIOS keeps its state in, where DOS-era software
 * also reads it.
 */
export const BDA = {
  com1: 0x400,
  equipment: 0x410,
  baseMemoryKb: 0x413,
  shiftFlags: 0x417,
  kbdHead: 0x41a,
  kbdTail: 0x41c,
  /** The 16-word keyboard ring buffer, as offsets from 0x400. */
  kbdBufferStart: 0x41e,
  kbdBufferEnd: 0x43e,
  floppyStatus: 0x441,
  videoMode: 0x449,
  videoColumns: 0x44a,
  videoPageSize: 0x44c,
  videoPageStart: 0x44e,
  /** Eight words: column (low byte) and row of each page's cursor. */
  cursorPos: 0x450,
  cursorShape: 0x460,
  videoPage: 0x462,
  crtcBase: 0x463,
  ticks: 0x46c,
  midnight: 0x470,
  diskStatus: 0x474,
  hardDiskCount: 0x475,
  kbdBufferStartPtr: 0x480,
  kbdBufferEndPtr: 0x482,
  videoRows: 0x484,
  charHeight: 0x485,
  ebdaSegment: 0x40e,
} as const;

/** The BIOS tick: PIT input clock / 65536 = 18.2065 Hz; a day has 0x1800B0 ticks. */
export const TICKS_PER_DAY = 0x1800b0;
