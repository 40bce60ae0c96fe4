/**
 * The PAM window below 1 MiB on its own: the i440FX's registers written as
 * configuration cycles would write them, and what the address space then
 * gives reads and writes at 0xC0000-0xFFFFF, what it tells its remap
 * listeners, and the KVM memory slots planned over it.
 */
import { describe, expect, it } from 'vitest';
import { AddressSpace } from '../../src/memory/address-space.js';
import { I440fxHostBridge } from '../../src/devices/pci.js';
import { attachShadowRam, mapOptionRomSpace, mapSystemBios } from '../../src/machine/shadow-ram.js';
import { planRange, planSlots } from '../../src/accel/kvm/memslots.js';

const MiB = 0x10_0000;
const PAM0 = 0x59;
const PAM5 = 0x5e;

/** A 128 KiB BIOS whose byte at each 64 KiB boundary + 0x10 names its segment (E1 at 0xE0010, F1 at 0xF0010). */
function biosImage(): Uint8Array {
  const image = new Uint8Array(0x2_0000);
  image[0x0_0010] = 0xe1;
  image[0x1_0010] = 0xf1;
  return image;
}

function machine() {
  const mem = new AddressSpace(2 * MiB);
  mapSystemBios(mem, biosImage());
  mapOptionRomSpace(mem);
  const i440fx = new I440fxHostBridge(2 * MiB);
  i440fx.captureResetState();
  attachShadowRam(mem, i440fx);
  const remaps: [number, number][] = [];
  mem.onRemap((base, size) => remaps.push([base, size]));
  return { mem, i440fx, remaps, pam: (reg: number, value: number) => i440fx.writeConfig(reg, 1, value) };
}

describe('i440FX PAM shadow RAM', () => {
  it('at reset the window is the bus: the BIOS alias and pc.rom, writes dropped', () => {
    const { mem } = machine();
    mem.write8(0xf0010, 0x55);
    mem.write8(0xc0010, 0x55);
    expect([mem.read8(0xf0010), mem.read8(0xe0010), mem.read8(0xc0010)]).toEqual([0xf1, 0xe1, 0x00]);
    expect(mem.ram[0xf0010]).toBe(0);
    expect(mem.read8(0xfffe_0010)).toBe(0xe1); // the high alias is the same image
  });

  it('each RE/WE combination of PAM0', () => {
    const { mem, pam } = machine();
    pam(PAM0, 0x30); // read/write DRAM
    mem.write8(0xf0010, 0x33);
    expect(mem.read8(0xf0010)).toBe(0x33);
    pam(PAM0, 0x10); // read only
    mem.write8(0xf0010, 0x11);
    expect(mem.read8(0xf0010)).toBe(0x33);
    expect(mem.readOnlyRamOffset(0xf0010)).toBe(0xf0010);
    pam(PAM0, 0x20); // write only: reads from the ROM, writes to DRAM
    mem.write32(0xf0010, 0x2222_2222);
    expect(mem.read8(0xf0010)).toBe(0xf1);
    expect(mem.ram[0xf0010]).toBe(0x22);
    pam(PAM0, 0x00);
    expect(mem.read8(0xf0010)).toBe(0xf1);
    pam(PAM0, 0x30);
    expect(mem.read32(0xf0010)).toBe(0x2222_2222);
  });

  it('tells remap listeners the pages that changed, once per register write, and not at all for no change', () => {
    const { pam, remaps, i440fx } = machine();
    pam(PAM5, 0x30); // E4000-E7FFF only
    pam(PAM5, 0x30);
    pam(PAM5, 0x10); // read only: still a change of what the pages are
    expect(remaps).toEqual([
      [0xe4000, 0x4000],
      [0xe4000, 0x4000],
    ]);
    i440fx.reset();
    expect(remaps.at(-1)).toEqual([0xe4000, 0x4000]);
  });

  it('keeps its KVM slots apart from the RAM around it, one per run of the same backing', () => {
    const { mem, pam } = machine();
    for (let reg = PAM0; reg <= PAM0 + 6; reg++) pam(reg, 0x33);
    pam(PAM5, 0x13); // E0000-E3FFF read/write, E4000-E7FFF read only
    pam(PAM0, 0x00); // F0000-FFFFF: the BIOS ROM
    const slot = (p: ReturnType<typeof planSlots>[number]) => [p.kind, p.base.toString(16), p.size.toString(16), p.kind === 'ram' && p.readonly];
    expect(planSlots(mem, true).map(slot)).toEqual([
      ['ram', '0', 'c0000', false],
      ['ram', 'c0000', '24000', false],
      ['ram', 'e4000', '4000', true],
      ['ram', 'e8000', '8000', false],
      ['rom', 'f0000', '10000', false],
      ['ram', '100000', '100000', false],
      ['rom', 'fffe0000', '20000', false],
    ]);
    expect(planRange(mem, true, 0xc0000, MiB).map(slot)).toEqual(planSlots(mem, true).slice(1, 5).map(slot));
    pam(PAM0, 0x20); // write only: every access exits to tsvm
    expect(planRange(mem, true, 0xc0000, MiB).map(slot).at(-1)).toEqual(['ram', 'e8000', '8000', false]);
  });
});
