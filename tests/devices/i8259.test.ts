import { describe, expect, it } from 'vitest';
import { I8259Pair } from '../../src/devices/i8259.js';
import { IrqRouter } from '../../src/io/irq.js';
import { PortBus } from '../../src/io/port-bus.js';

/** Programs the pair as a PC BIOS does: master vectors 0x08, slave 0x70, cascade on IRQ 2. */
function setup(icw4 = 0x01) {
  const io = new PortBus();
  const pic = new I8259Pair(io);
  const irq = new IrqRouter(pic);
  const out = (port: number, value: number) => io.write(port, 1, value);
  out(0x20, 0x11);
  out(0x21, 0x08);
  out(0x21, 0x04);
  out(0x21, icw4);
  out(0xa0, 0x11);
  out(0xa1, 0x70);
  out(0xa1, 0x02);
  out(0xa1, icw4);
  const inb = (port: number) => io.read(port, 1);
  return { io, pic, irq, out, inb };
}

describe('i8259 PIC pair', () => {
  it('delivers a master IRQ with its vector and keeps it in service until EOI', () => {
    const { pic, irq, out, inb } = setup();
    expect(pic.hasInterrupt()).toBe(false);
    irq.line(1).pulse();
    expect(pic.hasInterrupt()).toBe(true);
    out(0x20, 0x0a); // OCW3: read IRR
    expect(inb(0x20)).toBe(0x02);
    expect(pic.acknowledge()).toBe(0x09);
    expect(inb(0x20)).toBe(0x00);
    out(0x20, 0x0b); // OCW3: read ISR
    expect(inb(0x20)).toBe(0x02);
    expect(pic.hasInterrupt()).toBe(false);
    out(0x20, 0x20); // non-specific EOI
    expect(inb(0x20)).toBe(0x00);
  });

  it('cascades slave IRQs through master IRQ 2 and needs an EOI on both', () => {
    const { pic, irq, out, inb } = setup();
    irq.line(14).pulse();
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x76);
    out(0x20, 0x0b);
    out(0xa0, 0x0b);
    expect(inb(0x20)).toBe(0x04);
    expect(inb(0xa0)).toBe(0x40);
    irq.line(15).pulse();
    expect(pic.hasInterrupt()).toBe(false); // IRQ 2 in service on the master blocks it
    out(0xa0, 0x20);
    out(0x20, 0x20);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x77);
  });

  it('honours priority: a higher IRQ preempts, a lower one waits', () => {
    const { pic, irq, out } = setup();
    irq.line(4).pulse();
    expect(pic.acknowledge()).toBe(0x0c);
    irq.line(6).pulse();
    expect(pic.hasInterrupt()).toBe(false);
    irq.line(0).pulse();
    expect(pic.acknowledge()).toBe(0x08);
    out(0x20, 0x20); // EOI ends IRQ 0, the highest in service
    expect(pic.hasInterrupt()).toBe(false);
    out(0x20, 0x64); // specific EOI for IRQ 4
    expect(pic.acknowledge()).toBe(0x0e);
  });

  it('masks lines through OCW1 and reads the IMR back', () => {
    const { pic, irq, out, inb } = setup();
    out(0x21, 0xfb);
    out(0xa1, 0xff);
    expect(inb(0x21)).toBe(0xfb);
    expect(inb(0xa1)).toBe(0xff);
    irq.line(3).pulse();
    irq.line(9).pulse();
    expect(pic.hasInterrupt()).toBe(false);
    out(0x21, 0xf3);
    expect(pic.acknowledge()).toBe(0x0b);
  });

  it('answers a vanished request with the spurious IRQ 7 / IRQ 15 vector and no ISR bit', () => {
    const { pic, irq, out, inb, io } = setup();
    io.write(0x4d0, 1, 0x20); // IRQ 5 level triggered
    irq.line(5).raise();
    expect(pic.hasInterrupt()).toBe(true);
    irq.line(5).lower();
    expect(pic.acknowledge()).toBe(0x0f);
    out(0x20, 0x0b);
    expect(inb(0x20)).toBe(0x00);

    io.write(0x4d1, 1, 0x08); // IRQ 11 level triggered
    irq.line(11).raise();
    irq.line(11).lower();
    expect(pic.acknowledge()).toBe(0x77);
    out(0xa0, 0x0b);
    expect(inb(0xa0)).toBe(0x00);
    expect(inb(0x20)).toBe(0x04); // the master still put the cascade in service
  });

  it('treats ELCR lines as level triggered and keeps only writable ELCR bits', () => {
    const { pic, irq, io, out } = setup();
    io.write(0x4d0, 1, 0xff);
    io.write(0x4d1, 1, 0xff);
    expect(io.read(0x4d0, 1)).toBe(0xf8);
    expect(io.read(0x4d1, 1)).toBe(0xde);
    irq.line(9).raise();
    expect(pic.acknowledge()).toBe(0x71);
    out(0xa0, 0x20);
    out(0x20, 0x20);
    // Still high: it comes back after EOI.
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x71);
    irq.line(9).lower(); // the handler quiets the device, then EOIs
    out(0xa0, 0x20);
    out(0x20, 0x20);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('latches only rising edges on edge lines', () => {
    const { pic, irq, out } = setup();
    irq.line(3).raise();
    expect(pic.acknowledge()).toBe(0x0b);
    out(0x20, 0x20);
    expect(pic.hasInterrupt()).toBe(false); // held high, no new edge
    irq.line(3).lower();
    irq.line(3).raise();
    expect(pic.acknowledge()).toBe(0x0b);
  });

  it('needs no EOI in auto-EOI mode', () => {
    const { pic, irq, out, inb } = setup(0x03);
    irq.line(1).pulse();
    expect(pic.acknowledge()).toBe(0x09);
    out(0x20, 0x0b);
    expect(inb(0x20)).toBe(0x00);
    irq.line(3).pulse();
    expect(pic.acknowledge()).toBe(0x0b);
  });

  it('rotates priorities on a rotating EOI and on set-priority', () => {
    const { pic, irq, out } = setup();
    irq.line(1).pulse();
    expect(pic.acknowledge()).toBe(0x09);
    out(0x20, 0xa0); // rotate on non-specific EOI: IRQ 1 becomes the lowest
    irq.line(1).pulse();
    irq.line(3).pulse();
    expect(pic.acknowledge()).toBe(0x0b);
    out(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x09);
    out(0x20, 0x20);
    out(0x20, 0xc5); // set priority: IRQ 5 lowest, IRQ 6 highest
    irq.line(0).pulse();
    irq.line(6).pulse();
    expect(pic.acknowledge()).toBe(0x0e);
  });

  it('lets lower priorities through in special mask mode', () => {
    const { pic, irq, out } = setup();
    irq.line(3).pulse();
    expect(pic.acknowledge()).toBe(0x0b);
    out(0x21, 0x08); // mask the in-service IRQ 3
    out(0x20, 0x68); // OCW3: set special mask mode
    irq.line(5).pulse();
    expect(pic.acknowledge()).toBe(0x0d);
    out(0x20, 0x48); // reset special mask mode
    out(0x20, 0x65); // specific EOI IRQ 5
    irq.line(6).pulse();
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('answers a poll command with 0x80 | irq and acknowledges it', () => {
    const { pic, irq, out, inb } = setup();
    out(0x21, 0xff);
    out(0x20, 0x0c); // poll
    expect(inb(0x20)).toBe(0x00);
    out(0x21, 0x00);
    irq.line(4).pulse();
    out(0x20, 0x0c);
    expect(inb(0x20)).toBe(0x84);
    out(0x20, 0x0b);
    expect(inb(0x20)).toBe(0x10);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('re-initialisation by ICW1 clears the mask and in-service state', () => {
    const { pic, irq, out, inb } = setup();
    out(0x21, 0xff);
    irq.line(0).pulse();
    out(0x21, 0x00);
    expect(pic.acknowledge()).toBe(0x08);
    out(0x20, 0x11);
    out(0x21, 0x20);
    out(0x21, 0x04);
    out(0x21, 0x01);
    expect(inb(0x21)).toBe(0x00);
    out(0x20, 0x0b);
    expect(inb(0x20)).toBe(0x00);
    irq.line(0).pulse();
    expect(pic.acknowledge()).toBe(0x20);
  });

  it('needs a fresh rising edge after ICW1 on a line that was already high', () => {
    const { pic, irq, out } = setup();
    irq.line(3).raise();
    out(0x20, 0x11);
    out(0x21, 0x08);
    out(0x21, 0x04);
    out(0x21, 0x01);
    irq.line(3).raise(); // a device re-driving the same level is no edge
    expect(pic.hasInterrupt()).toBe(false);
    irq.line(3).lower();
    irq.line(3).raise();
    expect(pic.acknowledge()).toBe(0x0b);
  });

  it('comes out of reset unmasked, edge triggered and quiet', () => {
    const { pic, inb } = setup();
    pic.reset();
    expect(inb(0x21)).toBe(0x00);
    expect(inb(0x4d0)).toBe(0x00);
    expect(pic.hasInterrupt()).toBe(false);
  });
});
