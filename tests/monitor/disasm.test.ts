/**
 * The monitor's x/i disassembler against GNU objdump (AT&T syntax) on a
 * corpus of common 32-bit and 16-bit instructions: the same text, line by
 * line, and the same instruction lengths.
 */
import { describe, expect, it } from 'vitest';
import { requireTool } from '../helpers/tools.js';
import { objdump, ours } from './disasm-objdump.js';

requireTool('objdump', 'binutils');
// prettier-ignore
const CODE32 = [
  'b8 01 00 00 00', '89 d8', '8b 45 08', '01 c3', '83 c1 01', 'ff 05 10 04 10 00', 'eb fe', 'e8 00 00 00 00', 'c3', 'f4',
  'cd 10', '0f 20 c0', '0f 22 d8', '0f b6 06', '0f bf 0b', '66 89 07', 'e4 60', 'ee', 'ef', 'f3 a5', 'f3 ab', 'ac', 'f3 a6',
  '8d 44 24 04', 'c1 e0 04', 'd1 e8', 'd3 e2', '0f 84 00 01 00 00', '74 02', '50', '5b', '6a 05', '68 00 10 00 00',
  '31 c0', '85 c0', '39 d8', '3c 0a', 'a8 20', '88 07', '8a 06', 'c6 05 00 80 0b 00 41', 'c7 45 fc 00 00 00 00',
  '8b 04 8d 00 20 10 00', '89 44 24 08', 'f7 e3', 'f7 d8', 'f6 c4 80', '0f af c3', 'fa', 'fb', 'fc', '9c', '9d',
  '0f 01 15 a0 00 10 00', '0f 94 c0', 'e2 fe', 'c9', 'c2 08 00', 'ff d0', 'ff 24 85 00 30 10 00', '40', '4f', '90',
  '26 8b 03', '0f a2', '0f 31', 'a1 00 04 10 00', 'a3 00 04 10 00', '87 d9', '91',
  '83 c1 ff', '6a ff', '8b 45 00', '8b 04 25 00 04 00 00', '8b 04 20', '8b 44 24 f8', 'ff 30', '66 ff 30', '8f 00', '8c d8',
  '0f 01 e0', '98', '99', '60', '27', '0f 47 c1', '0f 42 45 08', '66 0f 4f d8',
  // Bit tests and scans, double shifts, atomics, BSWAP: the kernel's locks and bitmaps.
  '0f a3 c3', '0f ab 0b', '0f b3 c8', '0f bb 45 08', '0f ba e3 05', '0f ba 2b 07', '0f ba 70 04 0f', '0f ba f8 01', '66 0f a3 c3',
  '0f a4 c3 05', '0f a5 c3', '0f ac 0b 03', '0f ad d0', '0f c1 c3', '0f c0 03', '66 0f c1 c3', 'f0 0f c1 03', '0f b1 0b',
  '0f b0 d1', 'f0 0f b1 0b', '0f c7 0f', 'f0 0f c7 0f', '0f c8', '0f cb', '0f bc c3', '0f bd 45 08',
  // Segment pushes, descriptor-table group 6, system and padding instructions.
  '0f a0', '0f a1', '0f a8', '0f a9', '0f 00 d8', '0f 00 c8', '66 0f 00 c8', '0f 00 c0', '0f 00 10', '0f 00 08', '0f 00 e0',
  '0f 00 e8', '0f 06', '0f 08', '0f 09', '0f 0b', '0f 33', '0f 34', '0f 35', '0f 1f 44 00 00', '66 0f 1f 44 00 00',
  '0f 1f 00', '0f 1f 80 00 00 00 00', '0f 1f c0', '0f 18 00', '0f 18 08', '0f 18 10', '0f 18 18', '0f 0d 00', '0f 0d 08',
  '0f ae f0', '0f ae e8', '0f ae f8', '0f ae 38', '0f ae 00', '0f ae 0e', '0f ae 16', '0f ae 1e',
  // Three-operand IMUL, as the kernel's hashes and divisions by constants use it.
  '69 c0 00 ca 9a 3b', '69 d3 47 86 c8 61', '6b 15 08 44 df cb 0c', '6b c8 28', '6b d3 c0', '66 6b c0 03', '6b 45 08 fd',
];
// prettier-ignore
const CODE16 = [
  'b8 34 12', '8b 46 04', '89 1e 00 7c', 'ea 5b e0 00 f0', 'cd 13', 'e8 10 00', '8e d8', '8c c8', 'b4 0e', '31 db',
  'be 00 7c', 'ac', 'e4 64', '75 fa', 'c3', '66 b8 00 00 00 00', '8b 00', '88 07', 'ff e0', '0f 01 16 00 10',
  '8b 46 00', '83 c1 ff', '98', '99', '0f a4 c3 05', '0f 1f c0', '0f 00 c8', '0f a3 c3', '0f a0', '0f ba e0 03',
  '6b c0 05', '69 c3 34 12',
];

describe('x/i disassembler', () => {
  it('prints 32-bit code as objdump does', () => {
    expect(ours(CODE32, 32)).toEqual(objdump(CODE32, 'i386'));
  });

  it('prints 16-bit code as objdump does', () => {
    expect(ours(CODE16, 16)).toEqual(objdump(CODE16, 'i8086'));
  });
});
