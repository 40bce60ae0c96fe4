import { describe, expect, it } from 'vitest';
import { AcpiPm, PM_TIMER_HZ } from '../../src/devices/acpi-pm.js';
import { I8259Pair } from '../../src/devices/i8259.js';
import { createI440fxPiix } from '../../src/devices/pci.js';
import { IrqRouter } from '../../src/io/irq.js';
import { PortBus } from '../../src/io/port-bus.js';
import { Lifecycle } from '../../src/machine/lifecycle.js';
import { fakeTime } from './fake-clock.js';
import { initPicsAsBios } from './pc-chips.js';

const PM = 0x600;

function setup() {
  const io = new PortBus();
  const pic = new I8259Pair(io);
  const irq = new IrqRouter(pic);
  const time = fakeTime();
  const lifecycle = new Lifecycle();
  const acpi = new AcpiPm(io, time.timers, irq.line(9), lifecycle);
  const pci = createI440fxPiix(io, irq, acpi);
  initPicsAsBios(io);
  io.write(0x4d1, 1, 0x02); // IRQ 9 level triggered, as the SCI is
  const tickNs = (ticks: number) => Math.ceil((ticks * 1e9) / PM_TIMER_HZ);
  return { io, pic, irq, time, lifecycle, acpi, pci, tickNs };
}

describe('ACPI PM block (PIIX4)', () => {
  it('covers the ports of another chip while the guest points PMBA at them, and gives them back once moved away', () => {
    const { io, time } = setup();
    const setPmba = (base: number) => {
      io.write(0xcf8, 4, 0x8000_0b40); // 01.3, PMBA
      io.write(0xcfc, 4, base | 1);
    };
    io.write(0x4d0, 1, 0x20); // ELCR: IRQ 5 level triggered
    setPmba(0x4c0); // 0x4C0-0x4FF: over the ELCR at 0x4D0
    expect(io.owner(PM)).toBeUndefined();
    time.advance(1e9);
    expect(io.read(0x4c0 + 8, 4)).toBe(PM_TIMER_HZ);
    expect(io.owner(0x4d0)).toBe('acpi-pm');
    setPmba(0x700);
    expect(io.owner(0x4c0)).toBeUndefined();
    expect(io.read(0x4d0, 1)).toBe(0x20);
    expect(io.read(0x700 + 8, 4)).toBe(PM_TIMER_HZ);
  });

  it('counts the PM timer at 3.579545 MHz and wraps at 24 bits', () => {
    const { io, time, tickNs } = setup();
    expect(io.read(PM + 8, 4)).toBe(0);
    time.advance(1e9);
    expect(io.read(PM + 8, 4)).toBe(PM_TIMER_HZ);
    time.advance(tickNs(0x100_0000) - 1e9);
    expect(io.read(PM + 8, 4)).toBe(0);
    expect(io.read(PM + 8, 2)).toBe(0);
    time.advance(tickNs(0x12345));
    expect(io.read(PM + 8, 1) | (io.read(PM + 9, 1) << 8) | (io.read(PM + 10, 1) << 16)).toBe(0x12345);
  });

  it('sets TMR_STS when bit 23 changes and raises the SCI on IRQ 9 when TMR_EN is set', () => {
    const { io, time, tickNs, pic, irq } = setup();
    io.write(PM + 2, 2, 0x0001); // TMR_EN
    time.advance(tickNs(0x80_0000) - 1000);
    expect(io.read(PM, 2) & 0x0001).toBe(0);
    expect(irq.level(9)).toBe(false);
    time.advance(1000);
    expect(irq.level(9)).toBe(true);
    expect(pic.acknowledge()).toBe(0x71);
    expect(io.read(PM, 2)).toBe(0x0001);
    io.write(PM, 2, 0x0001); // write 1 to clear
    expect(io.read(PM, 2)).toBe(0x0000);
    expect(irq.level(9)).toBe(false);
  });

  it('latches the power button, clears it by writing 1, and signals only when enabled', () => {
    const { io, acpi, irq } = setup();
    acpi.pressPowerButton();
    expect(io.read(PM, 2)).toBe(0x0100);
    expect(irq.level(9)).toBe(false);
    io.write(PM + 2, 2, 0x0100); // PWRBTN_EN
    expect(irq.level(9)).toBe(true);
    io.write(PM, 2, 0x00ff); // other bits: no effect
    expect(io.read(PM, 2)).toBe(0x0100);
    io.write(PM + 1, 1, 0x01); // byte write to the high half clears PWRBTN_STS
    expect(io.read(PM, 4)).toBe(0x0100_0000); // PM1_EN in the upper half
    expect(irq.level(9)).toBe(false);
  });

  it('powers off on SLP_EN with SLP_TYP 0 (S5), and SLP_EN reads back as 0', () => {
    const { io, lifecycle } = setup();
    io.write(PM + 4, 2, 0x0401 | 0x2000); // SLP_TYP 1: not offered
    expect(lifecycle.hasRequest).toBe(false);
    expect(io.read(PM + 4, 2)).toBe(0x0401);
    io.write(PM + 4, 2, (0 << 10) | 0x2000 | 0x0001);
    expect(lifecycle.take()).toMatchObject({ kind: 'poweroff' });
    expect(io.read(PM + 4, 2)).toBe(0x0001);
  });

  it('switches SCI_EN through the APM control port as Linux does with the FADT\'s ACPI_ENABLE', () => {
    const { io } = setup();
    expect(io.read(PM + 4, 2) & 1).toBe(1); // already in ACPI mode, as tsvm's FADT (SMI_CMD 0) says
    io.write(0xb2, 1, 0xf0);
    expect(io.read(PM + 4, 2) & 1).toBe(0);
    io.write(0xb2, 1, 0xf1);
    expect(io.read(PM + 4, 2) & 1).toBe(1);
    io.write(0xb3, 1, 0x5a);
    expect(io.read(0xb3, 1)).toBe(0x5a);
  });

  it('floats the PIIX4 registers it does not model', () => {
    const { io } = setup();
    expect(io.read(PM + 6, 2)).toBe(0xffff);
    expect(io.read(PM + 0x0c, 4)).toBe(0xffff_ffff);
    expect(io.read(PM + 0x3f, 1)).toBe(0xff);
  });

  it('moves with the PIIX4 PM base register', () => {
    const { io, time } = setup();
    time.advance(1e9);
    io.write(0xcf8, 4, 0x8000_0b40);
    io.write(0xcfc, 4, 0xb000);
    expect(io.read(PM + 8, 4)).toBe(0xffff_ffff);
    expect(io.read(0xb008, 4)).toBe(PM_TIMER_HZ);
  });
});
