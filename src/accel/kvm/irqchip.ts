/**
 * KVM's in-kernel interrupt controllers (kernel_irqchip=on, QEMU's default
 * under KVM): the i8259 pair, the I/O APIC and every vCPU's local APIC from
 * KVM_CREATE_IRQCHIP, and the i8254 PIT from KVM_CREATE_PIT2. The kernel
 * then owns ports 0x20-0x21, 0xa0-0xa1, 0x4d0-0x4d1 (ELCR) and 0x40-0x43,
 * so tsvm must not create its own PIC and PIT. Device interrupts go in
 * through KVM_IRQ_LINE: with KVM's default routing, GSI n < 16 drives both
 * PIC input n and I/O APIC pin n.
 */
import type { IrqSink } from '../../io/irq.js';
import { IRQ_LEVEL, PIT_CONFIG, SIZEOF } from './abi.js';
import { kvmIoctl } from './libc.js';
import { log } from '../../log.js';

/** GSIs the in-kernel I/O APIC has. */
export const IOAPIC_PINS = 24;

/** Creates the in-kernel PIC/IOAPIC/LAPICs and PIT. Call before creating vCPUs. */
export function createKernelIrqchip(vmFd: number): void {
  kvmIoctl(vmFd, 'KVM_CREATE_IRQCHIP');
  const pit = new Uint8Array(SIZEOF.kvm_pit_config);
  // flags 0: the speaker port 0x61 stays with userspace.
  new DataView(pit.buffer).setUint32(PIT_CONFIG.flags, 0, true);
  kvmIoctl(vmFd, 'KVM_CREATE_PIT2', pit);
}

/** Device interrupt lines into the in-kernel irqchip. */
export class KernelIrqSink implements IrqSink {
  private readonly buf = new Uint8Array(SIZEOF.kvm_irq_level);
  private readonly view = new DataView(this.buf.buffer);

  constructor(private readonly vmFd: number) {}

  setIrq(irq: number, level: boolean): void {
    if (irq < 0 || irq >= IOAPIC_PINS) {
      log.guest_errors({ irq }, 'interrupt line outside the I/O APIC');
      return;
    }
    this.view.setUint32(IRQ_LEVEL.irq, irq, true);
    this.view.setUint32(IRQ_LEVEL.level, level ? 1 : 0, true);
    kvmIoctl(this.vmFd, 'KVM_IRQ_LINE', this.buf);
  }
}
