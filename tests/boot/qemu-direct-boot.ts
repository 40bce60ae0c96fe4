/**
 * Runs what a tsvm boot loader prepared on QEMU's CPU: the guest memory
 * ranges the loader wrote become raw `-device loader` blobs, and a tiny
 * firmware does only what tsvm's accelerators do with the returned CpuState:
 * load the GDT, enter flat protected mode (or long mode straight from real
 * mode: PAE, CR3, EFER.LME, then CR0.PE|PG together and a far jump to the
 * 64-bit CS), load the general registers and jump to the entry point. It
 * also maps the PIIX4 PM block at PM_BASE as SeaBIOS would, so the guest's
 * ACPI poweroff reaches QEMU.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressSpace } from '../../src/memory/address-space.js';
import { GPR_NAMES, type CpuState } from '../../src/accel/cpu-state.js';

export const PM_BASE = 0x600;
const BIOS_AREA = 0xf0000;

/**
 * QEMU arguments (`-bios` and `-device loader`s, files written into `dir`)
 * that start the CPU in `state` over `ranges` ([addr, length]) of `mem`;
 * whatever tsvm wrote at 0xF0000 (the RSDP) goes into the firmware image.
 */
export function directBootArgs(dir: string, mem: AddressSpace, state: CpuState, ranges: [number, number][]): string[] {
  const loaders = ranges.flatMap(([addr, length], i) => {
    const file = path.join(dir, `blob${i}.bin`);
    writeFileSync(file, mem.readBytes(addr, length));
    return ['-device', `loader,file=${file},addr=${addr},force-raw=on`];
  });
  const bios = path.join(dir, 'bios.bin');
  writeFileSync(bios, firmware(dir, state, mem.readBytes(BIOS_AREA, 0x10000)));
  return ['-bios', bios, ...loaders];
}

function firmware(dir: string, state: CpuState, biosArea: Uint8Array): Buffer {
  const long64 = (state.efer & 0x100n) !== 0n;
  const reg = (name: string) => state.gpr[GPR_NAMES.indexOf(name as (typeof GPR_NAMES)[number])]!;
  const loadRegisters = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi']
    .map((r) => `  mov ${r}, ${reg('r' + r.slice(1))}`)
    .join('\n');
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
${loadRegisters}
  jmp ${long64 ? 'qword [rel target]' : 'dword [0xF0000 + target]'}
target:
  dq ${state.rip}
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
