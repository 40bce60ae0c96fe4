import { describe, expect, it } from 'vitest';
import { assemble, machine, pagingOn, run16, run32, runTranslated, STACK } from './harness.js';

describe('tcg paging', () => {
  it('PAE with 2 MiB and 4 KiB pages, NX faults on fetch with the I/D bit', () => {
    const m = run32(`
      ; PDPT at 0x100000, PD at 0x101000, PT at 0x102000
      mov dword [0x100000], 0x101001
      mov dword [0x101000], 0x000083         ; 0-2 MiB: one 2 MiB page
      mov dword [0x101008], 0x102003         ; 2-4 MiB: 4 KiB pages
      mov dword [0x102000], 0x300003         ; 0x200000 -> 0x300000
      mov dword [0x102010], 0x301003         ; 0x202000 -> 0x301000, NX
      mov dword [0x102014], 0x80000000
      mov byte [0x301000], 0xf4              ; hlt, never run
      mov dword [0x300010], 0xcafe
      mov eax, cr4
      or eax, 0x20
      mov cr4, eax
      mov ecx, 0xc0000080
      rdmsr
      or eax, 0x800                          ; EFER.NXE
      wrmsr
      ${pagingOn()}
      mov esi, [0x200010]
      mov eax, 0x202000
      jmp eax`);
    expect(m.cpu.regs[6]).toBe(0xcafe);
    expect(m.vector()).toBe(14);
    expect(m.cpu.cr2).toBe(0x202000);
    expect(m.mem.read32(STACK - 16)).toBe(0x11); // present, read, supervisor, instruction fetch
    // Accessed bits set by the walk; dirty only where written.
    expect(m.mem.read32(0x102000) & 0x60).toBe(0x20);
  });

  it('4 MiB pages: dirty bit on the PDE after a write; INVLPG drops a stale translation', () => {
    const m = run32(`
      mov dword [0x100000], 0x83
      mov dword [0x100004], 0x83             ; 4-8 MiB -> 0-4 MiB (alias)
      ${pagingOn(0x10)}
      mov dword [0x403000], 0x77             ; through the alias
      mov ebx, [0x3000]
      mov ecx, [0x100004]
      mov dword [0x100004], 0                ; unmap the alias
      mov edx, [0x403000]                    ; still cached in the TLB: the old mapping
      invlpg [0x403000]
      mov esi, [0x403000]                    ; now #PF
      hlt`);
    expect(m.cpu.regs[3]).toBe(0x77);
    expect(m.cpu.regs[1]! & 0x60).toBe(0x60);
    expect(m.cpu.regs[2]).toBe(0x77);
    expect(m.vector()).toBe(14);
  });

  it('global pages keep their TLB entries across a CR3 write; INVLPG and a CR4.PGE toggle drop them', () => {
    const m = run32(`
      mov dword [0x200000], 0x11
      mov dword [0x201000], 0x22
      mov dword [0x300000], 0x33
      mov dword [0x301000], 0x44
      mov dword [0x100000], 0x83             ; 0-4 MiB: this program, one 4 MiB page
      mov dword [0x100004], 0x101003         ; 4-8 MiB: 4 KiB pages
      mov dword [0x101000], 0x200103         ; 0x400000 -> 0x200000, global
      mov dword [0x101004], 0x201003         ; 0x401000 -> 0x201000
      ${pagingOn(0x90)}
      mov eax, [0x400000]
      mov eax, [0x401000]
      mov dword [0x101000], 0x300103         ; remap both
      mov dword [0x101004], 0x301003
      mov eax, cr3
      mov cr3, eax
      mov ebx, [0x400000]                    ; the global entry stayed: the old page
      mov ecx, [0x401000]                    ; the other went: the new page
      invlpg [0x400000]
      mov edx, [0x400000]
      mov dword [0x101000], 0x200103
      mov eax, cr3
      mov cr3, eax
      mov edi, [0x400000]                    ; global again: still 0x300000
      mov eax, cr4
      and eax, ~0x80
      mov cr4, eax
      or eax, 0x80
      mov cr4, eax
      mov esi, [0x400000]
      hlt`);
    expect(m.cpu.regs[3]).toBe(0x11);
    expect(m.cpu.regs[1]).toBe(0x44);
    expect(m.cpu.regs[2]).toBe(0x33);
    expect(m.cpu.regs[7]).toBe(0x33);
    expect(m.cpu.regs[6]).toBe(0x11);
  });

  it('an instruction restarted after a #PF executes with its own operand size (MOVZX)', () => {
    const m = run32(`
      mov dword [0x100000], 0x83
      mov dword [0x100004], 0x400003        ; 4-8 MiB: page table at 0x400000
      mov dword [0x400000 + 4*0x10], 0      ; 0x410000 not present
      ${pagingOn(0x10)}
      mov eax, 0xffffffff
      movzx eax, word [0x410000]
      hlt`);
    expect(m.vector()).toBe(14);
    // The "OS" maps the page and resumes the faulting instruction.
    m.mem.write32(0x400000 + 4 * 0x10, 0x500003);
    m.mem.write16(0x500000, 0xabcd);
    m.cpu.eip = m.mem.read32(STACK - 12);
    m.cpu.regs[4] = STACK;
    m.cpu.halted = false;
    m.run();
    expect(m.cpu.regs[0]).toBe(0xabcd);
  });

  it('self-modifying code: a write to a page holding decoded code is seen by the next fetch', () => {
    const m = run32(`
      mov ecx, 3
    again:
      mov eax, 1
    patch equ $ - 4
      add ebx, eax
      mov dword [patch], 10
      loop again
      hlt`);
    expect(m.cpu.regs[3]).toBe(1 + 10 + 10);
  });
});

describe('tcg real mode', () => {
  it('INT through the IVT and IRET; far call/ret; 16-bit string ops with overrides', () => {
    const m = run16(`
      mov word [0x80], handler
      mov [0x82], cs
      mov ax, 0x3000
      mov es, ax
      mov word [es:0], 0x1122
      mov ax, 0x2000
      mov ds, ax
      mov si, 0
      mov di, 0x10
      mov cx, 1
      es rep movsw                        ; ES:SI -> ES:DI with a source override
      mov ax, 0
      mov ds, ax
      int 0x20
      call far [cs:farptr]
      hlt
    handler:
      mov dx, 0x5678
      iret
    farfn:
      mov bp, 0x9abc
      retf
    farptr: dw farfn, 0x1000`);
    expect(m.mem.read16(0x30010)).toBe(0x1122);
    expect(m.cpu.regs[2]! & 0xffff).toBe(0x5678);
    expect(m.cpu.regs[5]! & 0xffff).toBe(0x9abc);
  });

  it('real mode to 32-bit protected mode, into a 16-bit protected-mode segment, and back to real mode', () => {
    const m = run16(`
      cli
      lgdt [cs:gdtr]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      jmp dword 0x08:pm32
    bits 32
    pm32:
      mov ax, 0x10
      mov ds, ax
      mov ss, ax
      mov esp, 0x9000
      mov dword [0x3000], 0x32323232
      jmp 0x18:pm16
    bits 16
    pm16:
      mov ax, 0x20
      mov es, ax
      mov word [es:0x3004], 0x1616      ; 16-bit code, 16-bit addressing
      mov eax, cr0
      and al, ~1
      mov cr0, eax
      jmp 0x1000:real
    real:
      mov ax, 0
      mov ds, ax
      mov bx, [0x3004]
      hlt
    align 8
    gdt: dq 0
      dq 0x00cf9a010000ffff             ; 08: 32-bit code, base 0x10000
      dq 0x00cf92000000ffff             ; 10: data
      dq 0x00009a010000ffff             ; 18: 16-bit code, base 0x10000
      dq 0x000092000000ffff             ; 20: 16-bit data
    gdtr: dw 39
      dd gdt + 0x10000`);
    expect(m.mem.read32(0x3000)).toBe(0x32323232);
    expect(m.cpu.regs[3]! & 0xffff).toBe(0x1616);
    expect(m.cpu.protectedMode).toBe(false);
    expect(m.cpu.segSel[1]).toBe(0x1000);
  });

  it('ENTER with nesting and LEAVE', () => {
    const m = run32(`
      mov ebp, 0x8800
      enter 16, 2
      mov eax, ebp
      mov ebx, esp
      mov ecx, [ebp-8]
      leave
      hlt`);
    // push ebp (0x8ffc), copy one outer frame pointer (0x8ff8), push frame (0x8ff4); esp = 0x8ff4 - 16.
    expect(m.cpu.regs[0]).toBe(0x8ffc);
    expect(m.cpu.regs[3]).toBe(0x8ffc - 8 - 16);
    expect(m.cpu.regs[1]).toBe(0x8ffc);
    expect(m.cpu.regs[5]).toBe(0x8800);
    expect(m.cpu.regs[4]).toBe(0x9000);
  });

  it('decimal adjust: DAA/DAS/AAA/AAM/AAD', () => {
    const m = run32(`
      mov al, 0x19
      add al, 0x28
      daa                  ; 0x47
      mov bl, al
      mov al, 0x42
      sub al, 0x19
      das                  ; 0x23
      mov bh, al
      mov ax, 0x0009
      add al, 0x05
      aaa                  ; AX = 0x0104
      mov cx, ax
      mov al, 47
      aam                  ; AX = 0x0407
      mov dx, ax
      mov ax, 0x0407
      aad                  ; AX = 47
      hlt`);
    expect(m.cpu.regs[3]! & 0xffff).toBe(0x2347);
    expect(m.cpu.regs[1]! & 0xffff).toBe(0x0104);
    expect(m.cpu.regs[2]! & 0xffff).toBe(0x0407);
    expect(m.cpu.regs[0]! & 0xffff).toBe(47);
  });
});

describe('tcg RAM above 2 GiB', () => {
  // A TLB entry keeps a RAM page's index in its upper bits (mmu.ts): from 2 GiB on they are an int32's sign.
  const HIGH = 0x9000_0000;
  const routine = `
      mov dword [${HIGH + 0x800}], 0x12345678
      add dword [${HIGH + 0x800}], 1
      mov ebx, [${HIGH + 0x800}]
      xor edx, edx
      mov ecx, 3
    again:
      mov eax, 1
    patch equ $ - 4
      add edx, eax
      mov dword [patch], 10
      loop again
      ret`;

  for (const how of ['interpreted', 'translated'] as const) {
    it(`code there runs, reads and writes its RAM and sees its own stores to its code (${how})`, () => {
      const m = machine(assemble(`mov eax, ${HIGH}\ncall eax\nhlt`), 'pm32', undefined, 0xa000_0000);
      m.mem.writeBytes(HIGH, assemble(routine, 32, HIGH));
      if (how === 'translated') runTranslated(m);
      else m.run();
      expect(m.cpu.halted).toBe(true);
      expect(m.cpu.regs[3]).toBe(0x12345679);
      expect(m.cpu.regs[2]).toBe(1 + 10 + 10);
      expect(m.mem.read32(HIGH + 0x800)).toBe(0x12345679);
    });
  }
});
