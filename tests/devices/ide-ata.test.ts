import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IdeGuest, pattern, ST, useScratchDrives } from './ide-guest.js';
import { firstDifference } from '../block/bytes.js';

const READY = ST.DRDY | ST.DSC;
const ABRT = 0x04;
const IDNF = 0x10;

const drives = useScratchDrives();

/** A guest with a disk of `bytes` (or those bytes) as primary master. */
function diskGuest(bytes: Uint8Array | number, over = {}): { g: IdeGuest; file: string } {
  const file = drives.tmp.file('disk.img', bytes);
  const backend = drives.open(file, over);
  const g = new IdeGuest();
  g.ide.attach(0, 0, { backend, media: 'disk' });
  g.select(0);
  return { g, file };
}

describe('ATA IDENTIFY DEVICE', () => {
  it('reports capacity, geometry, model and serial as ATA-6 lays them out', () => {
    const { g } = diskGuest(10 * 1024 * 1024);
    g.outb(7, 0xec);
    expect(g.irqLevel).toBe(true);
    expect(g.altStatus()).toBe(READY | ST.DRQ);
    const id = g.insw(512);
    expect(g.status()).toBe(READY);
    expect(g.irqLevel).toBe(false); // the status read acknowledged it
    const w = (n: number) => IdeGuest.word(id, n);
    expect(w(0)).toBe(0x0040);
    // 20480 sectors: hd_geometry_guess gives 20480 / (16*63) = 20 cylinders.
    expect([w(1), w(3), w(6)]).toEqual([20, 16, 63]);
    expect([w(54), w(55), w(56)]).toEqual([20, 16, 63]);
    expect(w(60) | (w(61) << 16)).toBe(20480);
    expect(w(100) + w(101) * 0x10000).toBe(20480);
    expect(w(83) & (1 << 10)).not.toBe(0); // 48-bit address feature set
    expect(w(49) & (1 << 9)).not.toBe(0); // LBA
    expect(w(47) & 0xff).toBe(16);
    expect(IdeGuest.ataString(id, 27, 20)).toBe('TSVM HARDDISK');
    expect(IdeGuest.ataString(id, 10, 10)).toBe('QM00001');
  });

  it('caps the LBA28 capacity and reports the full one in words 100-103', () => {
    const sectors = 0x1000_0000 + 0x800; // just past 128 GiB, sparse
    const { g } = diskGuest(sectors * 512);
    g.outb(7, 0xec);
    const id = g.insd(512);
    const w = (n: number) => IdeGuest.word(id, n);
    expect(w(60) | (w(61) << 16)).toBe(0x0fff_ffff);
    expect(w(100) + w(101) * 0x10000 + w(102) * 0x1_0000_0000).toBe(sectors);
    expect(w(1)).toBe(16383);
  });
});

describe('ATA PIO reads and writes', () => {
  it('reads sectors by LBA28 with an interrupt per sector, 16- and 32-bit', () => {
    const image = pattern(64 * 512);
    const { g } = diskGuest(image);
    g.lba28(0x20, 5, 2);
    expect(g.status()).toBe(READY | ST.DRQ);
    expect(firstDifference(g.insw(512), image.subarray(5 * 512, 6 * 512))).toBe(-1);
    expect(g.irqLevel).toBe(true); // second sector's DRQ block
    expect(g.status()).toBe(READY | ST.DRQ);
    expect(firstDifference(g.insd(512), image.subarray(6 * 512, 7 * 512))).toBe(-1);
    expect(g.status()).toBe(READY);
    // The task file holds the last sector transferred.
    expect(g.inb(3)).toBe(6);
  });

  it('writes by LBA28 and the bytes are in the file once FLUSH CACHE completes', () => {
    const { g, file } = diskGuest(pattern(64 * 512));
    const data = pattern(3 * 512, 99);
    g.lba28(0x30, 10, 3);
    expect(g.irqLevel).toBe(false); // the first block is requested without an interrupt
    for (let s = 0; s < 3; s++) {
      expect(g.altStatus()).toBe(READY | ST.DRQ);
      g.outsw(data.subarray(s * 512, (s + 1) * 512));
      expect(g.irqLevel).toBe(true);
      g.status();
    }
    expect(g.altStatus()).toBe(READY);
    g.outb(7, 0xe7); // FLUSH CACHE
    expect(g.status()).toBe(READY);
    expect(firstDifference(new Uint8Array(fs.readFileSync(file)).subarray(10 * 512, 13 * 512), data)).toBe(-1);
    // And the guest reads back what it wrote.
    g.lba28(0x20, 11, 1);
    expect(firstDifference(g.insw(512), data.subarray(512, 1024))).toBe(-1);
  });

  it('moves a DRQ block of the multiple count in READ/WRITE MULTIPLE', () => {
    const { g, file } = diskGuest(pattern(64 * 512));
    g.outb(2, 4);
    g.outb(7, 0xc6); // SET MULTIPLE MODE 4
    expect(g.status()).toBe(READY);
    const data = pattern(6 * 512, 7);
    g.lba28(0xc5, 20, 6);
    g.outsd(data.subarray(0, 4 * 512));
    expect(g.irqLevel).toBe(true);
    expect(g.status()).toBe(READY | ST.DRQ);
    g.outsd(data.subarray(4 * 512)); // the last block is the remainder
    expect(g.status()).toBe(READY);
    g.lba28(0xc4, 20, 6);
    expect(firstDifference(g.insw(4 * 512), data.subarray(0, 4 * 512))).toBe(-1);
    expect(g.status()).toBe(READY | ST.DRQ);
    expect(firstDifference(g.insw(2 * 512), data.subarray(4 * 512))).toBe(-1);
    expect(g.status()).toBe(READY);
    g.outb(7, 0xea); // FLUSH CACHE EXT
    expect(firstDifference(new Uint8Array(fs.readFileSync(file)).subarray(20 * 512, 26 * 512), data)).toBe(-1);
  });

  it('refuses an invalid multiple count and READ MULTIPLE with multiple mode off', () => {
    const { g } = diskGuest(pattern(16 * 512));
    g.outb(2, 3);
    g.outb(7, 0xc6);
    expect(g.status()).toBe(READY | ST.ERR);
    expect(g.error()).toBe(ABRT);
    g.outb(2, 0);
    g.outb(7, 0xc6);
    expect(g.status()).toBe(READY);
    g.lba28(0xc4, 0, 1);
    expect(g.status()).toBe(READY | ST.ERR);
    expect(g.error()).toBe(ABRT);
  });

  it('reads and writes by LBA48 beyond the 28-bit limit', () => {
    const sectors = 0x1000_0000 + 16;
    const { g, file } = diskGuest(sectors * 512);
    const lba = 0x1000_0003;
    const data = pattern(512, 5);
    g.lba48(0x34, lba, 1);
    g.outsw(data);
    expect(g.status()).toBe(READY);
    g.outb(7, 0xea);
    const fd = fs.openSync(file, 'r');
    const onDisk = Buffer.alloc(512);
    fs.readSync(fd, onDisk, 0, 512, lba * 512);
    fs.closeSync(fd);
    expect(firstDifference(new Uint8Array(onDisk), data)).toBe(-1);
    g.lba48(0x24, lba, 1);
    expect(firstDifference(g.insw(512), data)).toBe(-1);
    // The high-order address bytes are readable back through HOB.
    g.control(0x80);
    expect(g.inb(3)).toBe(0x10);
  });

  it('addresses sectors by CHS with the default 16-head, 63-sector translation', () => {
    const image = pattern(2 * 16 * 63 * 512);
    const { g } = diskGuest(image);
    // Cylinder 1, head 2, sector 5 = ((1*16)+2)*63 + 4.
    const lba = (16 + 2) * 63 + 4;
    g.chs(0x20, 1, 2, 5, 1);
    expect(firstDifference(g.insw(512), image.subarray(lba * 512, (lba + 1) * 512))).toBe(-1);
    // INITIALIZE DEVICE PARAMETERS to 4 heads, 17 sectors changes the translation.
    g.outb(2, 17);
    g.outb(6, 0xa0 | 3);
    g.outb(7, 0x91);
    expect(g.status()).toBe(READY);
    g.chs(0x20, 2, 1, 1, 1);
    const lba2 = (2 * 4 + 1) * 17;
    expect(firstDifference(g.insw(512), image.subarray(lba2 * 512, (lba2 + 1) * 512))).toBe(-1);
  });
});

describe('ATA errors', () => {
  it('reports IDNF for a sector past the end, and an impossible CHS address', () => {
    const { g } = diskGuest(pattern(64 * 512));
    g.lba28(0x20, 63, 2);
    expect(g.irqLevel).toBe(true);
    expect(g.status()).toBe(READY | ST.ERR);
    expect(g.error()).toBe(IDNF);
    g.lba48(0x34, 0x1_0000_0000, 1);
    expect(g.status()).toBe(READY | ST.ERR);
    expect(g.error()).toBe(IDNF);
    g.outb(2, 1);
    g.outb(3, 0); // sector numbers start at 1
    g.outb(6, 0xa0);
    g.outb(7, 0x20);
    expect(g.status()).toBe(READY | ST.ERR);
    expect(g.error()).toBe(IDNF);
    // The data port gives nothing and a later good command works.
    expect(g.io.read(0x1f0, 2)).toBe(0);
    g.lba28(0x20, 63, 1);
    expect(g.status()).toBe(READY | ST.DRQ);
  });

  it('aborts a write to a read-only drive and leaves the file alone', () => {
    const image = pattern(16 * 512);
    const { g, file } = diskGuest(image, { readonly: true });
    g.lba28(0x30, 1, 1);
    expect(g.irqLevel).toBe(true);
    expect(g.status()).toBe(READY | ST.ERR);
    expect(g.error()).toBe(ABRT);
    expect(g.io.read(0x1f0, 2)).toBe(0);
    expect(firstDifference(new Uint8Array(fs.readFileSync(file)), image)).toBe(-1);
  });

  it('aborts a guest write that would make a probed raw image look like qcow2', () => {
    const image = pattern(16 * 512);
    const { g, file } = diskGuest(image, { format: undefined });
    const header = new Uint8Array(512);
    header.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
    g.lba28(0x30, 0, 1);
    g.outsw(header);
    expect(g.status()).toBe(READY | ST.ERR);
    expect(g.error()).toBe(ABRT);
    expect(firstDifference(new Uint8Array(fs.readFileSync(file)), image)).toBe(-1);
  });

  it('aborts unknown commands, NOP and DMA commands', () => {
    const { g } = diskGuest(pattern(16 * 512));
    for (const cmd of [0x00, 0xc8, 0xa0, 0xa1, 0x08, 0xff]) {
      g.outb(7, cmd);
      expect(g.status(), `command ${cmd.toString(16)}`).toBe(READY | ST.ERR);
      expect(g.error()).toBe(ABRT);
    }
  });

  it('accepts the power and feature commands a driver sends', () => {
    const { g } = diskGuest(pattern(16 * 512));
    for (const [cmd, feature, count] of [[0xef, 0x03, 0x0c], [0xef, 0x82, 0], [0xef, 0x02, 0], [0xe1, 0, 0], [0xe0, 0, 0], [0x40, 0, 1], [0x10, 0, 0]]) {
      g.outb(1, feature!);
      g.outb(2, count!);
      g.outb(6, 0xe0);
      g.outb(7, cmd!);
      expect(g.status(), `command ${cmd!.toString(16)}`).toBe(READY);
    }
    g.outb(7, 0xe5); // CHECK POWER MODE
    expect(g.status()).toBe(READY);
    expect(g.inb(2)).toBe(0xff);
    g.outb(1, 0x03);
    g.outb(2, 0x42); // UDMA mode 2: no DMA here
    g.outb(7, 0xef);
    expect(g.status()).toBe(READY | ST.ERR);
  });
});

describe('ATA channel behaviour', () => {
  it('masks INTRQ with nIEN and reports it once unmasked while still pending', () => {
    const { g } = diskGuest(pattern(16 * 512));
    g.control(0x02);
    g.outb(7, 0xe7);
    expect(g.irqLevel).toBe(false);
    expect(g.altStatus()).toBe(READY);
    g.control(0x00);
    expect(g.irqLevel).toBe(true);
    g.status();
    expect(g.irqLevel).toBe(false);
  });

  it('software reset gives ATA and ATAPI signatures and selects device 0', () => {
    const disk = drives.open(drives.tmp.file('d.img', 1024 * 512));
    const cd = drives.open(drives.tmp.file('c.iso', 16 * 2048), { media: 'cdrom' });
    const g = new IdeGuest();
    g.ide.attach(0, 0, { backend: disk, media: 'disk' });
    g.ide.attach(0, 1, { backend: cd, media: 'cdrom' });
    g.outb(2, 0x55);
    g.control(0x04);
    expect(g.altStatus() & ST.BSY).toBe(ST.BSY);
    g.control(0x00);
    expect(g.irqLevel).toBe(false);
    expect(g.status()).toBe(READY);
    expect([g.inb(2), g.inb(3), g.inb(4), g.inb(5), g.error()]).toEqual([1, 1, 0, 0, 1]);
    g.select(1, false);
    expect(g.status()).toBe(0); // a PACKET device leaves DRDY clear after reset
    expect([g.inb(2), g.inb(3), g.inb(4), g.inb(5)]).toEqual([1, 1, 0x14, 0xeb]);
    // IDENTIFY DEVICE to the PACKET device aborts and shows the signature again.
    g.outb(4, 0);
    g.outb(7, 0xec);
    expect(g.status()).toBe(READY | ST.ERR);
    expect([g.inb(4), g.inb(5)]).toEqual([0x14, 0xeb]);
    // EXECUTE DEVICE DIAGNOSTIC: both pass, device 0 selected, interrupt.
    g.outb(7, 0x90);
    expect(g.irqLevel).toBe(true);
    expect(g.error()).toBe(0x01);
    expect(g.status()).toBe(READY);
  });

  it('reads zero from an empty channel and an absent slave', () => {
    const { g } = diskGuest(pattern(16 * 512));
    g.select(1);
    expect(g.status()).toBe(0);
    g.outb(7, 0xec); // ignored: nobody is there
    expect(g.irqLevel).toBe(false);
    const g2 = new IdeGuest().useSecondary();
    expect(g2.status()).toBe(0);
    expect(g2.altStatus()).toBe(0);
  });
});

describe('-snapshot through the ATA path', () => {
  it('leaves the base byte-identical while the guest reads back its writes', () => {
    const image = pattern(256 * 512);
    const { g, file } = diskGuest(image, { snapshot: true });
    const data = pattern(8 * 512, 42);
    g.lba28(0x30, 100, 8);
    for (let s = 0; s < 8; s++) g.outsw(data.subarray(s * 512, (s + 1) * 512));
    g.outb(7, 0xe7);
    expect(g.status()).toBe(READY);
    g.lba28(0x20, 99, 10);
    const back = new Uint8Array(10 * 512);
    for (let s = 0; s < 10; s++) back.set(g.insw(512), s * 512);
    expect(firstDifference(back.subarray(0, 512), image.subarray(99 * 512, 100 * 512))).toBe(-1);
    expect(firstDifference(back.subarray(512, 9 * 512), data)).toBe(-1);
    expect(firstDifference(back.subarray(9 * 512), image.subarray(108 * 512, 109 * 512))).toBe(-1);
    drives.closeAll();
    expect(firstDifference(new Uint8Array(fs.readFileSync(file)), image)).toBe(-1);
  });
});
