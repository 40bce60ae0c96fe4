/**
 * The KVM test guests on KvmAccelerator alone: a MachineBus built by hand
 * with stand-in devices (harness.ts), so a failure here is the
 * accelerator's. The expected outputs are QEMU's (cli.test.ts runs the same
 * guests through tsvm's command line next to qemu-system-x86_64).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGuests, kvmUnavailable, runTsvm, type TsvmOptions } from './harness.js';
import { logOn } from '../../src/log.js';

const noKvm = kvmUnavailable();
if (noKvm) console.log(`skipping KVM accelerator guest tests: ${noKvm}`);

async function expectRun(name: string, expected: { serial: string; status: number }, opts: TsvmOptions = {}) {
  const tsvm = await runTsvm(name, opts);
  expect(tsvm.serial).toBe(expected.serial);
  expect(tsvm.status).toBe(expected.status);
}

describe.skipIf(noKvm)('KVM test guests', () => {
  beforeAll(() => buildGuests());

  it('hello: serial output and debug-exit status', async () => {
    await expectRun('hello', { serial: 'Hello from a KVM guest\n', status: 33 });
  });

  it('pio: port I/O of every size and rep outsb/insb/outsd/insw', async () => {
    await expectRun('pio', { serial: 'a5 3c 5a z zzzz 1122 2222\n', status: 35 });
  });

  it('mmio: device memory in every size, string MMIO, the in-kernel I/O APIC', async () => {
    const tsvm = await runTsvm('mmio');
    const [vga32, vga16, vga8, copied, , ioapic] = tsvm.serial.trim().split(' ');
    expect([vga32, vga16, vga8, copied, ioapic]).toEqual(['44434241', '4546', '47', 'ABCDEFG', '00170011']);
    expect(tsvm.status).toBe(37);
  });

  it('pit: timer interrupts through the in-kernel PIC wake HLT', async () => {
    await expectRun('pit', { serial: 'waiting for the PIT\n20 timer interrupts\n', status: 39 });
  });

  it("pit: timer interrupts through tsvm's own PIC and PIT (kernel_irqchip=off)", async () => {
    await expectRun('pit', { serial: 'waiting for the PIT\n20 timer interrupts\n', status: 39 }, { kernelIrqchip: 'off' });
  });

  it('long: switches to 64-bit long mode and prints', async () => {
    await expectRun('long', { serial: 'hello from 64-bit long mode\n', status: 41 });
  });

  it('triple: a triple fault asks the machine for a reset', async () => {
    const tsvm = await runTsvm('triple');
    expect(tsvm.serial).toBe('about to triple fault\n');
    expect(tsvm.request).toEqual({ kind: 'reset', cause: 'triple fault' });
  });

  it('smp: the AP comes up through INIT/SIPI and reports in; the MP table lists both CPUs', async () => {
    const tsvm = await runTsvm('smp', { smp: 2 });
    expect(tsvm.serial).toBe('MP table: 2 CPUs\nCPU 00 up\nCPU 01 up\nall CPUs up\n');
    expect(tsvm.status).toBe(45);
  });

  it("smp-int: an AP's internal error ends the VM like the boot CPU's, registers logged under -d cpu", async () => {
    logOn.cpu = true; // the register dump reads the AP's state from inside its exit
    try {
      const tsvm = await runTsvm('smp-int', { smp: 2 });
      if (tsvm.request?.kind === 'error') {
        expect(tsvm.request.message).toBe('KVM internal error. Suberror: 1');
        expect(tsvm.serial).toBe('MP table: 2 CPUs\nCPU 00 up\n');
      } else {
        expect(tsvm.serial).toBe('MP table: 2 CPUs\nCPU 00 up\nCPU 01 up\nall CPUs up\n');
        expect(tsvm.status).toBe(45);
      }
    } finally {
      logOn.cpu = false;
    }
  });

  it('iret: ends like QEMU (returns on hardware KVM; "KVM internal error" on this paravirtual host)', async () => {
    const tsvm = await runTsvm('iret');
    if (tsvm.request?.kind === 'error') {
      expect(tsvm.request.message).toBe('KVM internal error. Suberror: 1');
    } else {
      expect(tsvm.serial).toBe('returned from interrupt\n');
      expect(tsvm.status).toBe(43);
    }
  });

  it('the vCPU state and address translation read back while the guest runs', async () => {
    let seen: { rip: bigint; cr0: bigint; cs: number; phys: bigint | undefined } | undefined;
    await runTsvm('spin', {
      whileRunning: (accel, bus) =>
        setTimeout(() => {
          const s = accel.vcpus[0]!.getState();
          seen = { rip: s.rip, cr0: s.cr0, cs: s.seg.cs.selector, phys: accel.vcpus[0]!.translate(0x123456n) };
          bus.lifecycle.request({ kind: 'quit', cause: 'test' });
        }, 50),
    });
    expect(seen!.cs).toBe(0x08); // the guest's own GDT
    expect(seen!.cr0 & 1n).toBe(1n); // protected mode
    expect(seen!.rip).toBeGreaterThan(0x100000n); // in the kernel image at 1 MiB
    expect(seen!.phys).toBe(0x123456n); // paging off: linear = physical
  });
});
