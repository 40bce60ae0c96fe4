/**
 * Every ioctl number, capability, exit reason, struct size and field offset
 * in src/accel/kvm/abi.ts, checked against <linux/kvm.h> by compiling a C
 * program with gcc that prints the header's values.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as abi from '../../src/accel/kvm/abi.js';
import { openKvm, KvmInitError } from '../../src/accel/kvm/kvm.js';
import { requireFile, requireTool } from '../helpers/tools.js';
import { kvmUnavailable } from './harness.js';

requireTool('gcc', 'gcc');
requireFile('/usr/include/linux/kvm.h', 'linux-libc-dev');

/** name -> [C expression, our value] */
const checks = new Map<string, [string, number]>();
const check = (name: string, cExpr: string, ours: number) => checks.set(name, [cExpr, ours]);

for (const [name, value] of Object.entries(abi.IOCTL)) check(name, name, value);
for (const [name, value] of Object.entries(abi.CAP)) check(name, name, value);
for (const [name, value] of Object.entries(abi.EXIT)) check(name, name, value);
for (const [name, value] of Object.entries(abi.SIZEOF)) check(`sizeof ${name}`, `sizeof(struct ${name})`, value);
check('KVM_API_VERSION', 'KVM_API_VERSION', abi.KVM_API_VERSION);
check('KVM_EXIT_IO_IN', 'KVM_EXIT_IO_IN', abi.KVM_EXIT_IO_IN);
check('KVM_EXIT_IO_OUT', 'KVM_EXIT_IO_OUT', abi.KVM_EXIT_IO_OUT);
check('KVM_MEM_READONLY', 'KVM_MEM_READONLY', abi.KVM_MEM_READONLY);
check('KVM_CPUID_FLAG_SIGNIFCANT_INDEX', 'KVM_CPUID_FLAG_SIGNIFCANT_INDEX', abi.KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
check('KVM_PIT_SPEAKER_DUMMY', 'KVM_PIT_SPEAKER_DUMMY', abi.KVM_PIT_SPEAKER_DUMMY);
check('KVM_SYSTEM_EVENT_SHUTDOWN', 'KVM_SYSTEM_EVENT_SHUTDOWN', abi.KVM_SYSTEM_EVENT.SHUTDOWN);
check('KVM_SYSTEM_EVENT_RESET', 'KVM_SYSTEM_EVENT_RESET', abi.KVM_SYSTEM_EVENT.RESET);
check('KVM_SYSTEM_EVENT_CRASH', 'KVM_SYSTEM_EVENT_CRASH', abi.KVM_SYSTEM_EVENT.CRASH);
for (const [name, value] of Object.entries(abi.KVM_MP_STATE)) check(`KVM_MP_STATE_${name}`, `KVM_MP_STATE_${name}`, value);

/** kvm_run fields: our flat names to the C member paths. */
const RUN_FIELDS: Record<keyof typeof abi.RUN, string> = {
  request_interrupt_window: 'request_interrupt_window',
  immediate_exit: 'immediate_exit',
  exit_reason: 'exit_reason',
  ready_for_interrupt_injection: 'ready_for_interrupt_injection',
  if_flag: 'if_flag',
  cr8: 'cr8',
  apic_base: 'apic_base',
  io_direction: 'io.direction',
  io_size: 'io.size',
  io_port: 'io.port',
  io_count: 'io.count',
  io_data_offset: 'io.data_offset',
  mmio_phys_addr: 'mmio.phys_addr',
  mmio_data: 'mmio.data',
  mmio_len: 'mmio.len',
  mmio_is_write: 'mmio.is_write',
  fail_entry_hardware_entry_failure_reason: 'fail_entry.hardware_entry_failure_reason',
  fail_entry_cpu: 'fail_entry.cpu',
  internal_suberror: 'internal.suberror',
  internal_ndata: 'internal.ndata',
  internal_data: 'internal.data',
  system_event_type: 'system_event.type',
  system_event_ndata: 'system_event.ndata',
  system_event_data: 'system_event.data',
};
for (const [field, path] of Object.entries(RUN_FIELDS)) {
  check(`kvm_run.${path}`, `offsetof(struct kvm_run, ${path})`, abi.RUN[field as keyof typeof abi.RUN]);
}

/** Structs whose TS field names are the C member names. */
const SAME_NAMES: [string, Record<string, number>][] = [
  ['kvm_regs', abi.REGS],
  ['kvm_segment', abi.SEGMENT],
  ['kvm_dtable', abi.DTABLE],
  ['kvm_userspace_memory_region', abi.MEMREGION],
  ['kvm_cpuid2', abi.CPUID2],
  ['kvm_cpuid_entry2', abi.CPUID_ENTRY],
  ['kvm_msrs', abi.MSRS],
  ['kvm_msr_entry', abi.MSR_ENTRY],
  ['kvm_fpu', abi.FPU],
  ['kvm_irq_level', abi.IRQ_LEVEL],
  ['kvm_pit_config', abi.PIT_CONFIG],
  ['kvm_interrupt', abi.INTERRUPT],
  ['kvm_mp_state', abi.MP_STATE],
  ['kvm_translation', abi.TRANSLATION],
];
for (const [struct, fields] of SAME_NAMES) {
  for (const [field, offset] of Object.entries(fields)) check(`${struct}.${field}`, `offsetof(struct ${struct}, ${field})`, offset);
}
for (const [field, offset] of Object.entries(abi.SREGS)) {
  check(`kvm_sregs.${field}`, `offsetof(struct kvm_sregs, ${field})`, offset);
}
check('kvm_guest_debug.control', 'offsetof(struct kvm_guest_debug, control)', abi.GUEST_DEBUG.control);
check('kvm_guest_debug.arch.debugreg', 'offsetof(struct kvm_guest_debug, arch.debugreg)', abi.GUEST_DEBUG.debugreg);

function headerValues(): Map<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvm-kvm-abi-'));
  const lines = [...checks].map(([name, [expr]]) => `  printf("%s %llu\\n", "${name}", (unsigned long long)(${expr}));`);
  const source = ['#include <stddef.h>', '#include <stdio.h>', '#include <linux/kvm.h>', 'int main(void) {', ...lines, '  return 0;', '}'].join('\n');
  try {
    writeFileSync(join(dir, 'abi.c'), source);
    execFileSync('gcc', ['-o', join(dir, 'abi'), join(dir, 'abi.c')], { stdio: 'pipe' });
    const out = execFileSync(join(dir, 'abi'), { encoding: 'utf8' });
    return new Map(out.trim().split('\n').map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('KVM ABI constants match <linux/kvm.h>', () => {
  const header = headerValues();
  it.each([...checks.keys()])('%s', (name) => {
    expect(checks.get(name)![1]).toBe(header.get(name));
  });
});

describe('opening KVM', () => {
  const noKvm = kvmUnavailable();
  if (noKvm) console.log(`skipping opening /dev/kvm: ${noKvm}`);
  let opened: ReturnType<typeof openKvm> | undefined;
  afterAll(() => opened?.close());

  it('fails in one line with QEMU wording when the device is missing', () => {
    expect(() => openKvm('/dev/no-such-kvm')).toThrow(new KvmInitError('No such file or directory'));
    expect(new KvmInitError('No such file or directory').message).toBe('failed to initialize kvm: No such file or directory');
  });

  it('fails with the errno text when the device is not KVM', () => {
    expect(() => openKvm('/dev/null')).toThrow('failed to initialize kvm: KVM_GET_API_VERSION: Inappropriate ioctl for device');
  });

  it.skipIf(noKvm)('opens /dev/kvm, creates a VM and maps guest RAM shared with KVM', () => {
    opened = openKvm();
    const ram = opened.allocateRam(1 << 20);
    expect(ram.length).toBe(1 << 20);
    expect(ram.every((b) => b === 0)).toBe(true);
    expect(opened.checkExtension('KVM_CAP_USER_MEMORY')).toBeGreaterThan(0);
  });
});
