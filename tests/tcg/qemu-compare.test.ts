/**
 * qemu-system-i386 as the oracle for system-level behaviour: the same
 * multiboot guest (guests/sysprobe.asm: exceptions and error codes,
 * paging faults and A/D bits, ring 3, double fault, task switch, v86 mode)
 * runs under QEMU's TCG and under tsvm's CPU; their reports on port 0xE9
 * must be identical.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AddressSpace } from '../../src/memory/address-space.js';
import { PortBus } from '../../src/io/port-bus.js';
import { createCpu } from '../../src/accel/tcg/tcg.js';
import { requireTool } from '../helpers/tools.js';
import { scratchDir } from '../helpers/scratch.js';

const dir = scratchDir('tsvm-qemu-');
requireTool('qemu-system-i386', 'qemu-system-x86');

function build(name: string): string {
  const bin = join(dir, `${name}.bin`);
  execFileSync('nasm', ['-f', 'bin', '-o', bin, join(import.meta.dirname, 'guests', `${name}.asm`)]);
  return bin;
}

function runQemu(bin: string): string {
  const out = join(dir, 'qemu.txt');
  spawnSync(
    'qemu-system-i386',
    ['-accel', 'tcg', '-kernel', bin, '-debugcon', `file:${out}`, '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-display', 'none', '-m', '16', '-no-reboot'],
    { timeout: 30_000 },
  );
  return readFileSync(out, 'latin1');
}

/** Loads the a.out-kludge multiboot image the way QEMU does and enters it in flat 32-bit protected mode. */
function runTsvm(bin: string): string {
  const image = new Uint8Array(readFileSync(bin));
  const dv = new DataView(image.buffer);
  const loadAddr = dv.getUint32(16, true);
  const entry = dv.getUint32(28, true);
  const mem = new AddressSpace(16 << 20);
  const io = new PortBus();
  let out = '';
  let done = false;
  io.register('debugcon', 0xe9, 1, { read: () => 0xe9, write: (_p, _s, v) => void (out += String.fromCharCode(v)) });
  io.register('debug-exit', 0xf4, 1, { read: () => 0, write: () => void (done = true) });
  const { cpu, interp } = createCpu({ mem, io });
  mem.writeBytes(loadAddr, image);
  cpu.cr0 = 0x11;
  cpu.setSegCache(1, 0x08, 0, 0xffffffff, 0xc9b);
  for (const s of [0, 2, 3, 4, 5]) cpu.setSegCache(s, 0x10, 0, 0xffffffff, 0xc93);
  cpu.regs[0] = 0x2badb002;
  cpu.eip = entry;
  for (let i = 0; i < 5_000_000 && !done && !cpu.halted && !interp.shutdown; i++) interp.step();
  if (interp.shutdown) out += '[triple fault]';
  return out;
}

describe('qemu-system-i386 oracle (system-level probes)', () => {
  it('sysprobe reports the same under tsvm and QEMU', () => {
    const bin = build('sysprobe');
    const qemu = runQemu(bin);
    const ours = runTsvm(bin);
    expect(ours).toBe(qemu);
    expect(qemu).toContain('done');
  }, 60_000);
});
