/**
 * The IA-PC High Precision Event Timer at 0xFED00000, as QEMU's pc machine
 * has it: a 64-bit main counter at 100 MHz (10 ns period) and three
 * comparators, each able to run one-shot or periodic, 32- or 64-bit, with
 * edge- or level-triggered interrupts.
 *
 *   0x000  General Capabilities and ID (2.3.4)   0x8086a201: vendor 8086, LEG_RT_CAP, 64-bit counter, 3 timers, rev 1; period in fs above
 *   0x010  General Configuration (2.3.5)         ENABLE_CNF, LEG_RT_CNF
 *   0x020  General Interrupt Status (2.3.6)      Tn_INT_STS of level-triggered timers, write 1 to clear
 *   0x0F0  Main Counter Value (2.3.7)            counts while ENABLE_CNF is set, writable while halted
 *   0x100 + 0x20n  Timer n Configuration and Capabilities (2.3.8)
 *   0x108 + 0x20n  Timer n Comparator Value (2.3.9)
 *
 * Registers are taken in 32-bit accesses (what Linux uses); a 64-bit access
 * reaches the chip as its two halves, low first. Narrower accesses are not
 * decoded and read as 0, as in QEMU. Timers deliver through the ISA lines
 * only: no FSB (MSI) delivery, as QEMU's default; a timer may be routed to
 * IRQ 2 only, QEMU's Tn_INT_ROUTE_CAP for the i440FX pc. LegacyReplacement
 * puts timer 0 on IRQ 0 and timer 1 on IRQ 8 and takes those lines from the
 * PIT and the RTC (2.3.5 LEG_RT_CNF, and the spec's LegacyReplacement
 * interrupt mapping): the two chips drive `pitIrq` and `rtcIrq`.
 *
 * Nothing ticks: the counter is derived from the virtual clock, and each
 * timer with its interrupt enabled has one event on the timer queue at its
 * next comparator match.
 *
 * Spec: IA-PC HPET (High Precision Event Timers) Specification 1.0a.
 * Behavioural reference: QEMU hw/timer/hpet.c.
 */
import { SwitchableIrqLine, type IrqRouter } from '../io/irq.js';
import { log } from '../log.js';
import type { Timer, TimerQueue } from '../machine/clock.js';
import { PAGE_SIZE, type AccessSize, type AddressSpace } from '../memory/address-space.js';

export const HPET_BASE = 0xfed0_0000;
/** The register block (spec 2.3.1); the rest of its page is reserved and reads as 0. */
export const HPET_BLOCK_SIZE = 0x400;
/** General Capabilities and ID, low half: vendor 0x8086, LEG_RT_CAP, COUNT_SIZE_CAP, NUM_TIM_CAP 2, REV_ID 1. The ACPI HPET table's Event Timer Block ID repeats it. */
export const HPET_CAPABILITIES = 0x8086_a201;
/** COUNTER_CLK_PERIOD in femtoseconds: 10 ns, 100 MHz. */
const PERIOD_FS = 10_000_000;
const NS_PER_TICK = 10;
const TIMER_COUNT = 3;

// General registers (spec 2.3.1).
const CAPABILITIES = 0x000;
const CONFIG = 0x010;
const INT_STATUS = 0x020;
const MAIN_COUNTER = 0x0f0;
const TIMER_BLOCKS = 0x100;
const TIMER_STRIDE = 0x20;
// Within a timer's block.
const TN_CONFIG = 0x00;
const TN_COMPARATOR = 0x08;

// General Configuration (2.3.5).
const ENABLE_CNF = 1 << 0;
const LEG_RT_CNF = 1 << 1;

// Timer n Configuration and Capabilities (2.3.8).
const TN_INT_TYPE_CNF = 1 << 1; // level-triggered
const TN_INT_ENB_CNF = 1 << 2;
const TN_TYPE_CNF = 1 << 3; // periodic
const TN_PER_INT_CAP = 1 << 4;
const TN_SIZE_CAP = 1 << 5; // 64-bit comparator
const TN_VAL_SET_CNF = 1 << 6;
const TN_32MODE_CNF = 1 << 8;
const TN_INT_ROUTE_SHIFT = 9;
const TN_INT_ROUTE_MASK = 0x1f << TN_INT_ROUTE_SHIFT;
const TN_WRITABLE = TN_INT_TYPE_CNF | TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF | TN_32MODE_CNF | TN_INT_ROUTE_MASK;
/** Every timer is periodic-capable and 64-bit, as in QEMU. */
const TN_CAPABILITIES = TN_PER_INT_CAP | TN_SIZE_CAP;
/** Tn_INT_ROUTE_CAP: IRQ 2, QEMU's value for the i440FX pc. */
const ROUTE_CAP = 1 << 2;

/** The lines LegacyReplacement gives timers 0 and 1 (their 8259 mapping). */
const PIT_IRQ = 0;
const RTC_IRQ = 8;

const U64_MAX = 0xffff_ffff_ffff_ffffn;

export interface HpetTimerState {
  /** The writable bits of Timer n Configuration; the capability bits are constants. */
  config: number;
  comparator: bigint;
  /** Periodic mode: what each match adds to the comparator, the last value written to it (2.3.9.2.2). */
  period: bigint;
}

export interface HpetState {
  config: number;
  /** Tn_INT_STS: set by level-triggered timers only (2.3.6). */
  interruptStatus: number;
  /** The main counter while halted; while running, its value when ENABLE_CNF was set. */
  counterStart: bigint;
  /** Virtual ns at which ENABLE_CNF was last set. */
  startedAtNs: number;
  timers: HpetTimerState[];
}

function initialState(): HpetState {
  const timers = Array.from({ length: TIMER_COUNT }, () => ({ config: 0, comparator: U64_MAX, period: 0n }));
  return { config: 0, interruptStatus: 0, counterStart: 0n, startedAtNs: 0, timers };
}

/** Comparator width: 64 bits unless Tn_32MODE_CNF forces 32. */
function widthOf(t: HpetTimerState): 32 | 64 {
  return t.config & TN_32MODE_CNF ? 32 : 64;
}

function isPeriodic(t: HpetTimerState): boolean {
  return (t.config & TN_TYPE_CNF) !== 0;
}

function isLevelTriggered(t: HpetTimerState): boolean {
  return (t.config & TN_INT_TYPE_CNF) !== 0;
}

/** Tn_INT_ROUTE_CNF of a timer configuration. */
function routeOf(config: number): number {
  return (config & TN_INT_ROUTE_MASK) >> TN_INT_ROUTE_SHIFT;
}

/** A period of half the comparator range or more would never be seen ahead of the counter; QEMU clamps it likewise. */
function clampPeriod(period: bigint, width: 32 | 64): bigint {
  return BigInt.asUintN(width - 1, period);
}

/** Which timer's block a register offset (0x100 or above) falls in. */
function timerIndex(offset: number): number {
  return Math.floor((offset - TIMER_BLOCKS) / TIMER_STRIDE);
}

function half(value: bigint, high: boolean): number {
  return Number(BigInt.asUintN(32, high ? value >> 32n : value));
}

function withHalf(value: bigint, high: boolean, half32: number): bigint {
  const v = BigInt(half32 >>> 0);
  return high ? (value & 0xffff_ffffn) | (v << 32n) : (value & ~0xffff_ffffn) | v;
}

export class Hpet {
  state: HpetState = initialState();
  /** The PIT's IRQ 0 output, which LegacyReplacement disconnects. */
  readonly pitIrq: SwitchableIrqLine;
  /** The RTC's IRQ 8 output, which LegacyReplacement disconnects. */
  readonly rtcIrq: SwitchableIrqLine;
  private readonly events: (Timer | undefined)[] = [];
  /** The ISA lines the HPET holds high (level-triggered timers with their status set). */
  private raised = new Set<number>();

  constructor(
    mem: AddressSpace,
    private readonly queue: TimerQueue,
    private readonly irq: IrqRouter,
  ) {
    this.pitIrq = new SwitchableIrqLine(irq, PIT_IRQ);
    this.rtcIrq = new SwitchableIrqLine(irq, RTC_IRQ);
    mem.addMmio('hpet', HPET_BASE, PAGE_SIZE, {
      read: (offset, size) => this.read(offset, size),
      write: (offset, size, value) => this.write(offset, size, value),
    });
  }

  private now(): number {
    return this.queue.clock.now();
  }

  /** Power-on state (QEMU's hpet_reset): halted at 0, timers off, the PIT and RTC on their lines. */
  reset(): void {
    for (let n = 0; n < TIMER_COUNT; n++) this.disarm(n);
    this.state = initialState();
    this.updateLines();
    this.pitIrq.connect(true);
    this.rtcIrq.connect(true);
  }

  // ---- registers ----

  private read(offset: number, size: AccessSize): number {
    if (size !== 4) return this.undecoded(offset, size);
    if (offset >= TIMER_BLOCKS) return this.readTimer(timerIndex(offset), offset % TIMER_STRIDE);
    const s = this.state;
    switch (offset) {
      case CAPABILITIES:
        return HPET_CAPABILITIES;
      case CAPABILITIES + 4:
        return PERIOD_FS;
      case CONFIG:
        return s.config;
      case INT_STATUS:
        return s.interruptStatus;
      case MAIN_COUNTER:
      case MAIN_COUNTER + 4:
        return half(this.counterAt(this.ticksAt(this.now())), offset !== MAIN_COUNTER);
      default:
        return 0; // reserved
    }
  }

  private readTimer(n: number, reg: number): number {
    const t = this.state.timers[n];
    if (!t) return 0; // the blocks of timers this HPET lacks are reserved
    switch (reg) {
      case TN_CONFIG:
        return t.config | TN_CAPABILITIES;
      case TN_CONFIG + 4:
        return ROUTE_CAP;
      case TN_COMPARATOR:
      case TN_COMPARATOR + 4:
        return half(t.comparator, reg !== TN_COMPARATOR);
      default:
        return 0; // FSB route: no FSB delivery
    }
  }

  private write(offset: number, size: AccessSize, value: number): void {
    if (size !== 4) {
      this.undecoded(offset, size);
      return;
    }
    if (offset >= TIMER_BLOCKS) {
      this.writeTimer(timerIndex(offset), offset % TIMER_STRIDE, value);
      return;
    }
    switch (offset) {
      case CONFIG:
        this.writeConfig(value);
        return;
      case INT_STATUS:
        this.clearStatus(value);
        return;
      case MAIN_COUNTER:
      case MAIN_COUNTER + 4:
        this.writeCounter(offset !== MAIN_COUNTER, value);
        return;
      default: // capabilities are read-only, the rest reserved
    }
  }

  private writeTimer(n: number, reg: number, value: number): void {
    if (!this.state.timers[n]) return;
    switch (reg) {
      case TN_CONFIG:
        this.writeTimerConfig(n, value);
        return;
      case TN_COMPARATOR:
      case TN_COMPARATOR + 4:
        this.writeComparator(n, reg !== TN_COMPARATOR, value);
        return;
      default: // route capabilities are read-only; no FSB route
    }
  }

  /** Byte and word accesses: QEMU's HPET takes 32- and 64-bit ones only and reads the rest as 0. */
  private undecoded(offset: number, size: AccessSize): number {
    log.guest_errors({ offset, size }, 'hpet: access narrower than 32 bits ignored');
    return 0;
  }

  /**
   * ENABLE_CNF starts the counter from where it stood and arms the timers;
   * clearing it halts the counter and stops all timer interrupts.
   * LEG_RT_CNF switches IRQ 0 and 8 between the PIT/RTC and timers 0/1
   * whether or not the counter runs, as QEMU does.
   */
  private writeConfig(value: number): void {
    const s = this.state;
    const old = s.config;
    const now = this.now();
    const wasRunning = (old & ENABLE_CNF) !== 0;
    if (wasRunning && !(value & ENABLE_CNF)) s.counterStart = this.counterAt(this.ticksAt(now));
    s.config = value & (ENABLE_CNF | LEG_RT_CNF);
    if (!wasRunning && s.config & ENABLE_CNF) s.startedAtNs = now;
    if (wasRunning !== ((s.config & ENABLE_CNF) !== 0)) {
      for (let n = 0; n < TIMER_COUNT; n++) this.arm(n, 0);
    }
    if ((old ^ s.config) & LEG_RT_CNF) this.switchLegacyRoute((s.config & LEG_RT_CNF) !== 0);
    else this.updateLines();
  }

  /** With LegacyReplacement the 8254 and the RTC cause no interrupts: their lines are timer 0's and 1's. */
  private switchLegacyRoute(legacy: boolean): void {
    if (legacy) {
      this.pitIrq.connect(false);
      this.rtcIrq.connect(false);
      this.updateLines();
    } else {
      this.updateLines();
      this.pitIrq.connect(true);
      this.rtcIrq.connect(true);
    }
  }

  /** Writing 1 clears a level-triggered timer's status bit and releases its line (2.3.6). */
  private clearStatus(value: number): void {
    this.state.interruptStatus &= ~value;
    this.updateLines();
  }

  /** Software writes the counter only while it is halted (2.3.7); QEMU drops writes to a running one too. */
  private writeCounter(high: boolean, value: number): void {
    const s = this.state;
    if (s.config & ENABLE_CNF) {
      log.guest_errors({ value }, 'hpet: main counter written while running, ignored');
      return;
    }
    s.counterStart = withHalf(s.counterStart, high, value);
  }

  private writeTimerConfig(n: number, value: number): void {
    const t = this.state.timers[n]!;
    const old = t.config;
    let config = value & TN_WRITABLE;
    // A route the capability does not offer is not taken: the field reads back unchanged (2.3.8).
    if (!(ROUTE_CAP & (1 << routeOf(config)))) config = (config & ~TN_INT_ROUTE_MASK) | (old & TN_INT_ROUTE_MASK);
    t.config = config;
    if (widthOf(t) === 32) {
      // The upper halves load with zeros in 32-bit mode (2.3.8 Tn_32MODE_CNF).
      t.comparator = BigInt.asUintN(32, t.comparator);
      t.period = clampPeriod(t.period, 32);
    }
    if (!isLevelTriggered(t)) this.state.interruptStatus &= ~(1 << n);
    const enablingInterrupt = !(old & TN_INT_ENB_CNF) && config & TN_INT_ENB_CNF;
    if (this.events[n] || enablingInterrupt) this.arm(n, this.ticksAt(this.now()));
    this.updateLines();
  }

  /**
   * One-shot: the match value. Periodic: the period, and with Tn_VAL_SET_CNF
   * (which clears itself) the next match too (2.3.9.2.2; QEMU stores both on
   * such a write). In 32-bit mode the upper half stays 0.
   */
  private writeComparator(n: number, high: boolean, value: number): void {
    const t = this.state.timers[n]!;
    const width = widthOf(t);
    if (high && width === 32) return;
    if (!isPeriodic(t) || t.config & TN_VAL_SET_CNF) t.comparator = withHalf(t.comparator, high, value);
    if (isPeriodic(t)) t.period = clampPeriod(withHalf(t.period, high, value), width);
    t.config &= ~TN_VAL_SET_CNF;
    this.arm(n, this.ticksAt(this.now()), true);
  }

  // ---- the counter and the timer events ----

  /** Counter ticks since ENABLE_CNF was set, at virtual time `ns`. */
  private ticksAt(ns: number): number {
    return Math.max(0, Math.floor((ns - this.state.startedAtNs) / NS_PER_TICK));
  }

  /** The main counter `ticks` after it was started (its held value while halted). */
  private counterAt(ticks: number): bigint {
    const s = this.state;
    if (!(s.config & ENABLE_CNF)) return s.counterStart;
    return BigInt.asUintN(64, s.counterStart + BigInt(ticks));
  }

  /**
   * A timer has events only while the counter runs and its Tn_INT_ENB_CNF is
   * set, as in QEMU: the spec would still set a level-triggered timer's
   * status bit with its interrupt disabled; QEMU and tsvm do not.
   */
  private isArmable(t: HpetTimerState): boolean {
    return (this.state.config & ENABLE_CNF) !== 0 && (t.config & TN_INT_ENB_CNF) !== 0;
  }

  private disarm(n: number): void {
    this.queue.cancel(this.events[n]);
    this.events[n] = undefined;
  }

  /**
   * Schedules timer n's next event as seen `ticks` after the counter
   * started: its comparator match, or before that the counter's wrap past
   * 2^32, which a 32-bit one-shot timer signals too (2.3.9.2.1). A
   * comparator `justWritten` that the counter has already passed (by less
   * than half its range) fires at the next tick, as in QEMU, rather than a
   * whole wrap later: a slow guest may compute a match that is behind by
   * the time it writes it. The deadline is computed from `ticks`, never
   * from a second clock read.
   */
  private arm(n: number, ticks: number, justWritten = false): void {
    this.disarm(n);
    const t = this.state.timers[n]!;
    if (!this.isArmable(t)) return;
    const width = widthOf(t);
    const counter = this.counterAt(ticks);
    let delay = Number(BigInt.asUintN(width, t.comparator - counter));
    if (delay === 0 || (justWritten && delay >= 2 ** (width - 1))) delay = 1;
    let wrap = false;
    if (width === 32 && !isPeriodic(t)) {
      const toWrap = 2 ** 32 - half(counter, false);
      if (toWrap < delay) [delay, wrap] = [toWrap, true];
    }
    const deadline = this.state.startedAtNs + (ticks + delay) * NS_PER_TICK;
    this.events[n] = this.queue.add(deadline, () => this.fire(n, wrap));
  }

  /**
   * Timer n's event came: it interrupts; a periodic timer moves its
   * comparator on past the counter (missed periods, when the host ran late,
   * are skipped as QEMU does: the PIC would merge their edges anyway) and
   * stays armed; a one-shot timer is done unless this was the wrap before
   * its match.
   */
  private fire(n: number, wrap: boolean): void {
    this.events[n] = undefined;
    const t = this.state.timers[n]!;
    const ticks = this.ticksAt(this.now());
    const periodic = isPeriodic(t) && t.period > 0n;
    if (periodic) this.advanceComparator(t, this.counterAt(ticks));
    this.interrupt(n);
    if (periodic || wrap) this.arm(n, ticks);
  }

  /** Adds whole periods until the comparator is ahead of `counter` (2.3.9.2.2). */
  private advanceComparator(t: HpetTimerState, counter: bigint): void {
    const width = widthOf(t);
    const behind = BigInt.asUintN(width, counter - t.comparator);
    t.comparator = BigInt.asUintN(width, t.comparator + (behind / t.period + 1n) * t.period);
  }

  // ---- interrupt lines ----

  /**
   * LegacyReplacement puts timers 0 and 1 on IRQ 0 and 8; otherwise
   * Tn_INT_ROUTE_CNF says (2.3.8). The field resets to 0, a route the
   * capability does not offer: until software routes the timer it reaches
   * no line (QEMU would pulse IRQ 0, which belongs to the PIT then).
   */
  private lineOf(n: number): number | undefined {
    if (this.state.config & LEG_RT_CNF && n < 2) return n === 0 ? PIT_IRQ : RTC_IRQ;
    const route = routeOf(this.state.timers[n]!.config);
    return ROUTE_CAP & (1 << route) ? route : undefined;
  }

  /** Edge-triggered: a pulse. Level-triggered: its status bit, and its line held until software clears the bit (2.3.6). */
  private interrupt(n: number): void {
    if (isLevelTriggered(this.state.timers[n]!)) {
      this.state.interruptStatus |= 1 << n;
      this.updateLines();
      return;
    }
    const line = this.lineOf(n);
    if (line === undefined || this.raised.has(line)) return; // unrouted, or held high by a level-triggered timer: no edge to see
    this.irq.set(line, true);
    this.irq.set(line, false);
  }

  /** Drives each line high while a level-triggered, enabled timer routed to it has its status bit set. */
  private updateLines(): void {
    const s = this.state;
    const wanted = new Set<number>();
    s.timers.forEach((t, n) => {
      const line = this.lineOf(n);
      if (line !== undefined && this.isArmable(t) && isLevelTriggered(t) && s.interruptStatus & (1 << n)) wanted.add(line);
    });
    for (const line of this.raised) if (!wanted.has(line)) this.irq.set(line, false);
    for (const line of wanted) if (!this.raised.has(line)) this.irq.set(line, true);
    this.raised = wanted;
  }
}
