/**
 * Where tsvm is the firmware (-kernel, the built-in BIOS) it hands the PCI
 * chips over as firmware does: the PIIX IDE function's legacy decode is on
 * for both channels, or Linux's ata_piix ignores the disks. Under -bios the
 * chips stay at their reset values for SeaBIOS to program.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/parse.js';
import { buildPc, type Pc } from '../../src/machine/pc.js';
import { SEABIOS } from '../bios/harness.js';
import { buildGuests, guestPath } from '../kvm/harness.js';

/** The IDE function's IDETIM registers (0x40 primary, 0x42 secondary) as the guest reads them at its first instruction. */
async function ideTimingAtBoot(args: string[]): Promise<number> {
  const parsed = parseCommandLine(['-accel', 'tcg', '-nographic', '-serial', 'none', '-monitor', 'none', ...args]);
  if (parsed.kind !== 'run') throw new Error('not a run command line');
  pc = await buildPc(parsed.config);
  pc.bus.io.write(0xcf8, 4, 0x8000_0940);
  return pc.bus.io.read(0xcfc, 4);
}

let pc: Pc | undefined;
afterEach(async () => {
  await pc?.close();
  pc = undefined;
});

describe('PCI state at the first guest instruction', () => {
  it('-kernel: both IDE channels decode', async () => {
    buildGuests();
    expect(await ideTimingAtBoot(['-kernel', guestPath('hello')])).toBe(0x8000_8000);
  });

  it('the built-in BIOS: both IDE channels decode', async () => {
    expect(await ideTimingAtBoot([])).toBe(0x8000_8000);
  });

  it('-bios SeaBIOS: reset values, for the firmware to set', async () => {
    expect(await ideTimingAtBoot(['-bios', SEABIOS])).toBe(0);
  });
});
