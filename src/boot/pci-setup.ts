/**
 * What PC firmware programs in the PCI chips before it hands over to an OS,
 * for the boots where tsvm itself is the firmware (-kernel, the built-in
 * BIOS). Under -bios, SeaBIOS does this on its own.
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

function writeConfig32(io: PortBus, device: number, fn: number, register: number, value: number): void {
  io.write(CONFIG_ADDRESS, 4, (0x8000_0000 | (device << 11) | (fn << 8) | (register & 0xfc)) >>> 0);
  io.write(CONFIG_DATA, 4, value >>> 0);
}

/**
 * Turns on both IDE channels' legacy decode, which the chip resets to off
 * (SeaBIOS does the same in its PIIX IDE setup): Linux's ata_piix leaves a
 * channel whose enable bit is clear alone, so without this a guest booted
 * with -kernel would see no -hda.
 */
export function enableLegacyIde(io: PortBus): void {
  writeConfig32(io, PIIX_IDE.device, PIIX_IDE.fn, IDETIM, (IDETIM_DECODE_ENABLE << 16) | IDETIM_DECODE_ENABLE);
}
