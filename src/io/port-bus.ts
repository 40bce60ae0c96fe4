/**
 * The x86 I/O port space: 65536 byte-addressed ports.
 *
 * Devices claim port ranges. An access wider than the widths a device
 * declares is split into byte accesses on consecutive ports, as the ISA bus
 * does. Unclaimed ports read as all-ones and are logged under `-d unimp`.
 */
import { hex, log, logOn } from '../log.js';
import type { AccessSize } from '../memory/address-space.js';

export interface PortHandler {
  /** Port is absolute. Returns the value (only the low `size` bytes are used). */
  read(port: number, size: AccessSize): number;
  write(port: number, size: AccessSize, value: number): void;
}

interface Claim {
  name: string;
  handler: PortHandler;
  /** Bit mask of supported access widths: 1 | 2 | 4. */
  widths: number;
}

export class PortBus {
  private readonly claims: (Claim | undefined)[] = new Array(0x10000);
  /** Per port, the claims a newer one covers (oldest first): they answer again once it is unregistered. */
  private readonly covered = new Map<number, Claim[]>();

  /**
   * Claims `count` ports from `base`. `widths` is a mask of access sizes the
   * handler takes whole (default: bytes only). A claim over ports another
   * device holds covers them, as the newest region does in QEMU's I/O space:
   * an isa-debug-exit placed on a UART's ports, or a guest moving the ACPI PM
   * block onto the PIT's.
   */
  register(name: string, base: number, count: number, handler: PortHandler, widths = 1): void {
    const claim: Claim = { name, handler, widths };
    for (let p = base; p < base + count; p++) {
      const prior = this.claims[p];
      if (prior) this.covered.set(p, [...(this.covered.get(p) ?? []), prior]);
      this.claims[p] = claim;
    }
  }

  /** Releases the newest claim on each of the ports; what it covered answers again. */
  unregister(base: number, count: number): void {
    for (let p = base; p < base + count; p++) {
      const below = this.covered.get(p);
      this.claims[p] = below?.pop();
      if (below?.length === 0) this.covered.delete(p);
    }
  }

  /** Name of the device on a port, for `info mtree`-style listings and tests. */
  owner(port: number): string | undefined {
    return this.claims[port & 0xffff]?.name;
  }

  read(port: number, size: AccessSize): number {
    port &= 0xffff;
    const claim = this.claims[port];
    let value: number;
    if (claim && claim.widths & size) {
      value = (claim.handler.read(port, size) & mask(size)) >>> 0;
    } else if (size > 1) {
      value = 0;
      for (let i = 0; i < size; i++) value |= this.read((port + i) & 0xffff, 1) << (8 * i);
      value >>>= 0;
    } else {
      if (logOn.unimp) log.unimp({ port: hex(port) }, 'read from unassigned port');
      value = 0xff;
    }
    if (logOn.ioport) log.ioport({ port: hex(port), size, value: hex(value) }, 'in');
    return value;
  }

  write(port: number, size: AccessSize, value: number): void {
    port &= 0xffff;
    if (logOn.ioport) log.ioport({ port: hex(port), size, value: hex(value) }, 'out');
    const claim = this.claims[port];
    if (claim && claim.widths & size) {
      claim.handler.write(port, size, (value & mask(size)) >>> 0);
    } else if (size > 1) {
      for (let i = 0; i < size; i++) this.write((port + i) & 0xffff, 1, (value >>> (8 * i)) & 0xff);
    } else if (!claim) {
      if (logOn.unimp) log.unimp({ port: hex(port), value: hex(value) }, 'write to unassigned port');
    }
  }
}

function mask(size: AccessSize): number {
  return size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1;
}
