/**
 * tsvm's boot loaders checked with QEMU as the CPU (see qemu-direct-boot.ts):
 * - Linux: Debian's kernel, loaded by loadLinux with our E820 map and ACPI
 *   tables, reaches the busybox shell, runs commands, and `poweroff -f` ends
 *   QEMU through our FADT and \_S5_ (QEMU's PIIX4 PM decodes SLP_TYP 0 as
 *   soft-off, as tsvm's will); our HPET table and \_SB.HPET lead it to
 *   QEMU's HPET, which sits where tsvm's does.
 * - Multiboot: a test kernel prints the info structure loadMultiboot built,
 *   and the same kernel booted by QEMU's own -kernel shows the conventions
 *   match (command line, module strings and contents).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AddressSpace } from '../../src/memory/address-space.js';
import { KERNEL_LOAD_ADDR, ZERO_PAGE_ADDR, loadLinux } from '../../src/boot/linux.js';
import { loadMultiboot, parseMultibootModules } from '../../src/boot/multiboot.js';
import { buildAcpiTables } from '../../src/boot/acpi.js';
import { pcE820Map } from '../../src/boot/e820.js';
import { ensureLinuxGuest } from './guest-images.js';
import { driveGuest, type GuestRun } from '../../images/linux/check-guest.mjs';
import { PM_BASE, directBootArgs } from './qemu-direct-boot.js';
import { requireTool } from '../helpers/tools.js';
import { slowTestsEnabled } from '../helpers/slow.js';

requireTool('qemu-system-i386', 'qemu-system-x86');
requireTool('nasm', 'nasm');

const MiB = 0x10_0000;

interface BootCase {
  arch: 'i386' | 'amd64';
  qemu: string;
  long64: boolean;
  cpus: number;
  ioapic: boolean;
  /** Describe QEMU's HPET at 0xFED00000 in the tables, as tsvm does for its own. */
  hpet?: boolean;
}

/** Loads the guest with tsvm's loader, boots the memory image under QEMU, and runs `commands` in its shell. */
function bootUnderQemu(dir: string, c: BootCase, commands: string[]): Promise<GuestRun> {
  const guest = ensureLinuxGuest(c.arch);
  const mem = new AddressSpace(256 * MiB);
  const acpi = buildAcpiTables(mem, { cpus: c.cpus, ioapic: c.ioapic, pmBase: PM_BASE, sciIrq: 9, hpet: c.hpet });
  const kernel = readFileSync(guest.kernel);
  const state = loadLinux(mem, {
    kernel,
    initrd: readFileSync(guest.initrd),
    cmdline: 'console=ttyS0',
    e820: pcE820Map(mem, acpi.reserved),
    acpiRsdp: acpi.rsdp,
    long64: c.long64,
  });
  const boot = directBootArgs(dir, mem, state, [
    [0, 0xa0000],
    [KERNEL_LOAD_ADDR, kernel.length],
    [mem.read32(ZERO_PAGE_ADDR + 0x218), mem.read32(ZERO_PAGE_ADDR + 0x21c)],
    [acpi.reserved[0]!.base, mem.lowRamTop - acpi.reserved[0]!.base],
  ]);
  const qemu = [c.qemu, '-accel', 'tcg', '-m', '256', '-smp', String(c.cpus), ...boot, '-nographic', '-nic', 'none', '-no-reboot'];
  return driveGuest({ command: qemu, commands, timeoutSeconds: 150 });
}

describe('Linux loader + ACPI tables under qemu-system-i386', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tsvm-linux-qemu-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('boots Debian 12 i386 to the busybox shell, runs commands, and powers off through ACPI', async () => {
    const run = await bootUnderQemu(dir, { arch: 'i386', qemu: 'qemu-system-i386', long64: false, cpus: 1, ioapic: false, hpet: true }, [
      'echo hello-$((6*7))',
      'cat /proc/cmdline',
      'uname -m',
      'cat /sys/bus/acpi/devices/PNP0103:00/status',
      // From the kernel's log buffer: on a loaded host the early boot console drops characters under QEMU.
      "dmesg | grep -E 'ACPI: (RSDP|FACP|HPET) |clocksource: hpet:'",
    ]);
    expect(run.outputs.slice(0, 4).map((o) => o.output)).toEqual(['hello-42', 'console=ttyS0', 'i686', '15']);
    const log = run.outputs[4]!.output;
    // Our HPET table and \_SB.HPET lead the kernel to QEMU's HPET.
    expect(log).toMatch(/ACPI: HPET 0x[0-9A-F]+ 000038 \(v01 TSVM   TSVMHPET/);
    expect(log).toMatch(/clocksource: hpet: mask: 0xffffffff/);
    // The kernel found our tables and used them; poweroff went through \_S5_.
    expect(log).toMatch(/ACPI: RSDP 0x00000000000F0000 000014 \(v00 TSVM  \)/);
    expect(log).toMatch(/ACPI: FACP 0x[0-9A-F]+ 0000F4 \(v03 TSVM   TSVMFACP/);
    expect(run.transcript).toMatch(/ACPI: PM: Preparing to enter system sleep state S5/);
    expect(run.exitCode).toBe(0);
  }, 180_000);

  // The KVM path (64-bit entry) and a MADT with two CPUs and an IOAPIC: a
  // second, slower boot with a larger download: part of the long sweep.
  it.runIf(slowTestsEnabled('Debian amd64 with 2 CPUs under qemu-system-x86_64'))('enters Debian 12 amd64 at startup_64 and brings up 2 CPUs from our MADT', async () => {
    const run = await bootUnderQemu(dir, { arch: 'amd64', qemu: 'qemu-system-x86_64', long64: true, cpus: 2, ioapic: true }, [
      'uname -m',
      'grep -c ^processor /proc/cpuinfo',
      // From the kernel's log buffer, as above: the early boot console dropped characters here too ("addess").
      "dmesg | grep -E 'ACPI: APIC |IOAPIC\\[0\\]'",
    ]);
    expect(run.outputs.slice(0, 2).map((o) => o.output)).toEqual(['x86_64', '2']);
    const log = run.outputs[2]!.output;
    expect(log).toMatch(/ACPI: APIC 0x[0-9A-F]+ 000062 \(v01 TSVM   TSVMAPIC/);
    expect(log).toMatch(/IOAPIC\[0\]: apic_id 0, version \d+, address 0xfec00000, GSI 0-23/);
    expect(run.exitCode).toBe(0);
  }, 180_000);
});

describe('multiboot loader under qemu-system-i386', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tsvm-multiboot-qemu-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs QEMU with isa-debug-exit and returns the kernel's `mb:` lines and the exit status. */
  function runKernel(args: string[]): { lines: string[]; status: number | null } {
    const run = spawnSync(
      'qemu-system-i386',
      ['-accel', 'tcg', '-m', '128', ...args, '-nographic', '-nic', 'none', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4'],
      { encoding: 'latin1', input: '', timeout: 60_000 },
    );
    return { lines: run.stdout.match(/mb: [^\r\n]*/g) ?? [], status: run.status };
  }

  it('gives a real kernel the magic, command line, modules and memory map, by the same conventions as QEMU', () => {
    const kernelPath = path.join(dir, 'mb.bin');
    execFileSync('nasm', ['-f', 'bin', '-o', kernelPath, path.join(import.meta.dirname, 'fixtures/multiboot-info.asm')]);
    writeFileSync(path.join(dir, 'm1.txt'), 'first module');
    writeFileSync(path.join(dir, 'm2.txt'), 'second');
    const spec = `${path.join(dir, 'm1.txt')} arg1,${path.join(dir, 'm2.txt')}`;
    const cmdline = `${kernelPath} hello world`; // QEMU's convention: the kernel's path, then -append

    const mem = new AddressSpace(128 * MiB);
    const e820 = pcE820Map(mem);
    const modules = parseMultibootModules(spec).map((m) => ({ data: readFileSync(m.path), cmdline: m.cmdline }));
    const state = loadMultiboot(mem, { kernel: readFileSync(kernelPath), modules, cmdline, e820 });
    const ours = runKernel(directBootArgs(dir, mem, state, [[0, 0xa0000], [KERNEL_LOAD_ADDR, MiB]]));
    const qemus = runKernel(['-kernel', kernelPath, '-initrd', spec, '-append', 'hello world']);

    const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0');
    expect(ours.lines).toEqual([
      'mb: magic=2badb002',
      'mb: flags=0000024d', // memory, cmdline, mods, mmap, loader name
      `mb: mem_lower=${hex(639, 8)} mem_upper=${hex(127 * 1024, 8)}`,
      `mb: cmdline=${cmdline}`,
      'mb: mods=00000002',
      `mb: mod ${path.join(dir, 'm1.txt')} arg1 data=first module`,
      `mb: mod ${path.join(dir, 'm2.txt')} data=second`,
      ...e820.map((e) => `mb: mmap ${hex(e.base, 16)} ${hex(e.length, 16)} ${hex(e.type, 8)}`),
      'mb: loader=tsvm',
      'mb: done',
    ]);
    expect(ours.status).toBe(33);
    // QEMU's own loader: same magic, lower memory, command line and modules (its
    // flags add a boot device, its map has SeaBIOS's reservations, its name is "qemu").
    const same = (l: string) => /^mb: (magic|cmdline|mods|mod |mem_lower=\S+)/.test(l);
    expect(qemus.lines.filter(same).map((l) => l.replace(/ mem_upper=.*/, ''))).toEqual(
      ours.lines.filter(same).map((l) => l.replace(/ mem_upper=.*/, '')),
    );
    expect(qemus.status).toBe(33);
  }, 120_000);
});
