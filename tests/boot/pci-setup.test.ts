/**
 * Where tsvm is the firmware (-kernel, the built-in BIOS) it hands the PCI
 * chips over as firmware does: the PIIX IDE function's legacy decode is on
 * for both channels, or Linux's ata_piix ignores the disks; the i440FX's PAM
 * registers leave shadow RAM under 0xC0000-0xFFFFF, the BIOS segment
 * read-only, as SeaBIOS leaves them. Under -bios the chips stay at their
 * reset values for SeaBIOS to program.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/parse.js';
import { buildPc, type Pc } from '../../src/machine/pc.js';
import { SEABIOS } from '../bios/harness.js';
import { buildGuests, guestPath } from '../kvm/harness.js';

/** Configuration dwords (CONFIG_ADDRESS values) as the guest reads them at its first instruction. */
async function configAtBoot(args: string[], addresses: number[]): Promise<number[]> {
  const parsed = parseCommandLine(['-accel', 'tcg', '-nographic', '-serial', 'none', '-monitor', 'none', ...args]);
  if (parsed.kind !== 'run') throw new Error('not a run command line');
  pc = await buildPc(parsed.config);
  const io = pc.bus.io;
  return addresses.map((address) => (io.write(0xcf8, 4, address), io.read(0xcfc, 4)));
}

/** The IDE function's IDETIM registers (0x40 primary, 0x42 secondary). */
const IDETIM = 0x8000_0940;
/** The i440FX's dwords holding PAM0-PAM2 (0x59-0x5B) and PAM3-PAM6 (0x5C-0x5F). */
const PAM = [0x8000_0058, 0x8000_005c];
/** What tsvm and SeaBIOS leave: PAM0 0x10 (F segment read-only), the rest 0x33 (read/write). */
const PAM_HANDED_OVER = [0x3333_1000, 0x3333_3333];

let pc: Pc | undefined;
afterEach(async () => {
  await pc?.close();
  pc = undefined;
});

describe('PCI state at the first guest instruction', () => {
  it('-kernel: both IDE channels decode, the BIOS area is shadow RAM', async () => {
    buildGuests();
    expect(await configAtBoot(['-kernel', guestPath('hello')], [IDETIM, ...PAM])).toEqual([0x8000_8000, ...PAM_HANDED_OVER]);
  });

  it('the built-in BIOS: both IDE channels decode, its ROM is shadowed', async () => {
    expect(await configAtBoot([], [IDETIM, ...PAM])).toEqual([0x8000_8000, ...PAM_HANDED_OVER]);
    const mem = pc!.bus.mem;
    expect(mem.readBytes(0xffff0, 16)).toEqual(mem.readBytes(0xffff_fff0, 16));
    expect(mem.readOnlyRamOffset(0xffff0)).toBe(0xffff0);
    expect(new TextDecoder().decode(mem.readBytes(0xf0000, 8))).toBe('RSD PTR ');
  });

  it('-bios SeaBIOS: reset values, for the firmware to set', async () => {
    expect(await configAtBoot(['-bios', SEABIOS], [IDETIM, ...PAM])).toEqual([0, 0, 0]);
  });
});
