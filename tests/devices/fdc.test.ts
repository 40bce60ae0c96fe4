/**
 * The 82077AA floppy controller and the 8237 DMA controllers at port level,
 * driven as SeaBIOS and Linux's floppy driver drive them: the MSR before,
 * during and after each command, the result bytes (ST0-ST3, PCN, IDs),
 * IRQ 6 at the PIC's input, and sectors moved by DMA channel 2 between a
 * 1.44 MiB image and guest memory. Then a hostile guest.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Fdc, FDC_IRQ } from '../../src/devices/fdc.js';
import { I8237 } from '../../src/devices/i8237.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { PortBus } from '../../src/io/port-bus.js';
import { IrqRouter } from '../../src/io/irq.js';
import { pattern, useScratchDrives } from './ide-guest.js';
import { fakeTime } from './fake-clock.js';
import { prng } from '../helpers/prng.js';

const drives = useScratchDrives();
const FLOPPY_BYTES = 1_474_560;
const DOR = 0x3f2;
const MSR = 0x3f4;
const FIFO = 0x3f5;
const CCR = 0x3f7;
const BUFFER = 0x1_f000; // crosses no 64 KiB page for one track

/**
 * A bus with the DMA and floppy controllers, a 1.44 MiB patterned diskette
 * in drive A:, IRQ levels to look at, and guest time that moves only when
 * the test advances it.
 */
function machine(options: { readonly?: boolean } = {}) {
  const io = new PortBus();
  const levels: boolean[] = [];
  const irq = new IrqRouter({ setIrq: (n, level) => (levels[n] = level) });
  const mem = new AddressSpace(1 << 20);
  const dma = new I8237(io, mem);
  const time = fakeTime();
  const fdc = new Fdc(io, irq.line(FDC_IRQ), dma, time.timers);
  const image = drives.tmp.file('floppy.img', pattern(FLOPPY_BYTES));
  fdc.attach(0, drives.open(image, { interface: 'floppy', readonly: options.readonly ?? false }));
  const irq6 = () => levels[FDC_IRQ] === true;
  return { io, mem, fdc, image, irq6, advance: time.advance };
}

type Io = PortBus;

/** Writes a command the way drivers do: wait for RQM with DIO clear before each byte. */
function command(io: Io, ...bytes: number[]): void {
  for (const b of bytes) {
    expect(io.read(MSR, 1) & 0xc0).toBe(0x80);
    io.write(FIFO, 1, b);
  }
}

/** Reads the result phase: RQM and DIO set before each byte, back to command phase (MSR 80h) after. */
function result(io: Io): number[] {
  const out: number[] = [];
  while ((io.read(MSR, 1) & 0xd0) === 0xd0) out.push(io.read(FIFO, 1));
  expect(io.read(MSR, 1)).toBe(0x80);
  return out;
}

/** Channel 2 in single mode: `write` = device to memory (FDC read), else memory to device. */
function programDma(io: Io, address: number, bytes: number, toMemory: boolean): void {
  io.write(0x0a, 1, 0x06); // mask channel 2
  io.write(0x0c, 1, 0); // clear the flip-flop
  io.write(0x0b, 1, toMemory ? 0x46 : 0x4a);
  io.write(0x04, 1, address & 0xff);
  io.write(0x04, 1, (address >> 8) & 0xff);
  io.write(0x81, 1, address >> 16);
  io.write(0x05, 1, (bytes - 1) & 0xff);
  io.write(0x05, 1, (bytes - 1) >> 8);
  io.write(0x0a, 1, 0x02); // unmask channel 2
}

/** SeaBIOS's floppy_enable_controller: reset through the DOR, then the four polling senses. */
function resetController(io: Io, irq6: () => boolean): number[][] {
  io.write(DOR, 1, 0x00);
  expect(io.read(MSR, 1)).toBe(0); // held in reset
  io.write(DOR, 1, 0x0c);
  expect(irq6()).toBe(true);
  const senses: number[][] = [];
  for (let i = 0; i < 4; i++) {
    command(io, 0x08);
    senses.push(result(io));
  }
  return senses;
}

function offsetOf(c: number, h: number, r: number): number {
  return ((c * 2 + h) * 18 + r - 1) * 512;
}

describe('82077AA floppy controller', () => {
  it('answers reset with one interrupt and four polling senses (ST0 C0h+drive), then invalid', () => {
    const { io, irq6 } = machine();
    expect(resetController(io, irq6)).toEqual([[0xc0, 0], [0xc1, 0], [0xc2, 0], [0xc3, 0]]);
    expect(irq6()).toBe(false);
    command(io, 0x08);
    expect(result(io)).toEqual([0x80]);
  });

  it('identifies as an 82077AA: VERSION 90h, LOCK, DUMPREG, CONFIGURE, PERPENDICULAR, SPECIFY; an unknown opcode is invalid at once', () => {
    const { io, irq6 } = machine();
    command(io, 0x10);
    expect(result(io)).toEqual([0x90]);
    command(io, 0x03, 0xaf, 0x02); // SPECIFY: SRT/HUT, HLT, DMA
    command(io, 0x13, 0x00, 0x57, 0x05); // CONFIGURE: EIS, FIFO off, polling off, threshold 7, PRETRK 5
    command(io, 0x12, 0x80 | 0x08); // PERPENDICULAR: OW, drive 1
    command(io, 0x94); // LOCK
    expect(result(io)).toEqual([0x10]);
    command(io, 0x0e);
    expect(result(io)).toEqual([0, 0, 0, 0, 0xaf, 0x02, 0, 0x80 | 0x08, 0x57, 5]);
    // Locked: a reset keeps CONFIGURE; polling is off, so no interrupt comes.
    io.write(0x3f4, 1, 0x80);
    expect(irq6()).toBe(false);
    command(io, 0x0e);
    expect(result(io).slice(8)).toEqual([0x57, 5]);
    command(io, 0x14); // UNLOCK
    expect(result(io)).toEqual([0x00]);
    io.write(0x3f4, 1, 0x80);
    command(io, 0x0e);
    expect(result(io).slice(8)).toEqual([0x20, 0]);
    expect(io.read(MSR, 1)).toBe(0x80);
    io.write(FIFO, 1, 0x1f);
    expect(io.read(MSR, 1) & 0xd0).toBe(0xd0);
    expect(result(io)).toEqual([0x80]);
  });

  it('recalibrates and seeks with an interrupt each, reported by SENSE INTERRUPT STATUS; ST3 shows track 0', () => {
    const { io, irq6 } = machine();
    resetController(io, irq6);
    expect(io.read(CCR, 1) & 0x80).toBe(0x80); // disk changed since power-on
    command(io, 0x07, 0x00);
    expect(io.read(MSR, 1)).toBe(0x80); // no result phase
    expect(irq6()).toBe(true);
    command(io, 0x08);
    expect(result(io)).toEqual([0x20, 0]);
    expect(irq6()).toBe(false);
    expect(io.read(CCR, 1) & 0x80).toBe(0); // the step cleared DSKCHG
    command(io, 0x04, 0x00);
    expect(result(io)).toEqual([0x38]); // ready, track 0, two-sided, drive 0
    command(io, 0x0f, 0x04, 42); // seek head 1 to cylinder 42
    command(io, 0x08);
    expect(result(io)).toEqual([0x24, 42]);
    command(io, 0x04, 0x04);
    expect(result(io)).toEqual([0x2c]);
    command(io, 0x8f | 0x40, 0x00, 3); // relative seek inward by 3
    command(io, 0x08);
    expect(result(io)).toEqual([0x20, 45]);
    command(io, 0x07, 0x01); // no drive B: never reaches track 0
    command(io, 0x08);
    expect(result(io)).toEqual([0x71, 0]);
  });

  it('READ ID at the medium\'s data rate; at another rate no address mark', () => {
    const { io, irq6 } = machine();
    resetController(io, irq6);
    command(io, 0x0f, 0x00, 5);
    command(io, 0x08);
    result(io);
    io.write(CCR, 1, 0x00); // 500 kbps, 1.44 MiB
    command(io, 0x4a, 0x00);
    expect(irq6()).toBe(true);
    expect(result(io)).toEqual([0x00, 0, 0, 5, 0, 1, 2]);
    expect(irq6()).toBe(false);
    io.write(CCR, 1, 0x02); // 250 kbps
    command(io, 0x4a, 0x00);
    expect(result(io)).toEqual([0x40, 0x01, 0, 5, 0, 1, 2]);
  });

  it('reads a multi-track run by DMA: both sides, terminal count ends it normally with the next sector\'s ID', () => {
    const { io, mem, irq6 } = machine();
    resetController(io, irq6);
    io.write(CCR, 1, 0x00);
    command(io, 0x0f, 0x00, 3);
    command(io, 0x08);
    result(io);
    const sectors = 4; // 17, 18 of side 0, then 1, 2 of side 1
    programDma(io, BUFFER, sectors * 512, true);
    command(io, 0xe6, 0x00, 3, 0, 17, 2, 18, 0x1b, 0xff);
    expect(irq6()).toBe(true);
    expect(result(io)).toEqual([0x04, 0, 0, 3, 1, 3, 2]);
    const disk = pattern(FLOPPY_BYTES);
    const expected = new Uint8Array([
      ...disk.subarray(offsetOf(3, 0, 17), offsetOf(3, 0, 17) + 1024),
      ...disk.subarray(offsetOf(3, 1, 1), offsetOf(3, 1, 1) + 1024),
    ]);
    expect(mem.readBytes(BUFFER, sectors * 512)).toEqual(expected);
    // The 8237 saw terminal count on channel 2 and masked it.
    expect(io.read(0x08, 1) & 0x04).toBe(0x04);
    expect(io.read(0x0f, 1) & 0x04).toBe(0x04);
  });

  it('ends a read at EOT without terminal count as end of cylinder, and reports a wrong cylinder', () => {
    const { io, irq6 } = machine();
    resetController(io, irq6);
    io.write(CCR, 1, 0x00);
    command(io, 0x07, 0x00);
    command(io, 0x08);
    result(io);
    programDma(io, BUFFER, 8 * 512, true);
    command(io, 0x46, 0x00, 0, 0, 1, 2, 2, 0x1b, 0xff); // sectors 1-2 of a count of 8
    expect(result(io)).toEqual([0x40, 0x80, 0, 1, 0, 1, 2]);
    command(io, 0x46, 0x00, 7, 0, 1, 2, 18, 0x1b, 0xff); // the head is on cylinder 0
    expect(result(io)).toEqual([0x40, 0x04, 0x10, 7, 0, 1, 2]);
  });

  it('writes by DMA to the image, and a read-only diskette refuses with not writable', () => {
    const { io, mem, irq6, image } = machine();
    resetController(io, irq6);
    io.write(CCR, 1, 0x00);
    command(io, 0x0f, 0x04, 10);
    command(io, 0x08);
    result(io);
    const data = pattern(1024, 99);
    mem.writeBytes(BUFFER, data);
    programDma(io, BUFFER, 1024, false);
    command(io, 0xc5, 0x04, 10, 1, 5, 2, 18, 0x1b, 0xff);
    expect(result(io)).toEqual([0x04, 0, 0, 10, 1, 7, 2]);
    drives.closeAll();
    expect(readFileSync(image).subarray(offsetOf(10, 1, 5), offsetOf(10, 1, 5) + 1024)).toEqual(Buffer.from(data));

    const ro = machine({ readonly: true });
    resetController(ro.io, ro.irq6);
    ro.io.write(CCR, 1, 0x00);
    command(ro.io, 0x04, 0x00);
    expect(result(ro.io)[0]! & 0x40).toBe(0x40);
    programDma(ro.io, BUFFER, 512, false);
    command(ro.io, 0xc5, 0x00, 0, 0, 1, 2, 18, 0x1b, 0xff);
    expect(result(ro.io).slice(0, 2)).toEqual([0x40, 0x02]);
  });

  it('moves data through the FIFO in non-DMA mode (execution phase MSR F0h), ending at EOT once the last CRC has passed', () => {
    const { io, irq6, advance } = machine();
    resetController(io, irq6);
    io.write(CCR, 1, 0x00);
    command(io, 0x03, 0xaf, 0x03); // SPECIFY ND
    command(io, 0x07, 0x00);
    command(io, 0x08);
    result(io);
    command(io, 0x46, 0x00, 0, 0, 2, 2, 3, 0x1b, 0xff);
    expect(irq6()).toBe(true);
    const got: number[] = [];
    while (io.read(MSR, 1) === 0xf0) got.push(io.read(FIFO, 1));
    expect(Uint8Array.from(got)).toEqual(pattern(FLOPPY_BYTES).subarray(512, 1536));
    // No more data (RQM clear) until the controller is done with the medium: 18 byte times at 500 kbps.
    expect(io.read(MSR, 1)).toBe(0x70);
    expect(irq6()).toBe(false);
    advance(18 * 16_000);
    expect(irq6()).toBe(true);
    expect(result(io)).toEqual([0x40, 0x80, 0, 1, 0, 1, 2]);
  });

  /** A host that moves no byte for this long gets an overrun (one revolution, tsvm's allowance). */
  const OVERRUN_NS = 200e6;

  it("ends a non-DMA read with an overrun where the host stopped taking bytes, as Linux's pseudo-DMA reads a track", () => {
    const { io, irq6, advance } = machine();
    resetController(io, irq6);
    io.write(CCR, 1, 0x00);
    command(io, 0x03, 0xc1, 0x11); // SPECIFY ND, as Linux's floppy=nodma
    command(io, 0x07, 0x00);
    command(io, 0x08);
    result(io);
    command(io, 0xe6, 0x00, 0, 0, 1, 2, 18, 0x1b, 0xff); // MT: both sides of cylinder 0
    const got: number[] = [];
    for (let i = 0; i < 18 * 512; i++) {
      expect(io.read(MSR, 1)).toBe(0xf0);
      got.push(io.read(FIFO, 1));
      if (i % 512 === 0) advance(OVERRUN_NS - 1); // a slow host that keeps up
    }
    expect(Uint8Array.from(got)).toEqual(pattern(FLOPPY_BYTES).subarray(0, 18 * 512));
    advance(OVERRUN_NS - 1);
    expect(io.read(MSR, 1)).toBe(0xf0); // side 1's first sector is coming in
    expect(irq6()).toBe(false);
    advance(1);
    expect(irq6()).toBe(true);
    // Abnormal termination, ST1 OR, at side 1 sector 1: the host took side 0 whole.
    expect(result(io)).toEqual([0x44, 0x10, 0, 0, 1, 1, 2]);
  });

  it('ends a non-DMA write with an underrun, storing only the sectors the host sent whole', () => {
    const { io, irq6, advance, image } = machine();
    resetController(io, irq6);
    io.write(CCR, 1, 0x00);
    command(io, 0x03, 0xc1, 0x11);
    command(io, 0x0f, 0x00, 4);
    command(io, 0x08);
    result(io);
    command(io, 0x45, 0x00, 4, 0, 5, 2, 18, 0x1b, 0xff);
    for (let i = 0; i < 512 + 100; i++) io.write(FIFO, 1, 0xa5);
    advance(OVERRUN_NS);
    expect(irq6()).toBe(true);
    expect(result(io)).toEqual([0x40, 0x10, 0, 4, 0, 6, 2]);
    drives.closeAll();
    const disk = readFileSync(image);
    expect(disk.subarray(offsetOf(4, 0, 5), offsetOf(4, 0, 6)).every((b) => b === 0xa5)).toBe(true);
    expect(disk.subarray(offsetOf(4, 0, 6), offsetOf(4, 0, 7))).toEqual(Buffer.from(pattern(FLOPPY_BYTES).subarray(offsetOf(4, 0, 6), offsetOf(4, 0, 7))));
  });

  it('formats a track from DMA ID fields, filling each sector', () => {
    const { io, mem, irq6, image } = machine();
    resetController(io, irq6);
    io.write(CCR, 1, 0x00);
    command(io, 0x0f, 0x00, 2);
    command(io, 0x08);
    result(io);
    const ids = new Uint8Array(18 * 4);
    for (let r = 1; r <= 18; r++) ids.set([2, 0, r, 2], (r - 1) * 4);
    mem.writeBytes(BUFFER, ids);
    programDma(io, BUFFER, ids.length, false);
    command(io, 0x4d, 0x00, 2, 18, 0x54, 0xe5);
    expect(result(io)[0]).toBe(0x00);
    drives.closeAll();
    const track = readFileSync(image).subarray(offsetOf(2, 0, 1), offsetOf(2, 0, 1) + 18 * 512);
    expect(track.every((b) => b === 0xe5)).toBe(true);
  });
});

describe('8237 DMA controllers', () => {
  it('reads back address and count through the flip-flop, reports TC in status and reloads on autoinit', () => {
    const { io } = machine();
    programDma(io, 0x12345, 0x100, true);
    io.write(0x0c, 1, 0);
    expect([io.read(0x04, 1), io.read(0x04, 1), io.read(0x05, 1), io.read(0x05, 1), io.read(0x81, 1)]).toEqual([0x45, 0x23, 0xff, 0x00, 0x01]);
    io.write(0xd6, 1, 0xc0); // DMA 2: channel 4 cascade, as SeaBIOS sets it up
    io.write(0xd4, 1, 0x00);
    expect(io.read(0xde, 1) & 1).toBe(0);
  });

  it('moves words on DMA 2 and honours decrement and autoinitialize on DMA 1', () => {
    const io = new PortBus();
    const mem = new AddressSpace(1 << 20);
    const dma = new I8237(io, mem);
    // Channel 5: word address 0x1000 in page 2 = byte 0x22000, 2 words.
    io.write(0xd8, 1, 0);
    io.write(0xd6, 1, 0x45); // channel 5, write to memory, single
    io.write(0xc4, 1, 0x00);
    io.write(0xc4, 1, 0x10);
    io.write(0x8b, 1, 0x02);
    io.write(0xc6, 1, 1);
    io.write(0xc6, 1, 0);
    io.write(0xd4, 1, 0x01); // unmask channel 5
    expect(dma.transfer(5, Uint8Array.of(1, 2, 3, 4, 5, 6))).toEqual({ bytes: 4, terminalCount: true });
    expect(Array.from(mem.readBytes(0x22000, 5))).toEqual([1, 2, 3, 4, 0]);
    expect(dma.ready(5)).toBe(false);
    // Channel 1: decrementing from 0x0103, 2 bytes, autoinit.
    io.write(0x0c, 1, 0);
    io.write(0x0b, 1, 0x45 | 0x30);
    io.write(0x02, 1, 0x03);
    io.write(0x02, 1, 0x01);
    io.write(0x03, 1, 1);
    io.write(0x03, 1, 0);
    io.write(0x0a, 1, 0x01);
    expect(dma.transfer(1, Uint8Array.of(7, 8, 9))).toEqual({ bytes: 2, terminalCount: true });
    expect(Array.from(mem.readBytes(0x102, 2))).toEqual([8, 7]);
    expect(dma.ready(1)).toBe(true);
    expect(dma.transfer(1, Uint8Array.of(10))).toEqual({ bytes: 1, terminalCount: false });
    expect(mem.read8(0x103)).toBe(10);
  });
});

describe('a hostile guest on the floppy and DMA controllers', () => {
  it('never throws on random writes and reads, commands and DMA set-ups, and still answers after a reset', () => {
    const { io, fdc, irq6 } = machine();
    const next = prng(77);
    const below = (n: number) => Math.floor(next() * n);
    const ports = [0x3f0, 0x3f1, 0x3f2, 0x3f3, 0x3f4, 0x3f5, 0x3f7, ...Array.from({ length: 16 }, (_, i) => i), 0x81, 0x82, 0x83, 0x87, 0xc0, 0xc4, 0xd4, 0xd6, 0xd8, 0xda, 0xde];
    const opcodes = [0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0a, 0x0d, 0x0e, 0x0f, 0x10, 0x12, 0x13, 0x14, 0x46, 0x4a, 0x4d, 0x8f, 0x94, 0xc5, 0xe6, 0xcf];
    for (let step = 0; step < 200_000; step++) {
      const roll = below(10);
      if (roll < 3) io.write(0x3f5, 1, below(3) === 0 ? opcodes[below(opcodes.length)]! : below(4) ? below(20) : below(256));
      else if (roll < 5) io.read(0x3f5, 1);
      else {
        const port = ports[below(ports.length)]!;
        if (below(2)) io.write(port, 1, below(256));
        else io.read(port, 1);
      }
      if (step % 5000 === 0) fdc.reset();
    }
    // Out of any reset the guest held, abort any command it left half-way (DSR reset), unlock CONFIGURE.
    io.write(DOR, 1, 0x0c);
    io.write(0x3f4, 1, 0x80);
    command(io, 0x14);
    result(io);
    expect(resetController(io, irq6)).toEqual([[0xc0, expect.any(Number)], [0xc1, expect.any(Number)], [0xc2, expect.any(Number)], [0xc3, expect.any(Number)]]);
    command(io, 0x10);
    expect(result(io)).toEqual([0x90]);
  });
});
