/**
 * Interrupt and exception delivery (SDM Vol. 3A, 6.12-6.15, 20.3 for
 * virtual-8086 mode) and IRET. Real mode uses the IVT; protected mode the
 * IDT's interrupt, trap and task gates with a stack switch from the TSS on
 * a privilege change.
 */
import type { Cpu } from './cpu.js';
import { CpuFault, gpFault, npFault } from './exceptions.js';
import {
  AC,
  ATTR_UNUSABLE,
  CS,
  DS,
  ES,
  ESP,
  FS,
  GS,
  GP,
  IF,
  IOPL,
  NT,
  RF,
  SS,
  TF,
  VIF,
  VIP,
  VM,
} from './constants.js';
import {
  descDpl,
  descType,
  isCode,
  isCodeData,
  isConforming,
  isNullSelector,
  isPresent,
  readDescriptor,
  tssStack,
} from './descriptors.js';
import { atomically, invalidateOuterSegments, loadCs, loadStackSegment } from './segment.js';
import { taskSwitch, TaskSwitchReason } from './task.js';
import { loadVirtualFlags, virtualV86 } from './vme.js';

export const enum EventKind {
  /** Hardware interrupt (INTR, NMI): EXT=1 in error codes. */
  External,
  /** Processor exception: EXT=1. */
  Exception,
  /** INT n, INT3, INTO: gate DPL checked against CPL; EXT=0. */
  Software,
}

/**
 * Delivers vector `vector`. EIP must already be the return address (the
 * faulting instruction for faults, the next one for traps and interrupts).
 */
export function deliverInterrupt(c: Cpu, vector: number, kind: EventKind, errorCode = -1): void {
  c.halted = false;
  if (!c.protectedMode) {
    deliverReal(c, vector);
    return;
  }
  atomically(c, () => deliverProtected(c, vector, kind, errorCode));
}

function deliverReal(c: Cpu, vector: number): void {
  if (vector * 4 + 3 > c.idtrLimit) throw gpFault(0);
  const entry = c.readSys(c.idtrBase + vector * 4, 4);
  const flags = c.getEflags();
  const cs = c.segSel[CS]!;
  const ip = c.eip;
  atomically(c, () => {
    c.push(flags, 2);
    c.push(cs, 2);
    c.push(ip, 2);
  });
  c.setEflags(0, IF | TF | AC | RF);
  c.loadSegReal(CS, entry >>> 16);
  c.eip = entry & 0xffff;
}

function deliverProtected(c: Cpu, vector: number, kind: EventKind, errorCode: number): void {
  const ext = kind === EventKind.Software ? 0 : 1;
  const idtCode = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > c.idtrLimit) throw gpFault(idtCode);
  const addr = c.idtrBase + vector * 8;
  const lo = c.readSys(addr, 4);
  const hi = c.readSys(addr + 4, 4);
  const type = (hi >>> 8) & 0x1f; // includes the S bit (must be 0)
  const dpl = (hi >>> 13) & 3;
  if (type !== 0x05 && type !== 0x06 && type !== 0x07 && type !== 0x0e && type !== 0x0f) throw gpFault(idtCode);
  if (kind === EventKind.Software && dpl < c.cpl) throw gpFault(idtCode);
  if (!(hi & 0x8000)) throw npFault(idtCode);

  if (type === 0x05) {
    const tssSel = lo >>> 16;
    const tss = readDescriptor(c, tssSel, GP);
    const t = descType(tss.attr);
    if (isCodeData(tss.attr) || (t !== 0x1 && t !== 0x9)) throw new CpuFault(10, tssSel & 0xfffc);
    if (!isPresent(tss.attr)) throw npFault(tssSel);
    taskSwitch(c, tssSel, tss, TaskSwitchReason.Int);
    if (errorCode >= 0) c.push(errorCode, t & 8 ? 4 : 2);
    return;
  }

  const gateSize = type & 8 ? 4 : 2;
  const trapGate = (type & 1) !== 0;
  const offset = gateSize === 4 ? ((lo & 0xffff) | (hi & 0xffff_0000)) >>> 0 : lo & 0xffff;
  const sel = lo >>> 16;
  if (isNullSelector(sel)) throw gpFault(ext);
  const desc = readDescriptor(c, sel, GP);
  const cdpl = descDpl(desc.attr);
  if (!isCode(desc.attr) || cdpl > c.cpl) throw gpFault((sel & 0xfffc) + ext);
  if (!isPresent(desc.attr)) throw npFault((sel & 0xfffc) + ext);

  const oldFlags = c.getEflags();
  const oldCs = c.segSel[CS]!;
  const oldEip = c.eip;
  const oldSs = c.segSel[SS]!;
  const oldEsp = c.regs[ESP]!;
  const fromV86 = (oldFlags & VM) !== 0;

  if (!isConforming(desc.attr) && cdpl < c.cpl) {
    // Inner privilege: stack from the TSS (SDM 6.12.1).
    if (fromV86 && cdpl !== 0) throw gpFault(sel & 0xfffc);
    const stack = tssStack(c, cdpl);
    const oldSegs = [c.segSel[ES]!, c.segSel[DS]!, c.segSel[FS]!, c.segSel[GS]!];
    // Leave v86 first so segment loads are protected-mode loads.
    if (fromV86) c.setEflags(0, VM);
    try {
      loadStackSegment(c, stack.ss, cdpl, 10);
    } catch (e) {
      if (e instanceof CpuFault && e.vector === 13) throw new CpuFault(10, stack.ss & 0xfffc);
      throw e;
    }
    c.regs[ESP] = gateSize === 4 || c.ss32 ? stack.esp : (c.regs[ESP]! & 0xffff0000) | (stack.esp & 0xffff);
    // The pushes onto the inner stack are supervisor accesses (paging U/S check).
    c.cpl = cdpl;
    if (fromV86) {
      c.push(oldSegs[3]!, gateSize);
      c.push(oldSegs[2]!, gateSize);
      c.push(oldSegs[1]!, gateSize);
      c.push(oldSegs[0]!, gateSize);
    }
    c.push(oldSs, gateSize);
    c.push(oldEsp, gateSize);
    c.push(oldFlags, gateSize);
    c.push(oldCs, gateSize);
    c.push(oldEip, gateSize);
    if (errorCode >= 0) c.push(errorCode, gateSize);
    if (offset > desc.limit) throw gpFault(0);
    loadCs(c, sel, desc, cdpl);
    if (fromV86) {
      for (const s of [ES, DS, FS, GS]) c.setSegCache(s, 0, 0, 0, ATTR_UNUSABLE);
    }
  } else {
    if (fromV86) throw gpFault(sel & 0xfffc);
    c.push(oldFlags, gateSize);
    c.push(oldCs, gateSize);
    c.push(oldEip, gateSize);
    if (errorCode >= 0) c.push(errorCode, gateSize);
    if (offset > desc.limit) throw gpFault(0);
    loadCs(c, sel, desc, c.cpl);
  }
  c.eip = offset;
  c.setEflags(0, TF | NT | RF | VM | (trapGate ? 0 : IF));
}

/** IRET/IRETD (SDM Vol. 2, IRET). */
export function iret(c: Cpu, size: number): void {
  if (!c.protectedMode) {
    const eip = c.peek(0, size);
    const cs = c.peek(size, size);
    const flags = c.peek(2 * size, size);
    c.addSp(3 * size);
    c.loadSegReal(CS, cs);
    c.eip = size === 2 ? eip & 0xffff : eip;
    c.setEflags(flags, size === 2 ? 0xffff : ~(VM | VIF | VIP));
    return;
  }
  if (c.v86) {
    if (c.iopl < 3) {
      if (!virtualV86(c) || size !== 2) throw gpFault(0);
      iretVirtual(c);
      return;
    }
    const eip = c.peek(0, size);
    const cs = c.peek(size, size);
    const flags = c.peek(2 * size, size);
    c.addSp(3 * size);
    c.loadSegReal(CS, cs);
    c.eip = size === 2 ? eip & 0xffff : eip;
    c.setEflags(flags, (size === 2 ? 0xffff : ~(VM | VIF | VIP)) & ~IOPL);
    return;
  }
  if (c.flags & NT) {
    const link = c.readSys(c.trBase, 2);
    if (link & 4) throw new CpuFault(10, link & 0xfffc);
    const desc = readDescriptor(c, link, 10);
    if (isCodeData(desc.attr) || (descType(desc.attr) & 7) !== 3) throw new CpuFault(10, link & 0xfffc);
    if (!isPresent(desc.attr)) throw npFault(link);
    taskSwitch(c, link, desc, TaskSwitchReason.Iret);
    return;
  }
  atomically(c, () => iretProtected(c, size));
}

/** 16-bit IRET in v86 mode under CR4.VME with IOPL < 3: the popped IF goes to VIF (vme.ts). */
function iretVirtual(c: Cpu): void {
  const ip = c.peek(0, 2);
  const cs = c.peek(2, 2);
  loadVirtualFlags(c, c.peek(4, 2));
  c.addSp(6);
  c.loadSegReal(CS, cs);
  c.eip = ip;
}

function iretProtected(c: Cpu, size: number): void {
  const eip = c.peek(0, size);
  const cs = c.peek(size, 2);
  const flags = c.peek(2 * size, size);
  if (size === 4 && flags & VM && c.cpl === 0) {
    iretToV86(c, eip, cs, flags);
    return;
  }
  if (isNullSelector(cs)) throw gpFault(0);
  const desc = readDescriptor(c, cs);
  const rpl = cs & 3;
  if (!isCode(desc.attr) || rpl < c.cpl) throw gpFault(cs);
  if (isConforming(desc.attr) ? descDpl(desc.attr) > rpl : descDpl(desc.attr) !== rpl) throw gpFault(cs);
  if (!isPresent(desc.attr)) throw npFault(cs);
  const target = size === 2 ? eip & 0xffff : eip >>> 0;
  if (target > desc.limit) throw gpFault(0);
  // The 32-bit form restores RF, and at CPL 0 VIF/VIP too (SDM Vol. 2 IRET).
  const mask = c.popfMask(size) | (size === 4 ? RF | (c.cpl === 0 ? VIF | VIP : 0) : 0);
  if (rpl === c.cpl) {
    c.addSp(3 * size);
    loadCs(c, cs, desc, rpl);
    c.eip = target;
    c.setEflags(flags, mask);
    return;
  }
  // Return to an outer level.
  const esp = c.peek(3 * size, size);
  const ss = c.peek(4 * size, 2);
  c.setEflags(flags, mask); // with the old CPL's rights (SDM: IOPL/IF by the CPL before the return)
  loadCs(c, cs, desc, rpl);
  loadStackSegment(c, ss, rpl);
  c.regs[ESP] = size === 2 ? (c.regs[ESP]! & 0xffff0000) | (esp & 0xffff) : esp;
  c.eip = target;
  invalidateOuterSegments(c);
}

function iretToV86(c: Cpu, eip: number, cs: number, flags: number): void {
  const esp = c.peek(12, 4);
  const ss = c.peek(16, 4);
  const es = c.peek(20, 4);
  const ds = c.peek(24, 4);
  const fs = c.peek(28, 4);
  const gs = c.peek(32, 4);
  c.setEflags(flags, 0xffff_ffff);
  // Now in v86 mode: segment loads are paragraph loads.
  c.loadSegReal(CS, cs);
  c.loadSegReal(SS, ss);
  c.loadSegReal(ES, es);
  c.loadSegReal(DS, ds);
  c.loadSegReal(FS, fs);
  c.loadSegReal(GS, gs);
  c.regs[ESP] = esp;
  c.eip = eip & 0xffff;
  c.updateCpl();
}

