/**
 * QEMU's isa-debug-exit: a write to its ports ends the emulator with exit
 * status (value << 1) | 1, so a test guest can report pass/fail and never be
 * confused with a clean exit 0.
 *
 * The region takes accesses of up to 4 bytes whole; an access running past
 * its end is clipped to the bytes inside it (a dword write to a 2-byte
 * region exits with its low 16 bits). The status is what a shell
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
    readonly iosize: number,
    private readonly lifecycle: Lifecycle,
  ) {
    if (!Number.isInteger(iosize) || iosize < 1 || iobase + iosize > 0x10000) {
      throw new Error(`isa-debug-exit: iosize ${iosize} at 0x${iobase.toString(16)} does not fit the I/O space`);
    }
    io.register(
      'isa-debug-exit',
      iobase,
      iosize,
      {
        read: () => 0xffff_ffff,
        write: (port, size, value) => this.exit(port, this.clip(port, size, value)),
      },
      1 | 2 | 4,
    );
  }

  /** An access running past the end of the region keeps only the bytes inside it (QEMU's memory core does the same). */
  private clip(port: number, size: number, value: number): number {
    const bytes = Math.min(size, this.iobase + this.iosize - port);
    return bytes >= 4 ? value >>> 0 : value & ((1 << (8 * bytes)) - 1);
  }

  private exit(port: number, value: number): void {
    const status = ((value << 1) | 1) & 0xff;
    this.lifecycle.request({ kind: 'exit', status, cause: `isa-debug-exit: write 0x${value.toString(16)} to port 0x${port.toString(16)}` });
  }
}
