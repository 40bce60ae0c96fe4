import { afterEach, describe, expect, it, vi } from 'vitest';
import { I8259Pair } from '../../src/devices/i8259.js';
import { Mc146818Rtc, fillPcCmos } from '../../src/devices/mc146818.js';
import { IrqRouter } from '../../src/io/irq.js';
import { PortBus } from '../../src/io/port-bus.js';
import { fakeTime } from './fake-clock.js';
import { initPicsAsBios } from './pc-chips.js';

/** Thursday 29 February 2024, 13:45:30.000 */
const LEAP_DAY = Date.UTC(2024, 1, 29, 13, 45, 30);

function setup(base: 'utc' | 'localtime' | number = LEAP_DAY, clock?: 'host' | 'rt' | 'vm') {
  const io = new PortBus();
  const pic = new I8259Pair(io);
  const irq = new IrqRouter(pic);
  const time = fakeTime();
  const rtc = new Mc146818Rtc(io, time.timers, irq.line(8), { base, clock });
  const out = (port: number, value: number) => io.write(port, 1, value);
  const inb = (port: number) => io.read(port, 1);
  const readCmos = (index: number) => {
    out(0x70, index);
    return inb(0x71);
  };
  const writeCmos = (index: number, value: number) => {
    out(0x70, index);
    out(0x71, value);
  };
  initPicsAsBios(io);
  /** Runs for `ns` in `step`s; an IRQ 8 handler reads register C and EOIs. Returns the register C values seen. */
  const runHandlingIrq8 = (ns: number, step: number) => {
    const seen: number[] = [];
    const end = time.clock.t + ns;
    while (time.clock.t < end) {
      time.advance(Math.min(step, end - time.clock.t));
      while (pic.hasInterrupt()) {
        const vector = pic.acknowledge();
        if (vector === 0x70) seen.push(readCmos(0x0c));
        out(0xa0, 0x20);
        out(0x20, 0x20);
      }
    }
    return seen;
  };
  return { io, rtc, time, out, inb, readCmos, writeCmos, runHandlingIrq8, irq };
}

const savedTz = process.env.TZ;
afterEach(() => {
  process.env.TZ = savedTz;
});

describe('MC146818 RTC', () => {
  it('reads the -rtc base time in BCD and 24-hour mode out of reset', () => {
    const { readCmos } = setup();
    const regs = [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map(readCmos);
    expect(regs).toEqual([0x30, 0x45, 0x13, 0x05, 0x29, 0x02, 0x24, 0x20]);
    expect(readCmos(0x0a)).toBe(0x26);
    expect(readCmos(0x0b)).toBe(0x02);
    expect(readCmos(0x0d)).toBe(0x80);
  });

  it('reads binary and 12-hour formats as register B selects', () => {
    const { readCmos, writeCmos } = setup();
    writeCmos(0x0b, 0x04); // binary, 12-hour
    expect(readCmos(0x04)).toBe(0x81); // 1 PM
    expect(readCmos(0x02)).toBe(45);
    expect(readCmos(0x09)).toBe(24);
    writeCmos(0x0b, 0x00); // BCD, 12-hour
    expect(readCmos(0x04)).toBe(0x81);
    expect(readCmos(0x02)).toBe(0x45);
  });

  it('advances with the virtual clock across the leap day', () => {
    const { readCmos, time } = setup();
    time.advance((10 * 3600 + 15 * 60) * 1e9);
    expect([0x00, 0x02, 0x04, 0x07, 0x08, 0x06].map(readCmos)).toEqual([0x30, 0x00, 0x00, 0x01, 0x03, 0x06]);
  });

  it('holds the time while SET is on and runs from the written time after', () => {
    const { readCmos, writeCmos, time } = setup();
    writeCmos(0x0b, 0x82);
    for (const [reg, v] of [[0x00, 0x59], [0x02, 0x59], [0x04, 0x23], [0x07, 0x31], [0x08, 0x12], [0x09, 0x99], [0x32, 0x19]]) {
      writeCmos(reg!, v!);
    }
    time.advance(5e9);
    expect(readCmos(0x00)).toBe(0x59); // frozen
    writeCmos(0x0b, 0x02);
    time.advance(1e9);
    expect([0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32].map(readCmos)).toEqual([0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x20]);
  });

  it('moves the running clock when one time register is written, keeping the others', () => {
    const { readCmos, writeCmos, time } = setup();
    time.advance(0.5e9);
    writeCmos(0x02, 0x10); // minutes
    time.advance(0.5e9);
    expect([0x00, 0x02, 0x04, 0x07].map(readCmos)).toEqual([0x31, 0x10, 0x13, 0x29]);
  });

  it('shows update-in-progress in the last 244 us before a second rolls over', () => {
    const { readCmos, time } = setup();
    time.advance(999_700_000);
    expect(readCmos(0x0a) & 0x80).toBe(0);
    time.advance(100_000);
    expect(readCmos(0x0a) & 0x80).toBe(0x80);
    time.advance(200_000);
    expect(readCmos(0x0a) & 0x80).toBe(0);
    expect(readCmos(0x00)).toBe(0x31);
  });

  it('raises the periodic interrupt on IRQ 8 at the rate register A selects', () => {
    const { writeCmos, readCmos, runHandlingIrq8 } = setup();
    writeCmos(0x0a, 0x26); // 1024 Hz
    readCmos(0x0c);
    writeCmos(0x0b, 0x42); // PIE
    const seen = runHandlingIrq8(100e6, 100_000); // 100 ms
    expect(seen.length).toBe(102);
    expect(new Set(seen)).toEqual(new Set([0xc0]));
    writeCmos(0x0a, 0x2f); // 2 Hz
    expect(runHandlingIrq8(1e9, 1e6).length).toBe(2);
  });

  it('raises update-ended interrupts once a second and clears register C on read', () => {
    const { writeCmos, readCmos, runHandlingIrq8, irq } = setup();
    readCmos(0x0c);
    writeCmos(0x0b, 0x12); // UIE
    const seen = runHandlingIrq8(3e9, 10e6);
    // IRQF | UF, and PF: the chip sets PF at the selected rate whether or not PIE is on.
    expect(seen).toEqual([0xd0, 0xd0, 0xd0]);
    expect(irq.level(8)).toBe(false);
    expect(readCmos(0x0c)).toBe(0x00);
  });

  it('raises the alarm interrupt when the time matches, with "don\'t care" bytes', () => {
    const { writeCmos, readCmos, runHandlingIrq8 } = setup();
    writeCmos(0x01, 0x35); // hh:mm:35 for any hour and minute
    writeCmos(0x03, 0xc0);
    writeCmos(0x05, 0xff);
    readCmos(0x0c);
    writeCmos(0x0b, 0x22); // AIE
    expect(runHandlingIrq8(4e9, 10e6)).toEqual([]);
    const seen = runHandlingIrq8(1e9, 10e6);
    expect(seen.length).toBe(1);
    expect(seen[0]! & 0xa0).toBe(0xa0); // IRQF | AF (UF also set, not enabled)
  });

  it('sets the update-ended flag for a guest that polls register C without interrupts', () => {
    const { readCmos, time, irq } = setup();
    readCmos(0x0c);
    time.advance(1.5e9);
    expect(readCmos(0x0c)).toBe(0x50); // UF, and PF at the default 1024 Hz rate
    expect(irq.level(8)).toBe(false);
    time.advance(0.4e9);
    expect(readCmos(0x0c)).toBe(0x40); // no second rolled over since the last read
  });

  it('keeps CMOS RAM, masks NMI through bit 7 of the index, and reads the index port as 0xff', () => {
    const { out, inb, rtc, writeCmos, readCmos } = setup();
    writeCmos(0x40, 0xa5);
    expect(readCmos(0x40)).toBe(0xa5);
    out(0x70, 0x8f);
    expect(rtc.nmiMasked).toBe(true);
    expect(inb(0x70)).toBe(0xff);
    out(0x70, 0x0f);
    expect(rtc.nmiMasked).toBe(false);
  });

  it('runs on the host wall clock with -rtc clock=host, also while the virtual clock stands still', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: LEAP_DAY });
    try {
      const { readCmos, time } = setup('utc', 'host');
      expect(readCmos(0x00)).toBe(0x30);
      vi.setSystemTime(LEAP_DAY + 5_000); // paused VM: host time moves, virtual time does not
      expect(time.clock.t).toBe(0);
      expect(readCmos(0x00)).toBe(0x35);
    } finally {
      vi.useRealTimers();
    }
  });

  it('honours -rtc base=localtime', () => {
    process.env.TZ = 'Asia/Kolkata'; // UTC+5:30, no daylight saving
    const utc = setup('utc');
    const local = setup('localtime');
    for (const r of [utc, local]) r.writeCmos(0x0b, 0x06);
    const minutes = (r: typeof utc) => r.readCmos(0x04) * 60 + r.readCmos(0x02);
    expect((minutes(local) - minutes(utc) + 1440) % 1440).toBe(330);
  });
});

describe('PC CMOS layout', () => {
  it('fills memory sizes, equipment, floppy and disk types, boot order and checksum as QEMU does', () => {
    const { rtc, readCmos } = setup();
    fillPcCmos(rtc, {
      memoryBytes: 0xe000_0000 + 0x2000_0000, // 4 GiB: 3.5 GiB low, 512 MiB above 4 GiB
      floppies: ['1.44M'],
      disks: [{ cylinders: 2080, heads: 16, sectors: 63 }],
      bootOrder: 'cdn',
      cpus: 2,
    });
    const word = (i: number) => readCmos(i) | (readCmos(i + 1) << 8);
    expect(word(0x15)).toBe(640);
    expect(word(0x17)).toBe(0xffff);
    expect(word(0x30)).toBe(0xffff);
    expect(word(0x34)).toBe((0xe000_0000 - 16 * 1024 * 1024) / 65536);
    expect(word(0x5b) | (readCmos(0x5d) << 16)).toBe(0x2000);
    expect(readCmos(0x10)).toBe(0x40);
    expect(readCmos(0x14)).toBe(0x07);
    expect(readCmos(0x12)).toBe(0xf0);
    expect(readCmos(0x19)).toBe(47);
    expect([0x1b, 0x1c, 0x1d, 0x20, 0x23].map(readCmos)).toEqual([2080 & 0xff, 2080 >> 8, 16, 0xc8, 63]);
    expect(readCmos(0x39)).toBe(0x01); // LBA translation for disk 0
    expect(readCmos(0x3d)).toBe(0x32);
    expect(readCmos(0x38)).toBe(0x40);
    expect(readCmos(0x5f)).toBe(1);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += readCmos(i);
    expect((readCmos(0x2e) << 8) | readCmos(0x2f)).toBe(sum);
  });

  it('reports small memory exactly', () => {
    const { rtc, readCmos } = setup();
    fillPcCmos(rtc, { memoryBytes: 32 * 1024 * 1024, floppies: [], disks: [], bootOrder: 'c' });
    const word = (i: number) => readCmos(i) | (readCmos(i + 1) << 8);
    expect(word(0x17)).toBe(31 * 1024);
    expect(word(0x34)).toBe(256);
    expect(readCmos(0x14)).toBe(0x06);
    expect(readCmos(0x12)).toBe(0x00);
    expect(readCmos(0x3d)).toBe(0x02);
  });
});
