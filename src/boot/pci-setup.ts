/**
 * What PC firmware programs in the PCI chips before it hands over to an OS,
 * for the boots where tsvm itself is the firmware (-kernel, the built-in
 * BIOS): the IDE decode and the shadow RAM. Under -bios, SeaBIOS does this on its own.
 *
 * Done through configuration mechanism #1, as firmware does it.
 */
import type { PortBus } from '../io/port-bus.js';

const CONFIG_ADDRESS = 0xcf8;
const CONFIG_DATA = 0xcfc;
/** The PIIX3 IDE function's address on the i440FX board: bus 0, device 1, function 1. */
const PIIX_IDE = { device: 1, fn: 1 };
/** IDETIM, primary at 0x40 and secondary at 0x42: bit 15 enables the channel's legacy port decode (PIIX datasheet 2.5.3). */
const IDETIM = 0x40;
const IDETIM_DECODE_ENABLE = 0x8000;
/** The i440FX host bridge: bus 0, device 0, function 0. */
const I440FX = { device: 0, fn: 0 };
/** PAM0 (0xF0000-0xFFFFF in its high nibble) to PAM6 (82441FX datasheet, PAM[6:0] at 59h-5Fh). */
const PAM0 = 0x59;
const PAM_REGISTERS = 7;
/** RE and WE set in both nibbles: DRAM read/write (PAM0's low nibble is reserved and ignores its half). */
const PAM_READ_WRITE = 0x33;
/** PAM0 with RE alone: 0xF0000-0xFFFFF reads DRAM, writes are dropped. */
const PAM0_READ_ONLY = 0x10;

/** One configuration write of `size` bytes at `register` (which must not cross its dword). */
function writeConfig(io: PortBus, device: number, fn: number, register: number, size: 1 | 4, value: number): void {
  io.write(CONFIG_ADDRESS, 4, (0x8000_0000 | (device << 11) | (fn << 8) | (register & 0xfc)) >>> 0);
  io.write(CONFIG_DATA + (register & 3), size, value >>> 0);
}

/**
 * Turns on both IDE channels' legacy decode, which the chip resets to off
 * (SeaBIOS does the same in its PIIX IDE setup): Linux's ata_piix leaves a
 * channel whose enable bit is clear alone, so without this a guest booted
 * with -kernel would see no -hda.
 */
export function enableLegacyIde(io: PortBus): void {
  writeConfig(io, PIIX_IDE.device, PIIX_IDE.fn, IDETIM, 4, (IDETIM_DECODE_ENABLE << 16) | IDETIM_DECODE_ENABLE);
}

/**
 * POST's shadowing of the BIOS: DRAM read/write under all of
 * 0xC0000-0xFFFFF while `fill` writes the BIOS and its tables there, then
 * the system BIOS segment 0xF0000-0xFFFFF read-only, as a BIOS hands it to
 * the OS (SeaBIOS's make_bios_writable and make_bios_readonly do the same;
 * 0xC0000-0xEFFFF stays read/write, where SeaBIOS leaves what no option ROM
 * took). At reset the PAM registers send these addresses to the bus, where
 * only the BIOS ROM answers, so nothing written there before would stay.
 */
export function shadowFirmware<T>(io: PortBus, fill: () => T): T {
  for (let r = 0; r < PAM_REGISTERS; r++) writeConfig(io, I440FX.device, I440FX.fn, PAM0 + r, 1, PAM_READ_WRITE);
  const result = fill();
  writeConfig(io, I440FX.device, I440FX.fn, PAM0, 1, PAM0_READ_ONLY);
  return result;
}
