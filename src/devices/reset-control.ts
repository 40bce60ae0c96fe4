/**
 * The PIIX Reset Control Register at port 0xCF9 (byte access only; a dword
 * at 0xCF8 is the PCI configuration address):
 *   bit 2  RCPU: writing 1 resets the system (the kind selected by bit 1)
 *   bit 1  SRST: 1 = hard reset (full system), 0 = soft reset (CPU INIT)
 * Only SRST is kept; tsvm resets the whole machine either way, as QEMU does.
 *
 * Reference: Intel 82371SB PIIX3 datasheet, RC register; QEMU hw/isa/piix.c.
 */
import type { PortBus } from '../io/port-bus.js';
import type { Lifecycle } from '../machine/lifecycle.js';

const SYSTEM_RESET = 0x02;
const RESET_CPU = 0x04;

export interface ResetControlState {
  rcr: number;
}

export class ResetControl {
  readonly state: ResetControlState = { rcr: 0 };

  constructor(
    io: PortBus,
    private readonly lifecycle: Lifecycle,
  ) {
    io.register('piix-reset-control', 0xcf9, 1, {
      read: () => this.state.rcr,
      write: (_port, _size, value) => this.write(value),
    });
  }

  reset(): void {
    this.state.rcr = 0;
  }

  private write(value: number): void {
    if (value & RESET_CPU) {
      const kind = value & SYSTEM_RESET ? 'hard' : 'soft';
      this.lifecycle.request({ kind: 'reset', cause: `0xcf9 ${kind} reset` });
      return;
    }
    this.state.rcr = value & SYSTEM_RESET;
  }
}
