/**
 * QEMU's isa-debugcon (the Bochs "port E9 hack"): each byte written goes to
 * a chardev; reads return a fixed readback value (0xE9 by default) so that a
 * guest can detect the console. SeaBIOS's debug output uses one at 0x402.
 *
 * Byte-wide only: wider accesses are split by the bus and only the first
 * byte lands on the port, as in QEMU.
 *
 * Reference: QEMU hw/char/debugcon.c.
 */
import type { Chardev } from '../chardev/chardev.js';
import type { PortBus } from '../io/port-bus.js';

export class DebugCon {
  constructor(
    io: PortBus,
    readonly iobase: number,
    private readonly chardev: Chardev,
    private readonly readback = 0xe9,
  ) {
    io.register(`debugcon@0x${iobase.toString(16)}`, iobase, 1, {
      read: () => this.readback,
      write: (_port, _size, value) => this.chardev.write(Uint8Array.of(value)),
    });
  }
}
