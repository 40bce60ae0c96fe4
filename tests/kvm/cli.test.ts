/**
 * The test guests through tsvm's command line (`tsvm -accel kvm`, the whole
 * machine: 16550 UART, CMOS, VGA, i8259/i8254 when kernel_irqchip=off) side
 * by side with qemu-system-x86_64 -accel kvm given the same options.
 * Needs `npm run build` (npm test does it).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/tools.js';
import { buildGuests, interactWithTsvm, kvmUnavailable, qemuStderrUntil, runQemu, runTsvmCli } from './harness.js';

requireTool('qemu-system-x86_64', 'qemu-system-x86');
const noKvm = kvmUnavailable();
if (noKvm) console.log(`skipping tsvm -accel kvm command-line tests: ${noKvm}`);

interface Case {
  guest: string;
  args: string[];
  serial: string;
  status: number;
  /** Rewrites output where the two legitimately differ, for both sides. */
  normalize?: (s: string) => string;
}

const CASES: Case[] = [
  { guest: 'hello', args: [], serial: 'Hello from a KVM guest\n', status: 33 },
  { guest: 'pio', args: [], serial: 'a5 3c 5a z zzzz 1122 2222\n', status: 35 },
  {
    guest: 'mmio',
    args: [],
    serial: '44434241 4546 47 ABCDEFG ???????? 00170011\n',
    status: 37,
    // QEMU reads 0 from the unassigned PCI hole, tsvm's address space all-ones: reported, not KVM's doing.
    normalize: (s) => s.replace(/ [0-9a-f]{8} 00170011/, ' ???????? 00170011'),
  },
  { guest: 'pit', args: [], serial: 'waiting for the PIT\n20 timer interrupts\n', status: 39 },
  { guest: 'pit', args: ['-machine', 'kernel_irqchip=off'], serial: 'waiting for the PIT\n20 timer interrupts\n', status: 39 },
  { guest: 'long', args: ['-cpu', 'qemu64'], serial: 'hello from 64-bit long mode\n', status: 41 },
  { guest: 'triple', args: ['-no-reboot'], serial: 'about to triple fault\n', status: 0 },
  {
    guest: 'smp',
    args: ['-smp', '2'],
    serial: 'MP table: ? CPUs\nCPU 00 up\nCPU 01 up\nall CPUs up\n',
    status: 45,
    // The MP table is the firmware's: SeaBIOS on this host lists only the CPUs it started itself.
    normalize: (s) => s.replace(/^MP table: \d/, 'MP table: ?'),
  },
];

describe.skipIf(noKvm)('tsvm -accel kvm runs the test guests like qemu-system-x86_64 -accel kvm', () => {
  beforeAll(() => buildGuests());

  for (const c of CASES) {
    it(`${c.guest} ${c.args.join(' ')}`, async () => {
      const norm = c.normalize ?? ((s: string) => s);
      const tsvm = await runTsvmCli(c.guest, c.args);
      expect(norm(tsvm.stdout)).toBe(c.serial);
      expect(tsvm.status).toBe(c.status);
      const qemu = await runQemu(c.guest, c.args, 60_000);
      expect(norm(qemu.serial)).toBe(c.serial);
      expect(qemu.status).toBe(c.status);
    }, 90_000);
  }

  it('a triple fault without -no-reboot resets the machine and the guest runs again', async () => {
    const r = await interactWithTsvm('triple', [], 'about to triple fault\nabout to triple fault\n', (child) => child.kill('SIGTERM'));
    expect(r.stdout.split('about to triple fault\n').length - 1).toBeGreaterThanOrEqual(2);
  });

  for (const [guest, args, okStatus] of [
    ['iret', [], 43],
    ['smp-int', ['-smp', '2'], 45],
  ] as const) {
    it(`an internal error (${guest}) ends tsvm with QEMU's message and exit status 1`, async () => {
      const tsvm = await runTsvmCli(guest, [...args]);
      if (tsvm.status === okStatus) return; // hardware KVM runs the software interrupt
      expect(tsvm.stderr).toBe('tsvm: KVM internal error. Suberror: 1\n');
      expect(tsvm.status).toBe(1);
      const pattern = /^KVM internal error\. Suberror: 1$/m;
      expect(await qemuStderrUntil(guest, [...args], pattern)).toMatch(pattern);
    }, 90_000);
  }

  for (const smp of ['1', '2']) {
    it(`SIGTERM ends a spinning guest (-smp ${smp}) like QEMU: a message and status 0`, async () => {
      const r = await interactWithTsvm('spin', ['-smp', smp], 'spinning\n', (child) => child.kill('SIGTERM'));
      expect(r.stderr).toBe('tsvm: terminating on signal 15\n');
      expect(r.status).toBe(0);
    });

    it(`Ctrl-A x on the console ends an idle guest (-smp ${smp})`, async () => {
      const r = await interactWithTsvm('idle', ['-smp', smp], 'idling\n', (child) => child.stdin!.write('\x01x'));
      // QEMU's mux prints "QEMU: Terminated\n\r" the same way.
      expect(r.stdout).toBe('idling\ntsvm: Terminated\n\r');
      expect(r.status).toBe(0);
    });
  }
});
