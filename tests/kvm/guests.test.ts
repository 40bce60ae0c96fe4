import { beforeAll, describe, expect, it } from 'vitest';
import { buildGuests, kvmUnavailable, qemuUnavailable, runQemu, runTsvm } from './harness.js';

const noKvm = kvmUnavailable();
if (noKvm) console.log(`skipping KVM guest tests: ${noKvm}`);
const noQemu = qemuUnavailable();

describe.skipIf(noKvm)('KVM test guests', () => {
  beforeAll(() => buildGuests());

  it('hello: serial output and debug-exit status match QEMU', async () => {
    const tsvm = await runTsvm('hello');
    expect(tsvm.serial).toBe('Hello from a KVM guest\n');
    expect(tsvm.status).toBe(33);
    if (!noQemu) {
      const qemu = runQemu('hello');
      expect(tsvm.serial).toBe(qemu.serial.replace(/\r\n/g, '\n'));
      expect(tsvm.status).toBe(qemu.status);
    }
  });
});
