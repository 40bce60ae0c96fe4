/**
 * System Control Port A (port 0x92, the PS/2 "fast A20 and reset" port):
 *   bit 1  ALT_A20_GATE: A20 enabled
 *   bit 0  ALT_RESET: a 0-to-1 transition resets the processor
 * Reads return the latch as written (QEMU keeps the same latch).
 *
 * Reference: Intel 82371AB PIIX4 datasheet, port 92h; QEMU hw/i386/port92.c.
 */
import type { A20Gate } from '../io/a20.js';
import type { PortBus } from '../io/port-bus.js';
import type { Lifecycle } from '../machine/lifecycle.js';

const FAST_RESET = 0x01;
const FAST_A20 = 0x02;

export interface Port92State {
  latch: number;
}

export class Port92 {
  readonly state: Port92State = { latch: 0 };

  constructor(
    io: PortBus,
    private readonly a20: A20Gate,
    private readonly lifecycle: Lifecycle,
  ) {
    io.register('port92', 0x92, 1, {
      read: () => this.state.latch,
      write: (_port, _size, value) => this.write(value),
    });
  }

  /** The reset bit clears itself across a reset; the A20 bit keeps its value. */
  reset(): void {
    this.state.latch &= ~FAST_RESET;
  }

  private write(value: number): void {
    const previous = this.state.latch;
    this.state.latch = value;
    this.a20.set((value & FAST_A20) !== 0);
    if (value & FAST_RESET && !(previous & FAST_RESET)) {
      this.lifecycle.request({ kind: 'reset', cause: 'port 0x92 fast reset' });
    }
  }
}
