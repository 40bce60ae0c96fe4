/**
 * The vCPU runs on the main thread, so these check that Node's event loop
 * (timers here; stdin, sockets and signals in a real run) keeps turning while
 * the guest spins or idles, in both irqchip modes: a timer posts a request
 * or pauses, and run() hands control back.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGuests, kvmUnavailable, runTsvm } from './harness.js';

const noKvm = kvmUnavailable();
if (noKvm) console.log(`skipping KVM event-loop tests: ${noKvm}`);

describe.skipIf(noKvm)('the event loop while the guest runs', () => {
  beforeAll(() => buildGuests());

  for (const guest of ['spin', 'idle']) {
    for (const kernelIrqchip of ['on', 'off'] as const) {
      it(`${guest} guest, kernel_irqchip=${kernelIrqchip}: a quit from a timer ends run()`, async () => {
        const r = await runTsvm(guest, {
          kernelIrqchip,
          whileRunning: (_accel, bus) => setTimeout(() => bus.lifecycle.request({ kind: 'quit', cause: 'test' }), 50),
        });
        expect(r.serial).toBe(guest === 'spin' ? 'spinning\n' : 'idling\n');
        expect(r.request).toEqual({ kind: 'quit', cause: 'test' });
      });

      it(`${guest} guest, kernel_irqchip=${kernelIrqchip}: pause() from a timer ends run() with 'paused'`, async () => {
        const r = await runTsvm(guest, { kernelIrqchip, whileRunning: (accel) => setTimeout(() => accel.pause(), 50) });
        expect(r.stop).toBe('paused');
      });
    }
  }

  it("reads an AP's registers while the guest runs (-smp 2, the AP waiting for SIPI in the kernel)", async () => {
    let apCs: number | undefined;
    const r = await runTsvm('idle', {
      smp: 2,
      whileRunning: (accel, bus) =>
        setTimeout(() => {
          apCs = accel.vcpus[1]!.getState().seg.cs.selector;
          bus.lifecycle.request({ kind: 'quit', cause: 'test' });
        }, 50),
    });
    expect(r.request).toEqual({ kind: 'quit', cause: 'test' });
    expect(apCs).toBe(0xf000); // reset state: CS F000, as the AP was never started
  });
});
