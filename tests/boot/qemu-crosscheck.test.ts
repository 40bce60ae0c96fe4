/**
 * End-to-end check of the Linux loader and the ACPI tables with QEMU as the
 * CPU: the guest memory tsvm's loader builds (zero page, E820, GDT, kernel,
 * initrd, command line, ACPI tables) is handed to qemu-system-i386 as raw
 * blobs, with a tiny firmware that does only what tsvm's accelerators do with
 * the returned CpuState (load the GDT, enter protected mode, set ESI and
 * jump to EIP, or the same into long mode). Debian's kernel must reach the busybox shell, run commands,
 * and `poweroff -f` must end QEMU through our FADT and \_S5_ (QEMU's PIIX4 PM
 * decodes SLP_TYP 0 as soft-off, as tsvm's will).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AddressSpace } from '../../src/memory/address-space.js';
import { ZERO_PAGE_ADDR, loadLinux } from '../../src/boot/linux.js';
import { buildAcpiTables } from '../../src/boot/acpi.js';
import { pcE820Map } from '../../src/boot/e820.js';
import type { CpuState } from '../../src/accel/cpu-state.js';
import { ensureLinuxGuest } from './guest-images.js';
import { driveGuest, type GuestRun } from '../../images/linux/check-guest.mjs';

const MiB = 0x10_0000;
const PM_BASE = 0x600;

function have(cmd: string): boolean {
  return spawnSync('which', [cmd]).status === 0;
}

/**
 * A 64 KiB firmware for 0xF0000-0xFFFFF: the reset vector jumps to code that
 * maps the PIIX4 PM block at PM_BASE (what SeaBIOS would do), then enters
 * the loader's CpuState: flat protected mode, or long mode straight from
 * real mode (PAE, CR3, EFER.LME, then CR0.PE|PG together and a far jump to
 * the 64-bit CS). `biosArea` is what tsvm put at 0xF0000 (the RSDP).
 */
function firmware(dir: string, state: CpuState, biosArea: Uint8Array): Buffer {
  const long64 = (state.efer & 0x100n) !== 0n;
  const enter = long64
    ? `  mov eax, cr4
  or eax, 0x20
  mov cr4, eax
  mov eax, ${state.cr3}
  mov cr3, eax
  mov ecx, 0xc0000080
  rdmsr
  or eax, 0x100
  wrmsr
  mov eax, cr0
  or eax, 0x80000001
  mov cr0, eax
  jmp dword ${state.seg.cs.selector}:(0xF0000 + entry)
bits 64`
    : `  mov eax, cr0
  or eax, 1
  mov cr0, eax
  jmp dword ${state.seg.cs.selector}:(0xF0000 + entry)
bits 32`;
  const src = path.join(dir, 'stub.asm');
  writeFileSync(
    src,
    `bits 16
org 0
times 0xF000 db 0
start:
  cli
  mov dx, 0xcf8
  mov eax, 0x80000b40        ; PIIX4 function 3, PMBA
  out dx, eax
  mov dx, 0xcfc
  mov eax, ${PM_BASE} | 1
  out dx, eax
  mov dx, 0xcf8
  mov eax, 0x80000b80        ; PMREGMISC: enable the PM I/O space
  out dx, eax
  mov dx, 0xcfc
  mov al, 1
  out dx, al
  mov ax, cs
  mov ds, ax
  o32 lgdt [gdtr]
${enter}
entry:
  mov ax, ${state.seg.ds.selector}
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov fs, ax
  mov gs, ax
  mov esi, ${state.gpr[6]}
  xor ebp, ebp
  xor edi, edi
  xor ebx, ebx
  mov eax, ${state.rip}
  jmp ${long64 ? 'rax' : 'eax'}
gdtr:
  dw ${state.gdtr.limit}
  dd ${state.gdtr.base}
times 0xFFF0 - ($ - $$) db 0
bits 16
  jmp 0xF000:start
times 0x10000 - ($ - $$) db 0
`,
  );
  const bin = path.join(dir, 'stub.bin');
  execFileSync('nasm', ['-f', 'bin', '-o', bin, src]);
  const image = readFileSync(bin);
  image.set(biosArea.subarray(0, 0xf000), 0);
  return image;
}

interface BootCase {
  arch: 'i386' | 'amd64';
  qemu: string;
  long64: boolean;
  cpus: number;
  ioapic: boolean;
}

/** Loads the guest with tsvm's loader, boots the memory image under QEMU, and runs `commands` in its shell. */
function bootUnderQemu(dir: string, c: BootCase, commands: string[]): Promise<GuestRun> {
  const guest = ensureLinuxGuest(c.arch);
  const mem = new AddressSpace(256 * MiB);
  const acpi = buildAcpiTables(mem, { cpus: c.cpus, ioapic: c.ioapic, pmBase: PM_BASE, sciIrq: 9 });
  const kernel = readFileSync(guest.kernel);
  const state = loadLinux(mem, {
    kernel,
    initrd: readFileSync(guest.initrd),
    cmdline: 'console=ttyS0',
    e820: pcE820Map(mem, acpi.reserved),
    acpiRsdp: acpi.rsdp,
    long64: c.long64,
  });
  const blobs: [string, number, number][] = [
    ['low', 0, 0xa0000],
    ['kernel', 0x10_0000, kernel.length],
    ['initrd', mem.read32(ZERO_PAGE_ADDR + 0x218), mem.read32(ZERO_PAGE_ADDR + 0x21c)],
    ['acpi', acpi.reserved[0]!.base, mem.lowRamTop - acpi.reserved[0]!.base],
  ];
  const loaders = blobs.flatMap(([name, addr, length]) => {
    const file = path.join(dir, `${name}.bin`);
    writeFileSync(file, mem.readBytes(addr, length));
    return ['-device', `loader,file=${file},addr=${addr},force-raw=on`];
  });
  const bios = path.join(dir, 'bios.bin');
  writeFileSync(bios, firmware(dir, state, mem.readBytes(0xf0000, 0x10000)));
  const qemu = [c.qemu, '-accel', 'tcg', '-m', '256', '-smp', String(c.cpus), '-bios', bios, ...loaders, '-nographic', '-nic', 'none', '-no-reboot'];
  return driveGuest({ command: qemu, commands, timeoutSeconds: 150 });
}

describe.skipIf(!have('qemu-system-i386') || !have('nasm'))('Linux loader + ACPI tables under qemu-system-i386', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tsvm-linux-qemu-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('boots Debian 12 i386 to the busybox shell, runs commands, and powers off through ACPI', async () => {
    const run = await bootUnderQemu(dir, { arch: 'i386', qemu: 'qemu-system-i386', long64: false, cpus: 1, ioapic: false }, [
      'echo hello-$((6*7))',
      'cat /proc/cmdline',
      'uname -m',
    ]);
    expect(run.outputs.map((o) => o.output)).toEqual(['hello-42', 'console=ttyS0', 'i686']);
    // The kernel found our tables and used them; poweroff went through \_S5_.
    expect(run.transcript).toMatch(/ACPI: RSDP 0x00000000000F0000 000014 \(v00 TSVM  \)/);
    expect(run.transcript).toMatch(/ACPI: FACP 0x[0-9A-F]+ 0000F4 \(v03 TSVM   TSVMFACP/);
    expect(run.transcript).toMatch(/ACPI: PM: Preparing to enter system sleep state S5/);
    expect(run.exitCode).toBe(0);
  }, 180_000);

  // The KVM path (64-bit entry) and a MADT with two CPUs and an IOAPIC: a
  // second, slower boot with a larger download, so only on request.
  it.runIf(process.env.TSVM_SLOW_TESTS)('enters Debian 12 amd64 at startup_64 and brings up 2 CPUs from our MADT', async () => {
    const run = await bootUnderQemu(dir, { arch: 'amd64', qemu: 'qemu-system-x86_64', long64: true, cpus: 2, ioapic: true }, [
      'uname -m',
      'grep -c ^processor /proc/cpuinfo',
    ]);
    expect(run.outputs.map((o) => o.output)).toEqual(['x86_64', '2']);
    expect(run.transcript).toMatch(/ACPI: APIC 0x[0-9A-F]+ 000062 \(v01 TSVM   TSVMAPIC/);
    expect(run.transcript).toMatch(/IOAPIC\[0\]: apic_id 0, version \d+, address 0xfec00000, GSI 0-23/);
    expect(run.exitCode).toBe(0);
  }, 180_000);
});
