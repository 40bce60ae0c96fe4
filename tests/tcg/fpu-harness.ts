/**
 * Test harness for the x87 unit: a fake FpuHost over a byte array, a tiny
 * "program" runner, and an oracle that runs the same instruction on the
 * host's own x87 (a C program compiled with gcc at test time that executes
 * machine code from an executable buffer).
 *
 * Scratch layout shared by both sides (offsets from the buffer base):
 *   0  FCW to load        8  EFLAGS after the instruction (host only)
 *   16 ST(1) initial m80  32 ST(0) initial m80
 *   48 memory operand, up to 512 bytes (an FXSAVE area fits)
 *   640 FNSAVE image (32-bit protected layout, 108 bytes)
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X87 } from '../../src/accel/tcg/fpu.js';
import type { FpuHost } from '../../src/accel/tcg/fpu-types.js';
import { requireTool } from '../helpers/tools.js';
import { scratchDir } from '../helpers/scratch.js';

export class FakeHost implements FpuHost {
  readonly bytes = new Uint8Array(4096);
  faults = 0;
  flags = 0;
  readonly mem = {
    read8: (a: number) => this.bytes[a],
    read16: (a: number) => this.bytes[a] | (this.bytes[a + 1] << 8),
    read32: (a: number) =>
      (this.bytes[a] | (this.bytes[a + 1] << 8) | (this.bytes[a + 2] << 16) | (this.bytes[a + 3] << 24)) >>> 0,
    write8: (a: number, v: number) => {
      this.bytes[a] = v & 0xff;
    },
    write16: (a: number, v: number) => {
      this.bytes[a] = v & 0xff;
      this.bytes[a + 1] = (v >> 8) & 0xff;
    },
    write32: (a: number, v: number) => {
      for (let i = 0; i < 4; i++) this.bytes[a + i] = (v >>> (8 * i)) & 0xff;
    },
  };
  raiseMathFault(): void {
    this.faults++;
  }
  eflags(): number {
    return this.flags;
  }
}

/** A unit with its host, plus helpers to put and get values. */
export function makeFpu(): { fpu: X87; host: FakeHost } {
  const host = new FakeHost();
  const fpu = new X87(host);
  fpu.reset();
  return { fpu, host };
}

/** Executes "D9 C0"-style bytes; a memory form gets the linear address `linear`. */
export function run(fpu: X87, hex: string, linear = 48, opsize32 = true, protectedMode = true): number {
  const b = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  return fpu.execute(b[0], b[1], linear, opsize32, protectedMode);
}

export function putHex(host: FakeHost, at: number, hex: string): void {
  Buffer.from(hex, 'hex').copy(Buffer.from(host.bytes.buffer), at);
}

export function getHex(host: FakeHost, at: number, length: number): string {
  return Buffer.from(host.bytes.subarray(at, at + length)).toString('hex');
}

/** m80 as "SSSS MMMMMMMMMMMMMMMM" (sign/exponent word, significand) → 10 little-endian bytes as hex. */
export function m80(se: number, mant: bigint): string {
  const b = Buffer.alloc(10);
  b.writeBigUInt64LE(mant, 0);
  b.writeUInt16LE(se, 8);
  return b.toString('hex');
}

/** One oracle case: the instruction (opcode + ModR/M, memory forms use [base+48]), FCW, ST(0), ST(1), memory. */
export interface OracleCase {
  insn: string;
  fcw: number;
  st0: string;
  st1: string;
  mem: string;
  /** Registers in use before the instruction: 0 (none), 1 (ST(0)), 2 (default), or up to 8 (1.0s below ST(1)). */
  depth?: number;
  /** EFLAGS for the instruction (FCMOVcc reads CF, ZF, PF). */
  eflags?: number;
}

export interface OracleResult {
  /** FNSAVE image as hex (108 bytes). */
  save: string;
  eflags: number;
  /** The memory operand afterwards (as many bytes as the case gave). */
  mem: string;
}

/** Runs a case on the emulated unit with the same program the host oracle runs. */
export function emulate(c: OracleCase): OracleResult {
  const { fpu, host } = makeFpu();
  host.mem.write16(0, c.fcw);
  putHex(host, 16, c.st1);
  putHex(host, 32, c.st0);
  putHex(host, 48, c.mem);
  host.flags = c.eflags ?? 0;
  const depth = c.depth ?? 2;
  /** Like the CPU: the opcode is offered for FOP before every instruction; the unit keeps it for non-control ones. */
  /** An 0x66 prefix selects the 16-bit environment layouts. */
  const step = (hex: string, linear = 48): number => {
    const opsize32 = !hex.startsWith('66');
    const insn = opsize32 ? hex : hex.slice(2);
    const b = Buffer.from(insn, 'hex');
    fpu.setLastInstruction(0, 0, ((b[0] & 7) << 8) | b[1], 0, linear);
    return run(fpu, insn, linear, opsize32);
  };
  step('dbe3');
  step('d92f', 0);
  for (let i = 2; i < depth; i++) step('d9e8');
  if (depth >= 2) step('db6f', 16);
  if (depth >= 1) step('db6f', 32);
  // 0F AE /0 and /1 (FXSAVE, FXRSTOR) are the CPU's instructions; it calls the unit for the x87 part.
  let r = -1;
  if (c.insn.startsWith('0fae')) {
    if (c.insn.slice(4, 6) === '47') fpu.fxsave(48);
    else fpu.fxrstor(48);
  } else {
    r = step(c.insn.slice(0, c.insn.startsWith('66') ? 6 : 4), 48);
  }
  step('ddb7', 640);
  return { save: getHex(host, 640, 108), eflags: r >= 0 ? r : -1, mem: getHex(host, 48, c.mem.length / 2) };
}

const ORACLE_C = String.raw`
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
static int hex(const char *s, unsigned char *out, int n) {
  for (int i = 0; i < n; i++) { unsigned v; if (sscanf(s + 2 * i, "%2x", &v) != 1) return 0; out[i] = v; }
  return 1;
}
static void put(const unsigned char *p, int n) { for (int i = 0; i < n; i++) printf("%02x", p[i]); }
int main(void) {
  unsigned char *code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static unsigned char buf[1024] __attribute__((aligned(16)));
  static char m[1100];
  char insn[64], a[64], b[64]; unsigned fcw, eflags; int depth;
  while (scanf("%63s %x %63s %63s %1099s %d %x", insn, &fcw, a, b, m, &depth, &eflags) == 7) {
    memset(buf, 0, sizeof buf);
    buf[0] = fcw; buf[1] = fcw >> 8;
    hex(b, buf + 16, 10); hex(a, buf + 32, 10); int mlen = strlen(m) / 2; hex(m, buf + 48, mlen);
    int n = 0, len = strlen(insn) / 2;
    /* Zero all eight registers (FNINIT leaves their contents), then FNINIT, FLDCW, FLD b, FLD a. */
    const unsigned char pre[] = {0xdb,0xe3, 0xd9,0xee, 0xd9,0xee, 0xd9,0xee, 0xd9,0xee, 0xd9,0xee, 0xd9,0xee, 0xd9,0xee, 0xd9,0xee,
                                 0xdb,0xe3, 0xd9,0x2f};
    memcpy(code, pre, sizeof pre); n = sizeof pre;
    for (int i = 2; i < depth; i++) { code[n++] = 0xd9; code[n++] = 0xe8; }
    if (depth >= 2) { code[n++] = 0xdb; code[n++] = 0x6f; code[n++] = 0x10; }
    if (depth >= 1) { code[n++] = 0xdb; code[n++] = 0x6f; code[n++] = 0x20; }
    /* push eflags; popfq; the instruction; pushfq; pop rax; mov [rdi+8], eax; fnsave [rdi+640]; fninit; ret */
    code[n++] = 0x68; memcpy(code + n, &eflags, 4); n += 4; code[n++] = 0x9d;
    hex(insn, code + n, len); n += len;
    const unsigned char post[] = {0x9c, 0x58, 0x89,0x47,0x08, 0xdd,0xb7,0x80,0x02,0,0, 0xdb,0xe3, 0xc3};
    memcpy(code + n, post, sizeof post);
    ((void (*)(void *))code)(buf);
    put(buf + 640, 108); printf(" %x ", buf[8] | (buf[9] << 8) | (buf[10] << 16)); put(buf + 48, mlen); printf("\n");
  }
  return 0;
}
`;

/** Why the host has no x87 to compare against (it is not x86-64), or undefined when it has. */
export function noHostX87(): string | undefined {
  return process.arch === 'x64' ? undefined : `the host is ${process.arch}, not x86-64`;
}

let oracleBinary: string | undefined;

/** The oracle, compiled on first use: gcc is a requirement, so a failing compile fails the test. */
function oracle(): string {
  if (oracleBinary === undefined) {
    requireTool('gcc', 'gcc');
    const dir = scratchDir('tsvm-x87-');
    writeFileSync(join(dir, 'oracle.c'), ORACLE_C);
    execFileSync('gcc', ['-O1', '-o', join(dir, 'oracle'), join(dir, 'oracle.c')], { stdio: 'pipe' });
    oracleBinary = join(dir, 'oracle');
  }
  return oracleBinary;
}

/** Runs all cases on the host x87 in one process. */
export function hostRun(cases: OracleCase[]): OracleResult[] {
  const input =
    cases.map((c) => `${c.insn} ${c.fcw.toString(16)} ${c.st0} ${c.st1} ${c.mem} ${c.depth ?? 2} ${(c.eflags ?? 2).toString(16)}`).join('\n') + '\n';
  const out = execFileSync(oracle(), { input, maxBuffer: 1 << 28 }).toString().trim().split('\n');
  return out.map((line) => {
    const [save, eflags, mem] = line.split(' ');
    return { save, eflags: parseInt(eflags, 16), mem };
  });
}
