/**
 * INT 1Ah, time services (Ralf Brown's Interrupt List, INT 1Ah AH=00h-05h):
 * the tick count the INT 08h handler keeps in the BDA, and the RTC's time
 * and date read through its ports (BCD, as the interface returns them,
 * whatever mode the RTC runs in). AH=B1h goes to the PCI BIOS.
 */
import type { AddressSpace } from '../../memory/address-space.js';
import type { PortBus } from '../../io/port-bus.js';
import { BDA, TICKS_PER_DAY } from './bda.js';
import type { RegisterFrame } from './frame.js';
import type { ServiceResult } from './trap-port.js';
import { fromBcd, toBcd } from '../../devices/bcd.js';

const RTC_INDEX = 0x70;
const RTC_DATA = 0x71;
const RTC = { seconds: 0x00, minutes: 0x02, hours: 0x04, day: 0x07, month: 0x08, year: 0x09, statusB: 0x0b, century: 0x32 };
const STATUS_B_BINARY = 0x04;
const STATUS_B_24H = 0x02;

export class TimeService {
  constructor(
    private readonly mem: AddressSpace,
    private readonly io: PortBus,
  ) {}

  /** INT 08h (IRQ 0): one tick, wrapping at midnight with the rollover flag set. */
  tick(): ServiceResult {
    let ticks = this.mem.read32(BDA.ticks) + 1;
    if (ticks >= TICKS_PER_DAY) {
      ticks = 0;
      this.mem.write8(BDA.midnight, 1);
    }
    this.mem.write32(BDA.ticks, ticks);
    return 'done';
  }

  service(f: RegisterFrame): ServiceResult {
    switch (f.get8('ah')) {
      case 0x00: {
        const ticks = this.mem.read32(BDA.ticks);
        f.set('cx', ticks >>> 16);
        f.set('dx', ticks & 0xffff);
        f.set8('al', this.mem.read8(BDA.midnight));
        this.mem.write8(BDA.midnight, 0);
        f.setCarry(false);
        break;
      }
      case 0x01:
        this.mem.write32(BDA.ticks, ((f.get('cx') << 16) | f.get('dx')) >>> 0);
        this.mem.write8(BDA.midnight, 0);
        f.setCarry(false);
        break;
      case 0x02:
        f.set8('ch', this.readBcd(RTC.hours));
        f.set8('cl', this.readBcd(RTC.minutes));
        f.set8('dh', this.readBcd(RTC.seconds));
        f.set8('dl', 0);
        f.setCarry(false);
        break;
      case 0x03:
        this.writeBcd(RTC.hours, f.get8('ch'));
        this.writeBcd(RTC.minutes, f.get8('cl'));
        this.writeBcd(RTC.seconds, f.get8('dh'));
        f.setCarry(false);
        break;
      case 0x04:
        f.set8('ch', this.readBcd(RTC.century));
        f.set8('cl', this.readBcd(RTC.year));
        f.set8('dh', this.readBcd(RTC.month));
        f.set8('dl', this.readBcd(RTC.day));
        f.setCarry(false);
        break;
      case 0x05:
        this.writeBcd(RTC.century, f.get8('ch'));
        this.writeBcd(RTC.year, f.get8('cl'));
        this.writeBcd(RTC.month, f.get8('dh'));
        this.writeBcd(RTC.day, f.get8('dl'));
        f.setCarry(false);
        break;
      default:
        f.setCarry(true);
    }
    return 'done';
  }

  private readCmos(index: number): number {
    this.io.write(RTC_INDEX, 1, index);
    return this.io.read(RTC_DATA, 1);
  }

  private writeCmos(index: number, value: number): void {
    this.io.write(RTC_INDEX, 1, index);
    this.io.write(RTC_DATA, 1, value);
  }

  private binaryMode(): boolean {
    return (this.readCmos(RTC.statusB) & STATUS_B_BINARY) !== 0;
  }

  /** A register in BCD; a 12-hour clock's hour (bit 7 = PM) as 24-hour. The century byte is always BCD. */
  private readBcd(index: number): number {
    let value = this.readCmos(index);
    const binary = index !== RTC.century && this.binaryMode();
    if (index === RTC.hours && !(this.readCmos(RTC.statusB) & STATUS_B_24H)) {
      const pm = (value & 0x80) !== 0;
      let hour = binary ? value & 0x7f : fromBcd(value & 0x7f);
      hour = (hour % 12) + (pm ? 12 : 0);
      return toBcd(hour);
    }
    return binary ? toBcd(value) : value;
  }

  private writeBcd(index: number, bcd: number): void {
    const binary = index !== RTC.century && this.binaryMode();
    this.writeCmos(index, binary ? fromBcd(bcd) : bcd);
  }
}
