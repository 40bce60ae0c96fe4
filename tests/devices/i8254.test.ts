import { describe, expect, it } from 'vitest';
import { I8254Pit, PIT_HZ } from '../../src/devices/i8254.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { IrqRouter } from '../../src/io/irq.js';
import { PortBus } from '../../src/io/port-bus.js';
import { fakeTime } from './fake-clock.js';
import { initPicsAsBios } from './pc-chips.js';

const tickNs = (ticks: number) => Math.ceil((ticks * 1e9) / PIT_HZ);

function setup() {
  const io = new PortBus();
  const pic = new I8259Pair(io);
  const irq = new IrqRouter(pic);
  const time = fakeTime();
  const pit = new I8254Pit(io, time.timers, irq.line(0));
  const out = (port: number, value: number) => io.write(port, 1, value);
  const inb = (port: number) => io.read(port, 1);
  initPicsAsBios(io);
  /** Takes every interrupt the PIC offers, as a guest's handler with EOI would; returns the vectors. */
  const serviceInterrupts = () => {
    const vectors: number[] = [];
    while (pic.hasInterrupt()) {
      vectors.push(pic.acknowledge());
      out(0x20, 0x20);
    }
    return vectors;
  };
  /** Advances time in small steps, servicing interrupts; returns how many IRQ 0s arrived. */
  const runFor = (ns: number, step = 50_000) => {
    let count = 0;
    const end = time.clock.t + ns;
    while (time.clock.t < end) {
      time.advance(Math.min(step, end - time.clock.t));
      count += serviceInterrupts().filter((v) => v === 0x08).length;
    }
    return count;
  };
  const readCount0 = () => inb(0x40) | (inb(0x40) << 8);
  return { io, pic, pit, out, inb, time, serviceInterrupts, runFor, readCount0 };
}

describe('i8254 PIT', () => {
  it('mode 2 on channel 0 raises IRQ 0 once per period', () => {
    const { out, serviceInterrupts, runFor } = setup();
    out(0x43, 0x34); // channel 0, LSB then MSB, mode 2, binary
    out(0x40, 1193 & 0xff);
    out(0x40, 1193 >> 8);
    serviceInterrupts(); // whatever the power-on mode 3 produced
    // One period is 1193 ticks = 0.99985 ms: 10 edges in 10 ms.
    expect(runFor(10_000_000)).toBe(10);
  });

  it('mode 3 on channel 0 gives a square wave: one IRQ per period, OUT high for the first half', () => {
    const { out, inb, serviceInterrupts, runFor } = setup();
    out(0x43, 0x36);
    out(0x40, 0x00);
    out(0x40, 0x10); // 4096 ticks, 3.433 ms
    serviceInterrupts();
    out(0x43, 0xe2); // read-back status of channel 0
    expect(inb(0x40) & 0x80).toBe(0x80);
    expect(runFor(tickNs(2049))).toBe(0);
    out(0x43, 0xe2);
    expect(inb(0x40) & 0x80).toBe(0x00);
    expect(runFor(tickNs(4096 * 5) - tickNs(2049))).toBe(5);
  });

  it('latches a count that stays frozen until read, LSB then MSB', () => {
    const { out, time, readCount0 } = setup();
    out(0x43, 0x34);
    out(0x40, 1000 & 0xff);
    out(0x40, 1000 >> 8);
    time.advance(tickNs(100));
    out(0x43, 0x00); // latch channel 0
    time.advance(tickNs(300));
    expect(readCount0()).toBe(900);
    expect(readCount0()).toBe(600); // live again after the latch was read
  });

  it('read-back returns status first, then the count', () => {
    const { out, inb, time } = setup();
    out(0x61, 0x01); // gate 2 on
    out(0x43, 0xb0); // channel 2, word, mode 0
    out(0x42, 0x34);
    out(0x42, 0x12);
    time.advance(tickNs(0x34));
    out(0x43, 0xc8); // read-back count and status of channel 2
    expect(inb(0x42)).toBe(0x30); // OUT low, count loaded, RW=3, mode 0, binary
    expect(inb(0x42)).toBe(0x00);
    expect(inb(0x42)).toBe(0x12);
  });

  it('reports null count between a control word and its count', () => {
    const { out, inb } = setup();
    out(0x43, 0x74); // channel 1, word, mode 2
    out(0x43, 0xe4); // status of channel 1
    expect(inb(0x41)).toBe(0xc0 | 0x34);
    out(0x41, 0x10);
    out(0x41, 0x00);
    out(0x43, 0xe4);
    expect(inb(0x41)).toBe(0x80 | 0x34);
  });

  it('channel 2 mode 0 gated by port 0x61 raises OUT2 at terminal count, as Linux calibrates the TSC', () => {
    const { out, inb, time } = setup();
    out(0x61, (inb(0x61) & ~0x02) | 0x01); // gate on, speaker off
    out(0x43, 0xb0);
    out(0x42, 0xff);
    out(0x42, 0xff);
    expect(inb(0x61) & 0x21).toBe(0x01);
    time.advance(tickNs(0xfffe));
    expect(inb(0x61) & 0x20).toBe(0x00);
    time.advance(tickNs(0xffff) - tickNs(0xfffe));
    expect(inb(0x61) & 0x20).toBe(0x20);
  });

  it("channel 2 mode 0 read LSB then MSB counts down one per tick, as Linux's quick_pit_calibrate polls the MSB", () => {
    const { out, inb, time } = setup();
    out(0x61, (inb(0x61) & ~0x02) | 0x01);
    out(0x43, 0xb0);
    out(0x42, 0xff);
    out(0x42, 0xff);
    const msb = () => {
      inb(0x42); // LSB, ignored
      return inb(0x42);
    };
    expect(msb()).toBe(0xff);
    for (let i = 1; i <= 4; i++) {
      time.advance(tickNs(256 * i + 10) - time.clock.t);
      expect([msb(), msb()]).toEqual([0xff - i, 0xff - i]);
    }
  });

  it('suspends channel 2 in mode 0 while its gate is low and resumes where it stopped', () => {
    const { out, inb, time } = setup();
    out(0x61, 0x00); // gate low
    out(0x43, 0xb0);
    out(0x42, 0x00);
    out(0x42, 0x10); // 4096
    time.advance(tickNs(1000));
    out(0x43, 0x80);
    expect(inb(0x42) | (inb(0x42) << 8)).toBe(4096);
    out(0x61, 0x01);
    time.advance(tickNs(96));
    out(0x61, 0x00);
    time.advance(tickNs(5000));
    out(0x43, 0x80);
    expect(inb(0x42) | (inb(0x42) << 8)).toBe(4000);
    out(0x61, 0x01);
    time.advance(tickNs(4000));
    expect(inb(0x61) & 0x20).toBe(0x20);
  });

  it('port 0x61 keeps bits 0-3 and toggles the refresh bit 4 every 15 us', () => {
    const { out, inb, time } = setup();
    out(0x61, 0xff);
    expect(inb(0x61) & 0xcf).toBe(0x0f);
    const before = inb(0x61) & 0x10;
    time.advance(15_085);
    expect(inb(0x61) & 0x10).toBe(before ^ 0x10);
  });

  it('counts in BCD when asked', () => {
    const { out, inb, time } = setup();
    out(0x61, 0x01);
    out(0x43, 0xb1); // channel 2, word, mode 0, BCD
    out(0x42, 0x00);
    out(0x42, 0x10); // 1000 decimal
    time.advance(tickNs(1));
    out(0x43, 0x80);
    expect(inb(0x42) | (inb(0x42) << 8)).toBe(0x0999);
  });

  it('reads and writes single bytes in LSB-only and MSB-only access', () => {
    const { out, inb, time } = setup();
    out(0x61, 0x01);
    out(0x43, 0x90); // channel 2, LSB only, mode 0
    out(0x42, 0x80);
    time.advance(tickNs(0x10));
    expect(inb(0x42)).toBe(0x70);
    out(0x43, 0xa0); // channel 2, MSB only, mode 0
    out(0x42, 0x20);
    time.advance(tickNs(0x100));
    expect(inb(0x42)).toBe(0x1f);
  });

  it('mode 0 on channel 0 interrupts once at terminal count', () => {
    const { out, serviceInterrupts, runFor } = setup();
    out(0x43, 0x30);
    serviceInterrupts();
    out(0x40, 0x00);
    out(0x40, 0x04); // 1024 ticks
    expect(runFor(tickNs(1023))).toBe(0);
    expect(runFor(tickNs(1024 * 100))).toBe(1);
  });

  it('mode 4 strobes once even when the terminal count passes while the count is being written', () => {
    // Linux's one-shot tick (mode 4). Guest time is the host's clock, so a host
    // stall inside the port write can put the whole count behind it: the strobe
    // is late then, never lost (a lost one stops the guest's clock for good).
    const { out, time, serviceInterrupts, runFor } = setup();
    out(0x43, 0x38);
    out(0x40, 2032 & 0xff);
    serviceInterrupts();
    let reads = 0;
    time.clock.now = () => (time.clock.t += reads++ === 0 ? 0 : 5_000_000); // every later read finds 5 ms gone
    out(0x40, 2032 >> 8);
    delete (time.clock as { now?: unknown }).now;
    expect(runFor(tickNs(2032 + 2))).toBe(1);
    expect(runFor(tickNs(100_000))).toBe(0);
  });

  it('delivers one IRQ 0 for periods that went by unseen, without replaying each of them', () => {
    const { out, time, serviceInterrupts, pic } = setup();
    out(0x43, 0x34);
    out(0x40, 0x02); // count 2: a 600 kHz rate generator
    out(0x40, 0x00);
    serviceInterrupts();
    const timersRun = time.timers.runExpired((time.clock.t = 10_000_000));
    expect(timersRun).toBeLessThan(3); // not the 24000 transitions of those 10 ms
    time.advance(tickNs(2));
    expect(serviceInterrupts()).toEqual([0x08]);
    time.advance(tickNs(2));
    expect(serviceInterrupts()).toEqual([0x08]); // and it runs on from there
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('runs channel 0 at 18.2 Hz out of reset', () => {
    const { runFor } = setup();
    expect(runFor(1e9, 1e6)).toBe(18);
  });
});
