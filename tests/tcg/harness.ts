/**
 * Test harness for the software CPU: assembles snippets with nasm, loads
 * them into a bare AddressSpace + PortBus machine, runs until HLT and
 * exposes registers, flags and memory. Protected-mode tests get a flat GDT
 * and an IDT whose handlers record the vector (at REC) and halt.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AddressSpace } from '../../src/memory/address-space.js';
import { PortBus } from '../../src/io/port-bus.js';
import { createCpu } from '../../src/accel/tcg/tcg.js';
import type { Cpu } from '../../src/accel/tcg/cpu.js';
import type { Interpreter } from '../../src/accel/tcg/interp.js';
import { Translator } from '../../src/accel/tcg/jit/translator.js';
import { scratchDir } from '../helpers/scratch.js';

export const CODE = 0x10000;
export const GDT = 0x500;
export const IDT = 0x800;
export const STUBS = 0x1000;
/** Exception handlers write the vector here (+4: a counter). */
export const REC = 0x2000;
export const STACK = 0x9000;

const dir = scratchDir('tsvm-tcg-');
let serial = 0;

export function assemble(src: string, bits: 16 | 32 = 32, org = CODE): Uint8Array {
  const n = serial++;
  const asm = join(dir, `t${n}.asm`);
  const bin = join(dir, `t${n}.bin`);
  writeFileSync(asm, `bits ${bits}\norg 0x${org.toString(16)}\n${src}\n`);
  execFileSync('nasm', ['-f', 'bin', '-o', bin, asm], { stdio: 'pipe' });
  return new Uint8Array(readFileSync(bin));
}

export interface TestMachine {
  mem: AddressSpace;
  io: PortBus;
  cpu: Cpu;
  interp: Interpreter;
  /** Bytes written to port 0xE9 (debugcon). */
  out: number[];
  run(maxInsns?: number): void;
  /** Vector recorded by the default exception handlers, or -1. */
  vector(): number;
}

/** GDT: 0 null, 08 code32, 10 data32, 18 code16, 20 data16, 28 user code32 (DPL3), 30 user data32, 38 TSS. */
function writeGdt(mem: AddressSpace): void {
  const entries = [
    [0, 0],
    [0x0000ffff, 0x00cf9a00],
    [0x0000ffff, 0x00cf9200],
    [0x0000ffff, 0x00009a00],
    [0x0000ffff, 0x00009200],
    [0x0000ffff, 0x00cffa00],
    [0x0000ffff, 0x00cff200],
    // 32-bit TSS at 0x4000 (busy: it is TR), limit 0x67+0x2000 (I/O bitmap follows)
    [(0x4000 << 16) | 0x2067, 0x00008b00],
  ];
  entries.forEach(([lo, hi], i) => {
    mem.write32(GDT + i * 8, lo! >>> 0);
    mem.write32(GDT + i * 8 + 4, hi! >>> 0);
  });
}

/** IDT with DPL-3 32-bit interrupt gates for vectors 0-63 into stubs "mov dword [REC], v; inc dword [REC+4]; hlt". */
function writeIdt(mem: AddressSpace): void {
  for (let v = 0; v < 64; v++) {
    const stub = STUBS + v * 32;
    // SS: overrides: DS may be null after a return to ring 3 or an exit from v86 mode.
    const code = [0x36, 0xc7, 0x05, ...le32(REC), ...le32(v), 0x36, 0xff, 0x05, ...le32(REC + 4), 0xf4, 0xeb, 0xfd];
    code.forEach((b, i) => mem.write8(stub + i, b));
    mem.write32(IDT + v * 8, ((0x08 << 16) | (stub & 0xffff)) >>> 0);
    mem.write32(IDT + v * 8 + 4, ((stub & 0xffff0000) | 0xee00) >>> 0);
  }
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

export function machine(code: Uint8Array, mode: 'real' | 'pm32' = 'pm32', model?: string, ramSize = 16 << 20, ram?: Uint8Array): TestMachine {
  const mem = new AddressSpace(ramSize, undefined, ram);
  const io = new PortBus();
  const out: number[] = [];
  io.register('debugcon', 0xe9, 1, { read: () => 0xe9, write: (_p, _s, v) => out.push(v & 0xff) });
  const { cpu, interp } = createCpu({ mem, io }, model);
  mem.writeBytes(CODE, code);
  mem.write32(REC, 0xffffffff);
  if (mode === 'pm32') {
    writeGdt(mem);
    writeIdt(mem);
    cpu.cr0 = 0x11 | 0x20;
    cpu.gdtrBase = GDT;
    cpu.gdtrLimit = 8 * 8 - 1;
    cpu.idtrBase = IDT;
    cpu.idtrLimit = 64 * 8 - 1;
    cpu.setSegCache(1, 0x08, 0, 0xffffffff, 0xc9b);
    for (const s of [0, 2, 3, 4, 5]) cpu.setSegCache(s, 0x10, 0, 0xffffffff, 0xc93);
    cpu.trSel = 0x38;
    cpu.trBase = 0x4000;
    cpu.trLimit = 0x2067;
    cpu.trAttr = 0x8b;
    mem.write32(0x4000 + 4, STACK); // esp0
    mem.write32(0x4000 + 8, 0x10); // ss0
    mem.write16(0x4000 + 0x66, 0x68); // I/O bitmap base
    cpu.regs[4] = STACK;
    cpu.eip = CODE;
  } else {
    cpu.setSegCache(1, CODE >> 4, CODE, 0xffff, 0x9b);
    for (const s of [0, 2, 3, 4, 5]) cpu.setSegCache(s, 0, 0, 0xffff, 0x93);
    cpu.regs[4] = 0x7000;
    cpu.eip = 0;
  }
  cpu.updateCpl();
  return {
    mem,
    io,
    cpu,
    interp,
    out,
    run(maxInsns = 1_000_000) {
      for (let i = 0; i < maxInsns && !cpu.halted && !interp.shutdown; i++) interp.step();
      if (!cpu.halted && !interp.shutdown) throw new Error(`did not halt; eip=0x${cpu.eip.toString(16)}`);
    },
    vector() {
      return mem.read32(REC) | 0;
    },
  };
}

/** Runs `m` through the translator (`jit`, by default one translating every block at once) until it halts; returns the translator. */
export function runTranslated(m: TestMachine, jit = new Translator(m.cpu, m.interp, 1)): Translator {
  for (let i = 0; i < 100 && !m.cpu.halted; i++) jit.run(1000);
  return jit;
}

/**
 * NASM turning paging on with the page directory at 0x100000, after or-ing
 * `cr4` (PSE 0x10, PAE 0x20, PGE 0x80...) into CR4 when given. Uses EAX.
 */
export function pagingOn(cr4 = 0): string {
  const setCr4 = cr4 ? ['mov eax, cr4', `or eax, 0x${cr4.toString(16)}`, 'mov cr4, eax'] : [];
  return [...setCr4, 'mov eax, 0x100000', 'mov cr3, eax', 'mov eax, cr0', 'or eax, 0x80000000', 'mov cr0, eax'].join('\n');
}

/** Assembles and runs a 32-bit flat protected-mode snippet (ending in hlt). */
export function run32(src: string, setup?: (m: TestMachine) => void): TestMachine {
  const m = machine(assemble(src, 32), 'pm32');
  setup?.(m);
  m.run();
  return m;
}

export function run16(src: string, setup?: (m: TestMachine) => void): TestMachine {
  const m = machine(assemble(src, 16, 0), 'real');
  setup?.(m);
  m.run();
  return m;
}
