/**
 * The built-in BIOS services called the way the ROM stub calls them: a
 * register frame on a guest stack, the trap port written, the results read
 * back from the frame and guest memory. Hostile requests (buffers outside
 * RAM, sectors past the end, oversized counts) must get a BIOS error code
 * with CF set.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DriveConfig } from '../../src/config.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { PortBus } from '../../src/io/port-bus.js';
import { Disks } from '../../src/machine/disks.js';
import { pcE820Map } from '../../src/boot/e820.js';
import { A20Gate } from '../../src/io/a20.js';
import { VirtualClock } from '../../src/machine/clock.js';
import { BiosDrives } from '../../src/boot/bios/drives.js';
import { DiskService } from '../../src/boot/bios/int13-disk.js';
import { SystemService } from '../../src/boot/bios/int15-system.js';
import { KeyboardService } from '../../src/boot/bios/int16-keyboard.js';
import { Video } from '../../src/boot/bios/int10-video.js';
import { Vga } from '../../src/devices/vga.js';
import { FRAME_BYTES, RegisterFrame } from '../../src/boot/bios/frame.js';
import { TrapPort, TRAP_PORT_SP, TRAP_PORT_SS, type Service } from '../../src/boot/bios/trap-port.js';

const STACK = 0x7000;
const CF = 0x0001;
const ZF = 0x0040;

let dir: string;
let disks: Disks;
let mem: AddressSpace;
let io: PortBus;

function drive(file: string, iface: 'ide' | 'floppy', index = 0): DriveConfig {
  return { id: `${iface}${index}`, file, format: 'raw', interface: iface, index, media: 'disk', readonly: false, snapshot: false, cache: 'writeback', locking: false };
}

/** Calls `vector` through the trap port with the given registers; returns the frame after the call and the port's status. */
function call(vector: number, regs: Partial<Record<'ax' | 'bx' | 'cx' | 'dx' | 'si' | 'di' | 'es' | 'ds', number>> & { edx?: number; ebx?: number; ecx?: number }) {
  const frame = new RegisterFrame(mem, STACK);
  mem.writeBytes(STACK, new Uint8Array(FRAME_BYTES));
  mem.write8(STACK + 38, vector);
  mem.write16(STACK + 44, 0x0202);
  for (const [r, v] of Object.entries(regs)) {
    if (r.startsWith('e') && r.length === 3) frame.set32(r as 'edx', v);
    else frame.set(r as 'ax', v);
  }
  io.write(TRAP_PORT_SS, 2, 0);
  io.write(TRAP_PORT_SP, 2, STACK);
  const flags = mem.read16(STACK + 44);
  return { frame, status: io.read(TRAP_PORT_SP, 1), cf: (flags & CF) !== 0, zf: (flags & ZF) !== 0, ah: frame.get8('ah') };
}

function attach(services: [number, Service][]): void {
  new TrapPort(io, mem, new Map(services));
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'tsvm-bios-unit-'));
  mem = new AddressSpace(16 << 20);
  io = new PortBus();
});

afterEach(() => {
  disks?.closeAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('INT 13h', () => {
  function withDisk(sectors: number): DiskService {
    const file = path.join(dir, 'hd.img');
    const data = Buffer.alloc(sectors * 512);
    for (let s = 0; s < sectors; s++) data.write(`sector ${s}`, s * 512, 'latin1');
    writeFileSync(file, data);
    disks = Disks.open([drive(file, 'ide')]);
    const disk = new DiskService(mem, new BiosDrives(disks), 0xe000);
    attach([[0x13, (f) => disk.service(f)]]);
    return disk;
  }

  it('reads sectors by CHS into ES:BX and reports the count in AL', () => {
    withDisk(2048);
    // cylinder 0, head 1, sector 1 = LBA 63 with 16 heads x 63 sectors
    const r = call(0x13, { ax: 0x0202, cx: 0x0001, dx: 0x0180, es: 0x1000, bx: 0x0000 });
    expect(r.cf).toBe(false);
    expect(r.frame.get('ax')).toBe(0x0002);
    expect(Buffer.from(mem.readBytes(0x10000, 9)).toString('latin1')).toBe('sector 63');
    expect(Buffer.from(mem.readBytes(0x10200, 9)).toString('latin1')).toBe('sector 64');
  });

  it('refuses a CHS sector outside the geometry with AH=04h', () => {
    withDisk(2048);
    const r = call(0x13, { ax: 0x0201, cx: 0x0040, dx: 0x0080, es: 0x1000, bx: 0 }); // sector 0 does not exist
    expect(r.cf).toBe(true);
    expect(r.ah).toBe(0x04);
    expect(call(0x13, { ax: 0x0100, dx: 0x0080 }).ah).toBe(0x04); // AH=01h returns the last status
  });

  it('EDD read: the packet LBA, the count written back, a 64-bit LBA past the disk refused', () => {
    withDisk(2048);
    const dap = 0x600;
    const packet = Buffer.alloc(16);
    packet.writeUInt8(0x10, 0);
    packet.writeUInt16LE(3, 2);
    packet.writeUInt16LE(0x0000, 4);
    packet.writeUInt16LE(0x2000, 6);
    packet.writeUInt32LE(2000, 8);
    mem.writeBytes(dap, packet);
    const ok = call(0x13, { ax: 0x4200, dx: 0x0080, ds: 0, si: dap });
    expect(ok.cf).toBe(false);
    expect(mem.read16(dap + 2)).toBe(3);
    expect(Buffer.from(mem.readBytes(0x20000 + 1024, 11)).toString('latin1')).toBe('sector 2002');

    packet.writeUInt32LE(2047, 8); // 2047 + 3 > 2048
    mem.writeBytes(dap, packet);
    const past = call(0x13, { ax: 0x4200, dx: 0x0080, ds: 0, si: dap });
    expect([past.cf, past.ah, mem.read16(dap + 2)]).toEqual([true, 0x04, 0]);

    packet.writeUInt32LE(0, 8);
    packet.writeUInt32LE(1, 12); // LBA 2^32
    mem.writeBytes(dap, packet);
    expect(call(0x13, { ax: 0x4200, dx: 0x0080, ds: 0, si: dap }).ah).toBe(0x04);
  });

  it('refuses buffers outside RAM (the VGA window, past the top of memory) and oversized EDD counts', () => {
    withDisk(2048);
    mem.addMmio('vga-window', 0xa0000, 0x20000, { read: () => 0, write: () => {} });
    const vga = call(0x13, { ax: 0x0201, cx: 0x0001, dx: 0x0080, es: 0xa000, bx: 0 });
    expect([vga.cf, vga.ah]).toEqual([true, 0x01]);
    const dap = 0x600;
    const packet = Buffer.alloc(0x18);
    packet.writeUInt8(0x18, 0);
    packet.writeUInt16LE(1, 2);
    packet.writeUInt32LE(0xffffffff, 4); // FFFF:FFFF: use the flat address
    packet.writeUInt32LE(0xfff0_0000, 16);
    mem.writeBytes(dap, packet);
    expect(call(0x13, { ax: 0x4200, dx: 0x0080, ds: 0, si: dap }).ah).toBe(0x01);
    packet.writeUInt16LE(200, 2);
    mem.writeBytes(dap, packet);
    expect(call(0x13, { ax: 0x4200, dx: 0x0080, ds: 0, si: dap }).ah).toBe(0x01);
  });

  it('answers for a drive that does not exist with AH=01h, CF set', () => {
    withDisk(64);
    const r = call(0x13, { ax: 0x0201, cx: 0x0001, dx: 0x0081, es: 0x1000, bx: 0 });
    expect([r.cf, r.ah]).toEqual([true, 0x01]);
  });

  it('AH=08h gives a 1.44 MiB floppy 80 cylinders, 2 heads, 18 sectors, type 4', () => {
    const file = path.join(dir, 'fd.img');
    writeFileSync(file, Buffer.alloc(1_474_560));
    disks = Disks.open([drive(file, 'floppy')]);
    const disk = new DiskService(mem, new BiosDrives(disks), 0xefc7);
    attach([[0x13, (f) => disk.service(f)]]);
    const r = call(0x13, { ax: 0x0800, dx: 0x0000 });
    expect(r.cf).toBe(false);
    expect(r.frame.get('cx')).toBe(0x4f12); // last cylinder 79, 18 sectors
    expect(r.frame.get('dx')).toBe(0x0101); // last head 1, one drive
    expect(r.frame.get8('bl')).toBe(4);
    expect([r.frame.get('es'), r.frame.get('di')]).toEqual([0xf000, 0xefc7]);
  });
});

describe('INT 15h', () => {
  function system(): SystemService {
    const s = new SystemService(mem, new A20Gate(), new VirtualClock(), 0xe6f5);
    s.setMemoryMap(pcE820Map(mem));
    attach([[0x15, (f) => s.service(f)]]);
    return s;
  }

  it('E820 walks the same map the Linux loader uses, EBX=0 after the last entry', () => {
    system();
    const expected = pcE820Map(mem);
    const seen: { base: number; length: number; type: number }[] = [];
    let ebx = 0;
    do {
      const r = call(0x15, { ax: 0xe820, edx: 0x534d4150, ecx: 24, ebx, es: 0, di: 0x500 });
      expect(r.cf).toBe(false);
      expect(r.frame.get32('eax')).toBe(0x534d4150);
      expect(r.frame.get32('ecx')).toBe(20);
      const v = Buffer.from(mem.readBytes(0x500, 20));
      seen.push({ base: Number(v.readBigUInt64LE(0)), length: Number(v.readBigUInt64LE(8)), type: v.readUInt32LE(16) });
      ebx = r.frame.get32('ebx');
    } while (ebx !== 0 && seen.length < 50);
    expect(seen).toEqual(expected);
  });

  it('E820 without the SMAP signature, and unknown functions, answer AH=86h with CF set', () => {
    system();
    expect(call(0x15, { ax: 0xe820, edx: 0, ecx: 20, es: 0, di: 0x500 })).toMatchObject({ cf: true, ah: 0x86 });
    expect(call(0x15, { ax: 0x5300 })).toMatchObject({ cf: true, ah: 0x86 });
  });

  it('E801 and 88h report the RAM above 1 MiB', () => {
    system();
    const e801 = call(0x15, { ax: 0xe801 });
    expect(e801.frame.get('ax')).toBe(15 * 1024); // 1-16 MiB, all RAM in a 16 MiB machine
    expect(e801.frame.get('bx')).toBe(0);
    expect(call(0x15, { ax: 0x8800 }).frame.get('ax')).toBe(15 * 1024);
  });

  it('87h copies between the GDT descriptors and refuses a source outside RAM', () => {
    system();
    const gdt = 0x800;
    const descriptor = (base: number) => Buffer.from([0xff, 0xff, base & 0xff, (base >> 8) & 0xff, (base >> 16) & 0xff, 0x93, 0, base >>> 24]);
    mem.writeBytes(gdt + 0x10, descriptor(0x200000));
    mem.writeBytes(gdt + 0x18, descriptor(0x3000));
    mem.writeBytes(0x200000, Buffer.from('moved from 2 MiB', 'latin1'));
    const r = call(0x15, { ax: 0x8700, cx: 8, es: 0, si: gdt });
    expect(r.cf).toBe(false);
    expect(Buffer.from(mem.readBytes(0x3000, 16)).toString('latin1')).toBe('moved from 2 MiB');
    mem.writeBytes(gdt + 0x10, descriptor(0xfff00000));
    expect(call(0x15, { ax: 0x8700, cx: 8, es: 0, si: gdt })).toMatchObject({ cf: true, ah: 0x01 });
  });
});

describe('INT 16h', () => {
  it('waits (status 1) with no key, then returns a key typed on the serial console', () => {
    const received: number[] = [];
    let lcr = 0;
    io.register('fake-com1', 0x3f8, 8, {
      read: (port) => (port === 0x3fd ? (received.length > 0 ? 0x61 : 0x60) : port === 0x3fb ? lcr : port === 0x3f8 ? received.shift() ?? 0 : 0),
      write: (port, _s, v) => {
        if (port === 0x3fb) lcr = v;
      },
    });
    const keyboard = new KeyboardService(mem, io, true);
    keyboard.initialize();
    attach([[0x16, (f) => keyboard.service(f)]]);
    expect(call(0x16, { ax: 0x0100 }).zf).toBe(true);
    expect(call(0x16, { ax: 0x0000 }).status).toBe(1);
    received.push(0x61, 0x0d, 0x1b, 0x5b, 0x41);
    const a = call(0x16, { ax: 0x0000 });
    expect([a.status, a.frame.get('ax')]).toEqual([0, 0x1e61]);
    expect(call(0x16, { ax: 0x0000 }).frame.get('ax')).toBe(0x1c0d);
    expect(call(0x16, { ax: 0x1000 }).frame.get('ax')).toBe(0x4800); // ESC [ A = Up
    expect(call(0x16, { ax: 0x0100 }).zf).toBe(true);
  });
});

describe('INT 10h', () => {
  function video(serial: number[]): Vga {
    const vga = new Vga(io, mem);
    io.register('fake-com1-thr', 0x3f8, 1, { read: () => 0, write: (_p, _s, v) => serial.push(v) });
    const v = new Video(mem, io, true);
    v.initialize();
    attach([[0x10, (f) => v.service(f)]]);
    return vga;
  }

  const row = (vga: Vga, r: number) => String.fromCharCode(...Array.from(vga.textScreen().cells.slice(r * 80, r * 80 + 80), (c) => c & 0xff)).trimEnd();

  it('teletype writes to the text buffer, moves the VGA cursor and mirrors to COM1 under -nographic', () => {
    const serial: number[] = [];
    const vga = video(serial);
    for (const ch of 'hi\r\nyo') call(0x10, { ax: 0x0e00 | ch.charCodeAt(0), bx: 0x0007 });
    expect([row(vga, 0), row(vga, 1)]).toEqual(['hi', 'yo']);
    const screen = vga.textScreen();
    expect([screen.cursorRow, screen.cursorCol]).toEqual([1, 2]);
    expect(String.fromCharCode(...serial)).toBe('hi\r\nyo');
    const pos = call(0x10, { ax: 0x0300, bx: 0 });
    expect(pos.frame.get('dx')).toBe(0x0102);
  });

  it('scrolls when the teletype passes the last row, and AH=06h clears a window', () => {
    const vga = video([]);
    call(0x10, { ax: 0x0200, bx: 0, dx: 0x1800 }); // row 24, column 0
    for (const ch of 'last\r\n') call(0x10, { ax: 0x0e00 | ch.charCodeAt(0), bx: 0 });
    expect(row(vga, 23)).toBe('last');
    expect(row(vga, 24)).toBe('');
    call(0x10, { ax: 0x0600, bx: 0x0700, cx: 0x0000, dx: 0x184f });
    expect(row(vga, 23)).toBe('');
  });
});

describe('the trap port', () => {
  it('answers an unserviced vector with AH=86h, CF set', () => {
    attach([]);
    expect(call(0x17, { ax: 0x0100 })).toMatchObject({ cf: true, ah: 0x86, status: 0 });
  });
});
