import { describe, expect, it } from 'vitest';
import { assemble, machine, runTranslated } from './harness.js';

function runOn(model: string, src: string) {
  const m = machine(assemble(src), 'pm32', model);
  m.run();
  return m;
}

describe('tcg CPUID and MSRs', () => {
  it('qemu32: GenuineIntel, family 6 model 6, exactly the implemented features, brand string, NX', () => {
    const m = runOn(
      'qemu32',
      `xor eax, eax
      cpuid
      mov [0x3000], ebx
      mov [0x3004], edx
      mov [0x3008], ecx
      mov [0x300c], eax
      mov eax, 1
      cpuid
      mov [0x3010], eax
      mov [0x3014], edx
      mov [0x301c], ecx
      mov eax, 0x80000001
      cpuid
      mov [0x3018], edx
      mov eax, 0x80000002
      cpuid
      mov [0x3020], eax
      mov [0x3024], ebx
      hlt`,
    );
    const vendor = new TextDecoder().decode(m.mem.readBytes(0x3000, 12));
    expect(vendor).toBe('GenuineIntel');
    expect(m.mem.read32(0x300c)).toBe(1);
    expect(m.mem.read32(0x3010)).toBe(0x663);
    // FPU VME DE PSE TSC MSR PAE CX8 SEP PGE CMOV PAT PSE36 FXSR; no MCE, APIC, MTRR, MCA, MMX, SSE.
    expect(m.mem.read32(0x3014)).toBe(
      0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x100 | 0x800 | 0x2000 | 0x8000 | 0x10000 | 0x20000 | 0x100_0000,
    );
    // ECX: only the hypervisor bit, as QEMU sets on every model (Linux then skips probing a PMU).
    expect(m.mem.read32(0x301c)).toBe(0x8000_0000);
    expect(m.mem.read32(0x3018)).toBe(1 << 20);
    expect(new TextDecoder().decode(m.mem.readBytes(0x3020, 8))).toBe('QEMU Vir');
  });

  it('486 has no CMOV, RDTSC or RDMSR (#UD); pentium2 has SYSENTER', () => {
    expect(runOn('486', 'cmove eax, ebx\nhlt').vector()).toBe(6);
    expect(runOn('486', 'rdtsc\nhlt').vector()).toBe(6);
    expect(runOn('pentium', 'mov ecx, 0x174\nrdmsr\nhlt').vector()).toBe(13);
    expect(runOn('pentium2', 'mov ecx, 0x174\nmov eax, 8\nxor edx, edx\nwrmsr\nxor eax, eax\nrdmsr\nhlt').cpu.regs[0]).toBe(8);
  });

  it('486: CMOVcc and RDTSC are #UD in a translated block too', () => {
    for (const insn of ['cmove eax, ebx', 'rdtsc']) {
      const m = machine(assemble(`cmp eax, eax\n${insn}\nhlt`), 'pm32', '486');
      runTranslated(m);
      expect(m.vector()).toBe(6);
    }
  });

  it('RDTSC in a translated block: a TSC write takes effect, it counts up, and CR4.TSD allows ring 0', () => {
    const m = machine(
      assemble(`mov ecx, 0x10
      mov eax, 0xfffffff0
      mov edx, 0x100
      wrmsr
      mov eax, cr4
      or eax, 4
      mov cr4, eax
      rdtsc
      mov esi, edx
      mov edi, eax
      rdtsc
      hlt`),
      'pm32',
      'qemu32',
    );
    runTranslated(m);
    expect(m.vector()).toBe(-1);
    const first = m.cpu.regs[6]! * 2 ** 32 + m.cpu.regs[7]!;
    const second = m.cpu.regs[2]! * 2 ** 32 + m.cpu.regs[0]!;
    expect(first).toBeGreaterThanOrEqual(0x100_ffff_fff0);
    expect(second).toBeGreaterThanOrEqual(first);
  });

  it('unknown MSRs and bad values are #GP(0); TSC writes take effect; RDTSC counts up', () => {
    expect(runOn('qemu32', 'mov ecx, 0x1b\nrdmsr\nhlt').vector()).toBe(13); // no local APIC
    expect(runOn('qemu32', 'mov ecx, 0xc0000080\nmov eax, 0x100\nxor edx, edx\nwrmsr\nhlt').vector()).toBe(13); // LME: no long mode
    const m = runOn(
      'qemu32',
      `mov ecx, 0x10
      mov eax, 0
      mov edx, 0x100
      wrmsr
      rdtsc
      mov esi, edx
      mov edi, eax
      rdtsc
      hlt`,
    );
    expect(m.cpu.regs[6]).toBe(0x100);
    expect(m.cpu.regs[2]! > 0x100 || (m.cpu.regs[2] === 0x100 && m.cpu.regs[0]! >= m.cpu.regs[7]!)).toBe(true);
  });

  it('leaf 1 EDX of each model: P5 = FPU VME DE PSE TSC MSR CX8; P6 adds PAE SEP PGE CMOV PSE36 FXSR', () => {
    const leaf1 = (model: string) => runOn(model, 'mov eax, 1\ncpuid\nhlt').cpu.regs[2];
    const p5 = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x100;
    expect(leaf1('486')).toBe(0x1);
    expect(leaf1('pentium')).toBe(p5);
    expect(leaf1('pentium2')).toBe(p5 | 0x40 | 0x800 | 0x2000 | 0x8000 | 0x20000 | 0x100_0000);
  });

  it('CR4 bits beyond the model are #GP(0)', () => {
    expect(runOn('pentium', 'mov eax, 0x20\nmov cr4, eax\nhlt').vector()).toBe(13); // PAE on a Pentium
    expect(runOn('pentium', 'mov eax, 0x200\nmov cr4, eax\nhlt').vector()).toBe(13); // OSFXSR without FXSR
    expect(runOn('486', 'mov eax, 0x1\nmov cr4, eax\nhlt').vector()).toBe(13); // VME without VME
    expect(runOn('qemu32', 'mov eax, 0x40\nmov cr4, eax\nhlt').vector()).toBe(13); // MCE: no machine checks
    expect(runOn('qemu32', 'mov eax, 0x2bf\nmov cr4, eax\nmov ebx, cr4\nhlt').cpu.regs[3]).toBe(0x2bf);
  });
});
