/**
 * HMP's memory commands: `x /fmt addr` (virtual) and `xp /fmt addr`
 * (physical) with QEMU's memory_dump() layout, `x/i` through the compact
 * disassembler, and memsave/pmemsave.
 */
import type { MachineControl } from './control.js';
import { MonitorError } from './control.js';
import { disassembleOne, type CodeMode } from './disasm.js';
import { is64BitCode } from './registers.js';

export interface DumpFormat {
  count: number;
  format: 'x' | 'd' | 'u' | 'o' | 'c' | 'i';
  size: 1 | 2 | 4 | 8;
}

/** QEMU remembers the last format and size between x/xp commands. */
export class DumpDefaults {
  format: DumpFormat['format'] = 'x';
  size: DumpFormat['size'] = 4;
}

/** Parses `/[count][format][size]` (letters in any order after the count). */
export function parseFormat(spec: string | undefined, defaults: DumpDefaults): DumpFormat {
  const fmt: DumpFormat = { count: 1, format: defaults.format, size: defaults.size };
  if (spec === undefined) return fmt;
  const m = /^\/(\d*)([a-z]*)$/.exec(spec);
  if (!m) throw new MonitorError(`invalid char in format: '${spec.replace(/^\/\d*[a-z]*/, '').charAt(0) || spec}'`);
  if (m[1]) fmt.count = Number(m[1]);
  let sizeGiven = false;
  for (const ch of m[2]!) {
    if ('xduoci'.includes(ch)) fmt.format = ch as DumpFormat['format'];
    else if ('bhwg'.includes(ch)) {
      fmt.size = ({ b: 1, h: 2, w: 4, g: 8 } as const)[ch as 'b' | 'h' | 'w' | 'g'];
      sizeGiven = true;
    } else throw new MonitorError(`invalid char in format: '${ch}'`);
  }
  // QEMU: 'c' always dumps bytes; a format change without a size keeps the last size.
  if (fmt.format === 'c' && !sizeGiven) fmt.size = 1;
  defaults.format = fmt.format;
  defaults.size = fmt.size;
  return fmt;
}

export function memoryDump(ctl: MachineControl, fmt: DumpFormat, addr: bigint, physical: boolean): string {
  if (fmt.format === 'i') return disassembly(ctl, fmt.count, addr, physical);
  const wsize = fmt.format === 'c' ? 1 : fmt.size;
  const lineSize = wsize === 1 ? 8 : 16;
  const digits = fmt.format === 'o' ? Math.ceil((wsize * 8) / 3) : fmt.format === 'x' ? wsize * 2 : Math.ceil((wsize * 80) / 33);
  let len = wsize * Math.min(fmt.count, 1 << 20);
  let out = '';
  while (len > 0) {
    const l = Math.min(len, lineSize);
    out += `${addr.toString(16).padStart(16, '0')}:`;
    let buf: Uint8Array;
    try {
      buf = ctl.readMemory(addr, l, physical);
    } catch {
      return out + ' Cannot access memory\n';
    }
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let i = 0; i < l; i += wsize) out += ' ' + formatValue(read(view, i, wsize), fmt.format, wsize, digits);
    out += '\n';
    addr += BigInt(l);
    len -= l;
  }
  return out;
}

function read(view: DataView, at: number, size: number): bigint {
  if (size === 1) return BigInt(view.getUint8(at));
  if (size === 2) return BigInt(view.getUint16(at, true));
  if (size === 4) return BigInt(view.getUint32(at, true));
  return view.getBigUint64(at, true);
}

function formatValue(v: bigint, format: DumpFormat['format'], size: number, digits: number): string {
  switch (format) {
    case 'x':
      return '0x' + v.toString(16).padStart(digits, '0');
    case 'o':
      return (v === 0n ? '0' : '0' + v.toString(8)).padStart(digits, ' ');
    case 'u':
      return v.toString().padStart(digits, ' ');
    case 'd':
      return BigInt.asIntN(size * 8, v).toString().padStart(digits, ' ');
    default:
      return printable(Number(v));
  }
}

/** QEMU's monitor_printc. */
function printable(c: number): string {
  const escapes: Record<number, string> = { 0x27: "\\'", 0x5c: '\\\\', 0x0a: '\\n', 0x0d: '\\r' };
  if (escapes[c]) return `'${escapes[c]}'`;
  if (c >= 32 && c <= 126) return `'${String.fromCharCode(c)}'`;
  return `'\\x${c.toString(16).padStart(2, '0')}'`;
}

function disassembly(ctl: MachineControl, count: number, addr: bigint, physical: boolean): string {
  const st = ctl.vcpu(0).getState();
  // As QEMU's memory_dump: 64-bit code with EFER.LMA and CS.L, else CS.D picks 32- or 16-bit.
  const mode: CodeMode = is64BitCode(st) ? 64 : st.seg.cs.db ? 32 : 16;
  let out = '';
  for (let i = 0; i < Math.min(count, 4096); i++) {
    let bytes: Uint8Array;
    try {
      bytes = ctl.readMemory(addr, 16, physical);
    } catch {
      return out + `0x${addr.toString(16).padStart(8, '0')}:  Cannot access memory\n`;
    }
    const insn = disassembleOne(bytes, addr, mode);
    out += `0x${addr.toString(16).padStart(8, '0')}:  ${insn.text}\n`;
    addr += BigInt(insn.length);
  }
  return out;
}
