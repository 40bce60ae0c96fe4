import { describe, expect, it } from 'vitest';
import { pagingOn, REC, run16, run32, STACK } from './harness.js';

const CF = 1, ZF = 0x40, SF = 0x80, OF = 0x800;

describe('tcg integer basics (32-bit flat protected mode)', () => {
  it('runs a loop summing 1..100', () => {
    const m = run32(`
      xor eax, eax
      mov ecx, 100
    l: add eax, ecx
      loop l
      hlt`);
    expect(m.cpu.regs[0]).toBe(5050);
    expect(m.cpu.regs[1]).toBe(0);
  });

  it('sets flags for add/sub/cmp', () => {
    const m = run32(`
      mov eax, 0x7fffffff
      add eax, 1
      pushfd
      pop ebx
      mov eax, 0
      sub eax, 1
      pushfd
      pop ecx
      hlt`);
    expect(m.cpu.regs[3]! & (OF | SF | ZF | CF)).toBe(OF | SF);
    expect(m.cpu.regs[1]! & (OF | SF | ZF | CF)).toBe(SF | CF);
  });

  it('mul/div/imul with 64-bit products', () => {
    const m = run32(`
      mov eax, 0xfffffff0
      mov ebx, 0x12345678
      mul ebx
      mov esi, edx
      mov edi, eax
      mov eax, -7
      cdq
      mov ebx, 2
      idiv ebx
      hlt`);
    const p = 0xfffffff0n * 0x12345678n;
    expect(m.cpu.regs[6]).toBe(Number(p >> 32n));
    expect(m.cpu.regs[7]).toBe(Number(p & 0xffffffffn));
    expect(m.cpu.regs[0]! | 0).toBe(-3);
    expect(m.cpu.regs[2]! | 0).toBe(-1);
  });

  it('rep movsb/stosd and cmpsb', () => {
    const m = run32(`
      mov edi, 0x20000
      mov eax, 0x41424344
      mov ecx, 4
      rep stosd
      mov esi, 0x20000
      mov edi, 0x20100
      mov ecx, 16
      rep movsb
      mov esi, 0x20000
      mov edi, 0x20100
      mov ecx, 16
      repe cmpsb
      hlt`);
    expect(m.mem.read32(0x2010c)).toBe(0x41424344);
    expect(m.cpu.regs[1]).toBe(0);
    expect(m.cpu.getEflags() & ZF).toBe(ZF);
  });

  it('rep movs/stos across pages, overlapping forward copy replicates, stosw pattern', () => {
    const m = run32(`
      mov edi, 0x20ffe
      mov eax, 0x11223344
      mov ecx, 3000
      rep stosd                    ; 12000 bytes from 0x20ffe, crossing pages unaligned
      mov esi, 0x20ffe
      mov edi, 0x40001
      mov ecx, 12000
      rep movsb
      mov byte [0x50000], 0xab
      mov esi, 0x50000
      mov edi, 0x50001
      mov ecx, 5000
      rep movsb                    ; overlapping: fills 5001 bytes with 0xab
      mov edi, 0x60000
      mov ax, 0x1234
      mov ecx, 3000
      rep stosw
      hlt`);
    expect(m.mem.read32(0x20ffe)).toBe(0x11223344);
    expect(m.mem.read32(0x20ffe + 11996)).toBe(0x11223344);
    expect(m.mem.read32(0x20ffe + 12000)).toBe(0);
    expect(m.mem.read32(0x40001 + 4 * 1500)).toBe(0x11223344);
    expect(m.mem.read8(0x50000 + 5000)).toBe(0xab);
    expect(m.mem.read8(0x50000 + 5001)).toBe(0);
    expect(m.mem.read16(0x60000 + 2 * 2999)).toBe(0x1234);
    expect(m.cpu.regs[7]).toBe(0x60000 + 6000);
  });

  it('rep stosd into a not-present page faults with ECX/EDI at the first element not stored', () => {
    const m = run32(`
      mov dword [0x100000], 0x103003         ; PDE 0 -> page table at 0x103000
      mov ecx, 1024
      mov edi, 0x103000
      mov eax, 0x3
    fill: stosd
      add eax, 0x1000
      loop fill
      mov dword [0x103000 + 4*0x81], 0       ; 0x81000 not present
      ${pagingOn()}
      mov edi, 0x80f00
      mov eax, 0x55aa55aa
      mov ecx, 2000
      rep stosd
      hlt`);
    expect(m.vector()).toBe(14);
    expect(m.cpu.cr2).toBe(0x81000);
    expect(m.cpu.regs[7]).toBe(0x81000);
    expect(m.cpu.regs[1]).toBe(2000 - 0x100 / 4);
    expect(m.mem.read32(0x80ffc)).toBe(0x55aa55aa);
  });

  it('call/ret/push/pop and a divide error reaches the IDT with EIP at the faulting insn', () => {
    const m = run32(`
      call f
      xor ecx, ecx
    fault: div ecx
      hlt
    f: mov eax, 5
      ret`);
    expect(m.mem.read32(REC)).toBe(0);
    // The stack holds EIP (faulting div), CS, EFLAGS.
    const eip = m.mem.read32(STACK - 12);
    expect(m.mem.read8(eip)).toBe(0xf7);
  });

  it('page fault with error code and CR2', () => {
    const m = run32(`
      ; page directory at 0x100000: identity 4 MiB page for the first 4 MiB, nothing else
      mov dword [0x100000], 0x87
      ${pagingOn(0x10)}
      mov dword [0x00800004], 1
      hlt`);
    expect(m.mem.read32(REC)).toBe(14);
    expect(m.cpu.cr2).toBe(0x00800004);
    expect(m.mem.read32(STACK - 16)).toBe(2); // not present, write, supervisor
  });
});

describe('tcg real mode', () => {
  it('runs 16-bit code with segment arithmetic', () => {
    const m = run16(`
      mov ax, 0x2000
      mov ds, ax
      mov word [0x10], 0x1234
      mov bx, [0x10]
      mov ax, 0
      mov ds, ax
      mov cx, [0x20010]
      hlt`);
    expect(m.cpu.regs[3]! & 0xffff).toBe(0x1234);
    expect(m.cpu.regs[1]! & 0xffff).toBe(0xffff & m.mem.read16(0x10)); // 16-bit offset wraps: [0x0010]
  });
});
