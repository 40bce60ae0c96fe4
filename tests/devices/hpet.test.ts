import { describe, expect, it } from 'vitest';
import { HPET_BASE, Hpet } from '../../src/devices/hpet.js';
import { I8254Pit } from '../../src/devices/i8254.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { IrqRouter } from '../../src/io/irq.js';
import { PortBus } from '../../src/io/port-bus.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { fakeTime } from './fake-clock.js';
import { initPicsAsBios } from './pc-chips.js';
import { prng } from '../helpers/prng.js';

// Registers (IA-PC HPET 1.0a, 2.3.1).
const CAP = 0x000;
const PERIOD = 0x004;
const CONFIG = 0x010;
const STATUS = 0x020;
const COUNTER = 0x0f0;
const tnConfig = (n: number) => 0x100 + 0x20 * n;
const tnComparator = (n: number) => 0x108 + 0x20 * n;

const ENABLE = 1;
const LEGACY = 2;
// Timer n configuration bits (2.3.8).
const LEVEL = 1 << 1;
const INT_ENB = 1 << 2;
const PERIODIC = 1 << 3;
const VAL_SET = 1 << 6;
const MODE32 = 1 << 8;
const route = (irq: number) => irq << 9;

const US = 1000; // ns
const TICK_NS = 10;

function setup() {
  const io = new PortBus();
  const pic = new I8259Pair(io);
  const time = fakeTime();
  /** Guest ns of each rising edge, per ISA line, as the PIC receives them. */
  const rising = new Map<number, number[]>();
  const levels = new Uint8Array(24);
  const irq = new IrqRouter({
    setIrq(line, level) {
      if (level && !levels[line]) rising.set(line, [...(rising.get(line) ?? []), time.clock.t]);
      levels[line] = level ? 1 : 0;
      pic.setIrq(line, level);
    },
  });
  const mem = new AddressSpace(1 << 20);
  const hpet = new Hpet(mem, time.timers, irq);
  initPicsAsBios(io);
  const read = (offset: number) => mem.read32(HPET_BASE + offset);
  const write = (offset: number, value: number) => mem.write32(HPET_BASE + offset, value);
  const edges = (line: number) => rising.get(line) ?? [];
  /** A 64-bit comparator in two 32-bit writes. */
  const setComparator64 = (n: number, value: number) => {
    write(tnComparator(n) + 4, Math.floor(value / 2 ** 32));
    write(tnComparator(n), value >>> 0);
  };
  return { io, pic, irq, time, mem, hpet, read, write, edges, setComparator64 };
}

describe('HPET registers', () => {
  it('reports the capabilities QEMU gives: vendor 8086, 64-bit counter, legacy route, 3 timers, 10 ns period', () => {
    const { read } = setup();
    const cap = read(CAP);
    expect(cap).toBe(0x8086_a201);
    expect(cap >>> 16).toBe(0x8086); // VENDOR_ID
    expect(cap & 0x8000).toBe(0x8000); // LEG_RT_CAP
    expect(cap & 0x2000).toBe(0x2000); // COUNT_SIZE_CAP: 64 bits
    expect(((cap >> 8) & 0x1f) + 1).toBe(3); // NUM_TIM_CAP + 1
    expect(read(PERIOD)).toBe(10_000_000); // femtoseconds: 100 MHz
    for (const n of [0, 1, 2]) {
      expect(read(tnConfig(n))).toBe(0x30); // Tn_PER_INT_CAP | Tn_SIZE_CAP, all off
      expect(read(tnConfig(n) + 4)).toBe(1 << 2); // Tn_INT_ROUTE_CAP: IRQ 2
      expect([read(tnComparator(n)), read(tnComparator(n) + 4)]).toEqual([0xffff_ffff, 0xffff_ffff]);
    }
    expect(read(tnConfig(3))).toBe(0); // no fourth timer
    expect(read(CONFIG)).toBe(0);
  });

  it('counts at 100 MHz from the virtual clock only while enabled, and takes writes while halted', () => {
    const { read, write, time } = setup();
    time.advance(50 * US);
    expect(read(COUNTER)).toBe(0); // halted since reset
    write(CONFIG, ENABLE);
    time.advance(1000 * US);
    expect(read(COUNTER)).toBe(100_000);
    time.advance(15);
    expect(read(COUNTER)).toBe(100_001); // whole 10 ns ticks
    write(CONFIG, 0);
    time.advance(1000 * US);
    expect(read(COUNTER)).toBe(100_001);
    write(COUNTER, 0xffff_fff0);
    write(COUNTER + 4, 0x12);
    write(CONFIG, ENABLE);
    time.advance(1 * US); // 100 ticks carry into the high half
    expect([read(COUNTER), read(COUNTER + 4)]).toEqual([0x54, 0x13]);
    write(COUNTER, 0); // ignored while running
    expect(read(COUNTER)).toBe(0x54);
  });

  it('takes 32-bit accesses only; byte and word accesses read 0 and write nothing', () => {
    const { mem, read, write } = setup();
    expect(mem.read8(HPET_BASE + CAP + 2)).toBe(0);
    expect(mem.read16(HPET_BASE + CAP + 2)).toBe(0);
    mem.write8(HPET_BASE + CONFIG, ENABLE);
    expect(read(CONFIG)).toBe(0);
    write(CONFIG, ENABLE);
    expect(read(CONFIG)).toBe(ENABLE);
  });

  it('keeps a route the capability lacks out of Tn_INT_ROUTE_CNF', () => {
    const { read, write } = setup();
    write(tnConfig(2), route(2));
    expect(read(tnConfig(2))).toBe(0x30 | route(2));
    write(tnConfig(2), route(5) | LEVEL);
    expect(read(tnConfig(2))).toBe(0x30 | route(2) | LEVEL);
  });
});

describe('HPET timers', () => {
  it('fires a one-shot comparator once, as an edge on its line, at the tick it matches', () => {
    const { write, read, time, edges, pic, setComparator64 } = setup();
    write(CONFIG, ENABLE | LEGACY);
    write(tnConfig(0), INT_ENB);
    setComparator64(0, 1000); // 10 us
    time.advance(20 * US, 1);
    expect(edges(0)).toEqual([1000 * TICK_NS]);
    expect(pic.acknowledge()).toBe(0x08);
    expect(read(STATUS)).toBe(0); // edge-triggered timers leave no status
    time.advance(1000 * US, US);
    expect(edges(0)).toHaveLength(1);
  });

  it('holds a level-triggered line and sets Tn_INT_STS until software writes 1 to it', () => {
    const { write, read, time, irq, edges, setComparator64 } = setup();
    write(CONFIG, ENABLE | LEGACY);
    write(tnConfig(1), INT_ENB | LEVEL);
    setComparator64(1, 500);
    time.advance(4990);
    expect(irq.level(8)).toBe(false);
    time.advance(10);
    expect(irq.level(8)).toBe(true);
    expect(edges(8)).toEqual([5000]);
    expect(read(STATUS)).toBe(0b10);
    write(STATUS, 0b01); // another timer's bit: no effect
    expect(irq.level(8)).toBe(true);
    write(STATUS, 0b10);
    expect(read(STATUS)).toBe(0);
    expect(irq.level(8)).toBe(false);
  });

  it('reloads a periodic comparator: Tn_VAL_SET_CNF sets the first match, the next write the period (as Linux programs it)', () => {
    const { write, read, time, edges } = setup();
    write(CONFIG, LEGACY);
    write(tnConfig(0), INT_ENB | PERIODIC | VAL_SET | MODE32);
    write(tnComparator(0), 500); // first match at 5 us
    write(tnComparator(0), 1000); // then every 10 us
    expect(read(tnConfig(0)) & VAL_SET).toBe(0); // clears itself
    write(CONFIG, ENABLE | LEGACY);
    time.advance(36 * US, US);
    expect(edges(0)).toEqual([5 * US, 15 * US, 25 * US, 35 * US]);
    expect(read(tnComparator(0))).toBe(4500);
  });

  it('skips the periods a late host missed and delivers one interrupt for them', () => {
    const { write, time, edges } = setup();
    write(CONFIG, ENABLE | LEGACY);
    write(tnConfig(0), INT_ENB | PERIODIC | VAL_SET | MODE32);
    write(tnComparator(0), 100);
    write(tnComparator(0), 100); // every 1 us
    time.advance(10.5 * US); // one late look at the timers
    time.advance(1 * US, TICK_NS);
    expect(edges(0)).toEqual([10.5 * US, 11 * US]);
  });

  it('in 32-bit mode compares the low half, signals the counter wrap of a one-shot timer, and zeroes the upper half', () => {
    const { write, read, time, edges } = setup();
    write(COUNTER, 0xffff_ff00);
    write(CONFIG, ENABLE | LEGACY);
    write(tnConfig(0), INT_ENB | MODE32);
    write(tnComparator(0), 0x100);
    write(tnComparator(0) + 4, 0x5); // no upper half in 32-bit mode
    expect([read(tnComparator(0)), read(tnComparator(0) + 4)]).toEqual([0x100, 0]);
    time.advance(10 * US, 10);
    expect(edges(0)).toEqual([0x100 * TICK_NS, 0x200 * TICK_NS]); // the wrap, then the match
  });

  it('fires at the next tick for a comparator the counter has just passed, as QEMU does', () => {
    const { write, time, edges } = setup();
    write(CONFIG, ENABLE | LEGACY);
    write(tnConfig(0), INT_ENB | MODE32);
    time.advance(10 * US);
    write(tnComparator(0), 900); // 100 ticks behind
    time.advance(TICK_NS);
    expect(edges(0)).toEqual([10 * US + TICK_NS]);
  });

  it('stops interrupting while the counter is halted or the timer is disabled', () => {
    const { write, time, edges, setComparator64 } = setup();
    write(CONFIG, ENABLE | LEGACY);
    write(tnConfig(0), INT_ENB);
    setComparator64(0, 1000);
    time.advance(2 * US);
    write(CONFIG, LEGACY); // halted at 200 ticks
    time.advance(100 * US, US);
    expect(edges(0)).toEqual([]);
    write(tnConfig(0), 0);
    write(CONFIG, ENABLE | LEGACY); // on again at 102 us
    time.advance(4 * US, US); // 600 ticks
    write(tnConfig(0), INT_ENB);
    time.advance(10 * US, TICK_NS);
    expect(edges(0)).toEqual([110 * US]);
    write(tnConfig(0), 0);
    setComparator64(0, 3000);
    time.advance(100 * US, US);
    expect(edges(0)).toHaveLength(1);
  });

  it('routes a timer to Tn_INT_ROUTE_CNF without LegacyReplacement, and an unrouted one nowhere', () => {
    const { write, time, irq, edges, setComparator64 } = setup();
    write(CONFIG, ENABLE);
    write(tnConfig(0), INT_ENB); // route field still 0 from reset: not a route on offer, and IRQ 0 is the PIT's
    setComparator64(0, 50);
    write(tnConfig(2), INT_ENB | LEVEL | route(2));
    setComparator64(2, 100);
    time.advance(1 * US);
    expect(irq.level(2)).toBe(true);
    expect(edges(0)).toEqual([]);
  });
});

describe('HPET LegacyReplacement', () => {
  it('takes IRQ 0 from the PIT and IRQ 8 from the RTC, and gives them back', () => {
    const { io, write, time, edges, irq, hpet, pic } = setup();
    new I8254Pit(io, time.timers, hpet.pitIrq); // mode 3 from reset: an edge every 54.9 ms
    hpet.rtcIrq.set(true); // the RTC holding IRQ 8
    time.advance(200_000 * US, 1000 * US);
    const pitEdges = edges(0).length;
    expect(pitEdges).toBeGreaterThanOrEqual(3);
    expect(irq.level(8)).toBe(true);

    write(CONFIG, LEGACY);
    expect(irq.level(8)).toBe(false);
    time.advance(200_000 * US, 1000 * US);
    expect(edges(0)).toHaveLength(pitEdges); // the PIT no longer reaches IRQ 0

    write(CONFIG, ENABLE | LEGACY);
    write(tnConfig(0), INT_ENB | MODE32);
    write(tnComparator(0), 1000);
    time.advance(20 * US, US);
    expect(edges(0)).toHaveLength(pitEdges + 1); // timer 0 does
    while (pic.hasInterrupt()) pic.acknowledge();

    write(CONFIG, ENABLE);
    expect(irq.level(8)).toBe(true); // the RTC's level again
    time.advance(200_000 * US, 1000 * US);
    expect(edges(0).length).toBeGreaterThanOrEqual(pitEdges + 4);
  });

  it('reset hands the lines back and halts the counter at 0', () => {
    const { write, read, time, hpet, irq } = setup();
    hpet.rtcIrq.set(true);
    write(CONFIG, ENABLE | LEGACY);
    time.advance(10 * US);
    hpet.reset();
    expect(irq.level(8)).toBe(true);
    expect([read(CONFIG), read(COUNTER)]).toEqual([0, 0]);
  });
});

describe('HPET against a hostile guest', () => {
  it('answers random accesses of every width anywhere in its page, with time passing, and never throws', () => {
    const { mem, time, pic } = setup();
    const next = prng(7);
    const below = (n: number) => Math.floor(next() * n);
    // Registers that reach deep states more often than chance: configuration, counter, timers' config and comparators.
    const hot = [0x10, 0x20, 0xf0, 0xf4, 0x100, 0x104, 0x108, 0x10c, 0x120, 0x128, 0x12c, 0x140, 0x148, 0x14c];
    const bad: string[] = [];
    for (let step = 0; step < 100_000; step++) {
      const offset = below(4) ? hot[below(hot.length)]! : below(0x1000);
      const size = ([1, 2, 4] as const)[below(3)]!;
      const addr = HPET_BASE + offset;
      const write = below(2) === 0;
      const value = below(2 ** 32) & (2 ** (8 * size) - 1);
      if (write) {
        if (size === 4) mem.write32(addr, value);
        else if (size === 2) mem.write16(addr, value);
        else mem.write8(addr, value);
      } else {
        const read = size === 4 ? mem.read32(addr) : size === 2 ? mem.read16(addr) : mem.read8(addr);
        if (!(Number.isInteger(read) && read >= 0 && read < 2 ** (8 * size))) bad.push(`${offset}/${size}: ${read}`);
      }
      if (step % 100 === 0) time.advance(below(100_000), 1000);
      while (pic.hasInterrupt()) pic.acknowledge();
    }
    expect(bad).toEqual([]);
  });
});
