/**
 * A guest's view of the IDE controller for tests: port I/O through the bus,
 * the IRQ lines recorded through an IrqRouter, and the little routines a
 * PIO driver is made of (program the task file, issue, poll, move data).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { DriveConfig } from '../../src/config.js';
import { openBlockBackend } from '../../src/block/open.js';
import type { BlockBackend } from '../../src/block/block-backend.js';
import { IdeController } from '../../src/devices/ide.js';
import { IrqRouter } from '../../src/io/irq.js';
import { PortBus } from '../../src/io/port-bus.js';

export const ST = { ERR: 0x01, DRQ: 0x08, DSC: 0x10, DRDY: 0x40, BSY: 0x80 } as const;

export class IdeGuest {
  readonly io = new PortBus();
  readonly irqLevels = new Map<number, boolean>();
  /** Every level the sink saw on IRQ 14/15, in order. */
  readonly irqHistory: [number, boolean][] = [];
  readonly router = new IrqRouter({
    setIrq: (irq, level) => {
      this.irqLevels.set(irq, level);
      this.irqHistory.push([irq, level]);
    },
  });
  readonly ide = new IdeController(this.io, this.router.line(14), this.router.line(15));
  base = 0x1f0;
  ctrl = 0x3f6;
  irq = 14;

  useSecondary(): this {
    this.base = 0x170;
    this.ctrl = 0x376;
    this.irq = 15;
    return this;
  }

  outb(reg: number, v: number): void {
    this.io.write(this.base + reg, 1, v);
  }
  inb(reg: number): number {
    return this.io.read(this.base + reg, 1);
  }
  status(): number {
    return this.inb(7);
  }
  altStatus(): number {
    return this.io.read(this.ctrl, 1);
  }
  error(): number {
    return this.inb(1);
  }
  control(v: number): void {
    this.io.write(this.ctrl, 1, v);
  }
  get irqLevel(): boolean {
    return this.irqLevels.get(this.irq) ?? false;
  }

  select(unit: number, lbaMode = true): void {
    this.outb(6, 0xa0 | (lbaMode ? 0x40 : 0) | (unit << 4));
  }

  /** LBA28: registers 2-6 then the command. */
  lba28(command: number, lba: number, count: number, unit = 0): void {
    this.outb(2, count & 0xff);
    this.outb(3, lba & 0xff);
    this.outb(4, (lba >>> 8) & 0xff);
    this.outb(5, (lba >>> 16) & 0xff);
    this.outb(6, 0xe0 | (unit << 4) | ((lba >>> 24) & 0x0f));
    this.outb(7, command);
  }

  /** CHS: sector count, sector number, cylinder low/high and head (device register with LBA off), then the command. */
  chs(command: number, cylinder: number, head: number, sector: number, count: number, unit = 0): void {
    this.outb(2, count & 0xff);
    this.outb(3, sector);
    this.outb(4, cylinder & 0xff);
    this.outb(5, cylinder >>> 8);
    this.outb(6, 0xa0 | (unit << 4) | head);
    this.outb(7, command);
  }

  /** LBA48: each register written twice, high-order byte first. */
  lba48(command: number, lba: number, count: number, unit = 0): void {
    const hi = Math.floor(lba / 0x100_0000);
    this.outb(6, 0x40 | (unit << 4));
    this.outb(2, (count >>> 8) & 0xff);
    this.outb(3, hi & 0xff);
    this.outb(4, (hi >>> 8) & 0xff);
    this.outb(5, (hi >>> 16) & 0xff);
    this.outb(2, count & 0xff);
    this.outb(3, lba & 0xff);
    this.outb(4, (lba >>> 8) & 0xff);
    this.outb(5, (lba >>> 16) & 0xff);
    this.outb(7, command);
  }

  /** `rep insw`: reads `bytes` bytes through the 16-bit data port. */
  insw(bytes: number): Uint8Array {
    const out = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i += 2) {
      const w = this.io.read(this.base, 2);
      out[i] = w & 0xff;
      out[i + 1] = w >> 8;
    }
    return out;
  }

  /** `rep insd`: the same through 32-bit accesses. */
  insd(bytes: number): Uint8Array {
    const out = new Uint8Array(bytes);
    const view = new DataView(out.buffer);
    for (let i = 0; i < bytes; i += 4) view.setUint32(i, this.io.read(this.base, 4), true);
    return out;
  }

  outsw(data: Uint8Array): void {
    for (let i = 0; i < data.length; i += 2) this.io.write(this.base, 2, data[i]! | (data[i + 1]! << 8));
  }

  outsd(data: Uint8Array): void {
    const view = new DataView(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < data.length; i += 4) this.io.write(this.base, 4, view.getUint32(i, true));
  }

  /** A 16-bit word of a 512-byte IDENTIFY block. */
  static word(data: Uint8Array, n: number): number {
    return data[2 * n]! | (data[2 * n + 1]! << 8);
  }

  /** An ATA string from IDENTIFY data (first character in each word's high byte). */
  static ataString(data: Uint8Array, word: number, words: number): string {
    let s = '';
    for (let i = word; i < word + words; i++) s += String.fromCharCode(data[2 * i + 1]!, data[2 * i]!);
    return s.trimEnd();
  }
}

export class TempDir {
  readonly path = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvm-ide-'));
  file(name: string, bytes: Uint8Array | number): string {
    const f = path.join(this.path, name);
    if (typeof bytes === 'number') {
      fs.writeFileSync(f, '');
      fs.truncateSync(f, bytes);
    } else {
      fs.writeFileSync(f, bytes);
    }
    return f;
  }
  remove(): void {
    fs.rmSync(this.path, { recursive: true, force: true });
  }
}

/**
 * A scratch directory and the drives opened from it, fresh for each test:
 * call once at the top of a test file; the hooks it registers close the
 * drives and remove the directory after every test.
 */
export function useScratchDrives() {
  let dir: TempDir | undefined;
  const opened: BlockBackend[] = [];
  const closeAll = () => {
    for (const b of opened.splice(0)) b.close();
  };
  beforeEach(() => {
    dir = new TempDir();
  });
  afterEach(() => {
    closeAll();
    dir!.remove();
  });
  return {
    /** This test's scratch directory. */
    get tmp(): TempDir {
      return dir!;
    },
    /** openDrive, closed after the test. */
    open(file: string, over: Partial<DriveConfig> = {}): BlockBackend {
      const backend = openDrive(file, over);
      opened.push(backend);
      return backend;
    },
    /** Closes the drives now, so a test can read what reached the file. */
    closeAll,
  };
}

/** Opens an image as -drive would (format=raw unless `over` says otherwise; probing warnings are dropped). */
export function openDrive(file: string, over: Partial<DriveConfig> = {}): BlockBackend {
  return openBlockBackend(
    { id: 'd', file, interface: 'ide', index: 0, media: 'disk', readonly: false, snapshot: false, cache: 'writeback', locking: true, format: 'raw', ...over },
    { warn: () => {} },
  );
}

/** Bytes that differ from sector to sector, so a misplaced sector shows. */
export function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i >> 9) * 31 + i * 7 + seed) & 0xff;
  return out;
}
