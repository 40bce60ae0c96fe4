/**
 * The target descriptions as Debian's gdb reads them (`set tdesc
 * filename`, `maint print remote-registers`): gdb takes both as i386 and
 * i386:x86-64 and expects the g packet exactly as the stub lays it out
 * (same names, remote numbers and sizes), and a g packet of a known
 * CpuState carries its values at gdb's g/G offsets.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { registers, targetXml, type Arch } from '../../src/gdbstub/target-description.js';
import { readAll, writeAll } from '../../src/gdbstub/registers.js';
import { flatSegment, resetCpuState } from '../../src/accel/cpu-state.js';
import { requireTool } from '../helpers/tools.js';
import { scratchDir } from '../helpers/scratch.js';

requireTool('gdb', 'gdb');

function gdbLayout(arch: Arch): { arch: string; regs: { name: string; size: number; remote: number; offset: number }[] } {
  const file = join(scratchDir('tsvm-tdesc-'), 'target.xml');
  writeFileSync(file, targetXml(arch));
  const r = spawnSync('gdb', ['-batch', '-nx', '-ex', `set tdesc filename ${file}`, '-ex', 'show architecture', '-ex', 'maint print remote-registers'], { encoding: 'utf8' });
  const archLine = /currently "([^"]+)"/.exec(r.stdout)?.[1] ?? '';
  // Name, Nr, Rel, Offset, Size, Type, then the remote number and g/G offset (pseudo registers have none).
  const regs = r.stdout
    .split('\n')
    .map((l) => /^ (\w+)\s+\d+\s+\d+\s+\d+\s+(\d+)\s+\S+\s+(\d+)\s+(\d+)\s*$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1]!, size: Number(m[2]), remote: Number(m[3]), offset: Number(m[4]) }))
    .sort((a, b) => a.remote - b.remote);
  return { arch: archLine, regs };
}

describe.each(['i386', 'x86-64'] as const)('%s target description', (arch) => {
  it('is read by gdb with the register layout of the g packet', () => {
    const layout = gdbLayout(arch);
    expect(layout.arch).toBe(arch === 'i386' ? 'i386' : 'i386:x86-64');
    const ours = registers(arch);
    expect(layout.regs.map((r) => [r.remote, r.name, r.size])).toEqual(ours.map((r, i) => [i, r.name, r.bits / 8]));
  });

  it('puts register values at gdb offsets and reads them back from a G packet', () => {
    const st = resetCpuState();
    st.gpr = st.gpr.map((_, i) => BigInt(0x1000 + i));
    st.rip = 0x100200n;
    st.seg.cs = flatSegment(0x08, true);
    const hex = readAll(st, arch);
    const layout = gdbLayout(arch).regs;
    const at = (name: string, bytes: number) => {
      const off = layout.find((r) => r.name === name)!.offset;
      return Buffer.from(hex.slice(off * 2, (off + bytes) * 2), 'hex');
    };
    const width = arch === 'i386' ? 4 : 8;
    expect(at(arch === 'i386' ? 'ebx' : 'rbx', width).readUIntLE(0, 4)).toBe(0x1003);
    expect(at(arch === 'i386' ? 'eip' : 'rip', width).readUIntLE(0, 4)).toBe(0x100200);
    expect(at('cs', 4).readUInt32LE(0)).toBe(0x08);
    expect(at('fctrl', 4).readUInt32LE(0)).toBe(0x37f);
    expect(at('cr0', 4).readUInt32LE(0)).toBe(0x6000_0010);
    const copy = resetCpuState();
    expect(writeAll(copy, arch, hex)).toBe(true);
    expect(copy.gpr.slice(0, arch === 'i386' ? 8 : 16)).toEqual(st.gpr.slice(0, arch === 'i386' ? 8 : 16));
    expect(copy.rip).toBe(0x100200n);
  });
});
