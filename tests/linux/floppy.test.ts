/**
 * Debian's i386 kernel drives tsvm's 82077AA floppy controller itself
 * (drivers/block/floppy.c as a module, in the busybox initramfs) under
 * -accel tcg: one boot with two 1.44 MiB diskettes of random bytes, drive
 * A: writable and drive B: with snapshot=on (what -snapshot does to every
 * drive). The guest reads both whole, writes a few dozen sectors across
 * cylinder boundaries with ISA DMA, reloads the driver with floppy=nodma
 * (pseudo-DMA: the kernel moves every byte through the FIFO in its
 * interrupt handler and relies on an overrun to end a read), writes the
 * disk's last sector and reads both drives whole again. After `poweroff -f`
 * drive A's image holds exactly the guest's writes and drive B's is as it
 * was. The DMA part prints the same under qemu-system-i386; QEMU's
 * controller does not do non-DMA transfers for Linux (its pseudo-DMA reads
 * time out), so that part has no reference run.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driveGuest, type GuestRun } from '../../images/linux/check-guest.mjs';
import { ensureLinuxGuest, type LinuxGuest } from '../boot/guest-images.js';
import { prng } from '../helpers/prng.js';
import { requireTool } from '../helpers/tools.js';
import { TSVM } from '../helpers/tsvm-process.js';

/** Boot plus commands; generous because the software CPU runs on a loaded 2-core machine. */
const BOOT_SECONDS = Number(process.env.TSVM_LINUX_BOOT_SECONDS ?? 900);
const FLOPPY_BYTES = 1_474_560;
const SECTOR = 512;
/** `seq 1 10000`, about 48 KiB: from sector 1000 (cylinder 27, side 1, sector 11) over three cylinder boundaries, ending mid-sector. */
const SEQ_TXT = Array.from({ length: 10000 }, (_, i) => `${i + 1}\n`).join('');
const SEQ_SECTOR = 1000;
/** The disk's last sector, written in part: the rest of it must survive. */
const TAIL_TXT = 'the-end\n';
const TAIL_SECTOR = 2879;

// Each command stays under 76 characters: a longer one wraps on the
// 80-column console and its echo no longer matches what was typed.
const LOAD = 'modprobe floppy && echo loaded';
const READ_BOTH = 'md5sum /dev/fd0 /dev/fd1';
/** In 512-byte sectors; the driver knows the size once a drive has been opened. */
const SIZES = 'cat /sys/block/fd0/size /sys/block/fd1/size';
const MAKE_SEQ = 'seq 1 10000 > /tmp/seq && echo made';
const WRITE_SEQ = (drive: string) => `dd if=/tmp/seq of=/dev/${drive} bs=512 seek=${SEQ_SECTOR} 2>/dev/null && sync && echo ok`;
const RELOAD_NODMA = 'rmmod floppy && modprobe floppy floppy=nodma && echo reloaded';
const WRITE_TAIL = `echo ${TAIL_TXT.trim()} | dd of=/dev/fd0 seek=${TAIL_SECTOR} 2>/dev/null && sync && echo ok`;
/** What the driver logged: which controller it found, and any trouble it had. */
const DRIVER_LOG = 'dmesg | grep -iE "flop|fdc|fd[01]|I/O error"';

const DMA_COMMANDS = [LOAD, READ_BOTH, SIZES, MAKE_SEQ, WRITE_SEQ('fd0'), WRITE_SEQ('fd1')];
const COMMANDS = [...DMA_COMMANDS, RELOAD_NODMA, WRITE_TAIL, READ_BOTH, DRIVER_LOG];

function commandLine(emulator: string[], guest: LinuxGuest, a: string, b: string): string[] {
  return [
    ...emulator,
    ...['-m', '256', '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', 'console=ttyS0 loglevel=4'],
    ...['-drive', `file=${a},if=floppy,index=0,format=raw`, '-drive', `file=${b},if=floppy,index=1,format=raw,snapshot=on`, '-nographic'],
  ];
}

/** 1.44 MiB of reproducible random bytes: every sector differs, so a misplaced one shows. */
function diskette(): Buffer {
  const next = prng(1440);
  return Buffer.from(Array.from({ length: FLOPPY_BYTES }, () => Math.floor(next() * 256)));
}

/** `image` with `text` written from sector `lba` on, as dd does: the rest of its last sector kept. */
function withWrite(image: Buffer, lba: number, text: string): Buffer {
  const out = Buffer.from(image);
  out.write(text, lba * SECTOR, 'latin1');
  return out;
}

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

describe('Debian i386 Linux drives the floppy controller under -accel tcg', () => {
  let dir: string;
  let guest: LinuxGuest;
  const original = diskette();
  const afterSeq = withWrite(original, SEQ_SECTOR, SEQ_TXT);
  const afterTail = withWrite(afterSeq, TAIL_SECTOR, TAIL_TXT);
  const driveA = () => path.join(dir, 'a.img');
  const driveB = () => path.join(dir, 'b.img');
  let tsvm: GuestRun;

  beforeAll(async () => {
    guest = ensureLinuxGuest('i386');
    dir = mkdtempSync(path.join(os.tmpdir(), 'tsvm-floppy-'));
    writeFileSync(driveA(), original);
    writeFileSync(driveB(), original);
    tsvm = await driveGuest({ command: commandLine([process.execPath, TSVM, '-accel', 'tcg'], guest, driveA(), driveB()), commands: COMMANDS, timeoutSeconds: BOOT_SECONDS });
  }, (BOOT_SECONDS + 300) * 1000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const outputs = (run: GuestRun, cmd: string) => run.outputs.filter((o) => o.command === cmd).map((o) => o.output);
  const md5Lines = (a: Buffer, b: Buffer) => `${md5(a)}  /dev/fd0\n${md5(b)}  /dev/fd1`;

  it('finds two 1.44M drives (2880 sectors) behind an 82077AA and powers off with status 0', () => {
    expect(outputs(tsvm, LOAD)).toEqual(['loaded']);
    expect(outputs(tsvm, SIZES)).toEqual(['2880\n2880']);
    expect(outputs(tsvm, DRIVER_LOG)[0]).toMatch(/Floppy drive\(s\): fd0 is 1\.44M, fd1 is 1\.44M\n.*FDC 0 is a post-1991 82077/);
    expect(tsvm.exitCode).toBe(0);
  });

  it('reads both diskettes whole with DMA, then after writing, without DMA', () => {
    const [withDma, withoutDma] = outputs(tsvm, READ_BOTH);
    expect(withDma).toBe(md5Lines(original, original));
    expect(outputs(tsvm, RELOAD_NODMA)).toEqual(['reloaded']);
    // The reload dropped the drives' cached pages: these reads come from the controller.
    expect(withoutDma).toBe(md5Lines(afterTail, afterSeq));
  });

  it('writes with DMA and without, and the driver logs no error, timeout or unexpected interrupt', () => {
    expect(outputs(tsvm, WRITE_SEQ('fd0'))).toEqual(['ok']);
    expect(outputs(tsvm, WRITE_SEQ('fd1'))).toEqual(['ok']);
    expect(outputs(tsvm, WRITE_TAIL)).toEqual(['ok']);
    // Not trouble: "long rw: N+1 instead of N" after each pseudo-DMA read that runs to the
    // end of the cylinder. Linux counts the sectors as if an end-of-cylinder result named
    // the last sector read; tsvm names the next one, as for a transfer ended by terminal count.
    const trouble = outputs(tsvm, DRIVER_LOG)[0]!.split('\n').filter((l) => /error|timeout|unexpected|reset|sensei/i.test(l));
    expect(trouble).toEqual([]);
  });

  it("leaves exactly the guest's writes in drive A's image, and drive B's (snapshot=on) as it was", () => {
    const a = readFileSync(driveA());
    expect(a.equals(afterTail), 'drive A differs from the original plus the two writes').toBe(true);
    expect(readFileSync(driveB()).equals(original)).toBe(true);
  });

  it('reads and writes with DMA as the guest under qemu-system-i386 -accel tcg does', async () => {
    requireTool('qemu-system-i386', 'qemu-system-x86');
    const a = path.join(dir, 'qemu-a.img');
    const b = path.join(dir, 'qemu-b.img');
    writeFileSync(a, original);
    copyFileSync(a, b);
    const qemu = await driveGuest({ command: commandLine(['qemu-system-i386', '-accel', 'tcg'], guest, a, b), commands: DMA_COMMANDS, timeoutSeconds: 300 });
    expect(qemu.exitCode).toBe(0);
    for (const cmd of DMA_COMMANDS) expect(outputs(qemu, cmd), cmd).toEqual(outputs(tsvm, cmd).slice(0, 1));
    expect(readFileSync(a).equals(afterSeq)).toBe(true);
    expect(readFileSync(b).equals(original)).toBe(true);
  }, 400_000);
});
