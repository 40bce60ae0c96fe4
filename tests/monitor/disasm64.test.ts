/**
 * The monitor's x/i disassembler on 64-bit code: a corpus assembled by nasm
 * (`bits 64`) against `objdump -mi386:x86-64` line by line (REX prefixes and
 * the r8-r15 family, 64-bit stack operations, movabs, RIP-relative operands
 * with objdump's `# target` comment, movsxd, swapgs/syscall/sysret,
 * cdqe/cqo/iretq, the opcodes 64-bit mode drops); and HMP's `x/i` on a
 * long-mode guest under -accel kvm against objdump of the guest's bytes.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { disassembleOne } from '../../src/monitor/disasm.js';
import { requireTool } from '../helpers/tools.js';
import { startTsvm, type TsvmRun } from '../helpers/tsvm-process.js';
import { buildGuests, guestPath, kvmUnavailable } from '../kvm/harness.js';
import { BASE, nasmEach, objdump, objdumpFile, ours } from './disasm-objdump.js';

requireTool('objdump', 'binutils');
requireTool('nasm', 'nasm');

// prettier-ignore
const CODE64 = [
  // REX.W/R/X/B and the registers they reach
  'inc rcx', 'add rdx, rcx', 'add r15, 0x100', 'xor r10d, r10d', 'shl r14, 3', 'and rsp, -16', 'imul r12, r13',
  'test r8, r9', 'xchg rax, r8', 'mov sil, 1', 'mov dil, spl', 'mov bpl, [r13]', 'mov r8b, al', 'mov r8w, 5',
  'mov r9d, 0xffffffff', 'mov rax, -1', 'mov qword [rsp+8], -2', 'inc dword [rbp-4]', 'sete r9b', 'movzx r10d, byte [rsi]',
  'movzx rax, word [rdi]', 'movsx r11, al', 'mov rax, [rsp]', 'mov rax, [r12]', 'mov rax, [r13]', 'mov rax, [rbp+r13*2]',
  'mov rax, [r12+r13*8+0x80]', 'mov eax, [rbx+r12*4-0x10]', 'mov eax, [abs 0x400]', 'mov rax, [gs:abs 0x28]', 'lea rax, [r8+r9]',
  // stack operations and near branches default to 64 bits
  'push r12', 'pop r15', 'push rax', 'push qword [rax]', 'pop qword [rax]', 'push 5', 'push -1', 'push 0x1000', 'pushfq', 'popfq',
  'call rax', 'call [r10+8]', 'jmp r11', 'ret', 'ret 8', 'leave', 'jne $+0x100', 'jmp $', 'call $+0x20', 'loop $', 'jrcxz $',
  // movabs: an imm64 and a 64-bit moffs
  'mov rax, 0x123456789a', 'mov r10, 0xfedcba9876543210', 'mov rax, [qword 0x1122334455667788]',
  'mov [qword 0x1122334455667788], eax', 'mov al, [qword 0x10]',
  // RIP-relative, forwards and back, with an immediate after the displacement
  'lea r8, [rel $+0x200]', 'mov r9, [rel $+0x100]', 'mov rax, [rel $-0x10]', 'jmp [rel $+0x10]', 'mov dword [rel $+0x40], 1',
  'lgdt [rel $+0x40]',
  'movsxd rax, dword [rbx+r12*4+0x10]', 'movsxd r9, ecx',
  'swapgs', 'syscall', 'sysret', 'o64 sysret', 'rdtscp', 'cwde', 'cdqe', 'cqo', 'cdq', 'iretq', 'iret', 'o64 retf',
  // string instructions on rsi/rdi
  'lodsq', 'stosq', 'rep movsq', 'rep stosb', 'repe cmpsb',
  // 0F opcodes from the 32-bit set at 64-bit width
  'mov rax, cr3', 'mov cr4, r8', 'mov cr8, rax', 'sgdt [rax]', 'lidt [r9]', 'invlpg [rdi]', 'rdmsr', 'wrmsr', 'cpuid', 'rdtsc',
  'mov ds, eax', 'mov eax, ds',
  'bt rbx, rax', 'bts qword [rdi], 5', 'btr r9d, 3', 'bsr rax, rbx', 'bsf r10, [rsi]', 'bswap r8', 'bswap eax', 'shld rbx, rax, 5',
  'shrd [rdi], r12, cl', 'lock xadd [rbx], rax', 'lock cmpxchg [rbx], r11', 'lock cmpxchg16b [rdi]', 'cmpxchg8b [rdi]',
  'nop dword [rax+rax*1+0]', 'nop word [rax+rax*1+0]', 'push fs', 'pop gs', 'ltr ax', 'mfence', 'clflush [rdi]', 'prefetchw [rsi]',
  'imul r9, rax, -3', 'imul rax, [rbx+8], 0x12345678', 'imul r10d, r11d, 100',
  'in al, dx', 'out dx, eax', 'in eax, 0x60', 'int 0x80', 'int3', 'nop', 'hlt', 'cli', 'sti',
  // invalid in 64-bit mode (SDM Vol. 2D, Table A-2 "i64"): objdump prints (bad) one byte long
  'db 0x06', 'db 0x07', 'db 0x1e', 'db 0x1f', 'db 0x27', 'db 0x37', 'db 0x60', 'db 0x61', 'db 0xce', 'db 0xd6',
];

describe('x/i disassembler in 64-bit mode', () => {
  it('prints 64-bit code as objdump -mi386:x86-64 does', () => {
    const hex = nasmEach(CODE64, 64);
    expect(ours(hex, 64)).toEqual(objdump(hex, 'i386:x86-64'));
  });

  it('takes 40-4F as REX prefixes in 64-bit mode, INC/DEC elsewhere', () => {
    const bytes = Buffer.from('48ffc1', 'hex');
    expect(disassembleOne(bytes, BigInt(BASE), 64)).toEqual({ text: 'inc    %rcx', length: 3 });
    expect(disassembleOne(bytes, BigInt(BASE), 32)).toEqual({ text: 'dec    %eax', length: 1 });
  });

  it('does not decode BOUND, LES or LDS in 64-bit mode (their bytes start EVEX/VEX there)', () => {
    for (const hex of ['62 00', 'c4 00', 'c5 00']) {
      expect(disassembleOne(Buffer.from(hex.replace(' ', ''), 'hex'), BigInt(BASE), 64), hex).toEqual({ text: '(bad)', length: 1 });
    }
  });

  it('wraps branch and RIP-relative targets at 2^64', () => {
    const at = 0xffff_ffff_ffff_fff0n;
    expect(disassembleOne(Buffer.from('e820000000', 'hex'), at, 64).text).toBe('call   0x15');
    expect(disassembleOne(Buffer.from('488d0510000000', 'hex'), at, 64).text).toBe('lea    0x10(%rip),%rax        # 0x7');
  });
});

const kvmReason = kvmUnavailable();
if (kvmReason) console.log(`x/i on a long-mode guest skipped: ${kvmReason}`);

/** The long-timer guest's loop (images/guests/long-timer.asm): 5 instructions from 0x100400 to 0x100414, its timer handler at 0x100480. */
const LOOP = 0x100400;

describe.skipIf(kvmReason !== undefined)('HMP x/i on a long-mode guest under -accel kvm', () => {
  let run: TsvmRun | undefined;
  beforeAll(() => buildGuests());
  afterEach(() => run?.child.kill('SIGKILL'));

  /** objdump's listing of the guest image (loaded at 1 MiB) from `addr`, as x/i prints it: `0x%08x:  text` lines. */
  function expected(addr: number, count: number): string {
    const lines = objdumpFile(guestPath('long-timer'), 'i386:x86-64', ['--adjust-vma=0x100000', `--start-address=${addr}`]);
    return lines.slice(0, count).map((l) => `0x${l.addr.toString(16).padStart(8, '0')}:  ${l.text}\n`).join('');
  }

  it('decodes the guest loop and the code at $pc as objdump does', async () => {
    run = startTsvm(['-accel', 'kvm', '-kernel', guestPath('long-timer'), '-nographic']);
    await run.waitFor('long-timer ready');
    run.write('\x01c');
    await run.waitFor(/\(qemu\) $/);
    const hmp = async (command: string): Promise<string> => {
      const before = run!.stdout().length;
      run!.write(`${command}\r`);
      await run!.waitFor(new RegExp(`${command.replace(/[$/]/g, '\\$&')}\\r\\n[^]*\\(qemu\\) $`));
      return run!.stdout().slice(before).replace(/\r\n/g, '\n').split('\n').slice(1, -1).join('\n') + '\n';
    };
    await hmp('stop');
    expect(await hmp(`x /5i 0x${LOOP.toString(16)}`)).toBe(expected(LOOP, 5));
    const atPc = await hmp('x /4i $pc');
    const pc = Number.parseInt(/^0x([0-9a-f]+):/.exec(atPc)![1]!, 16);
    // Stopped in the loop or in the timer handler at 0x100480, both 64-bit code.
    expect(pc >= LOOP && pc < 0x100500, atPc).toBe(true);
    // The handler ends in iretq and data follows it: compare the code only.
    const codeOnly = (listing: string) => listing.replace(/(iretq\n)[^]*$/, '$1');
    expect(codeOnly(atPc)).toBe(codeOnly(expected(pc, 4)));
  });
});
