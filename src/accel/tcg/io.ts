/**
 * Port I/O (SDM Vol. 1, chapter 19): IN/OUT with the IOPL check and the
 * TSS I/O permission bitmap in protected and virtual-8086 mode.
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { EAX, EDX } from './constants.js';
import { gpFault } from './exceptions.js';
import { recordIoAccess } from './debug.js';

/** #GP(0) unless the current privilege may access `size` ports from `port` (SDM Vol. 1 19.5). */
function checkIoPermission(c: Cpu, port: number, size: number): void {
  if (!c.protectedMode) return;
  if (!c.v86 && c.cpl <= c.iopl) return;
  // 32-bit TSS only: the bitmap offset is at 0x66; every bit for the accessed ports must be 0.
  if ((c.trAttr & 0xf) !== 0xb && (c.trAttr & 0xf) !== 0x9) throw gpFault(0);
  if (c.trLimit < 0x67) throw gpFault(0);
  const mapBase = c.readSys(c.trBase + 0x66, 2);
  const byte = mapBase + (port >>> 3);
  if (byte + 1 > c.trLimit) throw gpFault(0);
  const bits = c.readSys(c.trBase + byte, 2);
  const mask = ((1 << size) - 1) << (port & 7);
  if (bits & mask) throw gpFault(0);
}

/** What comes before every port access: the permission check, then I/O breakpoints (SDM Vol. 3B 17.2.4, CR4.DE). */
export function checkPortAccess(c: Cpu, port: number, size: number): void {
  checkIoPermission(c, port, size);
  if (c.ioBreakpoints !== 0) recordIoAccess(c, port, size);
}

/** E4/E5 (imm8 port), EC/ED (DX): IN. */
export function inInsn(c: Cpu, d: Insn): void {
  const port = d.op & 8 ? c.regs[EDX]! & 0xffff : d.imm;
  checkPortAccess(c, port, d.size);
  c.setReg(EAX, d.size, c.bus.io.read(port, d.size as 1 | 2 | 4));
}

/** E6/E7, EE/EF: OUT. */
export function outInsn(c: Cpu, d: Insn): void {
  const port = d.op & 8 ? c.regs[EDX]! & 0xffff : d.imm;
  checkPortAccess(c, port, d.size);
  c.bus.io.write(port, d.size as 1 | 2 | 4, c.reg(EAX, d.size));
}
