/**
 * The POST diagnostic port 0x80. BIOSes write progress codes to it and
 * Linux uses it as a short I/O delay (outb to 0x80). Writes are dropped;
 * reads return all-ones, as QEMU's ioport80 does.
 */
import type { PortBus } from '../io/port-bus.js';

export class Port80 {
  constructor(io: PortBus) {
    io.register(
      'ioport80',
      0x80,
      1,
      {
        read: () => 0xffff_ffff,
        write: () => {},
      },
      1 | 2 | 4,
    );
  }
}
