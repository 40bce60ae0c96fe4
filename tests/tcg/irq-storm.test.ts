/**
 * Device interrupts taken wherever they land in translated code:
 * guests/irqstorm.asm asks the i8042 for one keyboard interrupt per round
 * at a random point of call-heavy work (nested calls within and across
 * pages) while the PIT ticks at about 6 kHz, and its IRQ 1 handler masks,
 * acknowledges, re-enables interrupts and reads the byte as Linux's
 * handle_level_irq and floppy driver do. Under qemu-system-i386 and under
 * tsvm's translator (with and without WebAssembly blocks) and interpreter
 * the report must be the same: every request delivered exactly once with
 * its byte, none lost, the checksum of the interrupted work intact.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/tools.js';
import { scratchDir } from '../helpers/scratch.js';
import { TSVM } from '../helpers/tsvm-process.js';

const run = promisify(execFile);
const dir = scratchDir('tsvm-irqstorm-');
const image = join(dir, 'irqstorm.bin');
const machine = (report: string) => ['-kernel', image, '-debugcon', `file:${report}`, '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-display', 'none', '-m', '16', '-no-reboot'];

/** Runs `command` on the guest; its report on port 0xE9 and exit status (isa-debug-exit: 1 after writing 0). */
async function report(name: string, command: string[]): Promise<{ text: string; status: number | null }> {
  const file = join(dir, `${name}.txt`);
  let status: number | null = 0;
  try {
    await run(command[0]!, [...command.slice(1), ...machine(file)], { timeout: 120_000 });
  } catch (e) {
    status = (e as { code?: number | null }).code ?? null;
  }
  return { text: readFileSync(file, 'latin1'), status };
}

describe('device interrupts in translated code (guests/irqstorm.asm)', () => {
  let qemu: { text: string; status: number | null };

  beforeAll(async () => {
    requireTool('nasm', 'nasm');
    requireTool('qemu-system-i386', 'qemu-system-x86');
    execFileSync('nasm', ['-f', 'bin', '-o', image, join(import.meta.dirname, 'guests', 'irqstorm.asm')]);
    qemu = await report('qemu', ['qemu-system-i386', '-accel', 'tcg']);
  }, 150_000);

  it('QEMU takes each of the 4000 requests once', () => {
    expect(qemu.text).toMatch(/^irq1 00000fa0 unexpected 00000000 wrong 00000000 lost 00000000 sum [0-9a-f]{8}\n$/);
    expect(qemu.status).toBe(1);
  });

  it.each([
    ['the translator', 'tcg'],
    ['the translator and WebAssembly blocks', 'tcg,wasm=on'],
    ['the interpreter', 'tcg,one-insn-per-tb=on'],
  ])('tsvm with %s reports what QEMU does', async (_name, accel) => {
    const tsvm = await report(accel, [process.execPath, TSVM, '-accel', accel]);
    expect(tsvm.text).toBe(qemu.text);
    expect(tsvm.status).toBe(1);
  }, 150_000);
});
