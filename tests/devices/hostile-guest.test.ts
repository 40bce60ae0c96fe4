/**
 * A hostile guest against every chip of the pc machine, wired as
 * src/machine/pc.ts wires them: random port I/O of every width on every
 * port, random IDE task-file and ATAPI packet sequences, random PCI
 * configuration writes and random accesses to the VGA window. Real hardware
 * answers all of it with some value; tsvm must too, and never throw, and
 * a qcow2 disk the guest scribbles on must stay a consistent image.
 * The generator is seeded, so a failure replays.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkQcow2 } from '../../src/block/qcow2-check.js';
import { openImage } from '../../src/block/qcow2-chain.js';
import { createQcow2 } from '../../src/block/qcow2-create.js';
import type { Qcow2Image } from '../../src/block/qcow2.js';
import { DebugCon } from '../../src/devices/debugcon.js';
import { IsaDebugExit } from '../../src/devices/debug-exit.js';
import { IdeController } from '../../src/devices/ide.js';
import { VGA_WINDOW_BASE, Vga } from '../../src/devices/vga.js';
import { NullChardev } from '../../src/chardev/null.js';
import type { AccessSize } from '../../src/memory/address-space.js';
import { AddressSpace } from '../../src/memory/address-space.js';
import { useScratchDrives } from './ide-guest.js';
import { pcChips } from './pc-chips.js';
import { prng } from '../helpers/prng.js';

const drives = useScratchDrives();
const SIZES: readonly AccessSize[] = [1, 2, 4];

/** Seeded random choices, so that a failure replays. */
function random(seed: number) {
  const next = prng(seed);
  return {
    u32: () => Math.floor(next() * 2 ** 32) >>> 0,
    below: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}

/** The chips of QEMU's pc machine on one port bus and address space, with a raw and a qcow2 disk and a CD-ROM on IDE. */
function pcMachine() {
  const mem = new AddressSpace(2 << 20);
  const serials = [0, 1, 2, 3].map((n) => new NullChardev(`serial${n}`));
  const { io, irq, time, lifecycle } = pcChips({ ramBytes: 2 << 20, rtcBase: 'utc', serials });
  const ide = new IdeController(io, irq.line(14), irq.line(15));
  ide.attach(0, 0, { backend: drives.open(drives.tmp.file('disk.img', 64 * 512)), media: 'disk' });
  const qcow2 = drives.tmp.file('disk.qcow2', 0);
  createQcow2(qcow2, { size: 1 << 20, clusterSize: 512 });
  ide.attach(0, 1, { backend: drives.open(qcow2, { format: 'qcow2' }), media: 'disk' });
  ide.attach(1, 0, { backend: drives.open(drives.tmp.file('cd.iso', 32 * 2048), { media: 'cdrom' }), media: 'cdrom' });
  new Vga(io, mem);
  new IsaDebugExit(io, 0xf4, 4, lifecycle);
  new DebugCon(io, 0xe9, new NullChardev('debugcon'));
  return { mem, io, advance: time.advance, qcow2 };
}

/**
 * VGA window reads that came back wider than the access or not a whole
 * number, as `size:value` (expect() per access is too slow). Port reads need
 * no such check: the port bus masks every value to its width.
 */
const outOfRange: string[] = [];
function checkRead(value: number, size: AccessSize): void {
  if (!(Number.isInteger(value) && value >= 0 && value < 2 ** (8 * size))) outOfRange.push(`${size}:${value}`);
}

describe('a hostile guest', () => {
  afterEach(() => {
    expect(outOfRange.splice(0)).toEqual([]);
  });

  it('writes and reads random values on every port 0x0000-0xffff in every width', () => {
    const { io, advance } = pcMachine();
    const rng = random(1);
    for (let port = 0; port <= 0xffff; port++) {
      for (const size of SIZES) {
        io.write(port, size, rng.u32() & (2 ** (8 * size) - 1));
        io.read(port, size);
      }
      if ((port & 0xff) === 0) advance(1_000_000);
    }
  });

  it('drives the chip registers with long random sequences while time passes', () => {
    const { io, advance } = pcMachine();
    const rng = random(2);
    // Every register port of the pc machine's chips, so the generator reaches deep states.
    const ranges: [number, number][] = [
      [0x20, 2], [0xa0, 2], [0x40, 4], [0x60, 1], [0x64, 1], [0x70, 2], [0x92, 1], [0xb2, 2],
      [0x1f0, 8], [0x3f6, 1], [0x170, 8], [0x376, 1], [0x3c0, 0x20], [0x3b4, 2],
      [0x3f8, 8], [0x2f8, 8], [0xcf8, 8], [0x600, 0x40], [0xc000, 0x10],
    ];
    const ports = ranges.flatMap(([base, count]) => Array.from({ length: count }, (_, k) => base + k));
    // ATA and ATAPI commands, and the IDE data ports, more often than chance would pick them.
    const commands = [0x08, 0x20, 0x21, 0x24, 0x25, 0x29, 0x30, 0x31, 0x34, 0x35, 0x39, 0x40, 0x42, 0x70, 0x91, 0xa0, 0xa1, 0xc4, 0xc5, 0xc6, 0xc8, 0xca, 0xe7, 0xea, 0xec, 0xef, 0xf8, 0x27];
    for (let step = 0; step < 300_000; step++) {
      const roll = rng.below(10);
      const size = rng.pick(SIZES);
      if (roll === 0) io.write(rng.pick([0x1f7, 0x177]), 1, rng.pick(commands));
      else if (roll <= 2) {
        const data = rng.pick([0x1f0, 0x170]);
        if (rng.below(2)) io.write(data, size, rng.u32() & (2 ** (8 * size) - 1));
        else io.read(data, size);
      } else {
        const port = rng.pick(ports);
        if (rng.below(2)) io.write(port, size, rng.u32() & (2 ** (8 * size) - 1));
        else io.read(port, size);
      }
      if (step % 1000 === 0) advance(rng.below(50_000_000));
    }
  });

  it('runs random ATA commands with random task files and data phases on a raw and a qcow2 disk', () => {
    const { io, qcow2 } = pcMachine();
    const rng = random(6);
    const commands = [0x20, 0x24, 0x29, 0x30, 0x34, 0x39, 0xc4, 0xc5, 0xc6, 0xe7, 0xea, 0xec, 0x91, 0xef, 0x40, 0x42, 0xf8, 0x27, 0x08, 0x90];
    for (let n = 0; n < 3000; n++) {
      io.write(0x1f6, 1, (rng.below(4) << 5) | rng.below(0x20)); // LBA or CHS, unit, head
      for (let reg = 1; reg <= 5; reg++) {
        // Small sector numbers mostly, so that commands land inside the disks and move data.
        for (let twice = 0; twice < 2; twice++) io.write(0x1f0 + reg, 1, rng.below(4) ? rng.below(reg === 2 ? 8 : 4) : rng.u32() & 0xff);
      }
      if (rng.below(50) === 0) io.write(0x3f6, 1, 0x04); // SRST, released below
      io.write(0x3f6, 1, rng.below(2) << 1); // nIEN
      io.write(0x1f7, 1, rng.pick(commands));
      const words = rng.below(8) ? 16 * 512 : rng.below(512);
      for (let k = 0; k < words && io.read(0x3f6, 1) & 0x08; k++) {
        const size = rng.pick(SIZES);
        if (rng.below(2)) io.write(0x1f0, size, rng.u32() & (2 ** (8 * size) - 1));
        else io.read(0x1f0, size);
      }
    }
    // The guest wrote to the qcow2 disk, and left it consistent, as `tsvm-img check` sees it.
    drives.closeAll();
    const image = openImage(qcow2, { format: 'qcow2', readOnly: true });
    try {
      const result = checkQcow2(image as Qcow2Image);
      expect({ corruptions: result.corruptions, leaks: result.leaks, messages: result.messages }).toEqual({ corruptions: 0, leaks: 0, messages: [] });
      expect(result.allocatedClusters).toBeGreaterThan(0);
    } finally {
      image.close();
    }
  });

  it('sends ATAPI packets of random bytes', () => {
    const { io } = pcMachine();
    const rng = random(3);
    for (let n = 0; n < 5000; n++) {
      io.write(0x176, 1, 0xa0); // secondary master
      io.write(0x171, 1, rng.below(4)); // features: DMA/overlap bits
      io.write(0x174, 1, rng.u32() & 0xff); // byte count limit
      io.write(0x175, 1, rng.u32() & 0xff);
      io.write(0x177, 1, 0xa0); // PACKET
      const packet = [rng.pick([0x00, 0x03, 0x12, 0x1b, 0x1e, 0x25, 0x28, 0x2b, 0x42, 0x43, 0x46, 0x4a, 0x51, 0x5a, 0xa8, 0xad, 0xbd, 0xbe]), ...Array.from({ length: 11 }, () => rng.u32() & 0xff)];
      for (let k = 0; k < 12; k += 2) io.write(0x170, 2, packet[k]! | (packet[k + 1]! << 8));
      for (let k = 0; k < 64 && io.read(0x177, 1) & 0x08; k++) {
        const size = rng.pick(SIZES);
        io.read(0x170, size);
      }
    }
  });

  it('writes random PCI configuration registers of every function and reads them back', () => {
    const { io } = pcMachine();
    const rng = random(4);
    for (let n = 0; n < 100_000; n++) {
      // Mostly the functions that exist (00.0, 01.0, 01.1, 01.3 on bus 0), sometimes anything.
      const devfn = rng.below(4) ? rng.pick([0x00, 0x08, 0x09, 0x0b]) : rng.below(0x100);
      const bus = rng.below(8) ? 0 : rng.below(0x100);
      const address = (0x8000_0000 | (bus << 16) | (devfn << 8) | rng.below(0x100)) >>> 0;
      io.write(0xcf8, 4, rng.below(8) ? address : rng.u32());
      const size = rng.pick(SIZES);
      const port = 0xcfc + rng.below(4);
      io.write(port, size, rng.u32() & (2 ** (8 * size) - 1));
      io.read(port, size);
    }
  });

  it('reads and writes the VGA window in every width under random register settings', () => {
    const { io, mem } = pcMachine();
    const rng = random(5);
    for (let n = 0; n < 200_000; n++) {
      if (rng.below(8) === 0) io.write(0x3c0 + rng.below(0x20), rng.pick(SIZES), rng.u32());
      const size = rng.pick(SIZES);
      const addr = VGA_WINDOW_BASE + rng.below(0x20000) - (rng.below(16) === 0 ? 2 : 0);
      if (rng.below(2)) mem.writeSlow(addr, size, rng.u32() & (2 ** (8 * size) - 1));
      else checkRead(mem.readSlow(addr, size), size);
    }
  });
});
