/**
 * Virtual-8086 mode extensions and protected-mode virtual interrupts (SDM
 * Vol. 3B 20.3-20.4, CR4.VME and CR4.PVI): with IOPL < 3 the IOPL-sensitive
 * instructions work on EFLAGS.VIF instead of faulting, so a v86 monitor
 * needs #GP only when an interrupt is pending (EFLAGS.VIP); INT n in v86
 * mode may go straight to the 8086 handler in the task's own IVT, as the
 * TSS's interrupt redirection bitmap says.
 */
import type { Cpu } from './cpu.js';
import { gpFault } from './exceptions.js';
import { AC, CR4_PVI, CR4_VME, CS, IF, IOPL, RF, TF, VIF, VIP } from './constants.js';

/** v86 mode with IOPL < 3 and CR4.VME: CLI/STI/PUSHF/POPF/IRET (16-bit) use VIF. */
export function virtualV86(c: Cpu): boolean {
  return c.v86 && c.iopl < 3 && (c.cr4 & CR4_VME) !== 0;
}

/** Protected mode at CPL 3 with IOPL < 3 and CR4.PVI: CLI/STI use VIF. */
export function virtualProtected(c: Cpu): boolean {
  return c.protectedMode && !c.v86 && c.cpl === 3 && c.iopl < 3 && (c.cr4 & CR4_PVI) !== 0;
}

/** STI on VIF: #GP(0) while an interrupt is pending (VIP), so the monitor can deliver it. */
export function setVirtualIf(c: Cpu): void {
  if (c.flags & VIP) throw gpFault(0);
  c.flags |= VIF;
}

/** The FLAGS image PUSHF pushes under VME: IF is VIF, IOPL reads as 3. */
export function virtualFlagsImage(c: Cpu): number {
  const flags = c.getEflags() & 0xffff & ~IF;
  return flags | IOPL | (c.flags & VIF ? IF : 0);
}

/**
 * POPF/IRET (16-bit) under VME: IF and IOPL stay, VIF takes the popped IF.
 * #GP(0) when the image sets TF, or sets IF while VIP is pending.
 */
export function loadVirtualFlags(c: Cpu, image: number): void {
  if (image & TF || (image & IF && c.flags & VIP)) throw gpFault(0);
  c.setEflags(image, 0xffff & ~(IF | IOPL));
  if (image & IF) c.flags |= VIF;
  else c.flags &= ~VIF;
}

/**
 * Whether INT `vector` in v86 mode goes to the 8086 handler (SDM Vol. 3B
 * 20.4.3, Table 20-2): CR4.VME and its bit clear in the 32-byte bitmap just
 * below the TSS's I/O map base. #GP(0) when the bitmap lies outside the TSS.
 */
export function redirectedToV86(c: Cpu, vector: number): boolean {
  if (!(c.cr4 & CR4_VME)) return false;
  if ((c.trAttr & 0xf) !== 0xb && (c.trAttr & 0xf) !== 0x9) throw gpFault(0);
  if (c.trLimit < 0x67) throw gpFault(0);
  const at = c.readSys(c.trBase + 0x66, 2) - 32 + (vector >>> 3);
  if (at < 0 || at > c.trLimit) throw gpFault(0);
  return (c.readSys(c.trBase + at, 1) & (1 << (vector & 7))) === 0;
}

/**
 * INT n to the v86 task's own IVT at linear 0, as real mode would: FLAGS,
 * CS, IP on the v86 stack, TF cleared, and IF (IOPL 3) or VIF (IOPL < 3,
 * the image showing VIF as IF and IOPL 3) cleared.
 */
export function interruptToV86Handler(c: Cpu, vector: number): void {
  const entry = c.readLin(vector * 4, 4);
  const virtual = c.iopl < 3;
  const flags = virtual ? virtualFlagsImage(c) : c.getEflags() & 0xffff;
  c.push(flags, 2);
  c.push(c.segSel[CS]!, 2);
  c.push(c.eip, 2);
  c.setEflags(0, TF | AC | RF | (virtual ? 0 : IF));
  if (virtual) c.flags &= ~VIF;
  c.loadSegReal(CS, entry >>> 16);
  c.eip = entry & 0xffff;
}
