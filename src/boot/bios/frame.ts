/**
 * The caller's registers as the ROM trap stub (rom.ts) leaves them on the
 * guest stack at SS:SP: the service reads its arguments and writes its
 * results there, and the stub's popad/pop/iret hands them back.
 *
 *   +0  EDI ESI EBP ESP EBX EDX ECX EAX   (pushad, 8 dwords)
 *   +32 ES   +34 DS   +36 return into the vector's stub   +38 vector
 *   +40 IP   +42 CS   +44 FLAGS          (pushed by the INT instruction)
 */
import type { AddressSpace } from '../../memory/address-space.js';
import { PAGE_SIZE } from '../../memory/address-space.js';

const OFF = { edi: 0, esi: 4, ebp: 8, ebx: 16, edx: 20, ecx: 24, eax: 28, es: 32, ds: 34, vector: 38, ip: 40, cs: 42, flags: 44 };
const CF = 0x0001;
const ZF = 0x0040;
export const FRAME_BYTES = 46;

type Reg32 = 'eax' | 'ebx' | 'ecx' | 'edx' | 'esi' | 'edi' | 'ebp';
type Reg16 = 'ax' | 'bx' | 'cx' | 'dx' | 'si' | 'di' | 'bp';
type Reg8 = 'al' | 'ah' | 'bl' | 'bh' | 'cl' | 'ch' | 'dl' | 'dh';
type Seg16 = 'es' | 'ds' | 'ip' | 'cs';

/** A 16-bit register is the low word of its pushad slot. */
function offset16(r: Reg16 | Seg16): number {
  return r === 'es' || r === 'ds' || r === 'ip' || r === 'cs' ? OFF[r] : OFF[`e${r}` as Reg32];
}

/** A real-mode segment:offset as a physical address (A20 on). */
export function linear(segment: number, offset: number): number {
  return (segment << 4) + offset;
}

/** True when [addr, addr+length) is all guest RAM: where a service may read or write a caller's buffer. */
export function isRamRange(mem: AddressSpace, addr: number, length: number): boolean {
  if (addr < 0 || length < 0 || !Number.isSafeInteger(addr + length)) return false;
  for (let a = addr - (addr % PAGE_SIZE); a < addr + length; a += PAGE_SIZE) {
    if (mem.ramOffset(a) < 0) return false;
  }
  return true;
}

export class RegisterFrame {
  constructor(
    private readonly mem: AddressSpace,
    private readonly base: number,
  ) {}

  get vector(): number {
    return this.mem.read8(this.base + OFF.vector);
  }

  get32(r: Reg32): number {
    return this.mem.read32(this.base + OFF[r]);
  }

  set32(r: Reg32, value: number): void {
    this.mem.write32(this.base + OFF[r], value >>> 0);
  }

  get(r: Reg16 | Seg16): number {
    return this.mem.read16(this.base + offset16(r));
  }

  set(r: Reg16 | Seg16, value: number): void {
    this.mem.write16(this.base + offset16(r), value & 0xffff);
  }

  get8(r: Reg8): number {
    return this.mem.read8(this.base + OFF[`e${r[0]}x` as Reg32] + (r[1] === 'h' ? 1 : 0));
  }

  set8(r: Reg8, value: number): void {
    this.mem.write8(this.base + OFF[`e${r[0]}x` as Reg32] + (r[1] === 'h' ? 1 : 0), value & 0xff);
  }

  setCarry(on: boolean): void {
    this.setFlag(CF, on);
  }

  setZero(on: boolean): void {
    this.setFlag(ZF, on);
  }

  /** Success: AH = 0, CF clear. */
  ok(): void {
    this.set8('ah', 0);
    this.setCarry(false);
  }

  /** Failure: the BIOS status code in AH, CF set. */
  fail(status: number): void {
    this.set8('ah', status);
    this.setCarry(true);
  }

  private setFlag(bit: number, on: boolean): void {
    const at = this.base + OFF.flags;
    const flags = this.mem.read16(at);
    this.mem.write16(at, on ? flags | bit : flags & ~bit);
  }
}
