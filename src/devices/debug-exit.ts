/**
 * QEMU's isa-debug-exit: a write to its ports ends the emulator with exit
 * status (value << 1) | 1, so a test guest can report pass/fail and never be
 * confused with a clean exit 0.
 *
 * The region takes accesses up to its own size whole (a 16-bit write to a
 * 2-byte region passes the 16-bit value); wider accesses are split into
 * bytes by the bus and the first byte decides. The status is what a shell
 * sees: the low 8 bits. Reads have no handler in QEMU and float high here.
 *
 * Reference: QEMU hw/misc/debugexit.c (iobase 0x501, iosize 2 by default).
 */
import type { PortBus } from '../io/port-bus.js';
import type { Lifecycle } from '../machine/lifecycle.js';

export class IsaDebugExit {
  constructor(
    io: PortBus,
    readonly iobase: number,
    readonly iosize: 1 | 2 | 4,
    private readonly lifecycle: Lifecycle,
  ) {
    const widths = iosize === 4 ? 1 | 2 | 4 : iosize === 2 ? 1 | 2 : 1;
    io.register(
      'isa-debug-exit',
      iobase,
      iosize,
      {
        read: () => 0xffff_ffff,
        write: (port, _size, value) => this.exit(port, value),
      },
      widths,
    );
  }

  private exit(port: number, value: number): void {
    const status = ((value << 1) | 1) & 0xff;
    this.lifecycle.request({ kind: 'exit', status, cause: `isa-debug-exit: write 0x${value.toString(16)} to port 0x${port.toString(16)}` });
  }
}
