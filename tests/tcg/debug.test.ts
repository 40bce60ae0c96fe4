/**
 * Debug registers and EFLAGS.RF as the guest sees them (SDM Vol. 3B
 * chapter 17): each snippet installs a #DB handler that records how often
 * it ran, DR6, and the EIP and EFLAGS it was entered with, then returns.
 */
import { describe, expect, it } from 'vitest';
import { TcgAccelerator } from '../../src/accel/tcg/tcg.js';
import { assemble, pagingOn, run32, STACK, type TestMachine } from './harness.js';
import { flatState, makeBus } from './accelerator-bus.js';

const RF = 1 << 16;
const TF = 1 << 8;
const B0 = 1;
const BD = 1 << 13;
const BS = 1 << 14;

/** Snippet prologue: vector 1 goes to db_handler (the harness's IDT already has the gate's selector and type). */
const INSTALL_DB = `
      mov eax, db_handler
      mov [0x800 + 8], ax
      shr eax, 16
      mov [0x800 + 8 + 6], ax
      jmp main`;

/**
 * The #DB handler: counts, records DR6 (then clears it), EIP and EFLAGS
 * from its frame, applies [set_flags]/[clear_flags] to the EFLAGS image,
 * and returns. Variables at fixed addresses: see DbLog.
 */
const DB_HANDLER = `
    db_handler:
      inc dword [0x3000]
      mov eax, dr6
      mov [0x3004], eax
      mov dword [0x300c], 0     ; overwritten below: the handler ran to here
      mov eax, 0xffff0ff0
      mov dr6, eax
      mov eax, [esp]
      mov [0x3008], eax
      mov eax, [esp + 8]
      mov [0x300c], eax
      mov eax, [0x3010]
      or [esp + 8], eax
      mov eax, [0x3014]
      not eax
      and [esp + 8], eax
      mov eax, dr7
      mov [0x3018], eax
      iretd`;

interface DbLog {
  count: number;
  dr6: number;
  eip: number;
  eflags: number;
  /** DR7 as the handler read it. */
  dr7: number;
}

function dbLog(m: TestMachine): DbLog {
  const r = (a: number) => m.mem.read32(a);
  return { count: r(0x3000), dr6: r(0x3004), eip: r(0x3008), eflags: r(0x300c), dr7: r(0x3018) };
}

/** Runs `main` (ending in hlt) with the #DB handler installed; `setFlags` are ORed into the EFLAGS image the handler returns with. */
function runDebug(main: string, setFlags = 0, clearFlags = 0): TestMachine {
  return run32(`${INSTALL_DB}\n${DB_HANDLER}\n    main:\n${main}`, (m) => {
    m.mem.write32(0x3010, setFlags);
    m.mem.write32(0x3014, clearFlags);
  });
}

/** EBX = address of `label` (assembled into the snippet). */
function label(m: TestMachine, reg: number): number {
  return m.cpu.regs[reg]!;
}

describe('tcg debug registers: instruction breakpoints', () => {
  it('fault before the instruction, B0 in DR6, no RF in the image; RF set by the handler lets it run once', () => {
    const m = runDebug(
      `
      mov eax, target
      mov dr0, eax
      mov eax, 1                ; L0, R/W0=00 (execute), LEN0=00
      mov dr7, eax
      xor ecx, ecx
    target:
      inc ecx
      inc ecx
      mov ebx, target
      hlt`,
      RF,
    );
    const log = dbLog(m);
    expect(log.count).toBe(1);
    expect(log.eip).toBe(label(m, 3));
    expect(log.dr6 & 0xf).toBe(B0);
    expect(log.eflags & RF).toBe(0);
    expect(m.cpu.regs[1]).toBe(2); // the instruction ran once, after the handler
    expect(m.cpu.getEflags() & RF).toBe(0); // cleared after it completed
  });

  it('a disabled breakpoint (L0=G0=0) or one with another DR7 slot does not fire', () => {
    const m = runDebug(`
      mov eax, target
      mov dr0, eax
      mov eax, 4                ; L1 only: DR1 (0) is the enabled one
      mov dr7, eax
    target:
      nop
      hlt`);
    expect(dbLog(m).count).toBe(0);
  });

  it('IRET restoring RF suppresses the breakpoint at the return address; the next pass hits it', () => {
    const m = runDebug(
      `
      mov eax, target
      mov dr0, eax
      mov eax, 2                ; G0
      mov dr7, eax
      xor ecx, ecx
      pushfd
      or dword [esp], 0x10000   ; RF
      push cs
      push target
      iretd
    target:
      inc ecx
      cmp ecx, 2
      jb target
      hlt`,
      RF,
    );
    expect(m.cpu.regs[1]).toBe(2);
    const log = dbLog(m);
    expect(log.count).toBe(1); // only the jump back, not the IRET with RF
    expect(log.eflags & RF).toBe(0);
  });
});

describe('tcg debug registers: data breakpoints', () => {
  /** DR0 = var + offset, DR7 = L0 with R/W and LEN; then `body`. */
  function dataBp(rw: number, lenBits: number, offset: number, body: string): TestMachine {
    return runDebug(`
      mov eax, var + ${offset}
      mov dr0, eax
      mov eax, 1 | (${rw} << 16) | (${lenBits} << 18)
      mov dr7, eax
      mov ebx, after
      ${body}
    after:
      nop
      hlt
    align 16
    var: dd 0, 0`);
  }

  it('a write breakpoint traps after the writing instruction (EIP of the next), B0 set', () => {
    const m = dataBp(1, 3, 0, `mov byte [var + 2], 0x55`);
    const log = dbLog(m);
    expect(log.count).toBe(1);
    expect(log.eip).toBe(label(m, 3));
    expect(log.dr6 & 0xf).toBe(B0);
  });

  it('the written value is in memory when the trap is taken (trap, not fault)', () => {
    const m = runDebug(`
      mov eax, var
      mov dr0, eax
      mov eax, 1 | (1 << 16) | (3 << 18)
      mov dr7, eax
      mov dword [var], 0x12345678
      mov edx, [0x3000]         ; the handler's count, seen after the trap
      hlt
    align 4
    var: dd 0`);
    expect(m.cpu.regs[2]).toBe(1);
  });

  it('a write breakpoint ignores reads; a read/write breakpoint fires on reads and the read completes', () => {
    const w = dataBp(1, 3, 0, `mov eax, [var]`);
    expect(dbLog(w).count).toBe(0);
    const rw = runDebug(`
      mov dword [var], 0xabcd
      mov eax, var
      mov dr0, eax
      mov eax, 1 | (3 << 16) | (3 << 18)
      mov dr7, eax
      mov ecx, [var]
      mov ebx, after
    after:
      hlt
    align 4
    var: dd 0`);
    expect(dbLog(rw).count).toBe(1);
    expect(rw.cpu.regs[1]).toBe(0xabcd);
  });

  it('LEN 1, 2 and 4 cover exactly their aligned bytes', () => {
    // LEN 1 at var+1: a byte write to var+2 misses, to var+1 hits.
    expect(dbLog(dataBp(1, 0, 1, `mov byte [var + 2], 1`)).count).toBe(0);
    expect(dbLog(dataBp(1, 0, 1, `mov byte [var + 1], 1`)).count).toBe(1);
    // LEN 2 at var+3 covers var+2..3: a write to var+2 hits, to var+4 misses.
    expect(dbLog(dataBp(1, 1, 3, `mov byte [var + 2], 1`)).count).toBe(1);
    expect(dbLog(dataBp(1, 1, 3, `mov byte [var + 4], 1`)).count).toBe(0);
    // LEN 4 at var+5 covers var+4..7: a dword write at var+1 (bytes 1..4) overlaps it.
    expect(dbLog(dataBp(1, 3, 5, `mov dword [var + 1], 1`)).count).toBe(1);
    expect(dbLog(dataBp(1, 3, 5, `mov dword [var + 8], 1`)).count).toBe(0);
  });

  it('two breakpoints hit by one instruction are reported together (B1 and B3)', () => {
    const m = runDebug(`
      mov eax, var
      mov dr1, eax
      add eax, 4
      mov dr3, eax
      mov eax, (4 | 64) | (1 << 20) | (3 << 22) | (1 << 28) | (3 << 30)
      mov dr7, eax
      mov dword [var], 0
      mov dword [var + 4], 0
      mov eax, 0
      mov [var + 2], eax        ; bytes 2..5: both
      hlt
    align 8
    var: dd 0, 0`);
    const log = dbLog(m);
    expect(log.count).toBe(3);
    expect(log.dr6 & 0xf).toBe(0b1010);
  });

  it('a stack push is a write access; REP MOVSB stops after the iteration that hit, to resume where it was', () => {
    const push = runDebug(`
      mov eax, ${STACK - 4}
      mov dr0, eax
      mov eax, 1 | (1 << 16) | (3 << 18)
      mov dr7, eax
      push 7
      mov ebx, after
    after:
      hlt`);
    expect(dbLog(push).count).toBe(1);
    const rep = runDebug(`
      mov eax, dst + 5
      mov dr0, eax
      mov eax, 1 | (1 << 16)
      mov dr7, eax
      mov esi, src
      mov edi, dst
      mov ecx, 8
      mov ebx, repmovs
    repmovs:
      rep movsb
      hlt
    src: db 1, 2, 3, 4, 5, 6, 7, 8
    dst: times 8 db 0`);
    const log = dbLog(rep);
    expect(log.count).toBe(1);
    expect(log.eip).toBe(label(rep, 3)); // the REP instruction, to go on with the rest
    expect(rep.cpu.regs[1]).toBe(0); // and it did, after the handler
    expect(Array.from(rep.mem.readBytes(label(rep, 3) + 3 + 8, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('a REP instruction stopped by a data trap pushes RF, so its own instruction breakpoint does not fire again', () => {
    const m = runDebug(
      `
      mov eax, repmovs
      mov dr0, eax
      mov eax, dst + 5
      mov dr1, eax
      mov eax, 1 | 4 | (1 << 20)  ; DR0 execute, DR1 write LEN 1
      mov dr7, eax
      mov esi, src
      mov edi, dst
      mov ecx, 8
    repmovs:
      rep movsb
      hlt
    src: db 1, 2, 3, 4, 5, 6, 7, 8
    dst: times 8 db 0`,
      RF,
    );
    const log = dbLog(m);
    expect(log.count).toBe(2); // the instruction breakpoint, then the write to dst+5
    expect(log.dr6 & 0xf).toBe(0b10);
    expect(log.eflags & RF).toBe(RF);
    expect(m.cpu.regs[1]).toBe(0);
  });

  it('a write that faults (#PF) does not report the breakpoint', () => {
    const m = runDebug(`
      mov eax, 0x500000
      mov dr0, eax
      mov eax, 1 | (1 << 16) | (3 << 18)
      mov dr7, eax
      mov dword [0x100000], 0
      mov dword [0x100000], 0x3 | 0x83  ; one 4 MiB page, 0-4 MiB; 4-8 MiB not present
      ${pagingOn(0x10)}
      mov dword [0x500000], 1
      hlt`);
    expect(m.vector()).toBe(14);
    expect(dbLog(m).count).toBe(0);
  });
});

describe('tcg debug registers: I/O breakpoints, general detect, DR4/DR5', () => {
  const IO_BP = `
      mov eax, 0xe9
      mov dr0, eax
      mov eax, 1 | (2 << 16)    ; L0, R/W0=10 (I/O), LEN 1
      mov dr7, eax
      mov ebx, after
      mov al, 0x41
      out 0xe9, al
    after:
      hlt`;

  it('an I/O breakpoint traps after OUT to its port when CR4.DE is set; without DE R/W=10 is no breakpoint', () => {
    const withDe = runDebug(`
      mov eax, cr4
      or eax, 8
      mov cr4, eax
      ${IO_BP}`);
    expect(withDe.out).toEqual([0x41]);
    const log = dbLog(withDe);
    expect(log.count).toBe(1);
    expect(log.eip).toBe(label(withDe, 3));
    expect(log.dr6 & 0xf).toBe(B0);
    expect(dbLog(runDebug(IO_BP)).count).toBe(0);
  });

  it('DR7.GD: MOV from a debug register is a #DB fault with BD; the handler runs with GD clear', () => {
    const m = runDebug(
      `
      mov eax, 0x2000 | 0x400   ; GD
      mov dr7, eax
      mov ecx, 5
      mov ebx, access
    access:
      mov ecx, dr0
      hlt`);
    const log = dbLog(m);
    expect(log.count).toBe(1);
    expect(log.eip).toBe(label(m, 3)); // a fault: the MOV again on return
    expect(log.dr6 & BD).toBe(BD);
    expect(log.dr7 & 0x2000).toBe(0);
    expect(log.eflags & RF).toBe(RF); // a fault other than an instruction breakpoint
    expect(m.cpu.regs[1]).toBe(0); // and then the MOV ran (GD is clear now)
  });

  it('DR4/DR5 are DR6/DR7 with CR4.DE=0 and #UD with CR4.DE=1', () => {
    const alias = run32(`
      mov eax, 0x3
      mov dr5, eax              ; DR7
      mov ebx, dr7
      mov ecx, dr4              ; DR6
      xor eax, eax
      mov dr7, eax
      hlt`);
    expect(alias.cpu.regs[3]).toBe(0x403);
    expect(alias.cpu.regs[1]).toBe(0xffff0ff0);
    const ud = run32(`
      mov eax, cr4
      or eax, 8
      mov cr4, eax
      mov eax, dr4
      hlt`);
    expect(ud.vector()).toBe(6);
  });
});

describe('tcg single-step and EFLAGS.RF', () => {
  it('TF traps after each instruction with BS; the trap after POPF comes after the next instruction', () => {
    const m = runDebug(
      `
      pushfd
      or dword [esp], 0x100
      popfd
      mov ebx, after
      nop
    after:
      hlt`,
      0,
      TF,
    );
    const log = dbLog(m);
    expect(log.count).toBe(1); // after MOV EBX (the first instruction run with TF)
    expect(log.dr6 & BS).toBe(BS);
    expect(log.eip).toBe(label(m, 3) - 1);
  });

  it('single-step and a data breakpoint on the same instruction: one #DB with BS and B0', () => {
    const m = runDebug(
      `
      mov eax, var
      mov dr0, eax
      mov eax, 1 | (1 << 16) | (3 << 18)
      mov dr7, eax
      pushfd
      or dword [esp], 0x100
      popfd
      mov dword [var], 1
      mov ebx, 0
      hlt
    align 4
    var: dd 0`,
      0,
      TF,
    );
    const log = dbLog(m);
    expect(log.count).toBe(1);
    expect(log.dr6 & (BS | 0xf)).toBe(BS | B0);
  });

  it('MOV SS holds the single-step trap until after the next instruction', () => {
    const m = runDebug(
      `
      mov ebx, after
      mov ax, ss
      pushfd
      or dword [esp], 0x100
      popfd
      mov ss, ax
      mov esp, esp
    after:
      hlt`,
      0,
      TF,
    );
    const log = dbLog(m);
    expect(log.count).toBe(1);
    expect(log.eip).toBe(label(m, 3)); // after MOV ESP, ESP, not after MOV SS
    expect(log.dr6 & BS).toBe(BS);
  });

  it('a fault pushes EFLAGS with RF set', () => {
    const m = run32(`ud2`);
    expect(m.vector()).toBe(6);
    expect(m.mem.read32(STACK - 4) & RF).toBe(RF); // EIP CS EFLAGS: EFLAGS is the first pushed
  });

  it('a trap or software interrupt pushes EFLAGS without RF', () => {
    const m = run32(`int 0x30`);
    expect(m.vector()).toBe(0x30);
    expect(m.mem.read32(STACK - 4) & RF).toBe(0);
  });
});

describe('tcg debug registers on the accelerator (translator on)', () => {
  it('a data breakpoint armed while translated code runs fires on the very first store', async () => {
    // storeloop gets translated on its first call; the second call runs with a write
    // breakpoint on var, which the translator must honour at once: the trap comes
    // after the first store, with ECX still at its starting value.
    const { bus } = makeBus(
      assemble(`
        lidt [idtr]
        mov ecx, 20000
        call storeloop
        mov eax, var
        mov dr0, eax
        mov eax, 1 | (1 << 16) | (3 << 18)
        mov dr7, eax
        mov ecx, 20000
        call storeloop
        mov al, 0xee              ; the loop ended without a trap
        out 0xf4, al
      storeloop:
        mov [var], ecx
        dec ecx
        jnz storeloop
        ret
      handler:
        mov eax, dr6
        cmp ecx, 20000
        je report
        mov al, 0                 ; the trap came late
      report:
        out 0xf4, al
      idtr: dw 0x7ff
        dd 0x1000
      var equ 0x30000             ; not on the code's page (stores there would drop its translation)`),
    );
    const code = bus.mem.readBytes(0x10000, 256);
    let off = 0;
    while (!(code[off] === 0x0f && code[off + 1] === 0x21 && code[off + 2] === 0xf0)) off++; // mov eax, dr6
    const handler = 0x10000 + off;
    bus.mem.write32(0x1000 + 8, (0x08 << 16) | (handler & 0xffff));
    bus.mem.write32(0x1000 + 8 + 4, (handler & 0xffff0000) | 0x8e00);
    const acc = new TcgAccelerator(bus, { oneInsnPerTb: false });
    acc.vcpus[0]!.setState(flatState(0x10000));
    expect(await acc.run()).toBe('request');
    expect(bus.lifecycle.take()).toMatchObject({ kind: 'exit', status: 0xf1 }); // DR6: B0
    expect(acc.jitStats()!.translated).toBeGreaterThan(0);
    acc.destroy();
  });
});
