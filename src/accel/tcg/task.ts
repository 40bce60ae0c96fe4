/**
 * Hardware task switching (SDM Vol. 3A, 7.3): through a TSS descriptor or
 * task gate on JMP, CALL, INT/exceptions (Linux's double-fault handler is a
 * task gate) and IRET with EFLAGS.NT. Saves the outgoing state in the old
 * TSS, loads the new one, maintains busy bits, the back-link and NT, and
 * sets CR0.TS. 32-bit and 16-bit TSS formats.
 */
import type { Cpu } from './cpu.js';
import { CpuFault, tsFault } from './exceptions.js';
import { ATTR_UNUSABLE, CR0_PG, CR0_TS, CS, DS, ES, FS, GS, NT, SS, VM } from './constants.js';
import { type Descriptor, descType, isNullSelector, markAccessed, readDescriptor } from './descriptors.js';
import { loadSegment } from './segment.js';
import { DR7_LOCAL, updateBreakpoints } from './debug.js';

export const enum TaskSwitchReason {
  Jmp,
  Call,
  Iret,
  /** Interrupt/exception through a task gate (like CALL: nests). */
  Int,
}

/** Selector fields of a 32-bit TSS, in order; a 16-bit TSS has the first four (then the LDT selector). */
const SEG_ORDER = [ES, CS, SS, DS, FS, GS];
const TSS16_SEGS = SEG_ORDER.slice(0, 4);

export function taskSwitch(c: Cpu, sel: number, desc: Descriptor, reason: TaskSwitchReason): void {
  const type = descType(desc.attr);
  const new32 = (type & 8) !== 0;
  if (desc.limit < (new32 ? 0x67 : 0x2b)) throw tsFault(sel);
  const old32 = (c.trAttr & 8) !== 0;
  const oldBase = c.trBase;

  // 1. Save the outgoing task's state in its TSS.
  c.materialize();
  let eflags = c.getEflags();
  if (reason === TaskSwitchReason.Iret) eflags &= ~NT;
  if (old32) {
    c.writeSys(oldBase + 32, 4, c.eip);
    c.writeSys(oldBase + 36, 4, eflags);
    for (let r = 0; r < 8; r++) c.writeSys(oldBase + 40 + r * 4, 4, c.regs[r]!);
    SEG_ORDER.forEach((s, i) => c.writeSys(oldBase + 72 + i * 4, 2, c.segSel[s]!));
  } else {
    c.writeSys(oldBase + 14, 2, c.eip);
    c.writeSys(oldBase + 16, 2, eflags);
    for (let r = 0; r < 8; r++) c.writeSys(oldBase + 18 + r * 2, 2, c.regs[r]!);
    TSS16_SEGS.forEach((s, i) => c.writeSys(oldBase + 34 + i * 2, 2, c.segSel[s]!));
  }
  // 2. Busy bits: JMP/IRET release the old task.
  if (reason === TaskSwitchReason.Jmp || reason === TaskSwitchReason.Iret) setBusy(c, c.trSel, false);

  // 3. Read the incoming task's state.
  const b = desc.base;
  let eip: number;
  let newFlags: number;
  const regs: number[] = [];
  const sels: number[] = [];
  let ldt: number;
  let cr3 = c.cr3;
  if (new32) {
    cr3 = c.readSys(b + 28, 4);
    eip = c.readSys(b + 32, 4);
    newFlags = c.readSys(b + 36, 4);
    for (let r = 0; r < 8; r++) regs.push(c.readSys(b + 40 + r * 4, 4));
    for (let i = 0; i < 6; i++) sels.push(c.readSys(b + 72 + i * 4, 2));
    ldt = c.readSys(b + 96, 2);
  } else {
    eip = c.readSys(b + 14, 2);
    newFlags = c.readSys(b + 16, 2) | (c.getEflags() & 0xffff_0000 & ~VM);
    for (let r = 0; r < 8; r++) regs.push(c.readSys(b + 18 + r * 2, 2) | (c.regs[r]! & 0xffff_0000));
    for (let i = 0; i < 4; i++) sels.push(c.readSys(b + 34 + i * 2, 2));
    sels.push(0, 0); // no FS/GS in a 16-bit TSS: they become null
    ldt = c.readSys(b + 42, 2);
  }
  if (reason === TaskSwitchReason.Call || reason === TaskSwitchReason.Int) {
    c.writeSys(b, 2, c.trSel);
    newFlags |= NT;
  }
  if (reason !== TaskSwitchReason.Iret) setBusy(c, sel, true);

  // 4. Switch: TR, CR3, registers, LDT, segments.
  c.trSel = sel;
  c.trBase = desc.base;
  c.trLimit = desc.limit;
  c.trAttr = desc.attr | 2; // busy
  c.cr0 |= CR0_TS;
  // Local breakpoint enables belong to the task (SDM Vol. 3B 17.2.4).
  if (c.dr[7]! & DR7_LOCAL) {
    c.dr[7] = (c.dr[7]! & ~DR7_LOCAL) >>> 0;
    updateBreakpoints(c);
  }
  if (new32 && c.cr0 & CR0_PG && cr3 !== c.cr3) {
    c.cr3 = cr3;
    c.mmu.flushNonGlobal(); // a CR3 load keeps global pages (SDM Vol. 3A, 4.10.4.1)
  }
  c.eip = eip;
  c.flags = (newFlags | 2) >>> 0;
  c.lazy = 0;
  c.updateAlignmentCheck();
  for (let r = 0; r < 8; r++) c.regs[r] = regs[r]!;
  c.taskSwitches++;
  // Past this point faults belong to the new task (SDM Vol. 3A 7.3, step 13):
  // they must not roll EIP/ESP back to the old task's instruction.
  c.insnEip = c.eip;
  c.insnEsp = c.regs32[4]!;
  loadLdt(c, ldt);
  if (c.flags & VM) {
    SEG_ORDER.forEach((s, i) => c.loadSegReal(s, sels[i]!));
    c.updateCpl();
    return;
  }
  // CS first: its RPL is the new CPL, which the other loads are checked against.
  const cs = sels[1]!;
  if (isNullSelector(cs)) throw tsFault(cs);
  const csDesc = readDescriptor(c, cs, 10);
  markAccessed(c, csDesc);
  c.setSegCache(CS, cs, csDesc.base, csDesc.limit, csDesc.attr);
  c.updateCpl();
  for (const [i, s] of SEG_ORDER.entries()) {
    if (s === CS) continue;
    try {
      loadSegment(c, s, sels[i]!);
    } catch (e) {
      if (e instanceof CpuFault) {
        c.setSegCache(s, 0, 0, 0, ATTR_UNUSABLE);
        throw tsFault(sels[i]!);
      }
      throw e;
    }
  }
}

function setBusy(c: Cpu, sel: number, busy: boolean): void {
  if (isNullSelector(sel)) return;
  const addr = (c.gdtrBase + (sel & 0xfff8)) >>> 0;
  const hi = c.readSys(addr + 4, 4);
  c.writeSys(addr + 4, 4, busy ? hi | 0x200 : hi & ~0x200);
}

/** Loads LDTR from `sel` (LLDT and task switches). */
export function loadLdt(c: Cpu, sel: number, vector = 10): void {
  if (isNullSelector(sel)) {
    c.ldtrSel = sel;
    c.ldtrBase = 0;
    c.ldtrLimit = 0;
    c.ldtrAttr = ATTR_UNUSABLE;
    return;
  }
  if (sel & 4) throw new CpuFault(vector, sel & 0xfffc);
  const desc = readDescriptor(c, sel, vector);
  if (descType(desc.attr) !== 2 || desc.attr & 0x10) throw new CpuFault(vector, sel & 0xfffc);
  if (!(desc.attr & 0x80)) throw new CpuFault(11, sel & 0xfffc);
  c.ldtrSel = sel;
  c.ldtrBase = desc.base;
  c.ldtrLimit = desc.limit;
  c.ldtrAttr = desc.attr;
}
