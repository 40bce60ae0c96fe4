/**
 * Interrupt request lines from devices to whatever interrupt controller the
 * machine runs: tsvm's own i8259 pair (and I/O APIC when there is one) under
 * TCG or KVM with kernel_irqchip=off, or KVM's in-kernel irqchip
 * (KVM_IRQ_LINE) under kernel_irqchip=on. Devices only ever see an IrqLine.
 */

/** Something that takes ISA/GSI line levels: our PIC, or KVM's irqchip. */
export interface IrqSink {
  setIrq(irq: number, level: boolean): void;
}

/** What a CPU asks of its interrupt controller (the PIC's INTR pin and INTA cycle). */
export interface CpuInterruptSource {
  /** True when INTR is asserted. */
  hasInterrupt(): boolean;
  /** The INTA cycle: returns the vector and updates the controller's in-service state. */
  acknowledge(): number;
}

export class IrqRouter {
  private readonly levels = new Uint8Array(24);
  private readonly listeners: (() => void)[] = [];

  constructor(private sink: IrqSink) {}

  /** Switches the controller (e.g. to KVM's in-kernel irqchip), replaying current levels. */
  setSink(sink: IrqSink): void {
    this.sink = sink;
    this.levels.forEach((level, irq) => level && sink.setIrq(irq, true));
  }

  line(irq: number): IrqLine {
    return new IrqLine(this, irq);
  }

  set(irq: number, level: boolean): void {
    this.levels[irq] = level ? 1 : 0;
    this.sink.setIrq(irq, level);
    for (const l of this.listeners) l();
  }

  /** Called after any line changes (an idle TCG vCPU uses it to wake from HLT). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  level(irq: number): boolean {
    return this.levels[irq] === 1;
  }
}

export class IrqLine {
  constructor(
    private readonly router: IrqRouter,
    readonly irq: number,
  ) {}

  set(level: boolean): void {
    this.router.set(this.irq, level);
  }

  raise(): void {
    this.set(true);
  }

  lower(): void {
    this.set(false);
  }

  /** An edge for edge-triggered ISA devices that do not hold their line. */
  pulse(): void {
    this.set(true);
    this.set(false);
  }
}

/**
 * A device's interrupt output that another chip can take off its line: the
 * HPET's LegacyReplacement route disconnects the PIT from IRQ 0 and the RTC
 * from IRQ 8. The device goes on driving it unaware; reconnected, the line
 * takes the device's current level again.
 */
export class SwitchableIrqLine extends IrqLine {
  private level = false;
  private connected = true;

  override set(level: boolean): void {
    this.level = level;
    if (this.connected) super.set(level);
  }

  /** Disconnecting leaves the line low for its new owner to drive (QEMU lowers IRQ 0 and 8 when the HPET takes them). */
  connect(connected: boolean): void {
    if (connected === this.connected) return;
    this.connected = connected;
    super.set(connected && this.level);
  }
}
