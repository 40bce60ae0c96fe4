#!/usr/bin/env node
// Runs a Linux bzImage + initrd under v86 (npm's `v86`, the peer the TCG
// issues measure against) with its first serial port on stdin/stdout, so
// the same console driver that types into tsvm and QEMU can drive it.
//
//   node bench/v86-console.mjs <bzImage> <initrd> <cmdline> [memory MiB]
//
// v86 ships no firmware in its npm package: Debian's SeaBIOS and VGA BIOS
// are used. v86 does not exit on guest poweroff, so the caller kills it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { V86 } from 'v86';

const [kernel, initrd, cmdline, mib = '256'] = process.argv.slice(2);
if (!initrd) {
  process.stderr.write('usage: v86-console.mjs <bzImage> <initrd> <cmdline> [memory MiB]\n');
  process.exit(2);
}
const require = createRequire(import.meta.url);
const file = (path) => ({ buffer: new Uint8Array(readFileSync(path)).buffer });

const emulator = new V86({
  wasm_path: require.resolve('v86/build/v86.wasm'),
  memory_size: Number(mib) * 1024 * 1024,
  vga_memory_size: 2 * 1024 * 1024,
  bios: file('/usr/share/seabios/bios.bin'),
  vga_bios: file('/usr/share/seabios/vgabios-stdvga.bin'),
  bzimage: file(kernel),
  initrd: file(initrd),
  cmdline,
  autostart: true,
  disable_keyboard: true,
  disable_mouse: true,
  disable_speaker: true,
});
emulator.add_listener('serial0-output-byte', (byte) => process.stdout.write(Uint8Array.of(byte)));
process.stdin.on('data', (data) => emulator.serial0_send(data.toString('latin1')));
