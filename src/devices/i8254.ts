/**
 * Intel 8254 programmable interval timer, and the PC's port 0x61 (System
 * Control Port B) which gates channel 2 into the speaker and reads its output.
 *
 * Ports: 0x40-0x42 counters 0-2, 0x43 control word; 0x61 port B.
 * Channel 0 drives IRQ 0, channel 1 (DRAM refresh) is free-running, channel 2
 * is gated by port 0x61 bit 0.
 *
 * Nothing ticks: a channel remembers when it started counting and its count
 * and output are computed from the virtual clock when read. Channel 0 puts a
 * timer on the queue at its next output transition, and drives IRQ 0 with its
 * OUT level there, as the board wires it.
 *
 * Datasheet: Intel 8254 (231164). Behavioural reference: QEMU hw/timer/i8254.c
 * and hw/audio/pcspk.c.
 */
import type { IrqLine } from '../io/irq.js';
import type { PortBus } from '../io/port-bus.js';
import type { Timer, TimerQueue } from '../machine/clock.js';
import { fromBcd, toBcd } from './bcd.js';

/** Input clock of every channel, Hz. */
export const PIT_HZ = 1_193_182;
const NS_PER_S = 1e9;
/** Port 0x61 bit 4 toggles with each DRAM refresh request, every 15.085 us. */
const REFRESH_PERIOD_NS = 15_085;

/** Control word RW field: how the counter is read and written. */
const Access = { Latch: 0, LowByte: 1, HighByte: 2, Word: 3 } as const;
type Access = (typeof Access)[keyof typeof Access];

export interface PitChannelState {
  /** Operating mode 0..5 (control word codes 6 and 7 alias 2 and 3). */
  mode: number;
  access: Access;
  bcd: boolean;
  gate: boolean;
  /** Initial count in binary, 1..65536 (1..10000 in BCD); 0 is written as the maximum. */
  reload: number;
  /** Guest ns at which the counting element was loaded (or retriggered by the gate). */
  loadTime: number;
  /** Ticks counted when a low GATE suspended counting (modes 0, 2, 3, 4), or -1 while counting. */
  heldTicks: number;
  /** False between a control word and the count that completes it: OUT sits at its initial level. */
  counting: boolean;
  /** Word writes: the low byte is in, the high byte is next. */
  writeHighNext: boolean;
  pendingLowByte: number;
  /** Word reads of the live count: the high byte is next. */
  readHighNext: boolean;
  /** Latched count, or -1. */
  latchedCount: number;
  latchHighNext: boolean;
  /** Latched read-back status byte, or -1. */
  latchedStatus: number;
}

export interface I8254State {
  channels: PitChannelState[];
  /** Port 0x61 bits 0-3 as last written (gate 2, speaker data, parity/IOCHK enables). */
  portB: number;
}

function initialChannel(index: number, now: number): PitChannelState {
  return {
    mode: 3,
    access: Access.Word,
    bcd: false,
    gate: index !== 2,
    reload: 0x10000,
    loadTime: now,
    heldTicks: index === 2 ? 0 : -1,
    counting: true,
    writeHighNext: false,
    pendingLowByte: 0,
    readHighNext: false,
    latchedCount: -1,
    latchHighNext: false,
    latchedStatus: -1,
  };
}

/** Clock ticks the channel has counted by guest time `now`. */
function ticksAt(ch: PitChannelState, now: number): number {
  if (ch.heldTicks >= 0) return ch.heldTicks;
  return Math.max(0, Math.floor(((now - ch.loadTime) * PIT_HZ) / NS_PER_S));
}

/** GATE low stops the count in these modes; in 1 and 5 it is only a trigger (datasheet "Gate Pin Operations Summary"). */
function gateSuspends(mode: number): boolean {
  return mode !== 1 && mode !== 5;
}

function timeOfTick(ch: PitChannelState, tick: number): number {
  return ch.loadTime + Math.ceil((tick * NS_PER_S) / PIT_HZ);
}

/** OUT after `d` ticks (datasheet "Mode Definitions"). */
function outputAt(ch: PitChannelState, d: number): boolean {
  const n = ch.reload;
  if (!ch.counting) return ch.mode !== 0;
  switch (ch.mode) {
    case 0: // interrupt on terminal count: low until the count runs out
    case 1: // one-shot: low while counting
      return d >= n;
    case 2: // rate generator: low for the one clock when the count is 1
      if (!ch.gate || n < 2) return true;
      return d % n !== n - 1;
    case 3: // square wave: high for ceil(n/2) clocks, low for floor(n/2)
      if (!ch.gate || n < 2) return true;
      return d % n < (n + 1) >> 1;
    default: // 4, 5 strobes: low for the one clock at terminal count
      return d !== n;
  }
}

/** The next tick after `d` at which OUT changes, or Infinity. */
function nextTransition(ch: PitChannelState, d: number): number {
  const n = ch.reload;
  if (!ch.counting || ch.heldTicks >= 0) return Infinity;
  switch (ch.mode) {
    case 0:
    case 1:
      return d < n ? n : Infinity;
    case 2: {
      if (!ch.gate || n < 2) return Infinity;
      const r = d % n;
      return r < n - 1 ? d + (n - 1 - r) : d + 1;
    }
    case 3: {
      if (!ch.gate || n < 2) return Infinity;
      const r = d % n;
      const high = (n + 1) >> 1;
      return r < high ? d + (high - r) : d + (n - r);
    }
    default:
      return d < n ? n : d === n ? n + 1 : Infinity;
  }
}

/** Length of one OUT cycle in ns for the periodic modes 2 and 3; Infinity for the one-shot modes. */
function periodNs(ch: PitChannelState): number {
  return ch.mode === 2 || ch.mode === 3 ? (ch.reload * NS_PER_S) / PIT_HZ : Infinity;
}

/** The counting element's value after `d` ticks, as the guest reads it (BCD when programmed so). */
function countAt(ch: PitChannelState, d: number): number {
  const n = ch.reload;
  const modulus = ch.bcd ? 10000 : 0x10000;
  let count: number;
  switch (ch.mode) {
    case 2:
      count = n - (d % n);
      break;
    case 3: // decrements by two each clock, reloading every half period
      count = n - ((2 * d) % n);
      break;
    default: // wraps around after terminal count and keeps going
      count = n - (d % modulus);
      break;
  }
  count = ((count % modulus) + modulus) % modulus;
  return ch.bcd ? toBcd(count) : count;
}

export class I8254Pit {
  readonly state: I8254State;
  private irq0Timer: Timer | undefined;

  constructor(
    io: PortBus,
    private readonly timers: TimerQueue,
    private readonly irq0: IrqLine,
  ) {
    this.state = { channels: [], portB: 0 };
    io.register('pit', 0x40, 4, {
      read: (port) => this.readPort(port - 0x40),
      write: (port, _size, value) => this.writePort(port - 0x40, value),
    });
    io.register('port61', 0x61, 1, {
      read: () => this.readPortB(),
      write: (_port, _size, value) => this.writePortB(value),
    });
    this.reset();
  }

  private now(): number {
    return this.timers.clock.now();
  }

  /** Power-on state as QEMU gives it: every channel in mode 3 with count 65536, so IRQ 0 runs at 18.2 Hz. */
  reset(): void {
    const now = this.now();
    this.state.channels = [0, 1, 2].map((i) => initialChannel(i, now));
    this.state.portB = 0;
    this.updateIrq0();
  }

  /** Channel 2's OUT, for the speaker and port 0x61 bit 5. */
  channel2Output(): boolean {
    const ch = this.state.channels[2]!;
    return outputAt(ch, ticksAt(ch, this.now()));
  }

  private readPort(index: number): number {
    if (index === 3) return 0; // the control word register is write-only; QEMU reads it as 0
    return this.readCounter(this.state.channels[index]!);
  }

  private writePort(index: number, value: number): void {
    if (index === 3) this.writeControlWord(value);
    else this.writeCounter(index, value);
  }

  private writeControlWord(value: number): void {
    const select = value >> 6;
    if (select === 3) {
      this.readBack(value);
      return;
    }
    const ch = this.state.channels[select]!;
    const access = ((value >> 4) & 3) as Access;
    if (access === Access.Latch) {
      this.latchCount(ch);
      return;
    }
    const mode = (value >> 1) & 7;
    ch.mode = mode > 5 ? mode - 4 : mode;
    ch.access = access;
    ch.bcd = (value & 1) !== 0;
    ch.counting = false;
    ch.writeHighNext = false;
    ch.readHighNext = false;
    if (select === 0) this.updateIrq0();
  }

  /** Read-back command (0xC0 | !COUNT << 5 | !STATUS << 4 | counters << 1). */
  private readBack(value: number): void {
    for (let i = 0; i < 3; i++) {
      if (!(value & (2 << i))) continue;
      const ch = this.state.channels[i]!;
      if (!(value & 0x20)) this.latchCount(ch);
      if (!(value & 0x10) && ch.latchedStatus < 0) ch.latchedStatus = this.statusByte(ch);
    }
  }

  /** Status byte: OUT, NULL COUNT, RW, mode, BCD. */
  private statusByte(ch: PitChannelState): number {
    const out = outputAt(ch, ticksAt(ch, this.now()));
    return (out ? 0x80 : 0) | (ch.counting ? 0 : 0x40) | (ch.access << 4) | (ch.mode << 1) | (ch.bcd ? 1 : 0);
  }

  /** A second latch before the first is read is ignored (datasheet "Counter Latch Command"). */
  private latchCount(ch: PitChannelState): void {
    if (ch.latchedCount >= 0) return;
    ch.latchedCount = countAt(ch, ticksAt(ch, this.now()));
    ch.latchHighNext = ch.access === Access.HighByte;
  }

  private readCounter(ch: PitChannelState): number {
    if (ch.latchedStatus >= 0) {
      const status = ch.latchedStatus;
      ch.latchedStatus = -1;
      return status;
    }
    if (ch.latchedCount >= 0) return this.readLatchedCount(ch);
    const count = countAt(ch, ticksAt(ch, this.now()));
    switch (ch.access) {
      case Access.HighByte:
        return count >> 8;
      case Access.Word: {
        const high = ch.readHighNext;
        ch.readHighNext = !high;
        return high ? count >> 8 : count & 0xff;
      }
      default:
        return count & 0xff;
    }
  }

  private readLatchedCount(ch: PitChannelState): number {
    const count = ch.latchedCount;
    if (ch.latchHighNext) {
      ch.latchedCount = -1;
      return count >> 8;
    }
    if (ch.access === Access.Word) ch.latchHighNext = true;
    else ch.latchedCount = -1;
    return count & 0xff;
  }

  private writeCounter(index: number, value: number): void {
    const ch = this.state.channels[index]!;
    switch (ch.access) {
      case Access.LowByte:
        this.loadCount(index, value);
        return;
      case Access.HighByte:
        this.loadCount(index, value << 8);
        return;
      case Access.Word:
        if (ch.writeHighNext) this.loadCount(index, ch.pendingLowByte | (value << 8));
        else ch.pendingLowByte = value;
        ch.writeHighNext = !ch.writeHighNext;
        return;
    }
  }

  /** A complete count written: the counting element loads it and counting starts. */
  private loadCount(index: number, raw: number): void {
    const ch = this.state.channels[index]!;
    const value = ch.bcd ? fromBcd(raw) : raw;
    ch.reload = value === 0 ? (ch.bcd ? 10000 : 0x10000) : value;
    ch.loadTime = this.now();
    ch.heldTicks = !ch.gate && gateSuspends(ch.mode) ? 0 : -1;
    ch.counting = true;
    if (index === 0) this.updateIrq0(ch.loadTime);
  }

  /**
   * GATE: low suspends counting in modes 0, 2, 3 and 4. A rising edge resumes
   * modes 0 and 4 where they stopped, reloads modes 2 and 3, and triggers
   * modes 1 and 5.
   */
  private setGate(index: number, gate: boolean): void {
    const ch = this.state.channels[index]!;
    if (gate === ch.gate) return;
    const now = this.now();
    if (!gate) {
      if (gateSuspends(ch.mode)) ch.heldTicks = ticksAt(ch, now);
    } else if ((ch.mode === 0 || ch.mode === 4) && ch.heldTicks >= 0) {
      // Resume: a hair less than the held ticks ago, so rounding never loses one.
      ch.loadTime = now - ((ch.heldTicks + 1e-6) * NS_PER_S) / PIT_HZ;
      ch.heldTicks = -1;
    } else {
      ch.loadTime = now;
      ch.heldTicks = -1;
    }
    ch.gate = gate;
    if (index === 0) this.updateIrq0(now);
  }

  /**
   * Drives IRQ 0 with channel 0's OUT at guest time `at` and schedules its next
   * transition. Callers that just (re)started the count pass the time they
   * started it: guest time is the host's clock, and a second reading could
   * already lie past a one-shot's terminal count, whose strobe would then
   * never be scheduled (QEMU likewise evaluates at the load time).
   */
  private updateIrq0(at = this.now()): void {
    const ch = this.state.channels[0]!;
    const tick = ticksAt(ch, at);
    this.irq0.set(outputAt(ch, tick));
    this.scheduleIrq0(ch, tick);
  }

  private scheduleIrq0(ch: PitChannelState, fromTick: number): void {
    this.timers.cancel(this.irq0Timer);
    this.irq0Timer = undefined;
    const next = nextTransition(ch, fromTick);
    if (next === Infinity) return;
    const deadline = timeOfTick(ch, next);
    this.irq0Timer = this.timers.add(deadline, () => {
      this.irq0Timer = undefined;
      if (this.now() - deadline >= periodNs(ch)) {
        // Whole periods went by unseen (a stalled host, or a tiny count): the PIC would
        // latch their edges as one request anyway, so deliver one edge and resynchronise
        // rather than replay every transition.
        this.irq0.set(false);
        this.updateIrq0();
        return;
      }
      // Evaluate at the transition's own tick so that a late timer still delivers its edge.
      this.irq0.set(outputAt(ch, next));
      this.scheduleIrq0(ch, next);
    });
  }

  /** Port 0x61 read: gate 2, speaker data, refresh toggle (bit 4), OUT2 (bit 5); no NMI sources (bits 6-7). */
  private readPortB(): number {
    const refresh = Math.floor(this.now() / REFRESH_PERIOD_NS) & 1;
    return (this.state.portB & 0x0f) | (refresh << 4) | (this.channel2Output() ? 0x20 : 0);
  }

  private writePortB(value: number): void {
    this.state.portB = value & 0x0f;
    this.setGate(2, (value & 1) !== 0);
  }
}
