import { describe, expect, it } from 'vitest';
import { FakeTerminal } from '../chardev/recorder.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { Uart16550 } from '../../src/devices/uart16550.js';
import { IrqRouter } from '../../src/io/irq.js';
import { PortBus } from '../../src/io/port-bus.js';
import { fakeTime } from './fake-clock.js';
import { initPicsAsBios } from './pc-chips.js';

const COM1 = 0x3f8;
const [THR, IER, IIR, LCR, MCR, LSR, MSR, SCR] = [0, 1, 2, 3, 4, 5, 6, 7].map((r) => COM1 + r) as number[] as [
  number, number, number, number, number, number, number, number,
];
const FCR = IIR;

function setup() {
  const io = new PortBus();
  const pic = new I8259Pair(io);
  const irq = new IrqRouter(pic);
  const time = fakeTime();
  const chardev = new FakeTerminal();
  const uart = new Uart16550(io, COM1, irq.line(4), time.timers, chardev);
  const out = (port: number, value: number) => io.write(port, 1, value);
  const inb = (port: number) => io.read(port, 1);
  return { io, pic, irq, uart, chardev, time, out, inb };
}

describe('16550A UART', () => {
  it('is detected as a 16550A by the Linux 8250 autoconfig sequence', () => {
    const { out, inb } = setup();
    // Scratch test on IER.
    out(IER, 0x00);
    expect(inb(IER) & 0x0f).toBe(0x00);
    out(IER, 0x0f);
    expect(inb(IER) & 0x0f).toBe(0x0f);
    out(IER, 0x00);
    // Loopback test: RTS | OUT2 comes back as CTS | DCD.
    out(MCR, 0x10 | 0x0a);
    expect(inb(MSR) & 0xf0).toBe(0x90);
    out(MCR, 0x00);
    // FIFO probe: IIR bits 7-6 = 3 means a working 16550A FIFO.
    out(FCR, 0x01);
    expect(inb(IIR) >> 6).toBe(3);
    // No EFR behind LCR 0xBF (not a 16650), no 64-byte FIFO bit (not a 16750).
    out(LCR, 0xbf);
    expect(inb(IIR)).not.toBe(0);
    out(LCR, 0x80);
    out(FCR, 0x21);
    expect(inb(IIR) & 0xe0).toBe(0xc0);
    out(LCR, 0x00);
  });

  it('sends THR writes to the chardev and keeps THRE/TEMT set', () => {
    const { chardev, out, inb } = setup();
    for (const c of Buffer.from('hi\n')) out(THR, c);
    expect(chardev.output).toBe('hi\n');
    expect(inb(LSR)).toBe(0x60);
  });

  it('programs the divisor through DLAB and keeps the scratch register', () => {
    const { out, inb } = setup();
    out(LCR, 0x83);
    out(THR, 0x01);
    out(IER, 0x00);
    expect(inb(THR)).toBe(0x01);
    expect(inb(IER)).toBe(0x00);
    out(LCR, 0x03);
    expect(inb(LCR)).toBe(0x03);
    out(SCR, 0x5a);
    expect(inb(SCR)).toBe(0x5a);
  });

  it('loops THR back to RBR and the modem outputs to the modem inputs in loopback mode', () => {
    const { chardev, out, inb } = setup();
    out(MCR, 0x10 | 0x0a); // Linux's autoconfig test: LOOP | RTS | OUT2
    expect(inb(MSR) & 0xf0).toBe(0x90); // CTS | DCD
    out(THR, 0x41);
    expect(chardev.output).toBe('');
    expect(inb(LSR) & 0x01).toBe(0x01);
    expect(inb(THR)).toBe(0x41);
    expect(inb(LSR) & 0x01).toBe(0x00);
    out(MCR, 0x10 | 0x05); // DTR | OUT1 → DSR | RI
    expect(inb(MSR)).toBe(0x60 | 0x0b); // DSR|RI, deltas: CTS, DSR, DCD changed
    expect(inb(MSR)).toBe(0x60);
  });

  it('identifies interrupts by priority and gates the IRQ line with OUT2', () => {
    const { irq, chardev, out, inb } = setup();
    out(FCR, 0x00);
    out(IER, 0x03); // RX data + THR empty
    expect(inb(IIR)).toBe(0x02); // THRE raised as soon as it is enabled; reading IIR takes it
    expect(inb(IIR)).toBe(0x01);
    out(THR, 0x31);
    expect(irq.level(4)).toBe(false); // OUT2 clear: the PC's IRQ buffer is off
    out(MCR, 0x08);
    expect(irq.level(4)).toBe(true);
    chardev.type('x');
    expect(inb(IIR)).toBe(0x04); // received data outranks THR empty
    expect(inb(THR)).toBe(0x78);
    expect(inb(IIR)).toBe(0x02);
    expect(inb(IIR)).toBe(0x01);
    expect(irq.level(4)).toBe(false);
  });

  it('re-asserts THRE when its enable is toggled, as Linux checks for UART_BUG_THRE', () => {
    const { out, inb } = setup();
    out(IER, 0x02);
    expect(inb(IIR) & 0x0f).toBe(0x02);
    out(IER, 0x00);
    out(IER, 0x02);
    expect(inb(IIR) & 0x0f).toBe(0x02);
  });

  it('delivers the IRQ to the PIC on COM1 IRQ 4', () => {
    const { io, pic, out } = setup();
    initPicsAsBios(io);
    out(MCR, 0x08);
    out(IER, 0x02);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x0c);
  });

  it('holds received bytes in the FIFO until the trigger level, with flow control back to the chardev', () => {
    const { chardev, out, inb } = setup();
    out(FCR, 0x81); // FIFO on, trigger 8
    out(IER, 0x01);
    chardev.type('0123456789abcdefXYZ');
    expect(chardev.held.length).toBe(3); // 16 accepted, the rest held back
    expect(inb(IIR)).toBe(0xc4);
    let got = '';
    while (inb(LSR) & 0x01) got += String.fromCharCode(inb(THR));
    expect(got).toBe('0123456789abcdefXYZ'); // the chardev was pumped as room opened
    expect(inb(LSR) & 0x02).toBe(0); // no overrun
    expect(inb(IIR)).toBe(0xc1);
  });

  it('raises the character timeout for bytes below the trigger level after four character times', () => {
    const { chardev, time, out, inb } = setup();
    out(LCR, 0x83);
    out(THR, 0x01); // 115200 baud
    out(IER, 0x00);
    out(LCR, 0x03); // 8N1: 10 bits, 86.8 us per character
    out(FCR, 0xc7); // FIFO on, trigger 14
    out(IER, 0x01);
    chardev.type('ab');
    expect(inb(IIR)).toBe(0xc1);
    time.advance(300_000);
    expect(inb(IIR)).toBe(0xc1);
    time.advance(100_000);
    expect(inb(IIR)).toBe(0xcc);
    expect(inb(THR)).toBe(0x61); // a read clears the timeout and restarts it
    expect(inb(IIR)).toBe(0xc1);
    time.advance(400_000);
    expect(inb(IIR)).toBe(0xcc);
  });

  it('flags an overrun when a full FIFO receives in loopback, and reports it as line status first', () => {
    const { out, inb } = setup();
    out(FCR, 0x01);
    out(MCR, 0x10);
    out(IER, 0x05);
    for (let i = 0; i < 17; i++) out(THR, i);
    expect(inb(IIR)).toBe(0xc6);
    expect(inb(LSR) & 0x03).toBe(0x03);
    expect(inb(LSR) & 0x02).toBe(0); // cleared by the read
    expect(inb(IIR)).toBe(0xc4);
    for (let i = 0; i < 16; i++) expect(inb(THR)).toBe(i);
  });

  it('takes one byte at a time without the FIFO, and a modem status interrupt comes last', () => {
    const { chardev, out, inb } = setup();
    out(IER, 0x09);
    chardev.type('pq');
    expect(chardev.held).toEqual([0x71]);
    out(MCR, 0x10); // loopback drops CTS/DSR/DCD: modem deltas pending
    expect(inb(IIR)).toBe(0x04);
    expect(inb(THR)).toBe(0x70);
    expect(inb(IIR)).toBe(0x00); // modem status; chardev input is cut off in loopback
    inb(MSR);
    expect(inb(IIR)).toBe(0x01);
    out(MCR, 0x00);
    expect(inb(THR)).toBe(0x71);
  });
});
