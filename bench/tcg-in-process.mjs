// Runs a PC's TCG CPU in the bench's own process, as the accelerator does: a
// chunk of instructions, then the timers that came due, sleeping while the
// guest halts. For the benches that watch the CPU from inside (tcg-mips,
// tcg-interp, guest-profile, tcg-phases).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const image = join(dirname(fileURLToPath(import.meta.url)), '../images/build/linux-i386');

/** tsvm's arguments for the i386 Linux guest (images/linux/build.sh i386) on 256 MiB, its console on the serial port. */
export function i386LinuxArgs({ accel = 'tcg', append = 'console=ttyS0' } = {}) {
  return ['-accel', accel, '-m', '256', '-kernel', join(image, 'vmlinuz'), '-initrd', join(image, 'initramfs.cpio.gz'), '-append', append, '-nographic'];
}

/** Runs about `insns` guest instructions of `pc`, then its expired timers; sleeps a millisecond if the guest halted. */
export async function runChunk(pc, insns) {
  const acc = pc.accel;
  const cpu = acc.cpu;
  if (acc.runChunk) acc.runChunk(insns);
  else acc.interp.run(insns);
  pc.bus.timers.runExpired();
  if (cpu.halted) {
    // Sleep like the accelerator does (not counted as CPU time) until a timer or IRQ wakes the guest.
    acc.interp.checkInterrupts();
    if (cpu.halted) await new Promise((r) => setTimeout(r, 1));
  }
}

/** Takes over this process's stdout (the guest's serial console under -nographic); returns what has been written so far, on each call. */
export function captureSerial() {
  let text = '';
  process.stdout.write = (d) => ((text += String(d)), true);
  return () => text;
}
