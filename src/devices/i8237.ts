/**
 * The PC's ISA DMA: two Intel 8237A controllers and the 74LS612 page
 * registers (Intel 8237A datasheet; the PC/AT technical reference).
 *
 *   DMA 1, channels 0-3, byte transfers:  ports 0x00-0x0F
 *   DMA 2, channels 4-7, word transfers:  ports 0xC0-0xDE (even ports only);
 *          channel 4 cascades DMA 1
 *   page registers (address bits 16-23):  0x87 0x83 0x81 0x82 for channels 0-3,
 *                                         0x8F 0x8B 0x89 0x8A for channels 4-7
 *
 * Per controller (register number r is port base + r, or 0xC0 + 2r on DMA 2):
 *   r = 2n / 2n+1   channel n's address / count, low byte then high byte
 *                   through the byte pointer flip-flop
 *   8  read status (TC bits 0-3, cleared by the read; DREQ bits 4-7), write command
 *   9  request     10 single mask bit      11 mode
 *   12 clear flip-flop     13 read temporary / write master clear
 *   14 clear all masks     15 write all mask bits (read back as the mask)
 *
 * Devices do not drive DREQ cycle by cycle: a device with data ready calls
 * transfer(), which moves as much as the channel's count allows in the
 * direction its mode register says, as the 8237 does in demand mode.
 */
import type { AddressSpace } from '../memory/address-space.js';
import type { PortBus } from '../io/port-bus.js';

/** Mode register bits 3-2: the transfer type, named from memory's side (0 is verify: no data moves). */
const TYPE_WRITE = 1; // device to memory
const TYPE_READ = 2; // memory to device
const MODE_AUTOINIT = 0x10;
const MODE_DECREMENT = 0x20;
/** Page register port of each channel (0x80 itself is the POST port, src/devices/port80.ts). */
const PAGE_PORTS = [0x87, 0x83, 0x81, 0x82, 0x8f, 0x8b, 0x89, 0x8a];

export interface DmaChannelState {
  baseAddress: number;
  baseCount: number;
  address: number;
  count: number;
  mode: number;
  page: number;
}

export interface DmaControllerState {
  channels: DmaChannelState[];
  command: number;
  /** Bits 0-3 mask channels 0-3 of this controller. */
  mask: number;
  /** Bits 0-3: terminal count reached; bits 4-7: software requests. */
  status: number;
  /** The byte pointer flip-flop: true when the next address/count access is the high byte. */
  highByte: boolean;
}

export interface DmaResult {
  /** Bytes moved (for word channels, twice the words). */
  bytes: number;
  /** The channel's count ran out: the 8237 asserts TC (EOP) to the device. */
  terminalCount: boolean;
}

function powerOnController(): DmaControllerState {
  const channels = [0, 1, 2, 3].map(() => ({ baseAddress: 0, baseCount: 0, address: 0, count: 0, mode: 0, page: 0 }));
  return { channels, command: 0, mask: 0xf, status: 0, highByte: false };
}

class Dma8237 {
  state = powerOnController();

  constructor(
    /** 0 for DMA 1 (bytes), 1 for DMA 2 (words). */
    readonly index: 0 | 1,
  ) {}

  reset(): void {
    const pages = this.state.channels.map((c) => c.page);
    this.state = powerOnController();
    this.state.channels.forEach((c, i) => (c.page = pages[i]!));
  }

  read(reg: number): number {
    const s = this.state;
    if (reg < 8) return this.readCounter(s.channels[reg >> 1]!, (reg & 1) === 1);
    switch (reg) {
      case 8: {
        const status = s.status;
        s.status &= 0xf0;
        return status;
      }
      case 15:
        return s.mask | 0xf0;
      default:
        // The temporary register (memory-to-memory transfers, which the PC never wires up).
        return 0;
    }
  }

  write(reg: number, value: number): void {
    const s = this.state;
    if (reg < 8) {
      this.writeCounter(s.channels[reg >> 1]!, (reg & 1) === 1, value);
      return;
    }
    switch (reg) {
      case 8:
        s.command = value;
        break;
      case 9:
        s.status = value & 4 ? s.status | (0x10 << (value & 3)) : s.status & ~(0x10 << (value & 3));
        break;
      case 10:
        s.mask = value & 4 ? s.mask | (1 << (value & 3)) : s.mask & ~(1 << (value & 3));
        break;
      case 11:
        s.channels[value & 3]!.mode = value;
        break;
      case 12:
        s.highByte = false;
        break;
      case 13:
        // Master clear: as a hardware reset, except the page registers, which are not in the 8237.
        this.reset();
        break;
      case 14:
        s.mask = 0;
        break;
      case 15:
        s.mask = value & 0xf;
        break;
    }
  }

  private readCounter(ch: DmaChannelState, isCount: boolean): number {
    const value = isCount ? ch.count : ch.address;
    const byte = this.state.highByte ? value >> 8 : value & 0xff;
    this.state.highByte = !this.state.highByte;
    return byte;
  }

  /** Writing address or count sets both the base and the current register (datasheet, "Base and Current"). */
  private writeCounter(ch: DmaChannelState, isCount: boolean, value: number): void {
    const high = this.state.highByte;
    this.state.highByte = !high;
    const old = isCount ? ch.baseCount : ch.baseAddress;
    const merged = high ? (old & 0xff) | ((value & 0xff) << 8) : (old & 0xff00) | (value & 0xff);
    if (isCount) ch.baseCount = ch.count = merged;
    else ch.baseAddress = ch.address = merged;
  }
}

export class I8237 {
  private readonly controllers = [new Dma8237(0), new Dma8237(1)] as const;

  constructor(
    io: PortBus,
    private readonly mem: AddressSpace,
  ) {
    const [dma1, dma2] = this.controllers;
    io.register('dma-chan', 0x00, 0x10, {
      read: (port) => dma1.read(port),
      write: (port, _size, value) => dma1.write(port, value),
    });
    io.register('dma-cont', 0xc0, 0x20, {
      read: (port) => (port & 1 ? 0xff : dma2.read((port - 0xc0) >> 1)),
      write: (port, _size, value) => {
        if (!(port & 1)) dma2.write((port - 0xc0) >> 1, value);
      },
    });
    PAGE_PORTS.forEach((port, channel) => {
      io.register('dma-page', port, 1, {
        read: () => this.channel(channel).page,
        write: (_port, _size, value) => (this.channel(channel).page = value & 0xff),
      });
    });
  }

  get state(): DmaControllerState[] {
    return this.controllers.map((c) => c.state);
  }

  reset(): void {
    for (const c of this.controllers) c.reset();
  }

  /** True when the channel is unmasked, so a DREQ on it would be served. */
  ready(channel: number): boolean {
    const c = this.controllers[channel >> 2];
    return (c.state.mask & (1 << (channel & 3))) === 0;
  }

  /**
   * The device side of one DMA request on `channel`: `data` is what the
   * device offers (to be written to memory) or the buffer it wants filled
   * (read from memory), per the mode register; a verify transfer moves no
   * data. Moves at most data.length bytes and stops at terminal count.
   */
  transfer(channel: number, data: Uint8Array): DmaResult {
    const ctl = this.controllers[channel >> 2];
    const n = channel & 3;
    if (!this.ready(channel)) return { bytes: 0, terminalCount: false };
    const ch = ctl.state.channels[n]!;
    const unit = ctl.index === 0 ? 1 : 2;
    const type = (ch.mode >> 2) & 3;
    const down = (ch.mode & MODE_DECREMENT) !== 0;
    let moved = 0;
    let terminalCount = false;
    while (moved + unit <= data.length && !terminalCount) {
      // One run: contiguous in memory (the address wraps within its page), within the count and the data.
      const untilWrap = down ? ch.address + 1 : 0x10000 - ch.address;
      const units = down ? 1 : Math.min(untilWrap, ch.count + 1, Math.floor((data.length - moved) / unit));
      const addr = this.physicalAddress(ctl.index, ch);
      const bytes = units * unit;
      if (type === TYPE_WRITE) this.mem.writeBytes(addr, data.subarray(moved, moved + bytes));
      else if (type === TYPE_READ) data.set(this.mem.readBytes(addr, bytes), moved);
      moved += bytes;
      ch.address = (ch.address + (down ? -units : units)) & 0xffff;
      // The count register holds transfers minus one: TC comes as it rolls over from 0 to FFFFh.
      terminalCount = ch.count < units;
      ch.count = (ch.count - units) & 0xffff;
    }
    if (terminalCount) this.terminalCount(ctl, n);
    return { bytes: moved, terminalCount };
  }

  private channel(channel: number): DmaChannelState {
    return this.controllers[channel >> 2].state.channels[channel & 3]!;
  }

  /** DMA 1 addresses bytes within a 64 KiB page; DMA 2 words within a 128 KiB page (page bit 0 unused). */
  private physicalAddress(index: 0 | 1, ch: DmaChannelState): number {
    return index === 0 ? (ch.page << 16) | ch.address : ((ch.page & 0xfe) << 16) | (ch.address << 1);
  }

  /** TC: status bit set; autoinitialize reloads the base registers, else the channel masks itself. */
  private terminalCount(ctl: Dma8237, n: number): void {
    const s = ctl.state;
    const ch = s.channels[n]!;
    s.status |= 1 << n;
    s.status &= ~(0x10 << n);
    if (ch.mode & MODE_AUTOINIT) {
      ch.address = ch.baseAddress;
      ch.count = ch.baseCount;
    } else {
      s.mask |= 1 << n;
    }
  }
}
