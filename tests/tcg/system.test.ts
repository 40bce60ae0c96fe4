import { describe, expect, it } from 'vitest';
import { assemble, machine, run32, runTranslated, STACK, type TestMachine } from './harness.js';

/** Paging on: 0-4 MiB supervisor-only 4 MiB page, 4-8 MiB user 4 MiB page; copies `user` to 0x400000. */
const PAGING_AND_USER = `
      mov dword [0x100000], 0x83
      mov dword [0x100004], 0x400087
      mov eax, cr4
      or eax, 0x10
      mov cr4, eax
      mov eax, 0x100000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80010000
      mov cr0, eax
      mov esi, user
      mov edi, 0x400000
      mov ecx, user_end - user
      rep movsb
`;

/** iretd to ring 3 at 0x400000 with ESP 0x401000 and the given EFLAGS. */
function toUser(eflags = 0x202): string {
  return `
      mov ax, 0x33
      mov ds, ax
      mov es, ax
      push 0x33
      push 0x401000
      push ${eflags}
      push 0x2b
      push 0x400000
      iretd`;
}

function frame(m: TestMachine, n: number): number[] {
  return Array.from({ length: n }, (_, i) => m.mem.read32(STACK - 4 * n + 4 * i));
}

describe('tcg privilege transitions', () => {
  it('iret to ring 3, int 0x30 back to ring 0 on the TSS stack', () => {
    const m = run32(`${PAGING_AND_USER}${toUser()}
    user:
      mov eax, 0x1234
      int 0x30
    user_end:`);
    expect(m.vector()).toBe(0x30);
    expect(m.cpu.cpl).toBe(0);
    expect(m.cpu.regs[0]).toBe(0x1234);
    // EIP (after INT), CS, EFLAGS, ESP, SS pushed on the ring-0 stack from the TSS.
    expect(frame(m, 5)).toEqual([0x400007, 0x2b, 0x202, 0x401000, 0x33]);
  });

  it('user access to a supervisor page is #PF with error code P|U', () => {
    const m = run32(`${PAGING_AND_USER}${toUser()}
    user:
      mov eax, [0x1000]
    user_end:`);
    expect(m.vector()).toBe(14);
    expect(m.cpu.cr2).toBe(0x1000);
    expect(frame(m, 6)[0]).toBe(5);
  });

  it('a supervisor page the kernel has just read and written stays closed to ring 3 (#PF P|U, then P|W|U)', () => {
    // The kernel's accesses enter the page in the TLB's fast path for CPL 0; ring 3's go by its own entries.
    const kernelFirst = (access: string) => `${PAGING_AND_USER}
      mov eax, [0x1000]
      mov [0x1000], eax
      ${toUser()}
    user:
      ${access}
    user_end:`;
    const read = run32(kernelFirst('mov eax, [0x1000]'));
    expect(read.vector()).toBe(14);
    expect(read.cpu.cr2).toBe(0x1000);
    expect(frame(read, 6)[0]).toBe(5);
    const write = run32(kernelFirst('mov dword [0x1000], 1'));
    expect(write.vector()).toBe(14);
    expect(write.cpu.cr2).toBe(0x1000);
    expect(frame(write, 6)[0]).toBe(7);
  });

  it('privileged instruction in ring 3 is #GP(0); IN with IOPL 0 and a denying bitmap is #GP(0), allowed port works', () => {
    const m1 = run32(`${PAGING_AND_USER}${toUser()}
    user:
      mov eax, cr0
    user_end:`);
    expect(m1.vector()).toBe(13);
    expect(frame(m1, 6)[0]).toBe(0);
    const m2 = run32(
      `${PAGING_AND_USER}${toUser()}
    user:
      mov al, 0x41
      out 0xe9, al
      out 0xe8, al
    user_end:`,
      (m) => {
        // I/O bitmap at TSS+0x68: deny port 0xE8, allow 0xE9.
        m.mem.write8(0x4000 + 0x68 + (0xe8 >> 3), 1 << (0xe8 & 7));
      },
    );
    expect(m2.out).toEqual([0x41]);
    expect(m2.vector()).toBe(13);
  });

  it('RDTSC in ring 3 with CR4.TSD is #GP(0) at the RDTSC, interpreted and in a translated block', () => {
    const src = `
      mov eax, cr4
      or eax, 4
      mov cr4, eax
      ${PAGING_AND_USER}${toUser()}
    user:
      mov ebx, 1
      rdtsc
    user_end:`;
    const interpreted = run32(src);
    const translated = machine(assemble(src, 32), 'pm32');
    runTranslated(translated);
    for (const m of [interpreted, translated]) {
      expect(m.vector()).toBe(13);
      expect(frame(m, 6).slice(0, 2)).toEqual([0, 0x400005]);
    }
  });

  it('#AC(0) for a misaligned user access with CR0.AM and EFLAGS.AC; aligned is fine', () => {
    const m = run32(`
      mov eax, cr0
      or eax, 0x40000
      mov cr0, eax
      ${PAGING_AND_USER}${toUser(0x40202)}
    user:
      mov eax, [0x400100]
      mov eax, [0x400101]
    user_end:`);
    expect(m.vector()).toBe(17);
    // A fault pushes EFLAGS with RF (0x10000) set (SDM Vol. 3B 17.3.1.1).
    expect(frame(m, 6)).toEqual([0, 0x400005, 0x2b, 0x50202, 0x401000, 0x33]);
  });

  it('sysenter/sysexit switch between flat ring 0 and ring 3', () => {
    const m = run32(`
      mov ecx, 0x174
      mov eax, 0x08
      xor edx, edx
      wrmsr
      mov ecx, 0x175
      mov eax, 0x8000
      wrmsr
      mov ecx, 0x176
      mov eax, kernel
      wrmsr
      mov ecx, 0x7000
      mov edx, user
      sysexit
    user:
      mov ebx, cs
      mov esi, esp
      sysenter
    kernel:
      hlt`);
    expect(m.cpu.regs[3]).toBe(0x1b);
    expect(m.cpu.regs[6]).toBe(0x7000);
    expect(m.cpu.segSel[1]).toBe(0x08);
    expect(m.cpu.regs[4]).toBe(0x8000);
    expect(m.cpu.cpl).toBe(0);
  });

  it('far call through a call gate to ring 0 copies parameters and returns with retf', () => {
    const m = run32(
      `
      mov eax, gate_target          ; GDT[8] (0x40): 32-bit call gate, DPL 3, 2 parameters
      mov word [0x540], ax
      mov word [0x542], 0x08
      mov word [0x544], 0xec02
      shr eax, 16
      mov word [0x546], ax
      ${PAGING_AND_USER}${toUser()}
    gate_target:
      mov eax, [esp+8]
      mov ebx, [esp+12]
      mov ecx, [esp+16]
      mov edx, cs
      retf 8
    user:
      push 0x11111111
      push 0x22222222
      call 0x43:0
      mov edi, 0x5555
      int 0x30
    user_end:`,
      (m) => {
        m.cpu.gdtrLimit = 9 * 8 - 1;
      },
    );
    expect(m.vector()).toBe(0x30);
    expect(m.cpu.regs[0]).toBe(0x22222222);
    expect(m.cpu.regs[3]).toBe(0x11111111);
    expect(m.cpu.regs[1]).toBe(0x401000 - 8);
    expect(m.cpu.regs[2]).toBe(0x08);
    expect(m.cpu.regs[7]).toBe(0x5555);
    expect(frame(m, 5)[3]).toBe(0x401000); // user ESP after retf popped the parameters
  });
});

describe('tcg exceptions', () => {
  it('#UD, #BP (trap: EIP after), #BR, #OF', () => {
    const ud = run32('ud2\nhlt');
    expect(ud.vector()).toBe(6);
    const bp = run32('nop\nint3\nhlt');
    expect(bp.vector()).toBe(3);
    expect(bp.mem.read32(STACK - 12)).toBe(0x10002);
    const br = run32(`
      mov dword [0x3000], 10
      mov dword [0x3004], 20
      mov eax, 21
      bound eax, [0x3000]
      hlt`);
    expect(br.vector()).toBe(5);
    const of = run32('mov al, 0x7f\nadd al, 1\ninto\nhlt');
    expect(of.vector()).toBe(4);
  });

  it('LOCK is fine on read-modify-write memory forms and #UD elsewhere', () => {
    const ok = run32(`
      mov dword [0x3000], 5
      lock add dword [0x3000], 2
      lock inc dword [0x3000]
      lock bts dword [0x3000], 4
      mov eax, 24
      mov ecx, 30
      lock cmpxchg [0x3000], ecx
      lock xadd [0x3000], eax
      hlt`);
    expect(ok.vector()).toBe(-1);
    expect(ok.mem.read32(0x3000)).toBe(54);
    expect(run32('lock add eax, ebx\nhlt').vector()).toBe(6);
    expect(run32('lock mov [0x3000], eax\nhlt').vector()).toBe(6);
    expect(run32('lock cmp [0x3000], eax\nhlt').vector()).toBe(6);
  });

  it('#DE while the #DE gate is not present escalates to #DF with error code 0', () => {
    const m = run32(`
      and dword [0x800+4], ~0x8000
      xor ecx, ecx
      div ecx
      hlt`);
    expect(m.vector()).toBe(8);
    expect(m.mem.read32(STACK - 16)).toBe(0);
  });

  it('a fault with no usable IDT is a triple fault', () => {
    const m = run32(`
      lidt [idt]
      ud2
    idt: dw 0
      dd 0`);
    expect(m.interp.shutdown).toBe(true);
  });

  it('#GP with a selector error code for a bad segment load; #NP for a not-present segment', () => {
    const gp = run32(`
      mov ax, 0x1000
      mov ds, ax
      hlt`);
    expect(gp.vector()).toBe(13);
    expect(gp.mem.read32(STACK - 16)).toBe(0x1000);
    const np = run32(`
      and dword [0x500 + 0x10 + 4], ~0x8000
      mov ax, 0x10
      mov es, ax
      hlt`);
    expect(np.vector()).toBe(11);
    expect(np.mem.read32(STACK - 16)).toBe(0x10);
  });

  it('NMI is taken even with IF=0, once; IRET unblocks the next', () => {
    const m = run32('cli\nnop\nnop\nhlt', (t) => {
      t.cpu.nmiPending = true;
    });
    expect(m.vector()).toBe(2);
    expect(m.cpu.nmiBlocked).toBe(true);
  });

  it('single-step trap (#DB) after one instruction', () => {
    const m = run32(`
      pushfd
      or dword [esp], 0x100
      popfd
      mov eax, 1
      mov eax, 2
      hlt`);
    expect(m.vector()).toBe(1);
    expect(m.cpu.regs[0]).toBe(1);
  });
});

describe('tcg task switching', () => {
  it('CALL to a TSS runs the new task; IRET with NT returns to the caller', () => {
    const m = run32(
      `
      call 0x40:0
      mov esi, 0x600d
      hlt
    task2:
      mov ebx, 0xbeef
      iretd
      hlt`,
      (m) => {
        // TSS #2 at 0x6000, descriptor GDT[8] (selector 0x40); GDT limit covers it.
        const tss = 0x6000;
        m.mem.write32(0x500 + 0x40, (tss << 16) | 0x67);
        m.mem.write32(0x500 + 0x44, 0x00008900);
        m.cpu.gdtrLimit = 9 * 8 - 1;
        m.mem.write32(tss + 32, 0x10000 + 13); // EIP = task2 (after 'call far' (7) + mov esi (5) + hlt (1))
        m.mem.write32(tss + 36, 0x2);
        m.mem.write32(tss + 56, 0x7000); // ESP
        for (const [off, sel] of [[72, 0x10], [76, 0x08], [80, 0x10], [84, 0x10], [88, 0x10], [92, 0x10]] as const) {
          m.mem.write32(tss + off, sel);
        }
      },
    );
    expect(m.mem.read32(0x6000 + 52)).toBe(0xbeef); // task 2's EBX saved in its TSS on the way back
    expect(m.cpu.regs[6]).toBe(0x600d);
    expect(m.cpu.trSel).toBe(0x38);
    expect(m.mem.read16(0x6000)).toBe(0x38); // back-link
    expect((m.mem.read32(0x500 + 0x44) >> 9) & 1).toBe(0); // task 2 no longer busy
  });
});

describe('tcg virtual-8086 mode', () => {
  it('iret into v86 mode runs 16-bit code with paragraph segments; INT (IOPL 3) exits to ring 0 with the v86 frame', () => {
    const m = run32(`
      mov esi, v86code
      mov edi, 0x20000
      mov ecx, v86end - v86code
      rep movsb
      push 0            ; GS
      push 0            ; FS
      push 0x3000       ; DS
      push 0            ; ES
      push 0x2000       ; SS
      push 0x100        ; ESP
      push 0x23202      ; EFLAGS: VM, IOPL 3, IF
      push 0x2000       ; CS
      push 0            ; EIP
      iretd
    bits 16
    v86code:
      mov word [0x10], 0x4321
      mov ax, [0x10]
      int 0x30
    v86end:`);
    expect(m.vector()).toBe(0x30);
    expect(m.mem.read16(0x30010)).toBe(0x4321);
    expect(m.cpu.regs[0]! & 0xffff).toBe(0x4321);
    // EIP CS EFLAGS ESP SS ES DS FS GS
    const f = frame(m, 9);
    expect(f[1]).toBe(0x2000);
    expect(f[2]! & 0x20000).toBe(0x20000);
    expect(f[4]).toBe(0x2000);
    expect(f[6]).toBe(0x3000);
    expect(m.cpu.segSel[3]).toBe(0);
  });
});
