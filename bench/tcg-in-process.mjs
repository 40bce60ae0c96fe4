// Runs a PC's TCG CPU in the bench's own process, as the accelerator does: a
// chunk of instructions, then the timers that came due, sleeping while the
// guest halts. For the benches that watch the CPU from inside (tcg-mips,
// tcg-interp, guest-profile, tcg-phases, hot-blocks).
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

/** Runs `pc` until `done(serial())` holds; throws if the guest asked to stop (shutdown, reset). */
export async function runUntil(pc, serial, done) {
  while (!done(serial())) {
    await runChunk(pc, 100_000);
    if (pc.bus.lifecycle.hasRequest) throw new Error(`the guest stopped: ${pc.bus.lifecycle.take()}`);
  }
}

/** Types `command` at the guest's shell prompt and runs the guest until the prompt after it. */
export async function runAtPrompt(pc, serial, command) {
  const from = serial().length;
  process.stdin.emit('data', Buffer.from(command + '\n'));
  await runUntil(pc, serial, (s) => {
    const at = s.indexOf(command, from);
    return at >= 0 && s.indexOf('~ # ', at + command.length) >= 0;
  });
}

/**
 * Calls `onFind(kind, block)` each time the translator's dispatcher finds a
 * block: through a static link ('successor'), the inline cache of a RET or
 * indirect JMP/CALL ('target') or a full lookup ('lookup'; block undefined
 * when there is none yet). Wrapping the lookups slows the translator.
 */
export function watchBlockFinds(jit, onFind) {
  for (const kind of ['successor', 'target', 'lookup']) {
    const find = Object.getPrototypeOf(jit)[kind];
    jit[kind] = function (...args) {
      const b = find.apply(this, args);
      onFind(kind, b);
      return b;
    };
  }
}
