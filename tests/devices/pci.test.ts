import { describe, expect, it } from 'vitest';
import { I8259Pair } from '../../src/devices/i8259.js';
import { PciFunction, createI440fxPiix } from '../../src/devices/pci.js';
import { IrqRouter } from '../../src/io/irq.js';
import { PortBus } from '../../src/io/port-bus.js';
import { initPicsAsBios } from './pc-chips.js';

function setup() {
  const io = new PortBus();
  const pic = new I8259Pair(io);
  const irq = new IrqRouter(pic);
  const pmBases: (number | undefined)[] = [];
  const pci = createI440fxPiix(io, irq, { relocate: (base) => pmBases.push(base) });
  const address = (devfn: number, reg: number) => (0x8000_0000 | (devfn << 8) | (reg & 0xfc)) >>> 0;
  const read = (devfn: number, reg: number, size: 1 | 2 | 4 = 4) => {
    io.write(0xcf8, 4, address(devfn, reg));
    return io.read(0xcfc + (reg & 3), size);
  };
  const write = (devfn: number, reg: number, size: 1 | 2 | 4, value: number) => {
    io.write(0xcf8, 4, address(devfn, reg));
    io.write(0xcfc + (reg & 3), size, value);
  };
  return { io, irq, pic, pci, pmBases, read, write };
}

describe('PCI configuration mechanism #1 and the i440FX/PIIX functions', () => {
  it('reads the vendor/device IDs QEMU\'s pc machine shows', () => {
    const { read } = setup();
    expect(read(0x00, 0)).toBe(0x1237_8086);
    expect(read(0x08, 0)).toBe(0x7000_8086);
    expect(read(0x09, 0)).toBe(0x7010_8086);
    expect(read(0x0b, 0)).toBe(0x7113_8086);
    expect(read(0x10, 0)).toBe(0xffff_ffff); // empty slot 2: master abort
    expect(read(0x0a, 0)).toBe(0xffff_ffff); // 01.2 is absent
  });

  it('reads class codes, header types and the subsystem ID', () => {
    const { read } = setup();
    expect(read(0x00, 0x08)).toBe(0x0600_0002);
    expect(read(0x08, 0x08) >>> 8).toBe(0x060100);
    expect(read(0x09, 0x08) >>> 8).toBe(0x010180);
    expect(read(0x0b, 0x08)).toBe(0x0680_0003);
    expect(read(0x08, 0x0e, 1)).toBe(0x80);
    expect(read(0x00, 0x0e, 1)).toBe(0x00);
    expect(read(0x00, 0x2c)).toBe(0x1100_1af4);
  });

  it('serves byte and word accesses at any data port offset', () => {
    const { read, io } = setup();
    expect(read(0x08, 0x02, 2)).toBe(0x7000);
    expect(read(0x08, 0x03, 1)).toBe(0x70);
    io.write(0xcf8, 4, 0x8000_0800);
    expect(io.read(0xcfe, 2)).toBe(0x7000);
  });

  it('keeps CONFIG_ADDRESS, as Linux checks for type 1, and ignores cycles without the enable bit or on other buses', () => {
    const { io } = setup();
    io.write(0xcf8, 4, 0x8000_0000);
    expect(io.read(0xcf8, 4)).toBe(0x8000_0000);
    io.write(0xcf8, 4, 0x0000_0000);
    expect(io.read(0xcfc, 4)).toBe(0xffff_ffff);
    io.write(0xcf8, 4, 0x8001_0000); // bus 1
    expect(io.read(0xcfc, 4)).toBe(0xffff_ffff);
  });

  it('sizes and maps the IDE bus-master BAR only while I/O decode is on', () => {
    const { read, write, pci } = setup();
    const mapped: (number | undefined)[] = [];
    pci.ide.onBusMasterMapped((base) => mapped.push(base));
    write(0x09, 0x20, 4, 0xffff_ffff);
    expect(read(0x09, 0x20)).toBe(0xffff_fff1); // 16 bytes of I/O
    write(0x09, 0x20, 4, 0xc040);
    expect(read(0x09, 0x20)).toBe(0xc041);
    expect(mapped).toEqual([]);
    write(0x09, 0x04, 2, 0x0005); // I/O + bus master
    expect(mapped).toEqual([0xc040]);
    expect(pci.ide.barAddress(4)).toBe(0xc040);
    write(0x09, 0x04, 2, 0x0000);
    expect(mapped).toEqual([0xc040, undefined]);
    expect(read(0x09, 0x10)).toBe(0); // legacy mode: BAR0-3 unused
  });

  it('resets both IDE channels\' legacy decode (IDETIM bit 15) to off, for firmware to turn on', () => {
    const { pci, read, write } = setup();
    expect(read(0x09, 0x40)).toBe(0);
    write(0x09, 0x40, 2, 0x8000);
    expect([pci.ide.channelEnabled(0), pci.ide.channelEnabled(1)]).toEqual([true, false]);
    pci.bus.reset();
    expect(read(0x09, 0x40)).toBe(0);
  });

  it('masks the command register and clears status error bits by writing ones', () => {
    const { read, write, pci } = setup();
    write(0x00, 0x04, 2, 0xffff);
    expect(read(0x00, 0x04, 2)).toBe(0x0507);
    pci.i440fx.config[0x07] |= 0x22; // received master abort
    write(0x00, 0x06, 2, 0x2000);
    expect(read(0x00, 0x06, 2)).toBe(0x0200);
    write(0x00, 0x00, 4, 0); // IDs are read-only
    expect(read(0x00, 0)).toBe(0x1237_8086);
  });

  it('stores the PAM registers and reports the shadow ranges they select', () => {
    const { write, read, pci } = setup();
    let changes = 0;
    pci.i440fx.onPamChange(() => changes++);
    write(0x00, 0x59, 1, 0x3f); // PAM0: F0000-FFFFF read/write DRAM; low nibble reserved
    write(0x00, 0x5a, 1, 0x21); // C0000-C3FFF read DRAM, C4000-C7FFF write DRAM
    expect(read(0x00, 0x59, 1)).toBe(0x30);
    expect(changes).toBe(2);
    const ranges = pci.i440fx.pamRanges();
    expect(ranges.length).toBe(13);
    expect(ranges[0]).toEqual({ base: 0xf0000, size: 0x10000, readDram: true, writeDram: true });
    expect(ranges[1]).toEqual({ base: 0xc0000, size: 0x4000, readDram: true, writeDram: false });
    expect(ranges[2]).toEqual({ base: 0xc4000, size: 0x4000, readDram: false, writeDram: true });
    expect(ranges[12]!.base).toBe(0xec000);
  });

  it('locks SMRAM with D_LCK until reset', () => {
    const { write, read, pci } = setup();
    expect(read(0x00, 0x72, 1)).toBe(0x02);
    write(0x00, 0x72, 1, 0x4a); // D_OPEN | G_SMRAME
    expect(read(0x00, 0x72, 1)).toBe(0x4a);
    write(0x00, 0x72, 1, 0x1a); // lock
    expect(read(0x00, 0x72, 1)).toBe(0x1a);
    write(0x00, 0x72, 1, 0x42);
    expect(read(0x00, 0x72, 1)).toBe(0x1a);
    pci.bus.reset();
    expect(read(0x00, 0x72, 1)).toBe(0x02);
  });

  it('routes a PCI INTx through the PIIX3 PIRQ registers to the PIC', () => {
    const { read, write, pci, pic, io } = setup();
    initPicsAsBios(io);
    io.write(0x4d1, 1, 0x08); // IRQ 11 level triggered, as the BIOS sets PCI IRQs
    const card = new PciFunction({ vendor: 0x1234, device: 0x5678, revision: 0, classCode: 0xff0000, interruptPin: 1 });
    pci.bus.addDevice(0x18, card); // slot 3: INTA# reaches PIRQC
    expect(read(0x18, 0)).toBe(0x5678_1234);
    expect(read(0x08, 0x60)).toBe(0x8080_8080);
    pci.bus.setIntx(0x18, 0, true);
    expect(pic.hasInterrupt()).toBe(false); // route disabled
    write(0x08, 0x62, 1, 11);
    expect(pci.isa.pirqRoute(2)).toBe(11);
    expect(pic.acknowledge()).toBe(0x73);
    pci.bus.setIntx(0x18, 0, false);
    io.write(0xa0, 1, 0x20);
    io.write(0x20, 1, 0x20);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('maps the PIIX4 PM block at 0x600 from power-on and follows PMBA and PMIOSE', () => {
    const { read, write, pmBases, pci } = setup();
    expect(pmBases).toEqual([0x600]);
    expect(read(0x0b, 0x40)).toBe(0x601);
    expect(read(0x0b, 0x3c, 2)).toBe(0x0100); // INTA#, line left to firmware
    expect(read(0x0b, 0x58) & (1 << 25)).not.toBe(0); // APMC_EN: SeaBIOS skips SMM setup
    write(0x0b, 0x40, 4, 0xb000);
    expect(read(0x0b, 0x40)).toBe(0xb001);
    expect(pmBases).toEqual([0x600, 0xb000]);
    write(0x0b, 0x80, 1, 0x00);
    expect(pmBases).toEqual([0x600, 0xb000, undefined]);
    pci.bus.reset();
    expect(pmBases.at(-1)).toBe(0x600);
  });
});
