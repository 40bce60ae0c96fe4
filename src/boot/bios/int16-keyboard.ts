/**
 * The keyboard: IRQ 1's handler (INT 09h) turns the i8042's translated
 * scan code set 1 bytes into BIOS key words (scan code << 8 | ASCII, US
 * layout) in the BDA's 16-entry ring buffer, and INT 16h (Ralf Brown's
 * Interrupt List) hands them out. Under -nographic the serial console is a
 * keyboard too, as with SeaBIOS's sercon: bytes received on COM1 become key
 * words, so a user can answer a bootloader's prompt.
 */
import type { AddressSpace } from '../../memory/address-space.js';
import type { PortBus } from '../../io/port-bus.js';
import { BDA } from './bda.js';
import type { RegisterFrame } from './frame.js';
import type { ServiceResult } from './trap-port.js';

const KBC_DATA = 0x60;
const KBC_STATUS = 0x64;
const KBC_OUTPUT_FULL = 0x01;
const KBC_AUX_DATA = 0x20;
const COM1_RBR = 0x3f8;
const COM1_LCR = 0x3fb;
const COM1_LSR = 0x3fd;
const LSR_DATA_READY = 0x01;
const LCR_DLAB = 0x80;

/** Shift-state bits at 0040:0017h. */
const RIGHT_SHIFT = 0x01;
const LEFT_SHIFT = 0x02;
const CTRL = 0x04;
const ALT = 0x08;
const MODIFIERS: Record<number, number> = { 0x2a: LEFT_SHIFT, 0x36: RIGHT_SHIFT, 0x1d: CTRL, 0x38: ALT };

/** US layout, scan codes 01h-39h: unshifted and shifted characters ('' = no ASCII). */
const PLAIN = '\x1b1234567890-=\b\tqwertyuiop[]\r\0asdfghjkl;\'`\0\\zxcvbnm,./\0*\0 ';
const SHIFTED = '\x1b!@#$%^&*()_+\b\tQWERTYUIOP{}\r\0ASDFGHJKL:"~\0|ZXCVBNM<>?\0*\0 ';
/** ANSI cursor keys (ESC [ A..D) from a serial terminal, as BIOS key words. */
const ANSI_ARROWS: Record<string, number> = { A: 0x4800, B: 0x5000, C: 0x4d00, D: 0x4b00 };

export class KeyboardService {
  private extended = false;

  constructor(
    private readonly mem: AddressSpace,
    private readonly io: PortBus,
    private readonly serialConsole: boolean,
  ) {}

  /** POST: an empty ring buffer. */
  initialize(): void {
    this.mem.write16(BDA.kbdHead, BDA.kbdBufferStart - 0x400);
    this.mem.write16(BDA.kbdTail, BDA.kbdBufferStart - 0x400);
    this.mem.write16(BDA.kbdBufferStartPtr, BDA.kbdBufferStart - 0x400);
    this.mem.write16(BDA.kbdBufferEndPtr, BDA.kbdBufferEnd - 0x400);
    this.mem.write8(BDA.shiftFlags, 0);
  }

  /** INT 09h (IRQ 1): one byte from the controller. */
  irq(): ServiceResult {
    const status = this.io.read(KBC_STATUS, 1);
    if (status & KBC_OUTPUT_FULL && !(status & KBC_AUX_DATA)) this.scanCode(this.io.read(KBC_DATA, 1));
    return 'done';
  }

  service(f: RegisterFrame): ServiceResult {
    switch (f.get8('ah')) {
      case 0x00:
      case 0x10: {
        this.pollSerial();
        const key = this.pop();
        if (key === undefined) return 'wait';
        f.set('ax', key);
        return 'done';
      }
      case 0x01:
      case 0x11: {
        this.pollSerial();
        const key = this.peek();
        f.setZero(key === undefined);
        if (key !== undefined) f.set('ax', key);
        return 'done';
      }
      case 0x02:
      case 0x12:
        f.set8('al', this.mem.read8(BDA.shiftFlags));
        if (f.get8('ah') === 0x12) f.set8('ah', 0);
        return 'done';
      case 0x05:
        f.set8('al', this.push(f.get('cx')) ? 0 : 1);
        return 'done';
      default:
        return 'done';
    }
  }

  private scanCode(code: number): void {
    if (code === 0xe0) {
      this.extended = true;
      return;
    }
    const extended = this.extended;
    this.extended = false;
    const make = code & 0x7f;
    const released = (code & 0x80) !== 0;
    const modifier = MODIFIERS[make];
    if (modifier !== undefined && !(extended && make === 0x2a)) {
      const flags = this.mem.read8(BDA.shiftFlags);
      this.mem.write8(BDA.shiftFlags, released ? flags & ~modifier : flags | modifier);
      return;
    }
    if (!released) this.push(this.keyWord(make, extended));
  }

  private keyWord(make: number, extended: boolean): number {
    const flags = this.mem.read8(BDA.shiftFlags);
    if (extended || make > PLAIN.length) return make << 8;
    const shifted = (flags & (LEFT_SHIFT | RIGHT_SHIFT)) !== 0;
    let ascii = (shifted ? SHIFTED : PLAIN).charCodeAt(make - 1);
    if (flags & CTRL && ascii >= 0x61 && ascii <= 0x7a) ascii -= 0x60;
    if (flags & ALT) ascii = 0;
    return (make << 8) | ascii;
  }

  /** Moves every byte waiting on COM1 into the ring buffer as key words. */
  private pollSerial(): void {
    if (!this.serialConsole || this.io.read(COM1_LCR, 1) & LCR_DLAB) return;
    const bytes: number[] = [];
    while (bytes.length < 64 && this.io.read(COM1_LSR, 1) & LSR_DATA_READY) bytes.push(this.io.read(COM1_RBR, 1));
    for (let i = 0; i < bytes.length; i++) {
      const arrow = bytes[i] === 0x1b && bytes[i + 1] === 0x5b ? ANSI_ARROWS[String.fromCharCode(bytes[i + 2] ?? 0)] : undefined;
      if (arrow !== undefined) {
        this.push(arrow);
        i += 2;
      } else {
        this.push(asciiKeyWord(bytes[i]!));
      }
    }
  }

  private peek(): number | undefined {
    const head = this.mem.read16(BDA.kbdHead);
    if (head === this.mem.read16(BDA.kbdTail)) return undefined;
    return this.mem.read16(0x400 + head);
  }

  private pop(): number | undefined {
    const key = this.peek();
    if (key !== undefined) this.mem.write16(BDA.kbdHead, this.advance(this.mem.read16(BDA.kbdHead)));
    return key;
  }

  /** False when the buffer is full (the key is dropped, as the BIOS beeps). */
  private push(key: number): boolean {
    const tail = this.mem.read16(BDA.kbdTail);
    const next = this.advance(tail);
    if (next === this.mem.read16(BDA.kbdHead)) return false;
    this.mem.write16(0x400 + tail, key);
    this.mem.write16(BDA.kbdTail, next);
    return true;
  }

  /** The next slot in the ring, given as offsets from 0040:0000 (the buffer bounds are the BDA's own). */
  private advance(slot: number): number {
    const next = slot + 2;
    const start = this.mem.read16(BDA.kbdBufferStartPtr);
    const end = this.mem.read16(BDA.kbdBufferEndPtr);
    return next >= end || next < start ? start : next;
  }
}

/** A byte typed on a serial terminal as the key word the PC keyboard would give for it. */
function asciiKeyWord(byte: number): number {
  if (byte === 0x0a || byte === 0x0d) return 0x1c0d;
  if (byte === 0x7f || byte === 0x08) return 0x0e08;
  const plain = PLAIN.indexOf(String.fromCharCode(byte));
  if (plain >= 0 && byte !== 0) return ((plain + 1) << 8) | byte;
  const shifted = SHIFTED.indexOf(String.fromCharCode(byte));
  if (shifted >= 0 && byte !== 0) return ((shifted + 1) << 8) | byte;
  if (byte >= 0x01 && byte <= 0x1a) return (PLAIN.indexOf(String.fromCharCode(byte + 0x60)) + 1) << 8 | byte; // Ctrl+letter
  return byte;
}
