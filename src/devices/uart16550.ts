/**
 * NS16550A UART, the PC's COM ports (COM1 0x3f8 IRQ 4, COM2 0x2f8 IRQ 3,
 * COM3 0x3e8 IRQ 4, COM4 0x2e8 IRQ 3).
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * chardev and THR is empty again at once (so THRE interrupts follow every
 * write, as QEMU does). Reception is flow-controlled: the chardev offers bytes
 * while canReceive() reports room in the receiver, and is pumped again when
 * the guest drains it.
 *
 * As on the PC board, INTR reaches the ISA IRQ line only through the buffer
 * that the -OUT2 modem output enables, so a driver must set MCR.OUT2 to get
 * interrupts; in loopback mode -OUT2 is forced inactive and the line is off.
 * (QEMU does not gate; Linux's 8250 driver sets OUT2 whenever it uses an IRQ.)
 *
 * Datasheet: National Semiconductor PC16550D. Behavioural reference: QEMU
 * hw/char/serial.c.
 */
import type { Chardev, CharFrontend } from '../chardev/chardev.js';
import type { IrqLine } from '../io/irq.js';
import type { PortBus } from '../io/port-bus.js';
import type { Timer, TimerQueue } from '../machine/clock.js';

const FIFO_SIZE = 16;
/** The baud rate generator's input: 1.8432 MHz / 16. */
const BAUD_BASE = 115_200;

// Register offsets (DLAB=0 / DLAB=1).
const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

const IER_RDI = 0x01; // received data available
const IER_THRI = 0x02; // transmitter holding register empty
const IER_RLSI = 0x04; // receiver line status
const IER_MSI = 0x08; // modem status

const IIR_NO_INT = 0x01;
const IIR_MSI = 0x00;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RLSI = 0x06;
const IIR_CTI = 0x0c; // character timeout
const IIR_FIFOS_ENABLED = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
/** RX trigger levels selected by FCR bits 7-6. */
const RX_TRIGGER = [1, 4, 8, 14] as const;

const LCR_DLAB = 0x80;

const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;

const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
/** OE, PE, FE, BI: cleared by reading LSR; any of them raises the line status interrupt. */
const LSR_ERRORS = 0x1e;

const MSR_DCTS = 0x01;
const MSR_DDSR = 0x02;
const MSR_TERI = 0x04;
const MSR_DDCD = 0x08;
const MSR_DELTAS = 0x0f;
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
/** What the far end shows when a chardev is attached (QEMU's default): carrier, data set ready, clear to send. */
const MSR_LINES_CONNECTED = MSR_DCD | MSR_DSR | MSR_CTS;

export interface Uart16550State {
  rxFifo: number[];
  ier: number;
  /** FCR as last written, minus the self-clearing reset bits. */
  fcr: number;
  lcr: number;
  mcr: number;
  /** LSR's latched bits (DR, errors, THRE, TEMT). */
  lsr: number;
  msr: number;
  scr: number;
  divisor: number;
  /** THR became empty and the THRE interrupt has not been taken by an IIR read or a THR write. */
  thrInterruptPending: boolean;
  /** The receiver FIFO held data unread for four character times. */
  timeoutPending: boolean;
}

function initialState(): Uart16550State {
  return {
    rxFifo: [],
    ier: 0,
    fcr: 0,
    lcr: 0,
    mcr: 0,
    lsr: LSR_THRE | LSR_TEMT,
    msr: MSR_LINES_CONNECTED,
    scr: 0,
    divisor: 12, // 9600 baud
    thrInterruptPending: false,
    timeoutPending: false,
  };
}

export class Uart16550 implements CharFrontend {
  state = initialState();
  private irqLevel = false;
  private timeoutTimer: Timer | undefined;

  constructor(
    io: PortBus,
    readonly base: number,
    private readonly irq: IrqLine,
    private readonly timers: TimerQueue,
    private readonly chardev?: Chardev,
  ) {
    io.register(`serial@0x${base.toString(16)}`, base, 8, {
      read: (port) => this.readRegister(port - base),
      write: (port, _size, value) => this.writeRegister(port - base, value),
    });
    chardev?.attach(this);
  }

  reset(): void {
    this.cancelTimeout();
    this.state = initialState();
    this.updateIrq();
  }

  // ---- CharFrontend: bytes from the host ----

  canReceive(): number {
    const s = this.state;
    if (s.mcr & MCR_LOOP) return 0; // the serial input is disconnected in loopback
    if (this.fifoEnabled) return FIFO_SIZE - s.rxFifo.length;
    return s.lsr & LSR_DR ? 0 : 1;
  }

  receive(data: Uint8Array): void {
    if (this.state.mcr & MCR_LOOP) return;
    for (const byte of data) this.receiveByte(byte);
  }

  // ---- registers ----

  private get fifoEnabled(): boolean {
    return (this.state.fcr & FCR_ENABLE) !== 0;
  }

  private get dlab(): boolean {
    return (this.state.lcr & LCR_DLAB) !== 0;
  }

  private readRegister(offset: number): number {
    const s = this.state;
    switch (offset) {
      case RBR_THR_DLL:
        return this.dlab ? s.divisor & 0xff : this.readRbr();
      case IER_DLM:
        return this.dlab ? s.divisor >> 8 : s.ier;
      case IIR_FCR:
        return this.readIir();
      case LCR:
        return s.lcr;
      case MCR:
        return s.mcr;
      case LSR:
        return this.readLsr();
      case MSR:
        return this.readMsr();
      default: // SCR
        return s.scr;
    }
  }

  private writeRegister(offset: number, value: number): void {
    const s = this.state;
    switch (offset) {
      case RBR_THR_DLL:
        if (this.dlab) s.divisor = (s.divisor & 0xff00) | value;
        else this.writeThr(value);
        return;
      case IER_DLM:
        if (this.dlab) s.divisor = (s.divisor & 0x00ff) | (value << 8);
        else this.writeIer(value);
        return;
      case IIR_FCR:
        this.writeFcr(value);
        return;
      case LCR:
        s.lcr = value;
        return;
      case MCR:
        this.writeMcr(value);
        return;
      case LSR: // factory test register on real parts; writes do nothing useful
      case MSR:
        return;
      case SCR:
        s.scr = value;
        return;
    }
  }

  /** RBR: takes the oldest received byte and lets the chardev refill the room it leaves. */
  private readRbr(): number {
    const s = this.state;
    const byte = s.rxFifo.shift() ?? 0;
    if (s.rxFifo.length === 0) s.lsr &= ~LSR_DR;
    s.timeoutPending = false;
    if (s.rxFifo.length > 0) this.restartTimeout();
    else this.cancelTimeout();
    this.updateIrq();
    this.chardev?.pump();
    return byte;
  }

  /** IIR: the highest-priority pending source; reading it acknowledges a THRE interrupt. */
  private readIir(): number {
    const id = this.interruptId();
    if (id === IIR_THRI) {
      this.state.thrInterruptPending = false;
      this.updateIrq();
    }
    return id | (this.fifoEnabled ? IIR_FIFOS_ENABLED : 0);
  }

  private readLsr(): number {
    const s = this.state;
    const value = s.lsr;
    if (value & LSR_ERRORS) {
      s.lsr &= ~LSR_ERRORS;
      this.updateIrq();
    }
    return value;
  }

  private readMsr(): number {
    const s = this.state;
    const value = s.msr;
    if (value & MSR_DELTAS) {
      s.msr &= ~MSR_DELTAS;
      this.updateIrq();
    }
    return value;
  }

  /** THR: the byte leaves at once (or loops back), and THR is empty again. */
  private writeThr(value: number): void {
    const s = this.state;
    if (s.mcr & MCR_LOOP) this.receiveByte(value);
    else this.chardev?.write(Uint8Array.of(value));
    s.lsr |= LSR_THRE | LSR_TEMT;
    s.thrInterruptPending = true;
    this.updateIrq();
  }

  /** IER: enabling the THRE interrupt while THR is empty raises it at once (Linux's UART_BUG_THRE probe checks this). */
  private writeIer(value: number): void {
    const s = this.state;
    const enabling = value & ~s.ier;
    s.ier = value & 0x0f;
    if (enabling & IER_THRI && s.lsr & LSR_THRE) s.thrInterruptPending = true;
    this.updateIrq();
  }

  /** FCR: FIFO enable (toggling it empties both FIFOs), receiver reset, trigger level. */
  private writeFcr(value: number): void {
    const s = this.state;
    const toggled = (value ^ s.fcr) & FCR_ENABLE;
    if (toggled || value & FCR_CLEAR_RX) this.clearReceiver();
    // The transmit FIFO is always empty here, so its reset bit (2) has nothing to do.
    s.fcr = value & 0xc9;
    this.updateIrq();
    this.chardev?.pump();
  }

  private clearReceiver(): void {
    const s = this.state;
    s.rxFifo = [];
    s.lsr &= ~LSR_DR;
    s.timeoutPending = false;
    this.cancelTimeout();
  }

  /** MCR: in loopback the modem outputs feed the modem inputs (RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD). */
  private writeMcr(value: number): void {
    const s = this.state;
    const wasLoop = (s.mcr & MCR_LOOP) !== 0;
    s.mcr = value & 0x1f;
    const loop = (s.mcr & MCR_LOOP) !== 0;
    if (loop) this.setModemInputs(this.loopedModemInputs());
    else if (wasLoop) this.setModemInputs(MSR_LINES_CONNECTED);
    this.updateIrq();
    if (wasLoop && !loop) this.chardev?.pump();
  }

  private loopedModemInputs(): number {
    const m = this.state.mcr;
    return (
      (m & MCR_RTS ? MSR_CTS : 0) | (m & MCR_DTR ? MSR_DSR : 0) | (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0)
    );
  }

  /** Sets CTS/DSR/RI/DCD and latches their delta bits (RI reports only its trailing edge). */
  private setModemInputs(lines: number): void {
    const s = this.state;
    const changed = (s.msr ^ lines) & 0xf0;
    let deltas = 0;
    if (changed & MSR_CTS) deltas |= MSR_DCTS;
    if (changed & MSR_DSR) deltas |= MSR_DDSR;
    if (changed & MSR_RI && !(lines & MSR_RI)) deltas |= MSR_TERI;
    if (changed & MSR_DCD) deltas |= MSR_DDCD;
    s.msr = lines | (s.msr & MSR_DELTAS) | deltas;
  }

  // ---- receiver ----

  /** One byte into the receiver; a full receiver drops it and flags an overrun. */
  private receiveByte(byte: number): void {
    const s = this.state;
    const capacity = this.fifoEnabled ? FIFO_SIZE : 1;
    if (s.rxFifo.length >= capacity) {
      s.lsr |= LSR_OE;
      // The 16450 holding register is overwritten by the newer byte; a FIFO keeps its contents.
      if (!this.fifoEnabled) s.rxFifo[0] = byte;
    } else {
      s.rxFifo.push(byte);
    }
    s.lsr |= LSR_DR;
    if (this.fifoEnabled) this.restartTimeout();
    this.updateIrq();
  }

  /** Four character times at the programmed line settings (datasheet FIFO timeout). */
  private characterTimeNs(): number {
    const lcr = this.state.lcr;
    const dataBits = 5 + (lcr & 3);
    const stopBits = lcr & 0x04 ? (dataBits === 5 ? 1.5 : 2) : 1;
    const frameBits = 1 + dataBits + (lcr & 0x08 ? 1 : 0) + stopBits;
    const baud = BAUD_BASE / (this.state.divisor || 0x10000);
    return (frameBits * 1e9) / baud;
  }

  private restartTimeout(): void {
    this.cancelTimeout();
    const deadline = this.timers.clock.now() + 4 * this.characterTimeNs();
    this.timeoutTimer = this.timers.add(deadline, () => {
      this.timeoutTimer = undefined;
      if (this.state.rxFifo.length === 0) return;
      this.state.timeoutPending = true;
      this.updateIrq();
    });
  }

  private cancelTimeout(): void {
    this.timers.cancel(this.timeoutTimer);
    this.timeoutTimer = undefined;
  }

  // ---- interrupts ----

  /** IIR identification bits, by priority: line status, received data or timeout, THR empty, modem status. */
  private interruptId(): number {
    const s = this.state;
    if (s.ier & IER_RLSI && s.lsr & LSR_ERRORS) return IIR_RLSI;
    if (s.ier & IER_RDI) {
      if (this.fifoEnabled) {
        if (s.rxFifo.length >= RX_TRIGGER[s.fcr >> 6]!) return IIR_RDI;
        if (s.timeoutPending) return IIR_CTI;
      } else if (s.lsr & LSR_DR) {
        return IIR_RDI;
      }
    }
    if (s.ier & IER_THRI && s.thrInterruptPending) return IIR_THRI;
    if (s.ier & IER_MSI && s.msr & MSR_DELTAS) return IIR_MSI;
    return IIR_NO_INT;
  }

  /** INTR gated by -OUT2 as the PC wires it; -OUT2 is forced inactive in loopback. */
  private updateIrq(): void {
    const s = this.state;
    const gateOpen = (s.mcr & (MCR_OUT2 | MCR_LOOP)) === MCR_OUT2;
    const level = gateOpen && this.interruptId() !== IIR_NO_INT;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq.set(level);
  }
}
