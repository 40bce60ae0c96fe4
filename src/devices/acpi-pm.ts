/**
 * The PIIX4 power-management I/O block: the ACPI fixed-hardware registers
 * at the base that PIIX4 PM's PMBA selects (0x600 on tsvm's pc machine),
 * plus the APM control/status ports 0xB2/0xB3 through which a guest switches
 * to ACPI mode.
 *
 *   base+0  PM1a_STS  (16) TMR_STS, BM_STS, GBL_STS, PWRBTN_STS, RTC_STS, WAK_STS; write 1 to clear
 *   base+2  PM1a_EN   (16) TMR_EN, GBL_EN, PWRBTN_EN, RTC_EN
 *   base+4  PM1a_CNT  (16) SCI_EN, BM_RLD, GBL_RLS, SLP_TYP (12:10), SLP_EN (13, write-only)
 *   base+8  PM_TMR    (32) 24-bit free-running count at 3.579545 MHz
 *
 * Every register is decoded byte by byte, so any access width works (QEMU
 * accepts 1-4 byte accesses too). The SCI is IRQ 9, level: high while any
 * enabled status bit is set. As in QEMU it does not depend on SCI_EN (there
 * is no SMM to take the events otherwise).
 *
 * Sleep: SLP_TYP 0 is S5 (tsvm's DSDT: `_S5` = Package {0, 0, 0, 0}) and
 * powers off; 2 is QEMU's S4, which powers off too; S1-S3 are not offered.
 *
 * References: ACPI 6.5 §4.8 (fixed hardware registers); Intel 82371AB PIIX4
 * datasheet §11 (power management); QEMU hw/acpi/core.c and hw/acpi/piix4.c.
 */
import type { IrqLine } from '../io/irq.js';
import type { PortBus } from '../io/port-bus.js';
import { log } from '../log.js';
import type { Timer, TimerQueue } from '../machine/clock.js';
import type { Lifecycle } from '../machine/lifecycle.js';
import type { PmIoBlock } from './pci.js';

/** PIIX4's PM block decodes 64 bytes. */
const PM_BLOCK_SIZE = 64;

const PM1_STS = 0x00;
const PM1_EN = 0x02;
const PM1_CNT = 0x04;
const PM_TMR = 0x08;

// PM1 status/enable bits (ACPI §4.8.4.1).
const TMR_STS = 0x0001;
const BM_STS = 0x0010;
const GBL_STS = 0x0020;
const PWRBTN_STS = 0x0100;
const RTC_STS = 0x0400;
const WAK_STS = 0x8000;
const STS_BITS = TMR_STS | BM_STS | GBL_STS | PWRBTN_STS | RTC_STS | WAK_STS;
/** Status bits that have an enable bit and can raise the SCI. */
const SCI_SOURCES = TMR_STS | GBL_STS | PWRBTN_STS | RTC_STS;

// PM1 control bits (ACPI §4.8.4.2).
const SCI_EN = 0x0001;
const SLP_TYP_SHIFT = 10;
const SLP_EN = 0x2000;
const CNT_WRITABLE = 0x1c07; // SCI_EN, BM_RLD, GBL_RLS, SLP_TYP

const SLP_TYP_S5 = 0;
const SLP_TYP_S4 = 2;

/** The ACPI PM timer's clock (ACPI §4.8.3.3). */
export const PM_TIMER_HZ = 3_579_545;
const PM_TIMER_MASK = 0xff_ffff;
/** TMR_STS is set each time bit 23 of the counter changes. */
const PM_TIMER_HALF_PERIOD = 0x80_0000;
const NS_PER_S = 1e9;

// APM (PIIX4 datasheet "APMC/APMS"), values from QEMU's FADT.
const APM_CONTROL_PORT = 0xb2;
const APM_STATUS_PORT = 0xb3;
export const ACPI_ENABLE = 0xf1;
const ACPI_DISABLE = 0xf0;

export interface AcpiPmState {
  pm1Status: number;
  pm1Enable: number;
  pm1Control: number;
  apmControl: number;
  apmStatus: number;
  /** Virtual time up to which PM timer overflows are accounted in TMR_STS. */
  timerCheckedNs: number;
}

/** PM timer ticks by virtual time `ns` (a rounding tolerance keeps a deadline's own tick from slipping back). */
function timerTicks(ns: number): number {
  return Math.floor((ns * PM_TIMER_HZ) / NS_PER_S + 1e-6);
}

export class AcpiPm implements PmIoBlock {
  state: AcpiPmState;
  private base: number | undefined;
  private overflowTimer: Timer | undefined;

  constructor(
    private readonly io: PortBus,
    private readonly timers: TimerQueue,
    private readonly sci: IrqLine,
    private readonly lifecycle: Lifecycle,
  ) {
    this.state = this.initialState();
    io.register('apm', APM_CONTROL_PORT, 2, {
      read: (port) => (port === APM_STATUS_PORT ? this.state.apmStatus : this.state.apmControl),
      write: (port, _size, value) => (port === APM_STATUS_PORT ? (this.state.apmStatus = value) : this.writeApmControl(value)),
    });
  }

  private now(): number {
    return this.timers.clock.now();
  }

  private initialState(): AcpiPmState {
    // SCI_EN starts set: tsvm's FADT has SMI_CMD 0 ("always in ACPI mode") and no firmware runs to set it.
    return { pm1Status: 0, pm1Enable: 0, pm1Control: SCI_EN, apmControl: 0, apmStatus: 0, timerCheckedNs: this.now() };
  }

  reset(): void {
    this.state = this.initialState();
    this.updateSci();
    this.rescheduleOverflow();
  }

  /** PmIoBlock: PIIX4 PM's PMBA/PMIOSE moved or disabled the block (over other chips' ports, it covers them: PortBus.register). */
  relocate(base: number | undefined): void {
    if (this.base !== undefined) this.io.unregister(this.base, PM_BLOCK_SIZE);
    this.base = base;
    if (base === undefined) return;
    this.io.register(
      'acpi-pm',
      base,
      PM_BLOCK_SIZE,
      {
        read: (port, size) => this.read(port - base, size),
        write: (port, size, value) => this.write(port - base, size, value),
      },
      1 | 2 | 4,
    );
  }

  /** system_powerdown: the fixed-feature power button was pressed. */
  pressPowerButton(): void {
    this.state.pm1Status |= PWRBTN_STS;
    this.updateSci();
  }

  /** The PM timer as the guest reads it. */
  timerValue(): number {
    return timerTicks(this.now()) & PM_TIMER_MASK;
  }

  // ---- registers ----

  private read(offset: number, size: number): number {
    this.catchUpTimerStatus();
    const timer = this.timerValue();
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readByte(offset + i, timer) << (8 * i);
    return value >>> 0;
  }

  private readByte(offset: number, timer: number): number {
    const s = this.state;
    const byteOf = (reg: number, value: number) => (value >>> (8 * (offset - reg))) & 0xff;
    if (offset < PM1_EN) return byteOf(PM1_STS, s.pm1Status);
    if (offset < PM1_CNT) return byteOf(PM1_EN, s.pm1Enable);
    if (offset < PM1_CNT + 2) return byteOf(PM1_CNT, s.pm1Control);
    if (offset >= PM_TMR && offset < PM_TMR + 4) return byteOf(PM_TMR, timer);
    return 0xff; // PIIX4's other PM registers are not modelled: they float, as in QEMU
  }

  private write(offset: number, size: number, value: number): void {
    this.catchUpTimerStatus();
    for (let i = 0; i < size; i++) this.writeByte(offset + i, (value >>> (8 * i)) & 0xff);
    this.updateSci();
    this.rescheduleOverflow();
  }

  private writeByte(offset: number, byte: number): void {
    const s = this.state;
    const shift = 8 * (offset & 1);
    switch (offset & ~1) {
      case PM1_STS: // write 1 to clear
        s.pm1Status &= ~((byte << shift) & STS_BITS);
        return;
      case PM1_EN:
        s.pm1Enable = ((s.pm1Enable & ~(0xff << shift)) | (byte << shift)) & SCI_SOURCES;
        return;
      case PM1_CNT:
        this.writeControl((s.pm1Control & ~(0xff << shift)) | (byte << shift));
        return;
      default: // PM_TMR is read-only; the rest is reserved
        if (offset < PM_TMR || offset >= PM_TMR + 4) log.guest_errors({ offset }, 'acpi-pm: write to a reserved register');
    }
  }

  /** PM1_CNT: SLP_EN starts the sleep state SLP_TYP selects and reads back as 0. */
  private writeControl(value: number): void {
    this.state.pm1Control = value & CNT_WRITABLE;
    if (!(value & SLP_EN)) return;
    const type = (value >> SLP_TYP_SHIFT) & 7;
    if (type === SLP_TYP_S5 || type === SLP_TYP_S4) {
      this.lifecycle.request({ kind: 'poweroff', cause: `ACPI sleep: SLP_TYP ${type} (S${type === SLP_TYP_S5 ? 5 : 4})` });
    } else {
      log.unimp({ slpTyp: type }, 'acpi-pm: sleep states S1-S3 are not supported');
    }
  }

  /** APM control: ACPI_ENABLE/ACPI_DISABLE switch SCI_EN (QEMU does this without SMM); other values would raise an SMI. */
  private writeApmControl(value: number): void {
    const s = this.state;
    s.apmControl = value;
    if (value === ACPI_ENABLE) s.pm1Control |= SCI_EN;
    else if (value === ACPI_DISABLE) s.pm1Control &= ~SCI_EN;
    else log.unimp({ value }, 'acpi-pm: APM command would raise an SMI; tsvm has no SMM');
  }

  // ---- PM timer overflow and the SCI ----

  /** Sets TMR_STS if bit 23 of the timer changed since the last check. */
  private catchUpTimerStatus(): void {
    const s = this.state;
    const now = this.now();
    if (now <= s.timerCheckedNs) return;
    const before = Math.floor(timerTicks(s.timerCheckedNs) / PM_TIMER_HALF_PERIOD);
    const after = Math.floor(timerTicks(now) / PM_TIMER_HALF_PERIOD);
    s.timerCheckedNs = now;
    if (after > before) s.pm1Status |= TMR_STS;
  }

  private updateSci(): void {
    const s = this.state;
    this.sci.set((s.pm1Status & s.pm1Enable & SCI_SOURCES) !== 0);
  }

  /** While TMR_EN is set and TMR_STS clear, wakes at the next bit-23 change to raise the SCI. */
  private rescheduleOverflow(): void {
    this.timers.cancel(this.overflowTimer);
    this.overflowTimer = undefined;
    const s = this.state;
    if (!(s.pm1Enable & TMR_STS) || s.pm1Status & TMR_STS) return;
    const nextTick = (Math.floor(timerTicks(this.now()) / PM_TIMER_HALF_PERIOD) + 1) * PM_TIMER_HALF_PERIOD;
    const deadline = Math.ceil((nextTick * NS_PER_S) / PM_TIMER_HZ);
    this.overflowTimer = this.timers.add(deadline, () => {
      this.overflowTimer = undefined;
      this.catchUpTimerStatus();
      this.updateSci();
      this.rescheduleOverflow();
    });
  }
}
