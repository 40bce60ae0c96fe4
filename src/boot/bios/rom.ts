/**
 * The built-in BIOS's ROM: 64 KiB at segment F000, holding only the
 * real-mode stubs that lead every BIOS interrupt to the TypeScript services
 * (src/boot/bios/services.ts) and back, the power-on code that programs the
 * chips only guest instructions can reach (the PIC and PIT live in the
 * kernel under KVM), and the fixed tables a BIOS points callers at.
 *
 * The trap protocol (tsvm-private ports, see trap-port.ts):
 *   trap:  push ds / push es / pushad
 *   again: out TRAP_SS, ss ; out TRAP_SP, sp   -- the service runs here
 *          in al, TRAP_SP                      -- 0: done, 1: wait for an interrupt
 *          if waiting: sti / hlt / cli / jmp again
 *          popad / pop es / pop ds / ret
 * Each serviced vector N is `push N / call trap / add sp,2 / iret`, so the
 * service finds its register frame at SS:SP (layout in frame.ts).
 */
import { TRAP_PORT_SP, TRAP_PORT_SS } from './trap-port.js';

export const ROM_SEGMENT = 0xf000;
export const ROM_BASE = 0xf0000;
export const ROM_SIZE = 0x10000;
/** The first 4 KiB stay free for the ACPI RSDP (src/boot/acpi.ts puts it at 0xF0000). */
const CODE_START = 0x1000;
/** Where the CPU's first instruction is (F000:FFF0) and the BIOS date and model byte after it. */
const RESET_VECTOR = 0xfff0;
const BIOS_DATE = 0xfff5;
const MODEL_BYTE = 0xfffe;
/** IBM's model byte for an AT (Ralf Brown's INT 15h/C0h table, byte 2). */
const MODEL_AT = 0xfc;

/** Vectors whose service is implemented in TypeScript. */
export const SERVICED_VECTORS = [0x10, 0x11, 0x12, 0x13, 0x15, 0x16, 0x18, 0x19, 0x1a] as const;
/** Hardware IRQ vectors with a TypeScript part: timer tick (IRQ 0), keyboard (IRQ 1). */
export const IRQ_TIMER_VECTOR = 0x08;
export const IRQ_KEYBOARD_VECTOR = 0x09;
/** PIC bases programmed at power-on, as every PC BIOS does. */
export const MASTER_PIC_BASE = 0x08;
export const SLAVE_PIC_BASE = 0x70;

export interface BiosRom {
  image: Uint8Array;
  /** Offset (in segment F000) of each interrupt vector's handler, 256 entries. */
  vectors: number[];
  /** INT 1Eh: the diskette parameter table (11 bytes). */
  disketteParams: number;
  /** INT 15h/C0h: the system configuration table. */
  configTable: number;
}

/** A tiny 16-bit code emitter: raw bytes, labels and relative jump fixups (also used by linuxboot-rom.ts). */
export class Emitter {
  readonly image: Uint8Array;
  pos: number;
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string; size: 1 | 2 }[] = [];

  constructor(size = ROM_SIZE, start = CODE_START) {
    this.image = new Uint8Array(size);
    this.pos = start;
  }

  emit(...bytes: number[]): void {
    for (const b of bytes) this.image[this.pos++] = b & 0xff;
  }

  word(value: number): void {
    this.emit(value & 0xff, value >> 8);
  }

  label(name: string): number {
    this.labels.set(name, this.pos);
    return this.pos;
  }

  /** An 8- or 16-bit displacement to `label`, relative to the end of the displacement. */
  rel(label: string, size: 1 | 2): void {
    this.fixups.push({ at: this.pos, label, size });
    this.pos += size;
  }

  /** OUT imm8, AL with AL = value. */
  outByte(port: number, value: number): void {
    this.emit(0xb0, value, 0xe6, port);
  }

  resolve(): void {
    for (const { at, label, size } of this.fixups) {
      const target = this.labels.get(label);
      if (target === undefined) throw new Error(`ROM: undefined label ${label}`);
      const disp = target - (at + size);
      if (size === 1 && (disp < -128 || disp > 127)) throw new Error(`ROM: ${label} out of short jump range`);
      this.image[at] = disp & 0xff;
      if (size === 2) this.image[at + 1] = (disp >> 8) & 0xff;
    }
  }
}

export function buildBiosRom(): BiosRom {
  const e = new Emitter();
  emitTrap(e);
  const vectors = new Array<number>(256).fill(emitIret(e));
  const masterEoi = emitEoiOnly(e, false);
  const slaveEoi = emitEoiOnly(e, true);
  for (let irq = 0; irq < 8; irq++) {
    vectors[MASTER_PIC_BASE + irq] = masterEoi;
    vectors[SLAVE_PIC_BASE + irq] = slaveEoi;
  }
  for (const v of SERVICED_VECTORS) vectors[v] = emitService(e, v);
  vectors[IRQ_TIMER_VECTOR] = emitIrqService(e, IRQ_TIMER_VECTOR, true);
  vectors[IRQ_KEYBOARD_VECTOR] = emitIrqService(e, IRQ_KEYBOARD_VECTOR, false);
  const post = emitPost(e);
  const disketteParams = emitDisketteParams(e);
  const configTable = emitConfigTable(e);
  e.resolve();
  emitResetVector(e, post);
  return { image: e.image, vectors, disketteParams, configTable };
}

function emitTrap(e: Emitter): void {
  e.label('trap');
  e.emit(0x1e, 0x06, 0x66, 0x60); // push ds; push es; pushad
  e.label('again');
  e.emit(0xba), e.word(TRAP_PORT_SS); // mov dx, TRAP_PORT_SS
  e.emit(0x8c, 0xd0, 0xef); // mov ax, ss; out dx, ax
  e.emit(0xba), e.word(TRAP_PORT_SP); // mov dx, TRAP_PORT_SP
  e.emit(0x89, 0xe0, 0xef); // mov ax, sp; out dx, ax   (the service runs)
  e.emit(0xec, 0x84, 0xc0); // in al, dx; test al, al
  e.emit(0x74), e.rel('done', 1); // jz done
  e.emit(0xfb, 0xf4, 0xfa); // sti; hlt; cli
  e.emit(0xeb), e.rel('again', 1); // jmp again
  e.label('done');
  e.emit(0x66, 0x61, 0x07, 0x1f, 0xc3); // popad; pop es; pop ds; ret
}

function emitIret(e: Emitter): number {
  const at = e.pos;
  e.emit(0xcf);
  return at;
}

/** An unused IRQ: acknowledge it at the PIC(s) so it cannot block lower priorities. */
function emitEoiOnly(e: Emitter, slave: boolean): number {
  const at = e.pos;
  e.emit(0x50, 0xb0, 0x20); // push ax; mov al, 20h
  if (slave) e.emit(0xe6, 0xa0); // out a0h, al
  e.emit(0xe6, 0x20, 0x58, 0xcf); // out 20h, al; pop ax; iret
  return at;
}

function emitService(e: Emitter, vector: number): number {
  const at = e.pos;
  e.emit(0x6a, vector); // push vector
  e.emit(0xe8), e.rel('trap', 2); // call trap
  e.emit(0x83, 0xc4, 0x02, 0xcf); // add sp, 2; iret
  return at;
}

/** IRQ 0/1: the service, INT 1Ch (the user timer hook) for the tick, then EOI. */
function emitIrqService(e: Emitter, vector: number, userTick: boolean): number {
  const at = e.pos;
  e.emit(0x6a, vector);
  e.emit(0xe8), e.rel('trap', 2);
  e.emit(0x83, 0xc4, 0x02); // add sp, 2
  if (userTick) e.emit(0xcd, 0x1c); // int 1Ch
  e.emit(0x50, 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf); // push ax; EOI; pop ax; iret
  return at;
}

/**
 * Power-on: a stack below the boot sector, the PICs at vectors 08h/70h with
 * only the timer, keyboard and cascade unmasked, PIT channel 0 at 18.2 Hz
 * (mode 3, count 65536), the i8042 translating to scan code set 1 with the
 * keyboard interrupt on, then INT 19h. Memory (IVT, BDA, ...) was set up by
 * post.ts before the CPU started.
 */
function emitPost(e: Emitter): number {
  const at = e.pos;
  e.emit(0xfa, 0xfc); // cli; cld
  e.emit(0x31, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x7c, 0x8e, 0xd8, 0x8e, 0xc0); // xor ax,ax; ss=0; sp=7c00h; ds=es=0
  e.outByte(0x20, 0x11), e.outByte(0xa0, 0x11); // ICW1: edge, cascade, ICW4
  e.outByte(0x21, MASTER_PIC_BASE), e.outByte(0xa1, SLAVE_PIC_BASE); // ICW2
  e.outByte(0x21, 0x04), e.outByte(0xa1, 0x02); // ICW3: slave on IRQ 2
  e.outByte(0x21, 0x01), e.outByte(0xa1, 0x01); // ICW4: 8086 mode
  e.outByte(0x21, 0xf8), e.outByte(0xa1, 0xff); // OCW1: IRQ 0, 1, 2 unmasked
  e.outByte(0x43, 0x36), e.outByte(0x40, 0x00), e.outByte(0x40, 0x00); // PIT ch0 mode 3, count 0
  e.outByte(0x64, 0x60), e.outByte(0x60, 0x61); // i8042 command byte: translate, aux off, kbd IRQ
  e.emit(0xfb, 0xcd, 0x19); // sti; int 19h
  e.label('halt');
  e.emit(0xf4, 0xeb), e.rel('halt', 1); // hlt; jmp halt
  return at;
}

/** The 1.44 MiB diskette parameter table (Ralf Brown's INT 1Eh). */
function emitDisketteParams(e: Emitter): number {
  const at = e.pos;
  e.emit(0xaf, 0x02, 0x25, 0x02, 0x12, 0x1b, 0xff, 0x6c, 0xf6, 0x0f, 0x08);
  return at;
}

/** INT 15h/C0h: length 8, model FCh, submodel 01h, revision 0, feature byte 1 = 2nd PIC, RTC, EBDA (64h). */
function emitConfigTable(e: Emitter): number {
  const at = e.pos;
  e.word(8);
  e.emit(MODEL_AT, 0x01, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00);
  return at;
}

function emitResetVector(e: Emitter, post: number): void {
  e.pos = RESET_VECTOR;
  e.emit(0xea), e.word(post), e.word(ROM_SEGMENT); // jmp far F000:post
  e.pos = BIOS_DATE;
  for (const c of '11/28/26') e.emit(c.charCodeAt(0));
  e.pos = MODEL_BYTE;
  e.emit(MODEL_AT);
}
