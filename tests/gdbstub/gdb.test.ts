/**
 * Debian's gdb in batch mode against tsvm's gdbstub, and a raw protocol
 * client for what gdb's batch mode cannot show (Ctrl-C, garbage). The
 * gdb-target guest has known registers at 0x100200 and exits with AL as
 * its debug-exit status, so `set $eax` is seen by the guest. Under TCG and,
 * where the host has it, KVM; as with QEMU, the stub describes the CPU it
 * emulates whatever its mode: i386 under TCG (an i686), x86-64 under KVM
 * (qemu-system-x86_64's description, so gdb shows rax/rip and decodes the
 * 32-bit guest's code as 64-bit, as it does against QEMU).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TsvmRun } from '../helpers/tsvm-process.js';
import { buildGuests, kvmUnavailable } from '../kvm/harness.js';
import { RspClient } from './rsp-client.js';
import { gdbBatch, startStopped as startGuest } from './gdb-batch.js';
import { requireTool } from '../helpers/tools.js';

const kvmReason = kvmUnavailable();
if (kvmReason) console.log(`gdbstub tests under -accel kvm skipped: ${kvmReason}`);
const ACCELS = kvmReason ? ['tcg'] : ['tcg', 'kvm'];
requireTool('gdb', 'gdb');

beforeAll(() => buildGuests());

let running: TsvmRun | undefined;
afterEach(() => {
  running?.child.kill('SIGKILL');
  running = undefined;
});

async function startStopped(accel: string, guest = 'gdb-target'): Promise<{ run: TsvmRun; port: number }> {
  const started = await startGuest(accel, guest);
  running = started.run;
  return started;
}

describe.each(ACCELS)('gdbstub under -accel %s', (accel) => {
  it('breaks, shows registers and code, steps, and a register gdb sets is what the guest exits with', async () => {
    const { run, port } = await startStopped(accel);
    await new Promise((r) => setTimeout(r, 300));
    const out = gdbBatch(port, [
      'break *0x100200',
      'continue',
      'info registers',
      'x/4i $pc',
      'stepi',
      'printf "PC=%x EDX=%x\\n", $pc, $edx',
      'monitor info status',
      'monitor x /4c 0x100400',
      'set $eax=0x21',
      'detach',
    ]);
    const wide = accel === 'kvm';
    expect(out).toContain(wide ? 'Breakpoint 1, 0x0000000000100200 in ?? ()' : 'Breakpoint 1, 0x00100200 in ?? ()');
    expect(out).toMatch(wide ? /rax\s+0x10\s/ : /eax\s+0x10\s/);
    expect(out).toMatch(wide ? /rbx\s+0x12345678\s/ : /ebx\s+0x12345678\s/);
    expect(out).toMatch(wide ? /rcx\s+0xcafe0001\s/ : /ecx\s+0xcafe0001\s/);
    expect(out).toMatch(wide ? /rip\s+0x100200\s/ : /eip\s+0x100200\s/);
    expect(out).toMatch(/=> 0x100200:\s+mov\s+\$0xabcdef01,%edx/);
    // In 64-bit decoding the absolute disp32 operand reads as RIP-relative (0x10020b + 0x100410).
    expect(out).toMatch(wide ? /0x100205:\s+incl\s+0x100410\(%rip\)\s+# 0x20061b/ : /0x100205:\s+incl\s+0x100410/);
    expect(out).toContain('PC=100205 EDX=abcdef01');
    // gdb's `monitor` runs HMP commands (qRcmd).
    expect(out).toContain('VM status: paused (debug)\n');
    expect(out).toContain("0000000000100400: 'g' 'd' 'b' '-'\n");
    expect(out).toContain('detached');
    // AL=0x21 -> isa-debug-exit status 0x43.
    expect(await run.exited).toBe(0x43);
    expect(run.stdout()).toContain('gdb-target');
  });

  it('answers the protocol: qSupported, target.xml, ?, m, Ctrl-C stops a running guest with SIGINT, garbage is ignored', async () => {
    const { run, port } = await startStopped(accel, 'spin');
    const rsp = await RspClient.connect(port);
    expect(await rsp.command('qSupported:multiprocess+;swbreak+;hwbreak+')).toContain('qXfer:features:read+');
    expect(await rsp.command('qXfer:features:read:target.xml:0,ffff')).toMatch(/^l<\?xml[\s\S]*org\.gnu\.gdb\.i386\.core/);
    expect(await rsp.command('?')).toMatch(/^T05/);
    expect(await rsp.command('m100000,4')).toBe('02b0ad1b');
    rsp.sendRaw('$bogus#00garbage\x7f$');
    expect(await rsp.command('mzz,4')).toBe('E22');
    expect(await rsp.command('Z0,nothex,1')).toBe('E22');
    expect(await rsp.command('m0,99999999')).toBe('E22');
    expect(await rsp.command('qAttached')).toBe('1');
    rsp.sendRaw(`$c#63`);
    await new Promise((r) => setTimeout(r, 300));
    rsp.sendRaw('\x03');
    expect(await rsp.reply()).toMatch(/^T02/);
    expect(await rsp.command('D')).toBe('OK');
    rsp.close();
    await run.waitFor('spinning');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it('tells a continuing gdb the exit status when the guest ends tsvm', async () => {
    const { run, port } = await startStopped(accel);
    await new Promise((r) => setTimeout(r, 300));
    const out = gdbBatch(port, ['continue']);
    // debug-exit status 33 = octal 041, as gdb prints it.
    expect(out).toContain('exited with code 041');
    expect(await run.exited).toBe(33);
  });

  it('stops at a hardware breakpoint (Z1) and ends tsvm on k', async () => {
    const { run, port } = await startStopped(accel);
    const rsp = await RspClient.connect(port);
    expect(await rsp.command('Z1,100200,1')).toBe('OK');
    expect(await rsp.command('vCont;c')).toMatch(/^T05/);
    // The program counter: eip is register 8 of the i386 layout, rip register 16 of the x86-64 one.
    expect(await rsp.command(accel === 'kvm' ? 'p10' : 'p8')).toBe(accel === 'kvm' ? '0002100000000000' : '00021000');
    expect(await rsp.command('z1,100200,1')).toBe('OK');
    rsp.sendRaw('$k#6b');
    expect(await run.exited).toBe(0);
  });
});

// TCG only: KVM's data breakpoints (DR7 through KVM_SET_GUEST_DEBUG) do not fire on a nested-KVM
// host such as this one, under qemu-system-x86_64 -accel kvm either, so they cannot be tested here.
describe('gdbstub watchpoints (TCG)', () => {
  it('stops after the instruction that writes a watched word', async () => {
    const { run, port } = await startStopped('tcg');
    await new Promise((r) => setTimeout(r, 300));
    const out = gdbBatch(port, ['watch *(int*)0x100410', 'continue', 'printf "PC=%x\\n", $pc', 'delete', 'detach']);
    expect(out).toMatch(/Old value = 0\s+New value = 1/);
    expect(out).toContain('PC=10020b');
    expect(await run.exited).toBe(33);
  });

  it('stops after an instruction that reads a word under rwatch', async () => {
    const { run, port } = await startStopped('tcg');
    await new Promise((r) => setTimeout(r, 300));
    // `inc dword [0x100410]` at 0x100205 reads (and writes) the word.
    const out = gdbBatch(port, ['rwatch *(int*)0x100410', 'continue', 'printf "PC=%x\\n", $pc', 'delete', 'detach']);
    expect(out).toMatch(/Hardware read watchpoint 1: \*\(int\*\)0x100410\s+Value = 1/);
    expect(out).toContain('PC=10020b');
    expect(await run.exited).toBe(33);
  });
});
