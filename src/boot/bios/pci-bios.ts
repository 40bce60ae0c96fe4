/**
 * INT 1Ah AH=B1h, the PCI BIOS (PCI BIOS Specification 2.1, section 2;
 * Ralf Brown's INT 1Ah AX=B101h-B10Dh): installation check, finding a
 * device by ID or class, and configuration-space access through
 * configuration mechanism #1 (ports 0xCF8/0xCFC). tsvm's PCI has bus 0 only.
 */
import type { PortBus } from '../../io/port-bus.js';
import type { RegisterFrame } from './frame.js';
import type { ServiceResult } from './trap-port.js';

const CONFIG_ADDRESS = 0xcf8;
const CONFIG_DATA = 0xcfc;
const PCI_SIGNATURE = 0x20494350; // 'PCI '
const SUCCESSFUL = 0x00;
const FUNC_NOT_SUPPORTED = 0x81;
const DEVICE_NOT_FOUND = 0x86;
const BAD_REGISTER = 0x87;

export class PciBios {
  constructor(private readonly io: PortBus) {}

  service(f: RegisterFrame): ServiceResult {
    const al = f.get8('al');
    switch (al) {
      case 0x01:
        f.set32('edx', PCI_SIGNATURE);
        f.set8('al', 0x01); // configuration mechanism #1
        f.set('bx', 0x0210); // version 2.10
        f.set8('cl', 0); // last bus
        this.finish(f, SUCCESSFUL);
        break;
      case 0x02:
        this.findDevice(f, (id) => (id & 0xffff) === f.get('dx') && id >>> 16 === f.get('cx'), 0x00);
        break;
      case 0x03:
        this.findDevice(f, (cls) => cls >>> 8 === (f.get32('ecx') & 0xffffff), 0x08);
        break;
      case 0x08:
      case 0x09:
      case 0x0a:
      case 0x0b:
      case 0x0c:
      case 0x0d:
        this.configAccess(f, al);
        break;
      default:
        this.finish(f, FUNC_NOT_SUPPORTED);
    }
    return 'done';
  }

  private finish(f: RegisterFrame, status: number): void {
    f.set8('ah', status);
    f.setCarry(status !== SUCCESSFUL);
  }

  /** B102h/B103h: the SI'th function on bus 0 whose dword at `register` matches; BH = bus, BL = device/function. */
  private findDevice(f: RegisterFrame, matches: (dword: number) => boolean, register: number): void {
    let index = f.get('si');
    for (let devfn = 0; devfn < 256; devfn++) {
      if ((this.read(devfn, 0) & 0xffff) === 0xffff) continue;
      if (matches(this.read(devfn, register)) && index-- === 0) {
        f.set('bx', devfn);
        this.finish(f, SUCCESSFUL);
        return;
      }
    }
    this.finish(f, DEVICE_NOT_FOUND);
  }

  /** B108h-B10Dh: read/write a byte, word or dword at register DI of BH:BL, in CL/CX/ECX. */
  private configAccess(f: RegisterFrame, al: number): void {
    const size = ([1, 2, 4] as const)[(al - 0x08) % 3]!;
    const reg = f.get('di');
    if (reg > 0xff || reg % size !== 0) {
      this.finish(f, BAD_REGISTER);
      return;
    }
    const isRead = al <= 0x0a;
    // Only bus 0 exists: elsewhere reads float high and writes vanish.
    const onBus0 = f.get8('bh') === 0;
    this.io.write(CONFIG_ADDRESS, 4, configAddress(onBus0 ? f.get8('bl') : 0, reg & 0xfc));
    const port = CONFIG_DATA + (reg & 3);
    if (isRead) {
      const value = onBus0 ? this.io.read(port, size) : 0xffffffff;
      const keep = size === 4 ? 0 : f.get32('ecx') & ~(2 ** (8 * size) - 1);
      f.set32('ecx', (keep | (value & (size === 4 ? 0xffffffff : 2 ** (8 * size) - 1))) >>> 0);
    } else if (onBus0) {
      this.io.write(port, size, f.get32('ecx'));
    }
    this.finish(f, SUCCESSFUL);
  }

  private read(devfn: number, register: number): number {
    this.io.write(CONFIG_ADDRESS, 4, configAddress(devfn, register));
    return this.io.read(CONFIG_DATA, 4) >>> 0;
  }
}

/** Configuration mechanism #1's address: enable bit, bus 0, device/function, dword register. */
function configAddress(devfn: number, register: number): number {
  return (0x8000_0000 | (devfn << 8) | register) >>> 0;
}
