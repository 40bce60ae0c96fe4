/**
 * The monitor's x/i disassembler against GNU objdump (AT&T syntax) on a
 * corpus of common 32-bit and 16-bit instructions: the same text, line by
 * line, and the same instruction lengths.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disassembleOne } from '../../src/monitor/disasm.js';
import { requireTool } from '../helpers/tools.js';

requireTool('objdump', 'binutils');

const BASE = 0x100000;
// prettier-ignore
const CODE32 = [
  'b8 01 00 00 00', '89 d8', '8b 45 08', '01 c3', '83 c1 01', 'ff 05 10 04 10 00', 'eb fe', 'e8 00 00 00 00', 'c3', 'f4',
  'cd 10', '0f 20 c0', '0f 22 d8', '0f b6 06', '0f bf 0b', '66 89 07', 'e4 60', 'ee', 'ef', 'f3 a5', 'f3 ab', 'ac', 'f3 a6',
  '8d 44 24 04', 'c1 e0 04', 'd1 e8', 'd3 e2', '0f 84 00 01 00 00', '74 02', '50', '5b', '6a 05', '68 00 10 00 00',
  '31 c0', '85 c0', '39 d8', '3c 0a', 'a8 20', '88 07', '8a 06', 'c6 05 00 80 0b 00 41', 'c7 45 fc 00 00 00 00',
  '8b 04 8d 00 20 10 00', '89 44 24 08', 'f7 e3', 'f7 d8', 'f6 c4 80', '0f af c3', 'fa', 'fb', 'fc', '9c', '9d',
  '0f 01 15 a0 00 10 00', '0f 94 c0', 'e2 fe', 'c9', 'c2 08 00', 'ff d0', 'ff 24 85 00 30 10 00', '40', '4f', '90',
  '26 8b 03', '0f a2', '0f 31', 'a1 00 04 10 00', 'a3 00 04 10 00', '87 d9', '91',
];
// prettier-ignore
const CODE16 = [
  'b8 34 12', '8b 46 04', '89 1e 00 7c', 'ea 5b e0 00 f0', 'cd 13', 'e8 10 00', '8e d8', '8c c8', 'b4 0e', '31 db',
  'be 00 7c', 'ac', 'e4 64', '75 fa', 'c3', '66 b8 00 00 00 00', '8b 00', '88 07', 'ff e0', '0f 01 16 00 10',
];

function objdump(hex: string[], mode: 'i386' | 'i8086'): string[] {
  const file = join(mkdtempSync(join(tmpdir(), 'tsvm-disasm-')), 'code.bin');
  writeFileSync(file, Buffer.from(hex.join(' ').replace(/ /g, ''), 'hex'));
  const r = spawnSync('objdump', ['-D', '-b', 'binary', '-m', mode, `--adjust-vma=${BASE}`, file], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => /^\s*[0-9a-f]+:\t[0-9a-f ]+\t(.*)$/.exec(l)?.[1])
    .filter((t): t is string => t !== undefined)
    .map((t) => t.replace(/\s+$/, ''))
    // objdump pads mnemonics to 6 columns and follows a prefix with one space: normalise its runs of spaces to that.
    .map((t) => (/^(rep|repz|repnz|lock) /.test(t) ? t.replace(/\s+/g, ' ') : t.replace(/^(\S+)\s+(\S)/, (_, m: string, c: string) => `${m.padEnd(6)} ${c}`)));
}

function ours(hex: string[], code32: boolean): string[] {
  let addr = BASE;
  return hex.map((h) => {
    const bytes = Buffer.from(h.replace(/ /g, ''), 'hex');
    const insn = disassembleOne(bytes, addr, code32);
    expect(insn.length, h).toBe(bytes.length);
    addr += bytes.length;
    return insn.text;
  });
}

describe('x/i disassembler', () => {
  it('prints 32-bit code as objdump does', () => {
    expect(ours(CODE32, true)).toEqual(objdump(CODE32, 'i386'));
  });

  it('prints 16-bit code as objdump does', () => {
    expect(ours(CODE16, false)).toEqual(objdump(CODE16, 'i8086'));
  });
});
