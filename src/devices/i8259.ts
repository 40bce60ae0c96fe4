/**
 * Intel 8259A programmable interrupt controllers, master and slave, cascaded
 * on the master's IRQ 2 as on every PC/AT, plus the PIIX Edge/Level Control
 * Registers (ELCR) at 0x4d0/0x4d1.
 *
 * Ports: master 0x20 (ICW1, OCW2, OCW3 / IRR, ISR, poll) and 0x21 (ICW2-4,
 * OCW1 / IMR); slave 0xa0/0xa1 likewise.
 *
 * Datasheet: Intel 8259A (231468). Behavioural reference: QEMU hw/intc/i8259.c.
 */
import type { CpuInterruptSource, IrqSink } from '../io/irq.js';
import type { PortBus } from '../io/port-bus.js';
import { log } from '../log.js';

/** One 8259A's registers and programming state, as plain data for snapshots. */
export interface PicChipState {
  /** Interrupt Request Register: lines waiting for service. */
  irr: number;
  /** In-Service Register: interrupts acknowledged and not yet EOI'd. */
  isr: number;
  /** Interrupt Mask Register (OCW1). */
  imr: number;
  /** Input levels at the last sample, for edge detection. */
  lastLevels: number;
  /** Which IRQ has the lowest priority is (priorityBase - 1) & 7: rotation shifts it. */
  priorityBase: number;
  /** ICW2: the vector of IRQ 0 (low three bits zero). */
  vectorBase: number;
  /** OCW3 RR/RIS: reads of the command port return ISR instead of IRR. */
  readIsr: boolean;
  /** OCW3 P: the next read is a poll. */
  poll: boolean;
  /** OCW3 SMM: special mask mode. */
  specialMask: boolean;
  /** 0 when operational; 2, 3, 4 when the next data-port write is that ICW. */
  expectIcw: 0 | 2 | 3 | 4;
  /** ICW1 IC4. */
  needIcw4: boolean;
  /** ICW1 SNGL: no slave, so no ICW3. */
  single: boolean;
  /** ICW1 LTIM: every input is level triggered. */
  levelTriggeredAll: boolean;
  /** ICW4 AEOI. */
  autoEoi: boolean;
  /** OCW2 rotate-in-automatic-EOI-mode. */
  rotateOnAutoEoi: boolean;
  /** ICW4 SFNM. */
  specialFullyNested: boolean;
  /** PIIX ELCR: per-line level (1) or edge (0) triggering. */
  elcr: number;
}

export interface I8259PairState {
  master: PicChipState;
  slave: PicChipState;
}

const CASCADE_IRQ = 2;
const SPURIOUS_IRQ = 7;
/** Lines whose trigger mode the ELCR may change (QEMU: 0xf8 master, 0xde slave; IRQ 0-2, 8, 13 stay edge). */
const ELCR_WRITABLE = { master: 0xf8, slave: 0xde } as const;

function initialChipState(): PicChipState {
  return {
    irr: 0,
    isr: 0,
    imr: 0,
    lastLevels: 0,
    priorityBase: 0,
    vectorBase: 0,
    readIsr: false,
    poll: false,
    specialMask: false,
    expectIcw: 0,
    needIcw4: false,
    single: false,
    levelTriggeredAll: false,
    autoEoi: false,
    rotateOnAutoEoi: false,
    specialFullyNested: false,
    elcr: 0,
  };
}

/** One 8259A. Its INT output is reported through `onOutput`. */
class PicChip {
  state = initialChipState();

  constructor(
    readonly isMaster: boolean,
    private readonly onOutput: (level: boolean) => void,
  ) {}

  reset(): void {
    this.state = initialChipState();
    this.updateOutput();
  }

  /** Samples one input line (0..7). */
  setInput(irq: number, level: boolean): void {
    const s = this.state;
    const bit = 1 << irq;
    if (this.isLevelTriggered(irq)) {
      // Level mode: IRR follows the line.
      if (level) s.irr |= bit;
      else s.irr &= ~bit;
    } else if (level && !(s.lastLevels & bit)) {
      // Edge mode: a rising edge latches the request.
      s.irr |= bit;
    }
    if (level) s.lastLevels |= bit;
    else s.lastLevels &= ~bit;
    this.updateOutput();
  }

  private isLevelTriggered(irq: number): boolean {
    return this.state.levelTriggeredAll || (this.state.elcr & (1 << irq)) !== 0;
  }

  /** Priority rank (0 highest .. 7 lowest) of the best bit in `bits`, or 8 when none. */
  private bestRank(bits: number): number {
    if (bits === 0) return 8;
    let rank = 0;
    while (!(bits & (1 << ((rank + this.state.priorityBase) & 7)))) rank++;
    return rank;
  }

  /** The IRQ the chip would deliver now, or -1: the highest unmasked request above everything in service. */
  pendingIrq(): number {
    const s = this.state;
    const requestRank = this.bestRank(s.irr & ~s.imr);
    if (requestRank === 8) return -1;
    let inService = s.isr;
    // Special mask mode: masked in-service levels do not block lower priorities.
    if (s.specialMask) inService &= ~s.imr;
    // Special fully nested mode: the slave may interrupt its own cascade level again.
    if (s.specialFullyNested && this.isMaster) inService &= ~(1 << CASCADE_IRQ);
    const serviceRank = this.bestRank(inService);
    return requestRank < serviceRank ? (requestRank + s.priorityBase) & 7 : -1;
  }

  updateOutput(): void {
    this.onOutput(this.pendingIrq() >= 0);
  }

  /** The INTA cycle's effect on this chip for `irq`. */
  acknowledge(irq: number): void {
    const s = this.state;
    const bit = 1 << irq;
    if (s.autoEoi) {
      if (s.rotateOnAutoEoi) s.priorityBase = (irq + 1) & 7;
    } else {
      s.isr |= bit;
    }
    // An edge request is consumed; a level request stays while the line is high.
    if (!this.isLevelTriggered(irq)) s.irr &= ~bit;
    this.updateOutput();
  }

  /** Poll command: reads 0x80 | irq and acknowledges it, or 0 when nothing is pending. */
  private pollRead(): number {
    const irq = this.pendingIrq();
    if (irq < 0) return 0;
    this.acknowledge(irq);
    return 0x80 | irq;
  }

  readCommand(): number {
    const s = this.state;
    if (s.poll) {
      s.poll = false;
      return this.pollRead();
    }
    return s.readIsr ? s.isr : s.irr;
  }

  readData(): number {
    const s = this.state;
    if (s.poll) {
      s.poll = false;
      return this.pollRead();
    }
    return s.imr;
  }

  writeCommand(value: number): void {
    if (value & 0x10) this.writeIcw1(value);
    else if (value & 0x08) this.writeOcw3(value);
    else this.writeOcw2(value);
  }

  writeData(value: number): void {
    const s = this.state;
    switch (s.expectIcw) {
      case 0: // OCW1
        s.imr = value;
        this.updateOutput();
        return;
      case 2:
        s.vectorBase = value & 0xf8;
        s.expectIcw = s.single ? (s.needIcw4 ? 4 : 0) : 3;
        return;
      case 3: // ICW3: the cascade wiring is fixed on a PC.
        s.expectIcw = s.needIcw4 ? 4 : 0;
        return;
      case 4:
        if (!(value & 0x01)) log.unimp({ icw4: value }, 'i8259: MCS-80/85 mode');
        s.autoEoi = (value & 0x02) !== 0;
        s.specialFullyNested = (value & 0x10) !== 0;
        s.expectIcw = 0;
        return;
    }
  }

  /**
   * ICW1 starts initialisation: masks, in-service and priorities are cleared
   * and the edge sense circuit is reset, so an edge line that is already high
   * must go low and high again to request (datasheet "Initialization Command
   * Words"). The input levels themselves do not change.
   */
  private writeIcw1(value: number): void {
    const s = this.state;
    const elcr = s.elcr;
    this.state = {
      ...initialChipState(),
      elcr,
      lastLevels: s.lastLevels,
      // Level requests still held survive; edge requests are dropped.
      irr: s.irr & elcr,
      expectIcw: 2,
      needIcw4: (value & 0x01) !== 0,
      single: (value & 0x02) !== 0,
      levelTriggeredAll: (value & 0x08) !== 0,
    };
    if (value & 0x04) log.unimp({ icw1: value }, 'i8259: 4-byte call address interval');
    this.updateOutput();
  }

  private writeOcw2(value: number): void {
    const s = this.state;
    switch (value >> 5) {
      case 0: // clear rotate in automatic EOI mode
        s.rotateOnAutoEoi = false;
        return;
      case 4: // set rotate in automatic EOI mode
        s.rotateOnAutoEoi = true;
        return;
      case 1: // non-specific EOI
        this.nonSpecificEoi(false);
        return;
      case 5: // rotate on non-specific EOI
        this.nonSpecificEoi(true);
        return;
      case 3: // specific EOI
        this.specificEoi(value & 7, false);
        return;
      case 7: // rotate on specific EOI
        this.specificEoi(value & 7, true);
        return;
      case 6: // set priority: the named IRQ becomes the lowest
        s.priorityBase = ((value & 7) + 1) & 7;
        this.updateOutput();
        return;
      case 2: // no operation
        return;
    }
  }

  private nonSpecificEoi(rotate: boolean): void {
    const s = this.state;
    const rank = this.bestRank(s.isr);
    if (rank === 8) return;
    this.specificEoi((rank + s.priorityBase) & 7, rotate);
  }

  private specificEoi(irq: number, rotate: boolean): void {
    const s = this.state;
    s.isr &= ~(1 << irq);
    if (rotate) s.priorityBase = (irq + 1) & 7;
    this.updateOutput();
  }

  private writeOcw3(value: number): void {
    const s = this.state;
    if (value & 0x04) s.poll = true;
    if (value & 0x02) s.readIsr = (value & 0x01) !== 0;
    if (value & 0x40) {
      s.specialMask = (value & 0x20) !== 0;
      this.updateOutput();
    }
  }
}

export class I8259Pair implements IrqSink, CpuInterruptSource {
  private intr = false;
  private readonly master = new PicChip(true, (level) => {
    this.intr = level;
  });
  private readonly slave = new PicChip(false, (level) => this.master.setInput(CASCADE_IRQ, level));

  constructor(io: PortBus) {
    io.register('pic-master', 0x20, 2, this.chipPorts(this.master));
    io.register('pic-slave', 0xa0, 2, this.chipPorts(this.slave));
    io.register('elcr', 0x4d0, 2, {
      read: (port) => this.chipAt(port & 1).state.elcr,
      write: (port, _size, value) => this.writeElcr(port & 1, value),
    });
  }

  get state(): I8259PairState {
    return { master: this.master.state, slave: this.slave.state };
  }

  reset(): void {
    this.slave.reset();
    this.master.reset();
  }

  /** ISA line 0..15 from a device (or the IrqRouter). */
  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setInput(irq, level);
    else if (irq < 16) this.slave.setInput(irq - 8, level);
  }

  hasInterrupt(): boolean {
    return this.intr;
  }

  /**
   * The INTA cycle. With nothing pending (the request went away between INTR
   * and INTA) the chip answers IRQ 7 of itself without setting ISR: the
   * spurious interrupt. A spurious slave interrupt still puts IRQ 2 in
   * service on the master.
   */
  acknowledge(): number {
    const irq = this.master.pendingIrq();
    if (irq < 0) return this.master.state.vectorBase + SPURIOUS_IRQ;
    if (irq !== CASCADE_IRQ) {
      this.master.acknowledge(irq);
      return this.master.state.vectorBase + irq;
    }
    const slaveIrq = this.slave.pendingIrq();
    if (slaveIrq >= 0) this.slave.acknowledge(slaveIrq);
    this.master.acknowledge(CASCADE_IRQ);
    return this.slave.state.vectorBase + (slaveIrq >= 0 ? slaveIrq : SPURIOUS_IRQ);
  }

  private chipAt(index: number): PicChip {
    return index === 0 ? this.master : this.slave;
  }

  private chipPorts(chip: PicChip) {
    return {
      read: (port: number) => (port & 1 ? chip.readData() : chip.readCommand()),
      write: (port: number, _size: number, value: number) =>
        port & 1 ? chip.writeData(value) : chip.writeCommand(value),
    };
  }

  private writeElcr(index: number, value: number): void {
    const chip = this.chipAt(index);
    chip.state.elcr = value & (index === 0 ? ELCR_WRITABLE.master : ELCR_WRITABLE.slave);
    chip.updateOutput();
  }
}
