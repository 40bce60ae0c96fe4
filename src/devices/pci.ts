/**
 * PCI bus 0 of QEMU's `pc` machine: the i440FX host bridge with PCI
 * configuration mechanism #1 (ports 0xCF8/0xCFC-0xCFF), and the PIIX3
 * south bridge functions behind it:
 *
 *   00.0  8086:1237  i440FX host bridge (PAM shadow registers, SMRAM)
 *   01.0  8086:7000  PIIX3 PCI-to-ISA bridge (PIRQ routing, 0x60-0x63)
 *   01.1  8086:7010  PIIX3 IDE (legacy mode; BAR4 bus-master I/O)
 *   01.3  8086:7113  PIIX4 power management (ACPI PM I/O base at 0x40)
 *
 * `PciFunction` is the generic type-0 configuration space: 256 bytes with a
 * per-byte write mask and write-1-to-clear mask, BARs that size themselves
 * the standard way, and hooks for registers with side effects. Later devices
 * plug in with `PciBus.addDevice(devfn, device)`.
 *
 * References: PCI Local Bus Specification 3.0 ch. 6; Intel 82441FX (i440FX)
 * and 82371SB (PIIX3) / 82371AB (PIIX4) datasheets; QEMU hw/pci/pci.c,
 * hw/pci-host/i440fx.c, hw/isa/piix.c, hw/ide/piix.c, hw/acpi/piix4.c.
 */
import type { IrqRouter } from '../io/irq.js';
import type { PortBus } from '../io/port-bus.js';

const PCI_CONFIG_SIZE = 256;

// Type-0 header offsets (PCI 3.0 §6.1).
const PCI_VENDOR_ID = 0x00;
const PCI_DEVICE_ID = 0x02;
const PCI_COMMAND = 0x04;
const PCI_STATUS = 0x06;
const PCI_REVISION = 0x08;
const PCI_CLASS_PROG = 0x09;
const PCI_HEADER_TYPE = 0x0e;
const PCI_BAR0 = 0x10;
const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
const PCI_SUBSYSTEM_ID = 0x2e;
const PCI_INTERRUPT_LINE = 0x3c;
const PCI_INTERRUPT_PIN = 0x3d;
/** First byte after the standard header: device-specific registers. */
const PCI_DEVICE_SPECIFIC = 0x40;

const PCI_COMMAND_IO = 0x0001;
const PCI_COMMAND_MEMORY = 0x0002;
const PCI_COMMAND_MASTER = 0x0004;
const PCI_COMMAND_SERR = 0x0100;
const PCI_COMMAND_INTX_DISABLE = 0x0400;
/** What QEMU lets a guest change in the command register (the rest reads 0). */
const COMMAND_WRITABLE = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE;
/** Status error bits (parity, SERR, master/target aborts): write 1 to clear. */
const STATUS_WRITE_1_TO_CLEAR = 0xf900;
const STATUS_DEVSEL_MEDIUM = 0x0200;
const STATUS_FAST_BACK_TO_BACK = 0x0080;

const BAR_IO_SPACE = 0x01;
const BAR_MEM_PREFETCH = 0x08;
const HEADER_MULTIFUNCTION = 0x80;

/** QEMU gives every type-0 function this subsystem ID: Red Hat, "QEMU virtual machine". */
const QEMU_SUBSYSTEM_VENDOR = 0x1af4;
const QEMU_SUBSYSTEM = 0x1100;

export interface PciIds {
  vendor: number;
  device: number;
  revision: number;
  /** class << 16 | subclass << 8 | programming interface */
  classCode: number;
  multifunction?: boolean;
  interruptPin?: number;
}

export interface PciBarSpec {
  kind: 'io' | 'mem32';
  /** Power of two: at least 4 for I/O, 16 for memory. */
  size: number;
  prefetchable?: boolean;
}

/** A PCI function's type-0 configuration space. */
export class PciFunction {
  readonly config = new Uint8Array(PCI_CONFIG_SIZE);
  protected readonly writeMask = new Uint8Array(PCI_CONFIG_SIZE);
  protected readonly write1ToClear = new Uint8Array(PCI_CONFIG_SIZE);
  private readonly bars: (PciBarSpec | undefined)[] = new Array(6).fill(undefined);
  /** Where each BAR currently decodes, or undefined. */
  private readonly barMappings: (number | undefined)[] = new Array(6).fill(undefined);
  private powerOnConfig: Uint8Array | undefined;

  constructor(ids: PciIds) {
    this.set16(PCI_VENDOR_ID, ids.vendor);
    this.set16(PCI_DEVICE_ID, ids.device);
    this.config[PCI_REVISION] = ids.revision;
    this.config[PCI_CLASS_PROG] = ids.classCode & 0xff;
    this.set16(PCI_CLASS_PROG + 1, ids.classCode >> 8);
    this.config[PCI_HEADER_TYPE] = ids.multifunction ? HEADER_MULTIFUNCTION : 0;
    this.set16(PCI_SUBSYSTEM_VENDOR_ID, QEMU_SUBSYSTEM_VENDOR);
    this.set16(PCI_SUBSYSTEM_ID, QEMU_SUBSYSTEM);
    this.config[PCI_INTERRUPT_PIN] = ids.interruptPin ?? 0;
    this.setMask16(PCI_COMMAND, COMMAND_WRITABLE);
    this.write1ToClear[PCI_STATUS] = STATUS_WRITE_1_TO_CLEAR & 0xff;
    this.write1ToClear[PCI_STATUS + 1] = STATUS_WRITE_1_TO_CLEAR >> 8;
    this.writeMask[0x0c] = 0xff; // cache line size (the latency timer stays 0, as in QEMU)
    this.writeMask[PCI_INTERRUPT_LINE] = 0xff;
    // Device-specific registers are writable unless a device says otherwise (as in QEMU).
    this.writeMask.fill(0xff, PCI_DEVICE_SPECIFIC);
  }

  /** Called once the device is complete (PciBus.addDevice): what it holds now is its power-on state. */
  captureResetState(): void {
    this.powerOnConfig ??= this.config.slice();
  }

  reset(): void {
    if (this.powerOnConfig) this.config.set(this.powerOnConfig);
    this.updateBarMappings();
    this.afterReset();
  }

  // ---- for device implementations ----

  protected defineBar(index: number, spec: PciBarSpec): void {
    this.bars[index] = spec;
    const offset = PCI_BAR0 + 4 * index;
    const typeBits = spec.kind === 'io' ? BAR_IO_SPACE : spec.prefetchable ? BAR_MEM_PREFETCH : 0;
    this.set32(offset, typeBits);
    this.setMask32(offset, ~(spec.size - 1) >>> 0);
  }

  /** A config write landed on [offset, offset + size): react to device-specific registers. */
  protected configWritten(_offset: number, _size: number): void {}

  /** A BAR started decoding at `address`, moved, or stopped decoding (undefined). */
  protected barMapped(_index: number, _address: number | undefined): void {}

  protected afterReset(): void {}

  get16(offset: number): number {
    return this.config[offset]! | (this.config[offset + 1]! << 8);
  }

  get32(offset: number): number {
    return (this.get16(offset) | (this.get16(offset + 2) << 16)) >>> 0;
  }

  protected set16(offset: number, value: number): void {
    this.config[offset] = value & 0xff;
    this.config[offset + 1] = (value >> 8) & 0xff;
  }

  protected set32(offset: number, value: number): void {
    this.set16(offset, value & 0xffff);
    this.set16(offset + 2, value >>> 16);
  }

  protected setMask16(offset: number, mask: number): void {
    this.writeMask[offset] = mask & 0xff;
    this.writeMask[offset + 1] = (mask >> 8) & 0xff;
  }

  protected setMask32(offset: number, mask: number): void {
    this.setMask16(offset, mask & 0xffff);
    this.setMask16(offset + 2, mask >>> 16);
  }

  // ---- configuration cycles ----

  /** Little-endian read; bytes past the end of configuration space read as 0xFF. */
  readConfig(offset: number, size: 1 | 2 | 4): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= (this.config[offset + i] ?? 0xff) << (8 * i);
    return value >>> 0;
  }

  writeConfig(offset: number, size: 1 | 2 | 4, value: number): void {
    const end = Math.min(offset + size, PCI_CONFIG_SIZE);
    for (let a = offset; a < end; a++) {
      const byte = (value >>> (8 * (a - offset))) & 0xff;
      const mask = this.writeMask[a]!;
      const clear = this.write1ToClear[a]! & byte;
      this.config[a] = ((this.config[a]! & ~mask) | (byte & mask)) & ~clear;
    }
    if (offset < PCI_BAR0 + 24 && end > PCI_COMMAND) this.updateBarMappings();
    this.configWritten(offset, size);
  }

  /** BAR decode per PCI 3.0 §6.2.5: enabled by the command register, never at 0 or wrapping. */
  private updateBarMappings(): void {
    const command = this.get16(PCI_COMMAND);
    this.bars.forEach((bar, index) => {
      if (!bar) return;
      let address: number | undefined = (this.get32(PCI_BAR0 + 4 * index) & ~(bar.size - 1)) >>> 0;
      const limit = bar.kind === 'io' ? 0x1_0000 : 0x1_0000_0000;
      const enabled = command & (bar.kind === 'io' ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY);
      if (!enabled || address === 0 || address + bar.size > limit) address = undefined;
      if (address === this.barMappings[index]) return;
      this.barMappings[index] = address;
      this.barMapped(index, address);
    });
  }

  /** Where BAR `index` decodes now, or undefined. */
  barAddress(index: number): number | undefined {
    return this.barMappings[index];
  }
}

/** A function's interrupt pin changes: INTA..INTD = 0..3. */
export type PirqListener = (pirq: number, level: boolean) => void;

/** Bus 0: up to 32 devices of 8 functions, addressed by devfn = device << 3 | function. */
export class PciBus {
  private readonly functions: (PciFunction | undefined)[] = new Array(256).fill(undefined);
  /** Asserted INTx pins, per devfn, as bit masks. */
  private readonly intx = new Uint8Array(256);
  private readonly pirqListeners: PirqListener[] = [];

  addDevice(devfn: number, device: PciFunction): void {
    if (devfn < 0 || devfn > 0xff) throw new Error(`PCI devfn ${devfn} out of range`);
    if (this.functions[devfn]) throw new Error(`PCI slot ${formatDevfn(devfn)} is taken`);
    device.captureResetState();
    this.functions[devfn] = device;
  }

  device(devfn: number): PciFunction | undefined {
    return this.functions[devfn & 0xff];
  }

  reset(): void {
    this.intx.fill(0);
    for (const f of this.functions) f?.reset();
  }

  /** A device drives its interrupt pin (0 = INTA#). */
  setIntx(devfn: number, pin: number, level: boolean): void {
    const bit = 1 << (pin & 3);
    const pirq = this.pirqOf(devfn, pin);
    const before = this.pirqLevel(pirq);
    if (level) this.intx[devfn & 0xff]! |= bit;
    else this.intx[devfn & 0xff]! &= ~bit;
    const after = this.pirqLevel(pirq);
    if (after !== before) for (const l of this.pirqListeners) l(pirq, after);
  }

  onPirqChange(listener: PirqListener): void {
    this.pirqListeners.push(listener);
  }

  /** The i440FX/PIIX board swizzle: slot n's INTA# is wired to PIRQ (n - 1) & 3 (QEMU's pci_slot_get_pirq). */
  private pirqOf(devfn: number, pin: number): number {
    return (pin + (devfn >> 3) - 1) & 3;
  }

  /** PIRQ lines are wired-OR of every pin swizzled onto them. */
  pirqLevel(pirq: number): boolean {
    for (let devfn = 0; devfn < 256; devfn++) {
      const pins = this.intx[devfn]!;
      if (!pins) continue;
      for (let pin = 0; pin < 4; pin++) if (pins & (1 << pin) && this.pirqOf(devfn, pin) === pirq) return true;
    }
    return false;
  }
}

function formatDevfn(devfn: number): string {
  return `${(devfn >> 3).toString(16).padStart(2, '0')}.${devfn & 7}`;
}

// ---- configuration mechanism #1 ----

const CONFIG_ADDRESS = 0xcf8;
const CONFIG_DATA = 0xcfc;
const CONFIG_ENABLE = 0x8000_0000;

/** The host side of configuration mechanism #1 (PCI 3.0 §3.2.2.3.2). */
export class PciHostPorts {
  /** CONFIG_ADDRESS as last written. */
  address = 0;

  constructor(
    io: PortBus,
    private readonly bus: PciBus,
  ) {
    // CONFIG_ADDRESS is a dword register: byte and word accesses at 0xCF8-0xCFB are
    // not configuration cycles (0xCF9 is PIIX's reset control register).
    io.register(
      'pci-conf-addr',
      CONFIG_ADDRESS,
      1,
      {
        read: () => this.address,
        write: (_port, _size, value) => {
          this.address = value >>> 0;
        },
      },
      4,
    );
    io.register(
      'pci-conf-data',
      CONFIG_DATA,
      4,
      {
        read: (port, size) => this.readData(port & 3, size),
        write: (port, size, value) => this.writeData(port & 3, size, value),
      },
      1 | 2 | 4,
    );
  }

  reset(): void {
    this.address = 0;
  }

  /** The addressed function on bus 0, or undefined (no cycle, another bus, or an empty slot). */
  private target(): PciFunction | undefined {
    const a = this.address;
    if (!(a & CONFIG_ENABLE)) return undefined;
    if ((a >>> 16) & 0xff) return undefined; // only bus 0 exists
    return this.bus.device((a >>> 8) & 0xff);
  }

  /** A read that no function claims ends in master abort: all ones. */
  private readData(byteOffset: number, size: 1 | 2 | 4): number {
    const f = this.target();
    if (!f) return 0xffff_ffff;
    return f.readConfig((this.address & 0xfc) + byteOffset, size);
  }

  private writeData(byteOffset: number, size: 1 | 2 | 4, value: number): void {
    this.target()?.writeConfig((this.address & 0xfc) + byteOffset, size, value);
  }
}

// ---- the i440FX/PIIX3 functions ----

/** Not an i440FX register: old coreboot reads the RAM size there in 8 MiB units, and QEMU provides it. */
const I440FX_COREBOOT_RAM_SIZE = 0x57;
const I440FX_PAM = 0x59;
const PAM_REGISTERS = 7;
const I440FX_SMRAM = 0x72;
const SMRAM_D_OPEN = 0x40;
const SMRAM_D_LCK = 0x10;
const SMRAM_G_SMRAME = 0x08;
/** C_BASE_SEG = 010: SMRAM at 0xA0000, hard-wired. */
const SMRAM_C_BASE_SEG = 0x02;

/** What one PAM attribute field says about its range: DRAM is read and/or written instead of the ROM/PCI bus. */
export interface PamRange {
  base: number;
  size: number;
  readDram: boolean;
  writeDram: boolean;
}

/**
 * 00.0: i440FX PCI and memory controller. PAM0 (0x59, high nibble) covers
 * 0xF0000-0xFFFFF; PAM1-6 cover 0xC0000-0xEFFFF in 16 KiB halves (low
 * nibble first). Each field: bit 0 read enable, bit 1 write enable.
 */
export class I440fxHostBridge extends PciFunction {
  private readonly pamListeners: (() => void)[] = [];

  /** @param ramBytes guest RAM, reported in QEMU's coreboot register */
  constructor(ramBytes = 0) {
    super({ vendor: 0x8086, device: 0x1237, revision: 0x02, classCode: 0x060000 });
    this.config[I440FX_COREBOOT_RAM_SIZE] = Math.min(255, Math.floor(ramBytes / (8 * 1024 * 1024)));
    this.config[I440FX_SMRAM] = SMRAM_C_BASE_SEG;
    this.writeMask[I440FX_SMRAM] = SMRAM_D_OPEN | 0x20 | SMRAM_D_LCK | SMRAM_G_SMRAME;
    this.writeMask[I440FX_PAM] = 0xf0; // PAM0's low nibble is reserved
  }

  /** The 13 shadow ranges below 1 MiB as the PAM registers set them. */
  pamRanges(): PamRange[] {
    const ranges: PamRange[] = [this.pamRange(0xf0000, 0x10000, this.config[I440FX_PAM]! >> 4)];
    for (let r = 1; r < PAM_REGISTERS; r++) {
      const value = this.config[I440FX_PAM + r]!;
      const base = 0xc0000 + (r - 1) * 0x8000;
      ranges.push(this.pamRange(base, 0x4000, value & 0xf), this.pamRange(base + 0x4000, 0x4000, value >> 4));
    }
    return ranges;
  }

  private pamRange(base: number, size: number, field: number): PamRange {
    return { base, size, readDram: (field & 1) !== 0, writeDram: (field & 2) !== 0 };
  }

  /** Called after the guest writes any PAM register, and after reset (src/machine/shadow-ram.ts maps pamRanges()). */
  onPamChange(listener: () => void): void {
    this.pamListeners.push(listener);
  }

  get smram(): number {
    return this.config[I440FX_SMRAM]!;
  }

  protected override configWritten(offset: number, size: number): void {
    if (offset < I440FX_PAM + PAM_REGISTERS && offset + size > I440FX_PAM) {
      for (const l of this.pamListeners) l();
    }
    if (offset <= I440FX_SMRAM && offset + size > I440FX_SMRAM) this.lockSmram();
  }

  /** D_LCK: D_OPEN reads 0 and D_LCK/G_SMRAME turn read-only until reset. */
  private lockSmram(): void {
    if (!(this.config[I440FX_SMRAM]! & SMRAM_D_LCK)) return;
    this.config[I440FX_SMRAM]! &= ~SMRAM_D_OPEN;
    this.writeMask[I440FX_SMRAM] = 0x20; // only D_CLS stays writable
  }

  protected override afterReset(): void {
    this.writeMask[I440FX_SMRAM] = SMRAM_D_OPEN | 0x20 | SMRAM_D_LCK | SMRAM_G_SMRAME;
    for (const l of this.pamListeners) l();
  }
}

const PIIX3_PIRQ_ROUTE = 0x60;
const PIRQ_DISABLED = 0x80;

/**
 * 01.0: PIIX3 PCI-to-ISA bridge. PIRQRC[A:D] (0x60-0x63) route the four PCI
 * interrupt lines to ISA IRQs: bit 7 set disables the route, bits 3-0 pick
 * the IRQ (0-2, 8, 13 are reserved).
 */
export class Piix3IsaBridge extends PciFunction {
  /** ISA IRQs currently driven high by PCI interrupts. */
  private drivenIrqs = 0;

  constructor(
    private readonly bus: PciBus,
    private readonly irq: IrqRouter,
  ) {
    super({ vendor: 0x8086, device: 0x7000, revision: 0x00, classCode: 0x060100, multifunction: true });
    this.set16(PCI_STATUS, STATUS_DEVSEL_MEDIUM);
    const defaults: [number, number][] = [
      [0x4c, 0x4d], [0x4e, 0x03], [0x69, 0x02], [0x70, 0x80], [0x76, 0x0c], [0x77, 0x0c], [0x78, 0x02], [0xa0, 0x08], [0xa8, 0x0f],
    ];
    for (const [offset, value] of defaults) this.config[offset] = value;
    this.config.fill(PIRQ_DISABLED, PIIX3_PIRQ_ROUTE, PIIX3_PIRQ_ROUTE + 4);
    bus.onPirqChange(() => this.routePirqs());
  }

  /** The ISA IRQ a PIRQ line reaches, or undefined while its route is disabled. */
  pirqRoute(pirq: number): number | undefined {
    const route = this.config[PIIX3_PIRQ_ROUTE + (pirq & 3)]!;
    if (route & PIRQ_DISABLED) return undefined;
    const irq = route & 0x0f;
    return irq < 3 || irq === 8 || irq === 13 ? undefined : irq;
  }

  protected override configWritten(offset: number, size: number): void {
    if (offset < PIIX3_PIRQ_ROUTE + 4 && offset + size > PIIX3_PIRQ_ROUTE) this.routePirqs();
  }

  protected override afterReset(): void {
    this.routePirqs();
  }

  /** Drives each ISA IRQ with the OR of the PIRQ lines routed to it. */
  private routePirqs(): void {
    let wanted = 0;
    for (let pirq = 0; pirq < 4; pirq++) {
      const irq = this.pirqRoute(pirq);
      if (irq !== undefined && this.bus.pirqLevel(pirq)) wanted |= 1 << irq;
    }
    const changed = wanted ^ this.drivenIrqs;
    this.drivenIrqs = wanted;
    for (let irq = 0; irq < 16; irq++) if (changed & (1 << irq)) this.irq.set(irq, (wanted & (1 << irq)) !== 0);
  }
}

/** PIIX IDE timing registers: bit 15 of IDETIM (0x40 primary, 0x42 secondary) enables the legacy decode. */
const PIIX_IDETIM = 0x40;
const IDETIM_IDE_DECODE = 0x8000;
const BUS_MASTER_BAR = 4;

/**
 * 01.1: PIIX3 IDE in legacy (compatibility) mode: both channels at their
 * ISA ports and IRQs 14/15 (programming interface 0x80: bus-master capable,
 * neither channel native). BAR4 is the 16-byte bus-master I/O block; the IDE
 * controller hooks `onBusMasterMapped` to serve it.
 *
 * Both channels' IDETIM decode enables reset to 0, as on the chip and in
 * QEMU: firmware turns them on (src/boot/pci-setup.ts where tsvm is the firmware).
 */
export class Piix3Ide extends PciFunction {
  private busMasterListener: ((base: number | undefined) => void) | undefined;

  constructor() {
    super({ vendor: 0x8086, device: 0x7010, revision: 0x00, classCode: 0x010180 });
    this.set16(PCI_STATUS, STATUS_DEVSEL_MEDIUM | STATUS_FAST_BACK_TO_BACK);
    this.defineBar(BUS_MASTER_BAR, { kind: 'io', size: 16 });
  }

  /** Whether the guest left the channel's legacy decode on (IDETIM bit 15). */
  channelEnabled(channel: 0 | 1): boolean {
    return (this.get16(PIIX_IDETIM + 2 * channel) & IDETIM_IDE_DECODE) !== 0;
  }

  onBusMasterMapped(listener: (base: number | undefined) => void): void {
    this.busMasterListener = listener;
  }

  protected override barMapped(index: number, address: number | undefined): void {
    if (index === BUS_MASTER_BAR) this.busMasterListener?.(address);
  }
}

/** What the PIIX4 PM function moves around: the ACPI PM I/O block (acpi-pm.ts). */
export interface PmIoBlock {
  /** Maps the 64-byte block at `base`, or unmaps it (undefined). */
  relocate(base: number | undefined): void;
}

const PIIX4_PMBA = 0x40;
const PIIX4_PMREGMISC = 0x80;
const PIIX4_DEVACTB = 0x58;
const APMC_EN = 1 << 25;
const PMIOSE = 0x01;
/** Where tsvm's ACPI tables put the PM block; set at power-on so a direct-boot kernel finds it without firmware. */
const DEFAULT_PM_BASE = 0x600;

/**
 * 01.3: PIIX4 power management. PMBA (0x40) holds the PM I/O base (bits
 * 15:6; bit 0 reads 1 for I/O space), PMREGMISC (0x80) bit 0 enables it.
 * QEMU leaves both to the firmware; tsvm starts with the block enabled at
 * 0x600, where its ACPI tables say it is. The SCI is wired to IRQ 9 (the
 * FADT says so; the interrupt line register is left to firmware, as in QEMU).
 */
export class Piix4Pm extends PciFunction {
  private mappedBase: number | undefined;

  constructor(private readonly block: PmIoBlock) {
    super({ vendor: 0x8086, device: 0x7113, revision: 0x03, classCode: 0x068000, interruptPin: 1 });
    this.set16(PCI_STATUS, STATUS_DEVSEL_MEDIUM | STATUS_FAST_BACK_TO_BACK);
    this.set32(PIIX4_PMBA, DEFAULT_PM_BASE | 0x01);
    this.setMask32(PIIX4_PMBA, 0x0000_ffc0);
    this.config[PIIX4_PMREGMISC] = PMIOSE;
    this.config[0x5f] = 0x10; // device resource registers as QEMU sets them
    this.config[0x63] = 0x60;
    // DEVACTB (0x58) APMC_EN: tsvm has no SMM, so mark SMI-on-APMC as already set up;
    // SeaBIOS then skips its SMM relocation, which would wait forever for an SMI handler
    // (QEMU does the same with smm=off).
    this.config[PIIX4_DEVACTB + 3] = APMC_EN >>> 24;
    this.updatePmBase();
  }

  /** The PM I/O base while enabled. */
  get pmBase(): number | undefined {
    return this.mappedBase;
  }

  protected override configWritten(offset: number, size: number): void {
    const touches = (reg: number, len: number) => offset < reg + len && offset + size > reg;
    if (touches(PIIX4_PMBA, 4) || touches(PIIX4_PMREGMISC, 1)) this.updatePmBase();
  }

  protected override afterReset(): void {
    this.updatePmBase();
  }

  private updatePmBase(): void {
    const base = this.config[PIIX4_PMREGMISC]! & PMIOSE ? this.get32(PIIX4_PMBA) & 0xffc0 : undefined;
    if (base === this.mappedBase) return;
    this.mappedBase = base;
    this.block.relocate(base);
  }
}

export interface I440fxPiix {
  bus: PciBus;
  host: PciHostPorts;
  i440fx: I440fxHostBridge;
  isa: Piix3IsaBridge;
  ide: Piix3Ide;
  pm: Piix4Pm;
}

/** Builds bus 0 of QEMU's `pc` machine: 00.0 i440FX, 01.0 PIIX3 ISA, 01.1 IDE, 01.3 PM. */
export function createI440fxPiix(io: PortBus, irq: IrqRouter, pmBlock: PmIoBlock, ramBytes = 0): I440fxPiix {
  const bus = new PciBus();
  const host = new PciHostPorts(io, bus);
  const i440fx = new I440fxHostBridge(ramBytes);
  const isa = new Piix3IsaBridge(bus, irq);
  const ide = new Piix3Ide();
  const pm = new Piix4Pm(pmBlock);
  bus.addDevice(0x00, i440fx);
  bus.addDevice(0x08, isa);
  bus.addDevice(0x09, ide);
  bus.addDevice(0x0b, pm);
  return { bus, host, i440fx, isa, ide, pm };
}
