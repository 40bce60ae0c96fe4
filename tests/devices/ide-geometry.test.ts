import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IdeGuest, pattern, useScratchDrives } from './ide-guest.js';

const drives = useScratchDrives();

/** A sparse disk of `sectors` whose MBR has one partition ending at the given head and sector. */
function disk(sectors: number, mbrEnd?: { head: number; sector: number }): string {
  const file = drives.tmp.file('g.img', sectors * 512);
  if (mbrEnd) {
    const mbr = new Uint8Array(512);
    const entry = 0x1be;
    mbr[entry + 4] = 0x83;
    mbr[entry + 5] = mbrEnd.head;
    mbr[entry + 6] = mbrEnd.sector;
    new DataView(mbr.buffer).setUint32(entry + 8, 1, true);
    new DataView(mbr.buffer).setUint32(entry + 12, sectors - 1, true);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, mbr, 0, 512, 0);
    fs.closeSync(fd);
  }
  return file;
}

function attach(file: string): IdeGuest {
  const backend = drives.open(file);
  const g = new IdeGuest();
  g.ide.attach(0, 0, { backend, media: 'disk' });
  return g;
}

function identifyChs(g: IdeGuest): number[] {
  g.select(0);
  g.outb(7, 0xec);
  const id = g.insw(512);
  return [1, 3, 6].map((w) => IdeGuest.word(id, w));
}

describe('hard disk geometry (QEMU hd_geometry_guess)', () => {
  it('uses 16 heads and 63 sectors for a disk without a partition table', () => {
    const g = attach(disk(20480));
    expect(identifyChs(g)).toEqual([20, 16, 63]);
    expect(g.ide.diskGeometry(0, 0)).toEqual({ cylinders: 20, heads: 16, sectors: 63, translation: 'none' });
  });

  it('asks the BIOS to translate when the disk has more than 1024 cylinders', () => {
    const g = attach(disk(2 * 1024 * 1024)); // 1 GiB: 2080 cylinders
    expect(g.ide.diskGeometry(0, 0)).toEqual({ cylinders: 2080, heads: 16, sectors: 63, translation: 'lba' });
  });

  it('takes the geometry a partition table was made with when it has at most 16 heads', () => {
    const sectors = 16 * 32 * 4;
    const image = pattern(sectors * 512);
    const file = disk(sectors, { head: 15, sector: 32 });
    const mbr = fs.readFileSync(file).subarray(0, 512);
    image.set(mbr);
    fs.writeFileSync(file, image);
    const g = attach(file);
    expect(identifyChs(g)).toEqual([4, 16, 32]);
    expect(g.ide.diskGeometry(0, 0)?.translation).toBe('none');
    // CHS addressing follows it: cylinder 3, head 5, sector 7.
    g.chs(0x20, 3, 5, 7, 1);
    const lba = (3 * 16 + 5) * 32 + 6;
    expect(Buffer.from(g.insw(512)).equals(Buffer.from(image.subarray(lba * 512, (lba + 1) * 512)))).toBe(true);
  });

  it('falls back to the standard geometry for a partition table made with 255 heads', () => {
    const g = attach(disk(20480, { head: 254, sector: 63 }));
    expect(identifyChs(g)).toEqual([20, 16, 63]);
    expect(g.ide.diskGeometry(0, 0)?.translation).toBe('lba');
  });
});
