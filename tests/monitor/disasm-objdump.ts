/**
 * Helpers for checking the monitor's x/i disassembler against GNU objdump
 * (AT&T syntax): objdump's listing of some bytes, normalised to the
 * spacing tsvm prints, and tsvm's own decoding of the same instructions.
 */
import { expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { disassembleOne, type CodeMode } from '../../src/monitor/disasm.js';
import { scratchDir } from '../helpers/scratch.js';

export const BASE = 0x100000;

export type ObjdumpMachine = 'i8086' | 'i386' | 'i386:x86-64';

function hexBytes(hex: string[]): Buffer {
  return Buffer.from(hex.join('').replace(/ /g, ''), 'hex');
}

export interface ObjdumpLine {
  addr: number;
  text: string;
}

/** objdump -D of a raw binary file, `extra` options added: each instruction's address and text, objdump's spacing normalised. */
export function objdumpFile(file: string, machine: ObjdumpMachine, extra: string[] = []): ObjdumpLine[] {
  const r = spawnSync('objdump', ['-D', '-b', 'binary', '-m', machine, ...extra, file], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => /^\s*([0-9a-f]+):\t[0-9a-f ]+\t(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ addr: Number.parseInt(m[1]!, 16), text: normalise(m[2]!.replace(/\s+$/, '')) }));
}

/** objdump pads mnemonics to 6 columns and follows a prefix with one space: its runs of spaces brought to that. */
function normalise(t: string): string {
  if (/^(rep|repz|repnz|lock) /.test(t)) return t.replace(/\s+/g, ' ');
  return t.replace(/^(\S+)\s+(\S)/, (_, m: string, c: string) => `${m.padEnd(6)} ${c}`);
}

/** objdump's listing of the instructions `hex` (one string of hex bytes each) placed at BASE. */
export function objdump(hex: string[], machine: ObjdumpMachine): string[] {
  const file = join(scratchDir('tsvm-disasm-'), 'code.bin');
  writeFileSync(file, hexBytes(hex));
  return objdumpFile(file, machine, [`--adjust-vma=${BASE}`]).map((l) => l.text);
}

/** tsvm's decoding of the same instructions at BASE, each expected to be exactly as long as its bytes. */
export function ours(hex: string[], mode: CodeMode): string[] {
  let addr = BigInt(BASE);
  return hex.map((h) => {
    const bytes = Buffer.from(h.replace(/ /g, ''), 'hex');
    const insn = disassembleOne(bytes, addr, mode);
    expect(insn.length, h).toBe(bytes.length);
    addr += BigInt(bytes.length);
    return insn.text;
  });
}

/** Assembles each line of `source` on its own with nasm (`bits` set) and returns the bytes of each as hex. */
export function nasmEach(lines: string[], bits: CodeMode): string[] {
  const dir = scratchDir('tsvm-nasm-');
  return lines.map((line, i) => {
    const src = join(dir, `${i}.asm`);
    const out = join(dir, `${i}.bin`);
    writeFileSync(src, `bits ${bits}\n${line}\n`);
    const r = spawnSync('nasm', ['-f', 'bin', '-o', out, src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nasm rejected '${line}': ${r.stderr}`);
    return readFileSync(out).toString('hex');
  });
}
