/**
 * Motorola MC146818 real-time clock with 128 bytes of CMOS RAM, as on the
 * PC/AT: index port 0x70 (bit 7 masks NMI), data port 0x71, IRQ 8.
 *
 * The clock keeps no ticking state: it remembers which calendar time
 * (`baseMs`) held at which instant (`baseNs`) of its clock (the virtual clock
 * by default, or the host's, as -rtc clock= says) and derives the time
 * registers, update-in-progress and the interrupt flags from that clock when
 * the guest looks. Timers are queued only while an
 * interrupt is enabled, at the next instant that can raise it.
 *
 * Calendar fields are computed with the UTC functions of Date on a time that
 * already has the -rtc base applied (for localtime, the host's offset is
 * added once at start), so the guest sees wall-clock fields in either base.
 *
 * Datasheet: Motorola MC146818A. Behavioural reference: QEMU
 * hw/rtc/mc146818rtc.c; CMOS layout: QEMU hw/i386/pc.c pc_cmos_init.
 */
import type { IrqLine } from '../io/irq.js';
import type { PortBus } from '../io/port-bus.js';
import type { Timer, TimerQueue } from '../machine/clock.js';
import { fromBcd, toBcd } from './bcd.js';

const CMOS_SIZE = 128;

// Clock registers (datasheet "Address Map").
const SECONDS = 0x00;
const SECONDS_ALARM = 0x01;
const MINUTES = 0x02;
const MINUTES_ALARM = 0x03;
const HOURS = 0x04;
const HOURS_ALARM = 0x05;
const DAY_OF_WEEK = 0x06;
const DAY_OF_MONTH = 0x07;
const MONTH = 0x08;
const YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
/** IBM PC/AT century byte. */
const CENTURY = 0x32;
const CLOCK_REGISTERS = [SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY];

const A_UIP = 0x80;
/** Divider DV2-0 = 010: the 32.768 kHz time base running normally. */
const A_DIVIDER_NORMAL = 0x20;
const A_DIVIDER_MASK = 0x70;
const A_RATE_MASK = 0x0f;

const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_BINARY = 0x04;
const B_24H = 0x02;

const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;

const D_VRT = 0x80;

/** The update cycle: UIP is high for 244 us before the seconds roll over (plus 1984 us cycle time, ignored). */
const UIP_WINDOW_NS = 244_000;
const NS_PER_S = 1e9;
const TIME_BASE_HZ = 32_768;
const SECONDS_PER_DAY = 86_400;
/** An alarm byte with both top bits set matches any value. */
const ALARM_DONT_CARE = 0xc0;

export interface RtcOptions {
  /** -rtc base=: 'utc', 'localtime', or the guest's start time in epoch ms. */
  base: 'utc' | 'localtime' | number;
  /**
   * -rtc clock=: what the clock runs on. 'vm' (the default here) is the
   * virtual clock, which stops while the VM is paused; 'rt' is the host's
   * monotonic clock and 'host' its wall clock (QEMU's default), both of which
   * keep running across a pause, 'host' also following changes to host time.
   */
  clock?: 'host' | 'rt' | 'vm';
}

export interface Mc146818State {
  cmos: number[];
  index: number;
  nmiMasked: boolean;
  /** Calendar time (ms since the epoch, fields read with UTC getters) at `baseNs`. */
  baseMs: number;
  baseNs: number;
  /** Virtual time up to which update-ended, alarm and periodic flags have been accounted. */
  flagsCheckedNs: number;
}

function startTimeMs(base: RtcOptions['base']): number {
  if (typeof base === 'number') return base;
  const now = Date.now();
  return base === 'utc' ? now : now - new Date(now).getTimezoneOffset() * 60_000;
}

export class Mc146818Rtc {
  state: Mc146818State;
  private timer: Timer | undefined;

  constructor(
    io: PortBus,
    private readonly timers: TimerQueue,
    private readonly irq8: IrqLine,
    private readonly opts: RtcOptions,
  ) {
    this.state = this.initialState();
    io.register('rtc', 0x70, 2, {
      read: (port) => (port === 0x70 ? 0xff : this.readData()),
      write: (port, _size, value) => (port === 0x70 ? this.writeIndex(value) : this.writeData(value)),
    });
  }

  /** Now on the clock the RTC runs on, in ns. */
  private now(): number {
    switch (this.opts.clock ?? 'vm') {
      case 'vm':
        return this.timers.clock.now();
      case 'rt':
        return performance.now() * 1e6;
      case 'host':
        return Date.now() * 1e6;
    }
  }

  private initialState(): Mc146818State {
    const cmos = new Array<number>(CMOS_SIZE).fill(0);
    cmos[REG_A] = A_DIVIDER_NORMAL | 0x06; // 1024 Hz periodic rate, as QEMU and PC BIOSes leave it
    cmos[REG_B] = B_24H;
    cmos[REG_D] = D_VRT;
    const now = this.now();
    return { cmos, index: 0, nmiMasked: false, baseMs: startTimeMs(this.opts.base), baseNs: now, flagsCheckedNs: now };
  }

  /**
   * Machine reset: the RTC is battery-backed, so time and CMOS RAM survive;
   * the interrupt enables and flags are cleared (datasheet "RESET").
   */
  reset(): void {
    this.catchUpFlags();
    const cmos = this.state.cmos;
    cmos[REG_B]! &= ~(B_PIE | B_AIE | B_UIE);
    cmos[REG_C] = 0;
    this.updateIrq();
    this.reschedule();
  }

  /** NMI is disabled while bit 7 of the last index write is set. */
  get nmiMasked(): boolean {
    return this.state.nmiMasked;
  }

  /** Board setup: a CMOS RAM byte (index 0x0e-0x7f). */
  setCmos(index: number, value: number): void {
    if (index < REG_D + 1 || index >= CMOS_SIZE) throw new Error(`CMOS index 0x${index.toString(16)} is not RAM`);
    this.state.cmos[index] = value & 0xff;
  }

  getCmos(index: number): number {
    return this.state.cmos[index & 0x7f]!;
  }

  // ---- ports ----

  private writeIndex(value: number): void {
    this.state.index = value & 0x7f;
    this.state.nmiMasked = (value & 0x80) !== 0;
  }

  private readData(): number {
    const s = this.state;
    switch (s.index) {
      case REG_A:
        return s.cmos[REG_A]! | (this.updateInProgress() ? A_UIP : 0);
      case REG_C:
        return this.readRegisterC();
      case REG_D:
        return D_VRT;
      default:
        if (CLOCK_REGISTERS.includes(s.index) && this.running()) this.latchClockRegisters();
        return s.cmos[s.index]!;
    }
  }

  private writeData(value: number): void {
    const s = this.state;
    switch (s.index) {
      case REG_A:
        this.writeRegisterA(value);
        return;
      case REG_B:
        this.writeRegisterB(value);
        return;
      case REG_C:
      case REG_D: // read-only
        return;
      default:
        if (CLOCK_REGISTERS.includes(s.index) && this.running()) this.writeRunningClock(s.index, value);
        else s.cmos[s.index] = value;
        if (s.index <= HOURS_ALARM) this.reschedule();
    }
  }

  // ---- the clock ----

  /** Counting: SET clear and the divider chain in a counting state. */
  private running(): boolean {
    const cmos = this.state.cmos;
    return !(cmos[REG_B]! & B_SET) && (cmos[REG_A]! & A_DIVIDER_MASK) <= A_DIVIDER_NORMAL;
  }

  private calendarMs(now = this.now()): number {
    return this.state.baseMs + (now - this.state.baseNs) / 1e6;
  }

  /** Virtual time of the next seconds roll-over after `now`. */
  private nextSecondNs(now: number): number {
    const ms = this.calendarMs(now);
    return now + ((secondIndex(ms) + 1) * 1000 - ms) * 1e6;
  }

  private updateInProgress(): boolean {
    if (!this.running()) return false;
    const now = this.now();
    return this.nextSecondNs(now) - now <= UIP_WINDOW_NS;
  }

  private encode(value: number): number {
    return this.state.cmos[REG_B]! & B_BINARY ? value : toBcd(value);
  }

  private decode(value: number): number {
    return this.state.cmos[REG_B]! & B_BINARY ? value : fromBcd(value);
  }

  private encodeHour(hour: number): number {
    if (this.state.cmos[REG_B]! & B_24H) return this.encode(hour);
    const pm = hour >= 12 ? 0x80 : 0;
    return this.encode(hour % 12 || 12) | pm;
  }

  private decodeHour(value: number): number {
    if (this.state.cmos[REG_B]! & B_24H) return this.decode(value);
    const hour12 = this.decode(value & 0x7f) % 12;
    return value & 0x80 ? hour12 + 12 : hour12;
  }

  /** Fills the time registers from the running clock. */
  private latchClockRegisters(): void {
    const cmos = this.state.cmos;
    const t = new Date(Math.floor(this.calendarMs()));
    const year = t.getUTCFullYear();
    cmos[SECONDS] = this.encode(t.getUTCSeconds());
    cmos[MINUTES] = this.encode(t.getUTCMinutes());
    cmos[HOURS] = this.encodeHour(t.getUTCHours());
    cmos[DAY_OF_WEEK] = this.encode(t.getUTCDay() + 1);
    cmos[DAY_OF_MONTH] = this.encode(t.getUTCDate());
    cmos[MONTH] = this.encode(t.getUTCMonth() + 1);
    cmos[YEAR] = this.encode(year % 100);
    cmos[CENTURY] = this.encode(Math.floor(year / 100) % 100);
  }

  /** Restarts the clock from the time registers, `intoSecondMs` into the current second. */
  private setTimeFromRegisters(intoSecondMs: number): void {
    const cmos = this.state.cmos;
    const year = this.decode(cmos[CENTURY]!) * 100 + this.decode(cmos[YEAR]!);
    const ms = Date.UTC(
      year,
      this.decode(cmos[MONTH]!) - 1,
      this.decode(cmos[DAY_OF_MONTH]!),
      this.decodeHour(cmos[HOURS]!),
      this.decode(cmos[MINUTES]!),
      this.decode(cmos[SECONDS]!),
    );
    const now = this.now();
    // Garbage in the registers gives a garbage date, as on the chip, but never NaN.
    this.state.baseMs = (Number.isFinite(ms) ? ms : 0) + intoSecondMs;
    this.state.baseNs = now;
    this.state.flagsCheckedNs = now;
  }

  /** Setting one time register while the clock runs moves the clock; the divider chain keeps its phase. */
  private writeRunningClock(index: number, value: number): void {
    this.catchUpFlags();
    const intoSecondMs = ((this.calendarMs() % 1000) + 1000) % 1000;
    this.latchClockRegisters();
    this.state.cmos[index] = value;
    this.setTimeFromRegisters(intoSecondMs);
  }

  /** Register A: divider and periodic rate; UIP is read-only. Leaving divider reset starts the clock half a second into a second. */
  private writeRegisterA(value: number): void {
    const cmos = this.state.cmos;
    this.catchUpFlags();
    const wasRunning = this.running();
    if (wasRunning) this.latchClockRegisters();
    cmos[REG_A] = value & ~A_UIP;
    if (!wasRunning && this.running()) this.setTimeFromRegisters(500);
    this.reschedule();
  }

  /** Register B: SET freezes the clock (and clears UIE); clearing SET restarts it from the registers. */
  private writeRegisterB(value: number): void {
    const cmos = this.state.cmos;
    this.catchUpFlags();
    const wasRunning = this.running();
    if (wasRunning) this.latchClockRegisters();
    if (value & B_SET) value &= ~B_UIE;
    cmos[REG_B] = value;
    if (!wasRunning && this.running()) this.setTimeFromRegisters(0);
    this.updateIrq();
    this.reschedule();
  }

  // ---- interrupts ----

  /** Register C: the flags, cleared by the read, which also drops IRQ 8. */
  private readRegisterC(): number {
    this.catchUpFlags();
    const cmos = this.state.cmos;
    const value = cmos[REG_C]!;
    cmos[REG_C] = 0;
    this.updateIrq();
    this.reschedule();
    return value;
  }

  /** Sets PF, UF and AF for every periodic tick and update cycle since the last check. */
  private catchUpFlags(now = this.now()): void {
    const s = this.state;
    const from = s.flagsCheckedNs;
    if (now <= from) return;
    s.flagsCheckedNs = now;
    let flags = 0;
    const period = this.periodicTicks();
    if (period > 0 && Math.floor(timeBaseTicks(now) / period) > Math.floor(timeBaseTicks(from) / period)) flags |= C_PF;
    if (this.running()) {
      const fromSecond = secondIndex(this.calendarMs(from));
      const seconds = secondIndex(this.calendarMs(now)) - fromSecond;
      if (seconds > 0) {
        flags |= C_UF;
        if (this.alarmMatchedWithin(fromSecond, seconds)) flags |= C_AF;
      }
    }
    s.cmos[REG_C]! |= flags;
  }

  /** Whether any of `count` update cycles after second `fromSecond` ended on the alarm time. */
  private alarmMatchedWithin(fromSecond: number, count: number): boolean {
    const cmos = this.state.cmos;
    const alarm = [cmos[SECONDS_ALARM]!, cmos[MINUTES_ALARM]!, cmos[HOURS_ALARM]!];
    for (let i = 1; i <= Math.min(count, SECONDS_PER_DAY); i++) {
      const t = new Date((fromSecond + i) * 1000);
      const current = [this.encode(t.getUTCSeconds()), this.encode(t.getUTCMinutes()), this.encodeHour(t.getUTCHours())];
      if (alarm.every((a, k) => (a & ALARM_DONT_CARE) === ALARM_DONT_CARE || a === current[k])) return true;
    }
    return false;
  }

  /** The periodic interrupt period in 32.768 kHz ticks, or 0 when RS selects none (datasheet Table 3). */
  private periodicTicks(): number {
    const rate = this.state.cmos[REG_A]! & A_RATE_MASK;
    if (rate === 0 || (this.state.cmos[REG_A]! & A_DIVIDER_MASK) !== A_DIVIDER_NORMAL) return 0;
    return 1 << ((rate <= 2 ? rate + 7 : rate) - 1);
  }

  private updateIrq(): void {
    const cmos = this.state.cmos;
    const enabled = cmos[REG_B]! & (B_PIE | B_AIE | B_UIE);
    const pending = (cmos[REG_C]! & (C_PF | C_AF | C_UF)) & enabled;
    if (pending) cmos[REG_C]! |= C_IRQF;
    this.irq8.set((cmos[REG_C]! & C_IRQF) !== 0);
  }

  /** Queues a timer at the next instant an enabled interrupt could fire, while IRQF is clear. */
  private reschedule(): void {
    this.timers.cancel(this.timer);
    this.timer = undefined;
    const cmos = this.state.cmos;
    if (cmos[REG_C]! & C_IRQF) return; // nothing new can reach the PIC until register C is read
    const now = this.now();
    let deadline = Infinity;
    const period = this.periodicTicks();
    if (cmos[REG_B]! & B_PIE && period > 0) {
      const nextTick = (Math.floor(timeBaseTicks(now) / period) + 1) * period;
      deadline = Math.ceil((nextTick * NS_PER_S) / TIME_BASE_HZ);
    }
    if (cmos[REG_B]! & (B_AIE | B_UIE) && this.running()) deadline = Math.min(deadline, this.nextSecondNs(now));
    if (deadline === Infinity) return;
    // The timer queue runs on the virtual clock; both advance together while the VM runs.
    this.timer = this.timers.add(this.timers.clock.now() + (deadline - now), () => {
      this.timer = undefined;
      this.catchUpFlags();
      this.updateIrq();
      this.reschedule();
    });
  }
}

/*
 * Boundaries are counted with a small tolerance so that a timer queued for
 * a boundary, firing at a float time a rounding error short of it, still
 * sees it pass (and does not queue itself again for the same instant).
 */

/** 32.768 kHz time-base ticks by virtual time `ns`. */
function timeBaseTicks(ns: number): number {
  return Math.floor((ns * TIME_BASE_HZ) / NS_PER_S + 1e-6);
}

/** Whole seconds of a calendar time in ms (calendar ms carry about 0.25 us of float precision). */
function secondIndex(ms: number): number {
  return Math.floor(ms / 1000 + 1e-6);
}

// ---- the PC's CMOS layout ----

export type FloppyDriveType = 'none' | '360K' | '1.2M' | '720K' | '1.44M' | '2.88M';

export interface CmosDisk {
  cylinders: number;
  heads: number;
  sectors: number;
  /** BIOS CHS translation; QEMU's auto picks LBA beyond 1024 cylinders. */
  translation?: 'none' | 'lba' | 'large' | 'rechs';
}

export interface PcCmosConfig {
  memoryBytes: number;
  /** Where the PCI hole starts: RAM above it is remapped above 4 GiB (i440FX: 0xE0000000). */
  lowRamLimit?: number;
  /** Drives A: and B:. */
  floppies: FloppyDriveType[];
  /** IDE positions 0-3 (primary master/slave, secondary master/slave); undefined when empty or not a disk. */
  disks: (CmosDisk | undefined)[];
  /** -boot order, e.g. "cdn". */
  bootOrder: string;
  cpus?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const FLOPPY_TYPE_CODES: Record<FloppyDriveType, number> = {
  none: 0,
  '360K': 1,
  '1.2M': 2,
  '720K': 3,
  '1.44M': 4,
  '2.88M': 5,
};
const TRANSLATION_CODES = { none: 0, lba: 1, large: 2, rechs: 3 } as const;
/** Boot device nibbles as SeaBIOS and Bochs BIOS read 0x3d/0x38. */
const BOOT_DEVICE_NIBBLES: Record<string, number> = { a: 1, b: 1, c: 2, d: 3, n: 4 };
/** Equipment byte 0x14: math coprocessor present, PS/2 mouse installed. */
const EQUIPMENT_FPU = 0x02;
const EQUIPMENT_PS2_MOUSE = 0x04;
/** CMOS disk type 47: user-defined, parameters in the drive's table. */
const USER_DEFINED_DISK_TYPE = 47;

/**
 * Writes the CMOS bytes a PC BIOS (SeaBIOS, Bochs BIOS, ours) and Linux read,
 * with the values QEMU's pc machine gives them (hw/i386/pc.c pc_cmos_init).
 */
export function fillPcCmos(rtc: Mc146818Rtc, config: PcCmosConfig): void {
  const set16 = (index: number, value: number) => {
    rtc.setCmos(index, value & 0xff);
    rtc.setCmos(index + 1, (value >> 8) & 0xff);
  };
  const lowRamLimit = config.lowRamLimit ?? 0xe000_0000;
  const below4g = Math.min(config.memoryBytes, lowRamLimit);
  const above4g = config.memoryBytes - below4g;

  // Base memory in KiB (0x15-0x16), extended memory above 1 MiB in KiB (0x17-0x18, again at 0x30-0x31),
  // memory above 16 MiB in 64 KiB units (0x34-0x35), memory above 4 GiB in 64 KiB units (0x5b-0x5d).
  set16(0x15, Math.min(below4g / KiB, 640));
  const extended = Math.min(Math.max(0, (below4g - MiB) / KiB), 0xffff);
  set16(0x17, extended);
  set16(0x30, extended);
  set16(0x34, Math.min(Math.max(0, Math.floor((below4g - 16 * MiB) / (64 * KiB))), 0xffff));
  const high = Math.floor(above4g / (64 * KiB));
  set16(0x5b, high & 0xffff);
  rtc.setCmos(0x5d, (high >> 16) & 0xff);

  const [fdA = 'none', fdB = 'none'] = config.floppies;
  rtc.setCmos(0x10, (FLOPPY_TYPE_CODES[fdA] << 4) | FLOPPY_TYPE_CODES[fdB]);
  const floppyCount = (fdA !== 'none' ? 1 : 0) + (fdB !== 'none' ? 1 : 0);
  const floppyBits = floppyCount === 0 ? 0 : floppyCount === 1 ? 0x01 : 0x41;
  rtc.setCmos(0x14, EQUIPMENT_FPU | EQUIPMENT_PS2_MOUSE | floppyBits);

  fillDiskTypes(rtc, config.disks);
  fillBootOrder(rtc, config.bootOrder);
  if (config.cpus !== undefined) rtc.setCmos(0x5f, (config.cpus - 1) & 0xff);
  fillChecksum(rtc);
}

/** 0x12 types of the first two disks (0xF = "see extended type"), 0x19/0x1a their extended types, 0x1b/0x24 their parameters, 0x39 translations. */
function fillDiskTypes(rtc: Mc146818Rtc, disks: (CmosDisk | undefined)[]): void {
  let types = 0;
  const tables = [0x1b, 0x24];
  for (let i = 0; i < 2; i++) {
    const disk = disks[i];
    if (!disk) continue;
    types |= 0xf0 >> (4 * i);
    rtc.setCmos(0x19 + i, USER_DEFINED_DISK_TYPE);
    const t = tables[i]!;
    const cyl = Math.min(disk.cylinders, 0xffff);
    rtc.setCmos(t, cyl & 0xff);
    rtc.setCmos(t + 1, cyl >> 8);
    rtc.setCmos(t + 2, disk.heads & 0xff);
    rtc.setCmos(t + 3, 0xff); // write precompensation: none
    rtc.setCmos(t + 4, 0xff);
    rtc.setCmos(t + 5, 0xc0 | (disk.heads > 8 ? 0x08 : 0)); // control byte: more than 8 heads
    rtc.setCmos(t + 6, cyl & 0xff); // landing zone
    rtc.setCmos(t + 7, cyl >> 8);
    rtc.setCmos(t + 8, disk.sectors & 0xff);
  }
  rtc.setCmos(0x12, types);
  let translations = 0;
  disks.slice(0, 4).forEach((disk, i) => {
    if (!disk) return;
    const mode = disk.translation ?? (disk.cylinders > 1024 ? 'lba' : 'none');
    translations |= TRANSLATION_CODES[mode] << (2 * i);
  });
  rtc.setCmos(0x39, translations);
}

/** Boot order: first and second device in 0x3d, third in 0x38 bits 7-4; 0x38 bit 0 clear keeps the floppy boot-sector check. */
function fillBootOrder(rtc: Mc146818Rtc, order: string): void {
  const nibbles = [...order.slice(0, 3)].map((c) => BOOT_DEVICE_NIBBLES[c.toLowerCase()] ?? 0);
  const [first = 0, second = 0, third = 0] = nibbles;
  rtc.setCmos(0x3d, (second << 4) | first);
  rtc.setCmos(0x38, third << 4);
}

/** The AT checksum: the sum of 0x10-0x2d, big-endian in 0x2e-0x2f. */
function fillChecksum(rtc: Mc146818Rtc): void {
  let sum = 0;
  for (let i = 0x10; i <= 0x2d; i++) sum += rtc.getCmos(i);
  rtc.setCmos(0x2e, (sum >> 8) & 0xff);
  rtc.setCmos(0x2f, sum & 0xff);
}
