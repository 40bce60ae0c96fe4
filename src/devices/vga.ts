/**
 * VGA, as much as firmware, bootloaders and DOS use: the legacy memory
 * window at 0xA0000-0xBFFFF over four 64 KiB planes, the CRT controller's
 * index/data pair with the cursor and start-address registers, the
 * sequencer, graphics controller, attribute controller and DAC register
 * files, the miscellaneous output register and input status #1 (vertical
 * retrace toggling so polling loops end).
 *
 * Memory is planar as on the hardware (IBM VGA Technical Reference,
 * "Video Memory" and the sequencer/graphics controller chapters): the CPU
 * reaches the planes through the window the graphics controller's memory
 * map select chooses, in one of three addressings (chain-4, odd/even,
 * planar), through the latches, the read modes and the write modes. In
 * text mode characters sit in plane 0, attributes in plane 1 (odd/even)
 * and the font, which a BIOS loads, in plane 2, 32 bytes a glyph.
 *
 * Register ports follow the IBM VGA reference: 0x3C0-0x3CF, and the CRTC at
 * 0x3D4/0x3D5 (0x3B4/0x3B5 when Misc Output bit 0 selects mono addressing).
 */
import type { AddressSpace, AccessSize } from '../memory/address-space.js';
import type { PortBus } from '../io/port-bus.js';

export const VGA_WINDOW_BASE = 0xa0000;
const VGA_WINDOW_SIZE = 0x20000;
export const PLANE_SIZE = 0x10000;
const PLANES = 4;
/** Bytes per glyph in plane 2, whatever the character height. */
export const GLYPH_STRIDE = 32;
/** [base, count]: the mono CRTC and input status #1, the 0x3C0-0x3CF block, the colour CRTC and input status #1. */
const REGISTER_PORTS: readonly [number, number][] = [[0x3b4, 2], [0x3ba, 1], [0x3c0, 0x10], [0x3d4, 2], [0x3da, 1]];
/** Graphics controller misc bits 3-2 (memory map select): [start, size] of the CPU window inside 0xA0000-0xBFFFF. */
const MEMORY_MAPS: readonly [number, number][] = [[0, 0x20000], [0, 0x10000], [0x10000, 0x8000], [0x18000, 0x8000]];
/** Plane 2 offset of character map 0-7 (sequencer character map select): 0, 16K, 32K, 48K, then 8K, 24K, 40K, 56K. */
const CHARACTER_MAP_OFFSETS = [0x0000, 0x4000, 0x8000, 0xc000, 0x2000, 0x6000, 0xa000, 0xe000];

/**
 * The register set of mode 03h (80x25 text, 9x16 cells, 720x400) from the
 * IBM VGA Technical Reference's mode tables: what a VGA BIOS programs for
 * it (the built-in BIOS at POST, and for a directly booted kernel), and
 * what tsvm's VGA starts with. Colour don't care (graphics register 7) is
 * 0Fh as SeaBIOS's VGA BIOS sets it, which is what a guest finds under
 * QEMU, where IBM's table has 00h; it only matters to read mode 1.
 */
export const MODE3_REGISTERS = {
  misc: 0x67,
  // prettier-ignore
  seq: [0x03, 0x00, 0x03, 0x00, 0x02],
  // prettier-ignore
  crtc: [0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00,
    0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff],
  // prettier-ignore
  gc: [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x0f, 0xff],
  // prettier-ignore
  attr: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
    0x0c, 0x00, 0x0f, 0x08, 0x00],
} as const;

/**
 * The 64-colour EGA palette a VGA BIOS loads into DAC entries 0-63 for the
 * 16-colour modes: index bits 5-0 are r g b R G B (lower case a third of
 * full intensity, upper case two thirds), as 6-bit DAC values.
 */
export function egaPaletteRgb(index: number): [number, number, number] {
  const level = (hi: number, lo: number) => ((index >> hi) & 1) * 0x2a + ((index >> lo) & 1) * 0x15;
  return [level(2, 5), level(1, 4), level(0, 3)];
}

export interface VgaState {
  /** The four planes one after the other, plane p at p * PLANE_SIZE. */
  vram: Uint8Array;
  /** The four latches, plane p in byte p: loaded by every CPU read, used by the write modes. */
  latch: number;
  misc: number;
  crtcIndex: number;
  crtc: Uint8Array;
  seqIndex: number;
  seq: Uint8Array;
  gcIndex: number;
  gc: Uint8Array;
  /** Attribute index register: bits 4-0 the index, bit 5 palette address source (0 blanks the screen). */
  attrIndex: number;
  /** The attribute controller's flip-flop: false = next write is an index. */
  attrData: boolean;
  attr: Uint8Array;
  dacWriteIndex: number;
  dacReadIndex: number;
  dacComponent: number;
  dac: Uint8Array;
  retrace: boolean;
}

/** What a display (curses, screendump) needs: the text cells and the cursor. */
export interface TextScreen {
  cols: number;
  rows: number;
  /** Character in the low byte, attribute in the high byte. */
  cells: Uint16Array;
  cursorRow: number;
  cursorCol: number;
  cursorVisible: boolean;
}

/** What it takes to draw the text screen as the CRT shows it (screendump). */
export interface TextDisplay extends TextScreen {
  /** Dots across a cell: 9, 8 (sequencer clocking mode bit 0), or 16 when the dot clock is halved (40-column modes). */
  cellWidth: number;
  /** Scan lines per cell: CRTC maximum scan line + 1. */
  cellHeight: number;
  /** Cursor scan lines, first and last (CRTC 0x0A/0x0B bits 4-0). */
  cursorStart: number;
  cursorEnd: number;
  /** Plane 2, where the glyphs are. */
  font: Uint8Array;
  /** Plane 2 offset of the glyphs for attributes with bit 3 clear (map B) and set (map A). */
  fontOffsets: [number, number];
  /** The 16 attribute colours as [r, g, b] 8-bit values, through the attribute palette and the DAC. */
  colours: [number, number, number][];
  /** Attribute mode control bit 2: the ninth dot of line-drawing characters repeats the eighth. */
  lineGraphics: boolean;
  /** Attribute mode control bit 3: attribute bit 7 blinks instead of brightening the background. */
  blink: boolean;
  /** Nothing is shown: the attribute palette is being loaded (index bit 5 clear) or the sequencer turned the screen off. */
  blanked: boolean;
}

function powerOnState(): VgaState {
  const dac = new Uint8Array(256 * 3);
  for (let i = 0; i < 64; i++) dac.set(egaPaletteRgb(i), i * 3);
  return {
    vram: new Uint8Array(PLANES * PLANE_SIZE),
    latch: 0,
    misc: MODE3_REGISTERS.misc,
    crtcIndex: 0,
    crtc: Uint8Array.from(MODE3_REGISTERS.crtc),
    seqIndex: 0,
    seq: Uint8Array.from(MODE3_REGISTERS.seq),
    gcIndex: 0,
    gc: Uint8Array.from(MODE3_REGISTERS.gc),
    attrIndex: 0x20,
    attrData: false,
    attr: Uint8Array.from(MODE3_REGISTERS.attr),
    dacWriteIndex: 0,
    dacReadIndex: 0,
    dacComponent: 0,
    dac,
    retrace: false,
  };
}

/** A 6-bit DAC value widened to 8 bits, low bit repeated (as QEMU shows DAC colours). */
function dacTo8(v: number): number {
  const b = v & 1;
  return ((v & 0x3f) << 2) | (b << 1) | b;
}

function rotateRight8(value: number, count: number): number {
  return ((value >> count) | (value << (8 - count))) & 0xff;
}

/** Graphics controller data rotate bits 4-3: replace, AND, OR or XOR with the latch. */
function applyLogicalOp(op: number, value: number, latch: number): number {
  switch (op) {
    case 1:
      return value & latch;
    case 2:
      return value | latch;
    case 3:
      return value ^ latch;
    default:
      return value;
  }
}

export class Vga {
  state = powerOnState();

  constructor(io: PortBus, mem: AddressSpace) {
    for (const [base, count] of REGISTER_PORTS) io.register('vga', base, count, this.ports);
    mem.addMmio('vga-lowmem', VGA_WINDOW_BASE, VGA_WINDOW_SIZE, this.window);
  }

  reset(): void {
    this.state = powerOnState();
  }

  /**
   * The text screen as the CRTC lays it out: columns from the horizontal
   * display end, rows from the vertical display end over the character
   * height, cells from the start address on in word mode (cell i at plane
   * offset 2 * (start + i)), character in plane 0 and attribute in plane 1.
   */
  textScreen(): TextScreen {
    const s = this.state;
    const cols = s.crtc[0x01]! + 1;
    const rows = Math.max(1, Math.floor(this.verticalDisplayLines() / this.cellHeight()));
    const start = (s.crtc[0x0c]! << 8) | s.crtc[0x0d]!;
    const cells = new Uint16Array(cols * rows);
    for (let i = 0; i < cells.length; i++) {
      const off = ((start + i) * 2) & (PLANE_SIZE - 1);
      cells[i] = s.vram[off]! | (s.vram[PLANE_SIZE + off]! << 8);
    }
    const cursor = ((s.crtc[0x0e]! << 8) | s.crtc[0x0f]!) - start;
    return {
      cols,
      rows,
      cells,
      cursorRow: Math.floor(cursor / cols),
      cursorCol: cursor % cols,
      cursorVisible: (s.crtc[0x0a]! & 0x20) === 0 && cursor >= 0 && cursor < cols * rows,
    };
  }

  textDisplay(): TextDisplay {
    const s = this.state;
    const clocking = s.seq[0x01]!;
    const mapSelect = s.seq[0x03]!;
    const mode = s.attr[0x10]!;
    return {
      ...this.textScreen(),
      cellWidth: clocking & 0x08 ? 16 : clocking & 0x01 ? 8 : 9,
      cellHeight: this.cellHeight(),
      cursorStart: s.crtc[0x0a]! & 0x1f,
      cursorEnd: s.crtc[0x0b]! & 0x1f,
      font: s.vram.subarray(2 * PLANE_SIZE, 3 * PLANE_SIZE),
      // Map B: select bits 4, 1, 0; map A: bits 5, 3, 2 (sequencer register 3).
      fontOffsets: [
        CHARACTER_MAP_OFFSETS[((mapSelect >> 2) & 4) | (mapSelect & 3)]!,
        CHARACTER_MAP_OFFSETS[((mapSelect >> 3) & 4) | ((mapSelect >> 2) & 3)]!,
      ],
      colours: Array.from({ length: 16 }, (_, i) => this.attributeColour(i)),
      lineGraphics: (mode & 0x04) !== 0,
      blink: (mode & 0x08) !== 0,
      blanked: (s.attrIndex & 0x20) === 0 || (clocking & 0x20) !== 0,
    };
  }

  private cellHeight(): number {
    return (this.state.crtc[0x09]! & 0x1f) + 1;
  }

  /** Vertical display end + 1: CRTC 0x12 with bit 8 in overflow bit 1 and bit 9 in overflow bit 6. */
  private verticalDisplayLines(): number {
    const c = this.state.crtc;
    return (c[0x12]! | ((c[0x07]! & 0x02) << 7) | ((c[0x07]! & 0x40) << 3)) + 1;
  }

  /**
   * Attribute colour i to RGB: the palette register gives DAC index bits
   * 5-0; colour select supplies bits 7-6, and bits 5-4 too when attribute
   * mode control bit 7 says so.
   */
  private attributeColour(i: number): [number, number, number] {
    const s = this.state;
    const select = s.attr[0x14]!;
    let index = s.attr[i]! & 0x3f;
    if (s.attr[0x10]! & 0x80) index = (index & 0x0f) | ((select & 0x03) << 4);
    index |= (select & 0x0c) << 4;
    return [dacTo8(s.dac[index * 3]!), dacTo8(s.dac[index * 3 + 1]!), dacTo8(s.dac[index * 3 + 2]!)];
  }

  /** Multi-byte accesses are byte accesses at ascending addresses, as the VGA's 8-bit memory interface sees them. */
  private readonly window = {
    read: (offset: number, size: AccessSize): number => {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.readByte(offset + i) << (8 * i);
      return v >>> 0;
    },
    write: (offset: number, size: AccessSize, value: number): void => {
      for (let i = 0; i < size; i++) this.writeByte(offset + i, (value >>> (8 * i)) & 0xff);
    },
  };

  /** The CPU address inside the window the memory map select enables, or -1 (no RAM there, or RAM access off in Misc Output bit 1). */
  private cpuAddress(offset: number): number {
    const [start, size] = MEMORY_MAPS[(this.state.gc[0x06]! >> 2) & 3]!;
    const addr = offset - start;
    return addr >= 0 && addr < size && (this.state.misc & 0x02) !== 0 ? addr : -1;
  }

  private chain4(): boolean {
    return (this.state.seq[0x04]! & 0x08) !== 0;
  }

  private loadLatches(off: number): void {
    const v = this.state.vram;
    this.state.latch = (v[off]! | (v[PLANE_SIZE + off]! << 8) | (v[2 * PLANE_SIZE + off]! << 16) | (v[3 * PLANE_SIZE + off]! << 24)) >>> 0;
  }

  private latchByte(plane: number): number {
    return (this.state.latch >>> (8 * plane)) & 0xff;
  }

  /**
   * A CPU read: chain-4 takes the plane from address bits 1-0, odd/even
   * (graphics mode register bit 4) from bit 0 with read map select bit 1,
   * planar from read map select. Every read loads the latches; read mode 1
   * answers the colour compare instead of a plane's byte.
   */
  private readByte(offset: number): number {
    const addr = this.cpuAddress(offset);
    if (addr < 0) return 0xff;
    const s = this.state;
    let plane: number;
    let off: number;
    if (this.chain4()) [plane, off] = [addr & 3, addr & ~3];
    else if (s.gc[0x05]! & 0x10) [plane, off] = [(s.gc[0x04]! & 2) | (addr & 1), addr & ~1];
    else [plane, off] = [s.gc[0x04]! & 3, addr];
    off &= PLANE_SIZE - 1;
    this.loadLatches(off);
    return s.gc[0x05]! & 0x08 ? this.colourCompare() : this.latchByte(plane);
  }

  /** Read mode 1: a 1 where every plane in colour don't care matches its colour compare bit. */
  private colourCompare(): number {
    const s = this.state;
    let result = 0xff;
    for (let p = 0; p < PLANES; p++) {
      if (((s.gc[0x07]! >> p) & 1) === 0) continue;
      const want = (s.gc[0x02]! >> p) & 1 ? 0xff : 0x00;
      result &= ~(this.latchByte(p) ^ want) & 0xff;
    }
    return result;
  }

  /**
   * A CPU write: the addressing picks the planes (chain-4: one by address
   * bits 1-0; odd/even, sequencer memory mode bit 2 clear: even addresses
   * to planes 0 and 2, odd to 1 and 3), the map mask gates them, and the
   * write mode makes each plane's byte from the CPU byte and the latches.
   */
  private writeByte(offset: number, value: number): void {
    const addr = this.cpuAddress(offset);
    if (addr < 0) return;
    const s = this.state;
    let planes: number;
    let off: number;
    if (this.chain4()) [planes, off] = [1 << (addr & 3), addr & ~3];
    else if ((s.seq[0x04]! & 0x04) === 0) [planes, off] = [addr & 1 ? 0b1010 : 0b0101, addr & ~1];
    else [planes, off] = [0b1111, addr];
    planes &= s.seq[0x02]!;
    off &= PLANE_SIZE - 1;
    for (let p = 0; p < PLANES; p++) {
      if ((planes >> p) & 1) s.vram[p * PLANE_SIZE + off] = this.planeWriteValue(p, value);
    }
  }

  /**
   * Graphics controller write modes (mode register bits 1-0):
   * 0 rotated CPU byte or set/reset, 1 the latches, 2 CPU bit p spread over
   * plane p, 3 set/reset under (rotated CPU byte AND bit mask); then the
   * logical operation with the latch, and the bit mask keeps latch bits.
   */
  private planeWriteValue(plane: number, value: number): number {
    const gc = this.state.gc;
    const latch = this.latchByte(plane);
    const setReset = (gc[0x00]! >> plane) & 1 ? 0xff : 0x00;
    const rotated = rotateRight8(value, gc[0x03]! & 7);
    let mask = gc[0x08]!;
    let data: number;
    switch (gc[0x05]! & 3) {
      case 1:
        return latch;
      case 2:
        data = (value >> plane) & 1 ? 0xff : 0x00;
        break;
      case 3:
        data = setReset;
        mask &= rotated;
        break;
      default:
        data = (gc[0x01]! >> plane) & 1 ? setReset : rotated;
    }
    data = applyLogicalOp((gc[0x03]! >> 3) & 3, data, latch);
    return (data & mask) | (latch & ~mask & 0xff);
  }

  private readonly ports = {
    read: (port: number): number => this.readPort(port),
    write: (port: number, _size: AccessSize, value: number): void => this.writePort(port, value),
  };

  /** True when the CRTC answers at 0x3Dx (colour); false for 0x3Bx (mono). */
  private colour(): boolean {
    return (this.state.misc & 1) === 1;
  }

  private crtcPort(port: number): boolean {
    const base = this.colour() ? 0x3d0 : 0x3b0;
    return port === base + 4 || port === base + 5;
  }

  private readPort(port: number): number {
    const s = this.state;
    if (this.crtcPort(port)) return port & 1 ? (s.crtc[s.crtcIndex] ?? 0) : s.crtcIndex;
    switch (port) {
      case 0x3c0:
        return s.attrIndex;
      case 0x3c1:
        return s.attr[s.attrIndex & 0x1f] ?? 0;
      case 0x3c2:
        return 0; // input status #0: no switch sense, no CRT interrupt
      case 0x3c4:
        return s.seqIndex;
      case 0x3c5:
        return s.seq[s.seqIndex] ?? 0;
      case 0x3c7:
        return 0; // DAC state: in write mode
      case 0x3c8:
        return s.dacWriteIndex;
      case 0x3c9:
        return this.readDac();
      case 0x3cc:
        return s.misc;
      case 0x3ce:
        return s.gcIndex;
      case 0x3cf:
        return s.gc[s.gcIndex] ?? 0;
      case 0x3ba:
      case 0x3da:
        return this.readInputStatus1();
      default:
        return 0xff;
    }
  }

  /**
   * Input status #1 (SDM-like VGA reference, 0x3DA): bit 3 vertical retrace,
   * bit 0 display disabled. Reading it also resets the attribute flip-flop.
   * The bits toggle on every read so that "wait for retrace" loops finish.
   */
  private readInputStatus1(): number {
    const s = this.state;
    s.attrData = false;
    s.retrace = !s.retrace;
    return s.retrace ? 0x09 : 0x00;
  }

  private readDac(): number {
    const s = this.state;
    const v = s.dac[s.dacReadIndex * 3 + s.dacComponent]!;
    s.dacReadIndex = this.nextDacComponent(s.dacReadIndex);
    return v;
  }

  /** Steps to the next of red, green, blue; after blue, to the next colour's red. Returns the colour index to use next. */
  private nextDacComponent(index: number): number {
    const s = this.state;
    if (++s.dacComponent < 3) return index;
    s.dacComponent = 0;
    return (index + 1) & 0xff;
  }

  private writePort(port: number, value: number): void {
    const s = this.state;
    if (this.crtcPort(port)) {
      if (port & 1) {
        if (s.crtcIndex < s.crtc.length) s.crtc[s.crtcIndex] = value;
      } else {
        s.crtcIndex = value & 0x1f;
      }
      return;
    }
    switch (port) {
      case 0x3c0:
        this.writeAttribute(value);
        return;
      case 0x3c2:
        s.misc = value;
        return;
      case 0x3c4:
        s.seqIndex = value & 0x7;
        return;
      case 0x3c5:
        if (s.seqIndex < s.seq.length) s.seq[s.seqIndex] = value;
        return;
      case 0x3c7:
        s.dacReadIndex = value;
        s.dacComponent = 0;
        return;
      case 0x3c8:
        s.dacWriteIndex = value;
        s.dacComponent = 0;
        return;
      case 0x3c9:
        s.dac[s.dacWriteIndex * 3 + s.dacComponent] = value & 0x3f;
        s.dacWriteIndex = this.nextDacComponent(s.dacWriteIndex);
        return;
      case 0x3ce:
        s.gcIndex = value & 0xf;
        return;
      case 0x3cf:
        if (s.gcIndex < s.gc.length) s.gc[s.gcIndex] = value;
        return;
    }
  }

  /** 0x3C0 alternates between index and data writes (the flip-flop). */
  private writeAttribute(value: number): void {
    const s = this.state;
    if (!s.attrData) {
      s.attrIndex = value & 0x3f;
    } else if ((s.attrIndex & 0x1f) < s.attr.length) {
      s.attr[s.attrIndex & 0x1f] = value;
    }
    s.attrData = !s.attrData;
  }
}
