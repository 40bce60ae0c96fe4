/**
 * VGA, as much as text-mode firmware, bootloaders and DOS use: the legacy
 * memory window at 0xA0000-0xBFFFF (text cells at 0xB8000 in colour mode),
 * the CRT controller's index/data pair with the cursor and start-address
 * registers, the sequencer, graphics controller, attribute controller and
 * DAC register files (stored so software reads back what it wrote), the
 * miscellaneous output register and input status #1 (vertical retrace
 * toggling so polling loops end).
 *
 * Register ports follow the IBM VGA reference: 0x3C0-0x3CF, and the CRTC at
 * 0x3D4/0x3D5 (0x3B4/0x3B5 when Misc Output bit 0 selects mono addressing).
 */
import type { AddressSpace, AccessSize } from '../memory/address-space.js';
import type { PortBus } from '../io/port-bus.js';

export const VGA_WINDOW_BASE = 0xa0000;
const VGA_WINDOW_SIZE = 0x20000;
/** Offset of the colour text buffer (0xB8000) inside the window. */
const TEXT_OFFSET = 0x18000;
/** [base, count]: the mono CRTC and input status #1, the 0x3C0-0x3CF block, the colour CRTC and input status #1. */
const REGISTER_PORTS: readonly [number, number][] = [[0x3b4, 2], [0x3ba, 1], [0x3c0, 0x10], [0x3d4, 2], [0x3da, 1]];

export interface VgaState {
  vram: Uint8Array;
  misc: number;
  crtcIndex: number;
  crtc: Uint8Array;
  seqIndex: number;
  seq: Uint8Array;
  gcIndex: number;
  gc: Uint8Array;
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

function powerOnState(): VgaState {
  const crtc = new Uint8Array(0x19);
  crtc[0x09] = 0x0f; // 16 scan lines per character row
  crtc[0x0a] = 0x0d; // cursor start
  crtc[0x0b] = 0x0e; // cursor end
  return {
    vram: new Uint8Array(VGA_WINDOW_SIZE),
    misc: 0x67, // colour addressing, RAM enabled (the mode-3 value)
    crtcIndex: 0,
    crtc,
    seqIndex: 0,
    seq: new Uint8Array(5),
    gcIndex: 0,
    gc: new Uint8Array(9),
    attrIndex: 0,
    attrData: false,
    attr: new Uint8Array(0x15),
    dacWriteIndex: 0,
    dacReadIndex: 0,
    dacComponent: 0,
    dac: new Uint8Array(256 * 3),
    retrace: false,
  };
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

  /** The 80x25 colour text screen as the CRTC start address and cursor registers place it. */
  textScreen(): TextScreen {
    const s = this.state;
    const cols = 80;
    const rows = 25;
    const start = ((s.crtc[0x0c]! << 8) | s.crtc[0x0d]!) * 2;
    const cells = new Uint16Array(cols * rows);
    for (let i = 0; i < cells.length; i++) {
      const off = TEXT_OFFSET + ((start + i * 2) & 0x7fff);
      cells[i] = s.vram[off]! | (s.vram[off + 1]! << 8);
    }
    const cursor = ((s.crtc[0x0e]! << 8) | s.crtc[0x0f]!) - (start >> 1);
    return {
      cols,
      rows,
      cells,
      cursorRow: Math.floor(cursor / cols),
      cursorCol: cursor % cols,
      cursorVisible: (s.crtc[0x0a]! & 0x20) === 0 && cursor >= 0 && cursor < cols * rows,
    };
  }

  /** The memory window is plain byte storage: enough for text modes and chain-4 style linear writes. */
  private readonly window = {
    read: (offset: number, size: AccessSize): number => {
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.state.vram[(offset + i) % VGA_WINDOW_SIZE]! << (8 * i);
      return v >>> 0;
    },
    write: (offset: number, size: AccessSize, value: number): void => {
      for (let i = 0; i < size; i++) this.state.vram[(offset + i) % VGA_WINDOW_SIZE] = (value >>> (8 * i)) & 0xff;
    },
  };

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
