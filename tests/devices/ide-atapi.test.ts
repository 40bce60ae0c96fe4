import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IdeGuest, pattern, ST, useScratchDrives } from './ide-guest.js';
import { firstDifference } from '../block/bytes.js';
import { requireTool } from '../helpers/tools.js';

const READY = ST.DRDY | ST.DSC;
/** Interrupt reason (sector count register) values. */
const COD = 1;
const IO = 2;

requireTool('xorriso', 'xorriso');

const drives = useScratchDrives();

/** A guest with a CD-ROM (this image, or no disc) as secondary master, identified so DRDY is set. */
function cdGuest(iso: string | undefined): IdeGuest {
  const backend = iso === undefined ? undefined : drives.open(iso, { media: 'cdrom' });
  const g = new IdeGuest().useSecondary();
  g.ide.attach(1, 0, { backend, media: 'cdrom' });
  g.select(0, false);
  g.outb(7, 0xa1);
  g.insw(512);
  g.status();
  return g;
}

interface PacketResult {
  data: Uint8Array;
  /** Sizes of the DRQ chunks the device offered. */
  chunks: number[];
  status: number;
  error: number;
  reason: number;
}

/** Sends a 12-byte packet with a byte count limit and collects the data-in phase as a driver would. */
function packet(g: IdeGuest, cdb: number[], byteLimit = 0xfffe): PacketResult {
  g.outb(1, 0); // PIO
  g.outb(4, byteLimit & 0xff);
  g.outb(5, byteLimit >> 8);
  g.outb(7, 0xa0);
  expect(g.altStatus() & (ST.DRQ | ST.BSY)).toBe(ST.DRQ);
  expect(g.inb(2) & 3).toBe(COD);
  expect(g.irqLevel).toBe(false); // "DRQ within 50 us": no interrupt before the packet
  const bytes = Uint8Array.from([...cdb, ...new Array(12 - cdb.length).fill(0)]);
  g.outsw(bytes);
  const parts: Uint8Array[] = [];
  const chunks: number[] = [];
  for (;;) {
    expect(g.irqLevel).toBe(true);
    const status = g.status();
    if (!(status & ST.DRQ)) {
      const data = new Uint8Array(chunks.reduce((a, b) => a + b, 0));
      let at = 0;
      for (const p of parts) data.set(p, (at += p.length) - p.length);
      return { data, chunks, status, error: g.error(), reason: g.inb(2) & 3 };
    }
    expect(g.inb(2) & 3).toBe(IO);
    const size = g.inb(4) | (g.inb(5) << 8);
    chunks.push(size);
    parts.push(g.insw(size));
  }
}

function requestSense(g: IdeGuest): number[] {
  const r = packet(g, [0x03, 0, 0, 0, 18]);
  return [r.data[2]! & 0x0f, r.data[12]!, r.data[13]!];
}

function makeIso(): string {
  const src = path.join(drives.tmp.path, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'hello.txt'), 'hello from the cd\n');
  fs.writeFileSync(path.join(src, 'big.bin'), pattern(300 * 1024));
  const iso = path.join(drives.tmp.path, 'test.iso');
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'TSVMTEST', '-o', iso, src], { stdio: 'ignore' });
  return iso;
}

describe('ATAPI IDENTIFY PACKET DEVICE', () => {
  it('describes a removable CD-ROM taking 12-byte packets', () => {
    const g = new IdeGuest();
    const cd = drives.open(drives.tmp.file('c.iso', 32 * 2048), { media: 'cdrom' });
    g.ide.attach(0, 0, { backend: cd, media: 'cdrom' });
    g.select(0, false);
    g.outb(7, 0xa1);
    expect(g.irqLevel).toBe(true);
    expect(g.status()).toBe(READY | ST.DRQ);
    const id = g.insw(512);
    expect(IdeGuest.word(id, 0)).toBe(0x85c0);
    expect(IdeGuest.ataString(id, 27, 20)).toBe('TSVM DVD-ROM');
    expect(g.status()).toBe(READY);
  });
});

describe('ATAPI PACKET commands on an xorriso-made ISO', () => {
  it('answers INQUIRY, READ CAPACITY and READ(10) with the ISO\'s bytes', () => {
    const iso = makeIso();
    const image = new Uint8Array(fs.readFileSync(iso));
    const g = cdGuest(iso);

    expect(packet(g, [0x00]).status).toBe(READY); // TEST UNIT READY

    const inq = packet(g, [0x12, 0, 0, 0, 36]);
    expect(inq.status).toBe(READY);
    expect(inq.reason).toBe(IO | COD);
    expect(inq.data[0]).toBe(0x05);
    expect(inq.data[1]! & 0x80).toBe(0x80);
    expect(Buffer.from(inq.data.subarray(8, 32)).toString('latin1')).toBe('TSVM    TSVM DVD-ROM    ');

    const cap = packet(g, [0x25]);
    const view = new DataView(cap.data.buffer);
    expect(view.getUint32(0)).toBe(image.length / 2048 - 1);
    expect(view.getUint32(4)).toBe(2048);

    // The primary volume descriptor at sector 16 names the volume.
    const pvd = packet(g, [0x28, 0, 0, 0, 0, 16, 0, 0, 1]);
    expect(pvd.status).toBe(READY);
    expect(Buffer.from(pvd.data.subarray(1, 6)).toString('latin1')).toBe('CD001');
    expect(Buffer.from(pvd.data.subarray(40, 48)).toString('latin1')).toBe('TSVMTEST');

    // READ(10) of many sectors with a small byte count limit: chunks never exceed it.
    const last = image.length / 2048 - 20;
    const many = packet(g, [0x28, 0, (last >>> 24) & 0xff, (last >>> 16) & 0xff, (last >>> 8) & 0xff, last & 0xff, 0, 0, 20], 3000);
    expect(many.status).toBe(READY);
    expect(Math.max(...many.chunks)).toBeLessThanOrEqual(3000);
    expect(firstDifference(many.data, image.subarray(last * 2048))).toBe(-1);

    // READ(12) of two sectors.
    const r12 = packet(g, [0xa8, 0, 0, 0, 0, 17, 0, 0, 0, 2]);
    expect(firstDifference(r12.data, image.subarray(17 * 2048, 19 * 2048))).toBe(-1);
  });

  it('reports errors as CHECK CONDITION with sense data', () => {
    const iso = makeIso();
    const sectors = fs.statSync(iso).size / 2048;
    const g = cdGuest(iso);

    const bad = packet(g, [0xff]);
    expect(bad.status).toBe(READY | ST.ERR);
    expect(bad.error >> 4).toBe(0x05); // ILLEGAL REQUEST
    expect(bad.reason).toBe(IO | COD);
    expect(requestSense(g)).toEqual([0x05, 0x20, 0x00]); // INVALID COMMAND OPERATION CODE
    expect(requestSense(g)).toEqual([0x00, 0x00, 0x00]); // reported once

    const past = packet(g, [0x28, 0, (sectors >>> 24) & 0xff, (sectors >>> 16) & 0xff, (sectors >>> 8) & 0xff, sectors & 0xff, 0, 0, 1]);
    expect(past.status & ST.ERR).toBe(ST.ERR);
    expect(past.data.length).toBe(0);
    expect(requestSense(g)).toEqual([0x05, 0x21, 0x00]); // LOGICAL BLOCK ADDRESS OUT OF RANGE

    // A locked tray refuses to eject; unlocked it opens and the medium is gone.
    expect(packet(g, [0x1e, 0, 0, 0, 1]).status).toBe(READY);
    expect(packet(g, [0x1b, 0, 0, 0, 0x02]).status & ST.ERR).toBe(ST.ERR);
    expect(packet(g, [0x1e, 0, 0, 0, 0]).status).toBe(READY);
    expect(packet(g, [0x1b, 0, 0, 0, 0x02]).status).toBe(READY);
    expect(packet(g, [0x00]).status & ST.ERR).toBe(ST.ERR);
    expect(requestSense(g)).toEqual([0x02, 0x3a, 0x00]); // NOT READY, MEDIUM NOT PRESENT
  });

  it('answers MODE SENSE, READ TOC and GET CONFIGURATION', () => {
    const iso = makeIso();
    const sectors = fs.statSync(iso).size / 2048;
    const g = cdGuest(iso);

    const caps = packet(g, [0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 28]);
    expect(caps.status).toBe(READY);
    expect(caps.data.length).toBe(28);
    expect((caps.data[0]! << 8) | caps.data[1]!).toBe(26);
    expect(caps.data[8]).toBe(0x2a);
    expect(packet(g, [0x5a, 0, 0x05, 0, 0, 0, 0, 0, 28]).status & ST.ERR).toBe(ST.ERR);

    const toc = packet(g, [0x43, 0, 0, 0, 0, 0, 0, 0, 0xff]);
    expect(toc.data.length).toBe(20);
    expect([toc.data[2], toc.data[3], toc.data[6], toc.data[14]]).toEqual([1, 1, 1, 0xaa]);
    expect(new DataView(toc.data.buffer).getUint32(16)).toBe(sectors);
    const tocMsf = packet(g, [0x43, 2, 0, 0, 0, 0, 0, 0, 0xff]);
    expect(Array.from(tocMsf.data.subarray(8, 12))).toEqual([0, 0, 2, 0]); // track 1 at 00:02:00

    const conf = packet(g, [0x46, 0, 0, 0, 0, 0, 0, 0, 0xff]);
    expect((conf.data[6]! << 8) | conf.data[7]!).toBe(0x0008); // current profile: CD-ROM

    // The allocation length truncates a reply.
    expect(packet(g, [0x12, 0, 0, 0, 8]).data.length).toBe(8);
  });
});

describe('ATAPI DEVICE RESET', () => {
  it('is taken even in the middle of a packet, leaves DRDY clear and shows the signature', () => {
    const g = cdGuest(drives.tmp.file('r.iso', 64 * 2048));
    g.outb(4, 0xfe);
    g.outb(5, 0xff);
    g.outb(7, 0xa0); // PACKET: the device now waits for 12 bytes
    expect(g.altStatus() & ST.DRQ).toBe(ST.DRQ);
    g.outb(7, 0xec); // ignored while DRQ is set
    expect(g.altStatus() & ST.DRQ).toBe(ST.DRQ);
    g.outb(7, 0x08); // DEVICE RESET
    expect(g.irqLevel).toBe(false);
    expect(g.status()).toBe(0);
    expect(g.error()).toBe(0x01);
    expect([g.inb(2), g.inb(3), g.inb(4), g.inb(5)]).toEqual([1, 1, 0x14, 0xeb]);
  });
});

describe('ATAPI drive without a disc', () => {
  it('is NOT READY / MEDIUM NOT PRESENT but still answers INQUIRY', () => {
    const g = cdGuest(undefined);
    expect(packet(g, [0x00]).status & ST.ERR).toBe(ST.ERR);
    expect(requestSense(g)).toEqual([0x02, 0x3a, 0x00]);
    expect(packet(g, [0x25]).status & ST.ERR).toBe(ST.ERR);
    expect(packet(g, [0x12, 0, 0, 0, 36]).status).toBe(READY);
  });
});
