/**
 * INT 15h, system services (Ralf Brown's Interrupt List, INT 15h): the
 * memory map (E820h, the ACPI spec's "INT 15H, E820H - Query System Address
 * Map"; E801h; 88h), the A20 gate (2400h-2403h), the configuration table
 * (C0h), the EBDA segment (C1h), waiting (86h) and the protected-mode block
 * move (87h). Anything else answers "not supported" (AH=86h, CF set).
 */
import type { AddressSpace } from '../../memory/address-space.js';
import type { A20Gate } from '../../io/a20.js';
import type { VirtualClock } from '../../machine/clock.js';
import type { E820Entry } from '../e820.js';
import { EBDA_BASE, HIGH_MEMORY_BASE } from '../e820.js';
import { linear, isRamRange, type RegisterFrame } from './frame.js';
import { ROM_SEGMENT } from './rom.js';
import type { ServiceResult } from './trap-port.js';

const SMAP = 0x534d4150; // 'SMAP'
const E820_ENTRY_BYTES = 20;
const NOT_SUPPORTED = 0x86;
const SIXTEEN_MIB = 0x100_0000;
const MAX_MOVE_WORDS = 0x8000;

export class SystemService {
  /** Guest-clock deadline of a running AH=86h wait. */
  private waitUntil: number | undefined;
  /** The E820 map, set at every reset (ACPI tables are carved out of it). */
  private e820: readonly E820Entry[] = [];

  constructor(
    private readonly mem: AddressSpace,
    private readonly a20: A20Gate,
    private readonly clock: VirtualClock,
    /** F000 offset of the configuration table. */
    private readonly configTable: number,
  ) {}

  setMemoryMap(map: readonly E820Entry[]): void {
    this.e820 = map;
  }

  service(f: RegisterFrame): ServiceResult {
    const ax = f.get('ax');
    switch (f.get8('ah')) {
      case 0x24:
        return this.a20Gate(f, ax & 0xff);
      case 0x86:
        return this.wait(f);
      case 0x87:
        this.blockMove(f);
        return 'done';
      case 0x88:
        f.set('ax', Math.min(this.extendedKb(HIGH_MEMORY_BASE, SIXTEEN_MIB * 4), 0xfc00));
        f.setCarry(false);
        return 'done';
      case 0xc0:
        f.set('es', ROM_SEGMENT);
        f.set('bx', this.configTable);
        f.ok();
        return 'done';
      case 0xc1:
        f.set('es', EBDA_BASE >> 4);
        f.setCarry(false);
        return 'done';
      case 0xe8:
        if (ax === 0xe820) this.e820Entry(f);
        else if (ax === 0xe801) this.e801(f);
        else f.fail(NOT_SUPPORTED);
        return 'done';
      default:
        f.fail(NOT_SUPPORTED);
        return 'done';
    }
  }

  /** AX=2400h disable, 2401h enable, 2402h status in AL, 2403h supported methods in BX (i8042 and port 92h). */
  private a20Gate(f: RegisterFrame, al: number): ServiceResult {
    if (al === 0x00 || al === 0x01) this.a20.set(al === 0x01);
    else if (al === 0x02) f.set8('al', this.a20.enabled ? 1 : 0);
    else if (al === 0x03) f.set('bx', 0x0003);
    else {
      f.fail(NOT_SUPPORTED);
      return 'done';
    }
    f.ok();
    return 'done';
  }

  /** AH=86h: waits CX:DX microseconds with interrupts on (the stub halts between ticks). */
  private wait(f: RegisterFrame): ServiceResult {
    const now = this.clock.now();
    if (this.waitUntil === undefined) {
      this.waitUntil = now + ((f.get('cx') << 16) | f.get('dx')) * 1000;
    }
    if (now < this.waitUntil) return 'wait';
    this.waitUntil = undefined;
    f.ok();
    return 'done';
  }

  /**
   * AH=87h: copies CX words between the source and destination descriptors
   * (entries 2 and 3) of the GDT at ES:SI, 24-bit base plus the 386's high byte.
   */
  private blockMove(f: RegisterFrame): void {
    const gdt = linear(f.get('es'), f.get('si'));
    const words = f.get('cx');
    if (words > MAX_MOVE_WORDS || !isRamRange(this.mem, gdt, 0x20)) {
      f.fail(0x01);
      return;
    }
    const base = (entry: number) => (this.mem.read16(gdt + entry + 2) | (this.mem.read8(gdt + entry + 4) << 16) | (this.mem.read8(gdt + entry + 7) << 24)) >>> 0;
    const source = base(0x10);
    const dest = base(0x18);
    const bytes = words * 2;
    if (!isRamRange(this.mem, source, bytes) || !isRamRange(this.mem, dest, bytes)) {
      f.fail(0x01);
      return;
    }
    this.mem.writeBytes(dest, this.mem.readBytes(source, bytes));
    f.ok();
    f.setZero(true);
  }

  /** AX=E820h: entry EBX of the map into ES:DI; EBX = the next index, 0 after the last. */
  private e820Entry(f: RegisterFrame): void {
    const index = f.get32('ebx');
    const addr = linear(f.get('es'), f.get('di'));
    const entry = this.e820[index];
    if (f.get32('edx') !== SMAP || f.get32('ecx') < E820_ENTRY_BYTES || !entry || !isRamRange(this.mem, addr, E820_ENTRY_BYTES)) {
      f.fail(NOT_SUPPORTED);
      return;
    }
    const bytes = new Uint8Array(E820_ENTRY_BYTES);
    const v = new DataView(bytes.buffer);
    v.setBigUint64(0, BigInt(entry.base), true);
    v.setBigUint64(8, BigInt(entry.length), true);
    v.setUint32(16, entry.type, true);
    this.mem.writeBytes(addr, bytes);
    f.set32('eax', SMAP);
    f.set32('ecx', E820_ENTRY_BYTES);
    f.set32('ebx', index + 1 < this.e820.length ? index + 1 : 0);
    f.setCarry(false);
  }

  /** AX=E801h: AX=CX = KiB of RAM from 1 MiB to 16 MiB, BX=DX = 64 KiB blocks from 16 MiB to 4 GiB. */
  private e801(f: RegisterFrame): void {
    const lowKb = this.extendedKb(HIGH_MEMORY_BASE, SIXTEEN_MIB);
    const highBlocks = Math.floor(this.extendedKb(SIXTEEN_MIB, 0x1_0000_0000) / 64);
    f.set('ax', lowKb);
    f.set('cx', lowKb);
    f.set('bx', highBlocks);
    f.set('dx', highBlocks);
    f.setCarry(false);
  }

  /** KiB of usable RAM contiguous from `from`, up to `to`, per the E820 map. */
  private extendedKb(from: number, to: number): number {
    let end = from;
    for (const e of this.e820) {
      if (e.type === 1 && e.base <= end && e.base + e.length > end) end = Math.min(e.base + e.length, to);
    }
    return Math.floor((end - from) / 1024);
  }
}
