/**
 * The ISA and PCI chips of QEMU's pc machine on one port bus, and its HPET
 * on an address space without RAM, wired as src/machine/pc.ts wires them
 * (tests cannot build a whole Pc: it opens drives and picks an
 * accelerator), with a clock the test moves by hand.
 */
import type { Chardev } from '../../src/chardev/chardev.js';
import { AcpiPm } from '../../src/devices/acpi-pm.js';
import { Hpet } from '../../src/devices/hpet.js';
import { I8042 } from '../../src/devices/i8042.js';
import { I8254Pit } from '../../src/devices/i8254.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { Mc146818Rtc, type RtcOptions } from '../../src/devices/mc146818.js';
import { createI440fxPiix } from '../../src/devices/pci.js';
import { Port80 } from '../../src/devices/port80.js';
import { Port92 } from '../../src/devices/port92.js';
import { ResetControl } from '../../src/devices/reset-control.js';
import { Uart16550 } from '../../src/devices/uart16550.js';
import { A20Gate } from '../../src/io/a20.js';
import { IrqRouter } from '../../src/io/irq.js';
import { PortBus } from '../../src/io/port-bus.js';
import { Lifecycle } from '../../src/machine/lifecycle.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { fakeTime } from './fake-clock.js';

/** COM1-COM4: base port and ISA IRQ. */
const COM_PORTS = [
  [0x3f8, 4],
  [0x2f8, 3],
  [0x3e8, 4],
  [0x2e8, 3],
] as const;

export interface PcChipsOptions {
  ramBytes: number;
  rtcBase: RtcOptions['base'];
  /** One UART per entry, from COM1 on; an undefined entry has no chardev. */
  serials: readonly (Chardev | undefined)[];
}

export function pcChips({ ramBytes, rtcBase, serials }: PcChipsOptions) {
  const io = new PortBus();
  const irq = new IrqRouter(new I8259Pair(io));
  const time = fakeTime();
  const { timers } = time;
  const lifecycle = new Lifecycle();
  const a20 = new A20Gate();
  const mem = new AddressSpace(0);
  const hpet = new Hpet(mem, timers, irq);
  new I8254Pit(io, timers, hpet.pitIrq);
  createI440fxPiix(io, irq, new AcpiPm(io, timers, irq.line(9), lifecycle), ramBytes);
  new Mc146818Rtc(io, timers, hpet.rtcIrq, { base: rtcBase });
  new I8042(io, irq.line(1), irq.line(12), a20, lifecycle);
  new Port92(io, a20, lifecycle);
  new ResetControl(io, lifecycle);
  new Port80(io);
  serials.slice(0, COM_PORTS.length).forEach((chardev, i) => {
    const [base, line] = COM_PORTS[i]!;
    new Uart16550(io, base, irq.line(line), timers, chardev);
  });
  return { io, mem, irq, time, lifecycle };
}

/** ICW1-ICW4 as a PC BIOS programs the PIC pair: master vectors 0x08-0x0F, slave 0x70-0x77 cascaded on IRQ 2, 8086 mode; nothing masked. */
export function initPicsAsBios(io: PortBus): void {
  const icws = [[0x20, 0x11], [0x21, 0x08], [0x21, 0x04], [0x21, 0x01], [0xa0, 0x11], [0xa1, 0x70], [0xa1, 0x02], [0xa1, 0x01]] as const;
  for (const [port, value] of icws) io.write(port, 1, value);
}
