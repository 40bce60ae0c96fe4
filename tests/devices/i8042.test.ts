import { describe, expect, it } from 'vitest';
import { I8042, SET2_MAKE_CODES } from '../../src/devices/i8042.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { A20Gate } from '../../src/io/a20.js';
import { IrqRouter } from '../../src/io/irq.js';
import { PortBus } from '../../src/io/port-bus.js';
import { Lifecycle } from '../../src/machine/lifecycle.js';
import { initPicsAsBios } from './pc-chips.js';

function setup() {
  const io = new PortBus();
  const pic = new I8259Pair(io);
  const irq = new IrqRouter(pic);
  const a20 = new A20Gate();
  const lifecycle = new Lifecycle();
  const kbc = new I8042(io, irq.line(1), irq.line(12), a20, lifecycle);
  const status = () => io.read(0x64, 1);
  const command = (c: number) => io.write(0x64, 1, c);
  const writeData = (v: number) => io.write(0x60, 1, v);
  /** Waits for OBF as a driver does, then reads port 0x60. */
  const readData = () => {
    if (!(status() & 0x01)) throw new Error('output buffer empty');
    return io.read(0x60, 1);
  };
  /** Reads every byte that is waiting. */
  const drain = () => {
    const bytes: number[] = [];
    while (status() & 0x01) bytes.push(io.read(0x60, 1));
    return bytes;
  };
  return { io, pic, irq, a20, lifecycle, kbc, status, command, writeData, readData, drain };
}

describe('i8042 controller', () => {
  it('passes its self-test with 0x55 and sets the system flag', () => {
    const { status, command, readData } = setup();
    expect(status() & 0x05).toBe(0x00);
    command(0xaa);
    expect(status() & 0x01).toBe(0x01);
    expect(readData()).toBe(0x55);
    expect(status() & 0x05).toBe(0x04);
  });

  it('reads and writes the command byte, and answers the interface tests', () => {
    const { command, writeData, readData, status } = setup();
    command(0x20);
    expect(readData()).toBe(0x03);
    command(0x60);
    expect(status() & 0x08).toBe(0x08);
    writeData(0x65);
    expect(status() & 0x08).toBe(0x00);
    command(0x20);
    expect(readData()).toBe(0x65);
    command(0xab);
    expect(readData()).toBe(0x00);
    command(0xa9);
    expect(readData()).toBe(0x00);
  });

  it('switches A20 through the output port, and reads the port back', () => {
    const { a20, command, writeData, readData, lifecycle } = setup();
    command(0xd0);
    expect(readData()).toBe(0xcf);
    command(0xd1);
    writeData(0xdd); // A20 off, reset line high
    expect(a20.enabled).toBe(false);
    command(0xd1);
    writeData(0xdf);
    expect(a20.enabled).toBe(true);
    command(0xd0);
    expect(readData() & 0x03).toBe(0x03);
    expect(lifecycle.hasRequest).toBe(false);
  });

  it('resets the machine by pulsing the reset line (0xFE) or writing it low', () => {
    const { command, writeData, lifecycle } = setup();
    command(0xfe);
    expect(lifecycle.take()).toMatchObject({ kind: 'reset', cause: 'i8042 pulse reset (0xfe)' });
    command(0xff); // pulses nothing
    expect(lifecycle.hasRequest).toBe(false);
    command(0xd1);
    writeData(0x02);
    expect(lifecycle.take()).toMatchObject({ kind: 'reset' });
  });

  it('raises IRQ 1 for keyboard bytes when enabled and drops it when the byte is read', () => {
    const { irq, kbc, command, writeData, readData } = setup();
    kbc.pressKey([0x1c]); // A
    expect(irq.level(1)).toBe(true);
    expect(readData()).toBe(0x1c);
    expect(irq.level(1)).toBe(true); // next byte (the break prefix) already waits
    command(0x60);
    writeData(0x00); // interrupts off
    expect(irq.level(1)).toBe(false);
    expect(readData()).toBe(0xf0);
    expect(readData()).toBe(0x1c);
    expect(irq.level(1)).toBe(false);
  });

  it('gives an edge-triggered PIC one interrupt per byte when keys come faster than the guest reads them', () => {
    const { io, pic, kbc, command, writeData } = setup();
    initPicsAsBios(io);
    command(0x60);
    writeData(0x41); // translate to set 1, keyboard interrupt on
    kbc.pressChord([SET2_MAKE_CODES.t!]);
    kbc.pressChord([SET2_MAKE_CODES.s!]);
    kbc.pressChord([SET2_MAKE_CODES.v!]);
    // A BIOS keyboard handler: one byte per interrupt, then EOI.
    const seen: number[] = [];
    while (pic.hasInterrupt()) {
      expect(pic.acknowledge()).toBe(0x09);
      seen.push(io.read(0x60, 1));
      io.write(0x20, 1, 0x20);
    }
    expect(seen).toEqual([0x14, 0x94, 0x1f, 0x9f, 0x2f, 0xaf]);
  });

  it('translates set 2 to set 1 when the command byte says so', () => {
    const { kbc, command, writeData, drain } = setup();
    command(0x60);
    writeData(0x61); // translate, system, keyboard interrupt
    kbc.pressKey([0x1c]); // A: set 1 make 0x1E, break 0x9E
    kbc.pressKey([0xe0, 0x75]); // Up: E0 48, E0 C8
    expect(drain()).toEqual([0x1e, 0x9e, 0xe0, 0x48, 0xe0, 0xc8]);
  });

  it('bounds what a guest that never reads can pile up', () => {
    const { command, writeData, drain } = setup();
    for (let i = 0; i < 1000; i++) command(0x20);
    expect(drain().length).toBe(1 + 16); // the output buffer, then the queue
    for (let i = 0; i < 1000; i++) writeData(0xee);
    expect(drain().length).toBe(1 + 24);
  });

  it('sends a sendkey chord as set 1 when translating: ctrl-alt-delete', () => {
    const { kbc, command, writeData, drain } = setup();
    command(0x60);
    writeData(0x61);
    kbc.pressChord(['ctrl', 'alt', 'delete'].map((k) => SET2_MAKE_CODES[k]!));
    expect(drain()).toEqual([0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d]);
    for (const [key, set1] of [['esc', 0x01], ['ret', 0x1c], ['f7', 0x41], ['f12', 0x58], ['kp_9', 0x49]] as const) {
      kbc.pressKey(SET2_MAKE_CODES[key]!);
      expect(drain()).toEqual([set1, set1 | 0x80]);
    }
  });

  it('holds keyboard bytes while the keyboard interface is disabled', () => {
    const { kbc, command, status, drain } = setup();
    command(0xad);
    kbc.pressKey([0x29]);
    expect(status() & 0x01).toBe(0);
    command(0xae);
    expect(drain()).toEqual([0x29, 0xf0, 0x29]);
  });
});

describe('PS/2 keyboard behind the i8042', () => {
  it('answers reset with ACK and 0xAA, identify with AB 83 (AB 41 translated)', () => {
    const { writeData, command, drain } = setup();
    writeData(0xff);
    expect(drain()).toEqual([0xfa, 0xaa]);
    writeData(0xf2);
    expect(drain()).toEqual([0xfa, 0xab, 0x83]);
    command(0x60);
    writeData(0x41);
    writeData(0xf2);
    expect(drain()).toEqual([0xfa, 0xab, 0x41]);
  });

  it('acknowledges LEDs, typematic and scan code set commands with their parameters', () => {
    const { writeData, drain } = setup();
    writeData(0xed);
    writeData(0x07);
    writeData(0xf3);
    writeData(0x20);
    writeData(0xf0);
    writeData(0x00);
    expect(drain()).toEqual([0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0x02]);
    writeData(0xee);
    expect(drain()).toEqual([0xee]);
    writeData(0x42); // not a command
    expect(drain()).toEqual([0xfe]);
  });

  it('drops key presses while scanning is disabled and resumes on enable', () => {
    const { kbc, writeData, drain } = setup();
    writeData(0xf5);
    expect(drain()).toEqual([0xfa]);
    kbc.pressKey([0x1c]);
    expect(drain()).toEqual([]);
    writeData(0xf4);
    expect(drain()).toEqual([0xfa]);
    kbc.pressKey([0x1c]);
    expect(drain()).toEqual([0x1c, 0xf0, 0x1c]);
  });

  it('keeps at most 16 bytes of key data', () => {
    const { kbc, drain } = setup();
    for (let i = 0; i < 10; i++) kbc.pressKey([0x1c]);
    expect(drain().length).toBe(16 + 1); // one byte already in the output buffer
  });
});

describe('PS/2 mouse on the aux port', () => {
  it('answers Linux psmouse probing through 0xD4, with aux data on IRQ 12', () => {
    const { irq, command, writeData, status, drain, readData } = setup();
    command(0xa8);
    command(0xd4);
    writeData(0xff);
    expect(status() & 0x21).toBe(0x21);
    expect(irq.level(12)).toBe(true);
    expect(irq.level(1)).toBe(false);
    expect(drain()).toEqual([0xfa, 0xaa, 0x00]);
    expect(irq.level(12)).toBe(false);
    command(0xd4);
    writeData(0xf2);
    expect(drain()).toEqual([0xfa, 0x00]);
    command(0xd4);
    writeData(0xf3);
    command(0xd4);
    writeData(100);
    command(0xd4);
    writeData(0xe9);
    expect(drain()).toEqual([0xfa, 0xfa, 0xfa, 0x00, 0x02, 100]);
    command(0xd3); // loop a byte through the aux output buffer
    writeData(0x5a);
    expect(status() & 0x20).toBe(0x20);
    expect(readData()).toBe(0x5a);
  });

  it('loops a byte through the aux output buffer even with the aux interface disabled, on IRQ 12', () => {
    const { command, writeData, status, readData, irq } = setup();
    command(0xa7);
    command(0xd3);
    writeData(0xa5);
    expect(status() & 0x21).toBe(0x21);
    expect(irq.level(12)).toBe(true);
    expect(readData()).toBe(0xa5);
    command(0xd2); // and through the keyboard output buffer, on IRQ 1
    writeData(0x3c);
    expect(status() & 0x21).toBe(0x01);
    expect(irq.level(1)).toBe(true);
    expect(readData()).toBe(0x3c);
  });

  it('holds aux bytes while the aux interface is disabled', () => {
    const { command, writeData, status, drain } = setup();
    command(0xa7);
    command(0xd4);
    writeData(0xf2);
    expect(status() & 0x01).toBe(0);
    command(0xa8);
    expect(drain()).toEqual([0xfa, 0x00]);
  });
});
