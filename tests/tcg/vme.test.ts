/**
 * Virtual-8086 mode extensions (CR4.VME) and protected-mode virtual
 * interrupts (CR4.PVI), SDM Vol. 3B 20.3-20.4: with IOPL < 3, CLI/STI/
 * PUSHF/POPF/IRET work on VIF, STI and POPF #GP when VIP is pending, and
 * INT n goes to the 8086 handler when the TSS redirection bitmap says so.
 * The v86 code runs at CS 0x2000, SS:SP 0x2000:0x100, DS 0x3000; the
 * harness's TSS has its I/O map at 0x68, so the redirection bitmap is at
 * TSS+0x48 (all zero: every vector redirected).
 */
import { describe, expect, it } from 'vitest';
import { run32, STACK, type TestMachine } from './harness.js';

const VM = 1 << 17;
const IF = 1 << 9;
const VIF = 1 << 19;
const VIP = 1 << 20;
const TSS = 0x4000;

/** Enters v86 mode with `eflags` (VM is added) and CR4 = `cr4`, running `code` (16-bit). */
function v86(code: string, eflags: number, cr4 = 1, setup?: (m: TestMachine) => void): TestMachine {
  return run32(
    `
      mov eax, ${cr4}
      mov cr4, eax
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
      push ${(eflags | VM) >>> 0}
      push 0x2000       ; CS
      push 0            ; EIP
      iretd
    bits 16
    v86code:
      ${code}
    v86end:`,
    setup,
  );
}

/** The #GP frame from v86 mode: error code, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS. */
function gpFrame(m: TestMachine): number[] {
  return Array.from({ length: 10 }, (_, i) => m.mem.read32(STACK - 40 + 4 * i));
}

describe('tcg CR4.VME in virtual-8086 mode (IOPL 0)', () => {
  it('CLI/STI change VIF, not IF; PUSHF shows VIF as IF and IOPL 3; POPF loads VIF', () => {
    const m = v86(
      `
      cli
      pushf
      pop word [0x10]
      sti
      pushf
      pop word [0x12]
      push word 0
      popf
      pushf
      pop word [0x14]
      hlt                      ; #GP: the end`,
      IF | VIF,
    );
    expect(m.vector()).toBe(13);
    expect([m.mem.read16(0x30010), m.mem.read16(0x30012), m.mem.read16(0x30014)]).toEqual([0x3002, 0x3202, 0x3002]);
    const eflags = gpFrame(m)[3]!;
    expect(eflags & (IF | VIF | 0x3000)).toBe(IF); // IF untouched, VIF clear from the POPF, IOPL still 0
  });

  it('without CR4.VME the same CLI is #GP(0)', () => {
    const m = v86('cli', IF, 0);
    expect(m.vector()).toBe(13);
    expect(gpFrame(m)[1]).toBe(0);
  });

  it('STI with VIP pending is #GP(0); so is POPF setting IF with VIP, or setting TF', () => {
    expect(gpFrame(v86('sti', VIP))[1]).toBe(0);
    const popfIf = v86('push word 0x200\npopf', VIP);
    expect(popfIf.vector()).toBe(13);
    expect(gpFrame(popfIf)[1]).toBe(3); // the POPF (after a 3-byte PUSH)
    expect(gpFrame(v86('push word 0x100\npopf', 0))[1]).toBe(3);
  });

  it('32-bit PUSHFD/POPFD stay IOPL-sensitive (#GP)', () => {
    expect(gpFrame(v86('pushfd', VIF))[1]).toBe(0);
    expect(gpFrame(v86('popfd', VIF))[1]).toBe(0);
  });

  it('INT n with its bitmap bit clear goes to the IVT handler; FLAGS image has VIF as IF, then VIF is cleared', () => {
    const m = v86(
      `int 0x21`,
      IF | VIF,
      1,
      (m) => {
        m.mem.write32(0x21 * 4, (0x2000 << 16) | 0x40);
        m.mem.writeBytes(0x20040, new Uint8Array([0xb8, 0x55, 0x55, 0xf4])); // mov ax, 0x5555; hlt
      },
    );
    expect(m.vector()).toBe(13); // the handler's HLT
    const f = gpFrame(m);
    expect(f[1]).toBe(0x43);
    expect(m.cpu.regs[0]! & 0xffff).toBe(0x5555);
    // The 8086 frame on the v86 stack: IP (after INT), CS, FLAGS (IF = VIF = 1, IOPL 3).
    expect([m.mem.read16(0x20100 - 6), m.mem.read16(0x20100 - 4), m.mem.read16(0x20100 - 2)]).toEqual([0x2, 0x2000, 0x3202]);
    expect(f[3]! & (IF | VIF)).toBe(IF);
  });

  it('INT n with its bitmap bit set is #GP(0) at IOPL 0 and goes to the protected-mode handler at IOPL 3', () => {
    const setBit = (m: TestMachine) => m.mem.write8(TSS + 0x48 + (0x30 >> 3), 1 << (0x30 & 7));
    expect(v86('int 0x30', IF, 1, setBit).vector()).toBe(13);
    expect(v86('int 0x30', IF | 0x3000, 1, setBit).vector()).toBe(0x30);
  });

  it('INT n at IOPL 3 with its bit clear goes to the IVT handler with IF cleared', () => {
    const m = v86('int 0x21', IF | 0x3000, 1, (m) => {
      m.mem.write32(0x21 * 4, (0x2000 << 16) | 0x40);
      m.mem.writeBytes(0x20040, new Uint8Array([0x9c, 0x58, 0x0f, 0x0b])); // pushf; pop ax; ud2
    });
    expect(m.vector()).toBe(6);
    expect(m.cpu.regs[0]! & (IF | 0x3000)).toBe(0x3000);
    expect(m.mem.read16(0x20100 - 2) & IF).toBe(IF);
  });

  it('16-bit IRET at IOPL 0 loads VIF from the image; INT3 is not IOPL-sensitive (the protected-mode handler)', () => {
    const m = v86(
      `
      push word 0x0200          ; FLAGS with IF
      push word 0x2000
      push word next - v86code  ; the code runs at 0x2000:0
      iret
    next:
      int3`,
      IF,
    );
    expect(m.vector()).toBe(3);
    // INT3's frame (no error code): EIP CS EFLAGS ...
    const eflags = m.mem.read32(STACK - 36 + 8);
    expect(eflags & (VIF | IF)).toBe(VIF | IF);
  });
});

describe('tcg CR4.PVI at CPL 3', () => {
  /** Paging with a user page at 0x400000, then iretd to ring 3 with IOPL 0 and `user` there. */
  function ring3(cr4: number, user: string): TestMachine {
    return run32(`
      mov dword [0x100000], 0x87
      mov dword [0x100004], 0x400087
      mov eax, ${cr4 | 0x10}
      mov cr4, eax
      mov eax, 0x100000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov esi, user
      mov edi, 0x400000
      mov ecx, user_end - user
      rep movsb
      push 0x33
      push 0x401000
      push ${IF | VIF}
      push 0x2b
      push 0x400000
      iretd
    user:
      ${user}
    user_end:`);
  }

  it('CLI clears VIF and STI sets it; without PVI CLI is #GP(0)', () => {
    const m = ring3(2, `cli\nmov eax, 1\nint 0x30`);
    expect(m.vector()).toBe(0x30);
    expect(m.cpu.regs[0]).toBe(1);
    const frame = Array.from({ length: 5 }, (_, i) => m.mem.read32(STACK - 20 + 4 * i));
    expect(frame[2]! & (IF | VIF)).toBe(IF);
    expect(ring3(0, 'cli').vector()).toBe(13);
  });
});
