/**
 * A live x86-64 gdb session under KVM: Debian's gdb in batch mode against
 * the long-timer guest (64-bit code looping at 0x100400 while the PIT
 * interrupts it at about 12 kHz; images/guests/long-timer.asm). gdb gets
 * the x86-64 description (architecture i386:x86-64, as from
 * qemu-system-x86_64), shows rip/rax/r9, breaks in 64-bit code, decodes it
 * as 64-bit (REX prefixes, RIP-relative operands), steps and detaches.
 *
 * Stepping with the timer running: each stepi lands on the next
 * instruction of the loop, never in the interrupt handler at 0x100480,
 * because the stub sets KVM_GUESTDBG_BLOCKIRQ while stepping (this host
 * offers it through KVM_CAP_SET_GUEST_DEBUG2).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TsvmRun } from '../helpers/tsvm-process.js';
import { requireTool } from '../helpers/tools.js';
import { buildGuests, kvmUnavailable } from '../kvm/harness.js';
import { gdbBatch, startStopped } from './gdb-batch.js';

requireTool('gdb', 'gdb');
const LOOP = [0x100400, 0x100403, 0x100406, 0x10040d, 0x100414];
const TICKS = '0x100608';

beforeAll(() => buildGuests());

let running: TsvmRun | undefined;
afterEach(() => {
  running?.child.kill('SIGKILL');
  running = undefined;
});

async function startLongTimer(): Promise<number> {
  const { run, port } = await startStopped('kvm', 'long-timer');
  running = run;
  return port;
}

const noKvm = kvmUnavailable();
if (noKvm) console.warn(`tests/gdbstub: skipping the long-mode gdb session: ${noKvm}`);

describe.skipIf(noKvm !== undefined)('gdb against a long-mode guest under -accel kvm', () => {
  it('uses the x86-64 description, breaks in 64-bit code, shows 64-bit registers, decodes 64-bit code, steps and detaches', async () => {
    const port = await startLongTimer();
    const out = gdbBatch(port, [
      'show architecture',
      'break *0x100400',
      'continue',
      'info registers',
      'x/4i $pc',
      'stepi',
      'printf "PC=%lx RCX=%lx\\n", $pc, $rcx',
      'detach',
    ]);
    expect(out).toContain('(currently "i386:x86-64")');
    expect(out).toContain('Breakpoint 1, 0x0000000000100400 in ?? ()');
    expect(out).toMatch(/rax\s+0x1122334455667788\s/);
    expect(out).toMatch(/rbx\s+0x8877665544332211\s/);
    expect(out).toMatch(/rip\s+0x100400\s/);
    expect(out).toMatch(/efer\s+0x5\d\d\s/); // LME and LMA (and SCE as the host's KVM reports it)
    expect(out).toMatch(/=> 0x100400:\s+inc\s+%rcx\n/);
    expect(out).toMatch(/0x100403:\s+add\s+%rcx,%rdx\n/);
    expect(out).toMatch(/0x100406:\s+lea\s+0x1f3\(%rip\),%r8\s+# 0x100600\n/);
    expect(out).toMatch(/0x10040d:\s+mov\s+0x1ec\(%rip\),%r9\s+# 0x100600\n/);
    expect(out).toContain('PC=100403 RCX=1\n');
    expect(out).toContain('[Inferior 1 (Remote target) detached]');
    await running!.waitFor('long-timer ready');
  });

  it('stepi with the timer interrupting lands on the next instruction every time, not in the handler', async () => {
    const port = await startLongTimer();
    const steps = 40;
    const out = gdbBatch(port, [
      // Stop in the loop once the handler has run a few times: the timer is live.
      `break *0x100400 if *(long*)${TICKS} >= 3`,
      'continue',
      'delete',
      `printf "TICKS=%ld\\n", *(long*)${TICKS}`,
      ...Array.from({ length: steps }, () => ['stepi', 'printf "STEP=%lx\\n", $pc']).flat(),
      `set $before = *(long*)${TICKS}`,
      `break *0x100400 if *(long*)${TICKS} >= $before + 3`,
      'continue',
      `printf "TICKS=%ld\\n", *(long*)${TICKS}`,
      'detach',
    ]);
    const ticks = [...out.matchAll(/TICKS=(\d+)/g)].map((m) => Number(m[1]));
    expect(ticks.length).toBe(2);
    expect(ticks[0]).toBeGreaterThanOrEqual(3);
    // The timer kept running after the steps: the handler was only held off while stepping.
    expect(ticks[1]).toBeGreaterThan(ticks[0]!);
    const pcs = [...out.matchAll(/STEP=([0-9a-f]+)/g)].map((m) => parseInt(m[1]!, 16));
    expect(pcs.length).toBe(steps);
    const expected = Array.from({ length: steps }, (_, i) => LOOP[(i + 1) % LOOP.length]);
    expect(pcs).toEqual(expected);
  });
});
