/**
 * `info registers` layout for states the integration tests cannot reach on
 * every host: the power-on state (QEMU's output right after reset) and a
 * 64-bit long-mode state (QEMU's x86_64 layout: 16-digit registers, R8-R15,
 * RIP/RFL, 64-bit bases, CS64).
 */
import { describe, expect, it } from 'vitest';
import { flatSegment, resetCpuState } from '../../src/accel/cpu-state.js';
import { formatRegisters } from '../../src/monitor/registers.js';

describe('info registers', () => {
  it('prints the power-on state as QEMU does', () => {
    const st = resetCpuState();
    st.gpr[2] = 0x663n;
    expect(formatRegisters(st, { a20: true, limitInFlags: true })).toBe(
      [
        'EAX=00000000 EBX=00000000 ECX=00000000 EDX=00000663',
        'ESI=00000000 EDI=00000000 EBP=00000000 ESP=00000000',
        'EIP=0000fff0 EFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0',
        'ES =0000 00000000 0000ffff 00009300',
        'CS =f000 ffff0000 0000ffff 00009b00',
        'SS =0000 00000000 0000ffff 00009300',
        'DS =0000 00000000 0000ffff 00009300',
        'FS =0000 00000000 0000ffff 00009300',
        'GS =0000 00000000 0000ffff 00009300',
        'LDT=0000 00000000 0000ffff 00008200',
        'TR =0000 00000000 0000ffff 00008b00',
        'GDT=     00000000 0000ffff',
        'IDT=     00000000 0000ffff',
        'CR0=60000010 CR2=00000000 CR3=00000000 CR4=00000000',
        'DR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 ',
        'DR6=00000000ffff0ff0 DR7=0000000000000400',
        'EFER=0000000000000000',
        '',
      ].join('\n'),
    );
  });

  it('prints a long-mode state in the x86_64 layout', () => {
    const st = resetCpuState();
    st.gpr = st.gpr.map((_, i) => 0x1111_0000_0000_0000n + BigInt(i));
    st.rip = 0xffff_ffff_8100_0000n;
    st.rflags = 0x46n;
    st.seg.cs = { ...flatSegment(0x10, true), l: true, db: false, type: 0xb };
    st.seg.ds = { ...flatSegment(0x18, false), base: 0n };
    st.gdtr = { base: 0xffff_fe00_0000_1000n, limit: 0x7f };
    st.cr0 = 0x8005_0033n;
    st.cr3 = 0x260_a000n;
    st.efer = 0xd01n;
    const out = formatRegisters(st, { a20: true, limitInFlags: true }).split('\n');
    expect(out.slice(0, 5)).toEqual([
      'RAX=1111000000000000 RBX=1111000000000003 RCX=1111000000000001 RDX=1111000000000002',
      'RSI=1111000000000006 RDI=1111000000000007 RBP=1111000000000005 RSP=1111000000000004',
      'R8 =1111000000000008 R9 =1111000000000009 R10=111100000000000a R11=111100000000000b',
      'R12=111100000000000c R13=111100000000000d R14=111100000000000e R15=111100000000000f',
      'RIP=ffffffff81000000 RFL=00000046 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=0',
    ]);
    expect(out).toContain('CS =0010 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]');
    expect(out).toContain('DS =0018 0000000000000000 ffffffff 00cf9300 DPL=0 DS   [-WA]');
    expect(out).toContain('GDT=     fffffe0000001000 0000007f');
    expect(out).toContain('CR0=80050033 CR2=0000000000000000 CR3=000000000260a000 CR4=00000000');
    expect(out).toContain('EFER=0000000000000d01');
    // Under KVM QEMU rebuilds the flags from kvm_segment, without the limit bits.
    expect(formatRegisters(st, { a20: true, limitInFlags: false })).toContain('CS =0010 0000000000000000 ffffffff 00a09b00 DPL=0 CS64 [-RA]');
  });
});
