/**
 * Loading segment registers and far transfers of control (SDM Vol. 2: MOV
 * Sreg, POP Sreg, LDS/LES/LFS/LGS/LSS, JMP/CALL far, RET far; SDM Vol. 3A
 * 5.8 call gates and privilege changes).
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { CpuFault, gpFault, npFault, udFault } from './exceptions.js';
import { ATTR_UNUSABLE, CS, DS, ES, ESP, FS, GS, SS, SSV } from './constants.js';
import {
  type Descriptor,
  descDpl,
  descType,
  isCode,
  isCodeData,
  isConforming,
  isNullSelector,
  isPresent,
  isReadable,
  isWritableData,
  markAccessed,
  readDescriptor,
  tssStack,
} from './descriptors.js';
import { taskSwitch, TaskSwitchReason } from './task.js';

/** Loads a segment register with `sel` as MOV/POP/LxS do, with the protected-mode checks. */
export function loadSegment(c: Cpu, s: number, sel: number): void {
  sel &= 0xffff;
  if (c.realAddressing) {
    c.loadSegReal(s, sel);
    return;
  }
  if (s === SS) {
    loadStackSegment(c, sel, c.cpl);
    return;
  }
  if (isNullSelector(sel)) {
    c.setSegCache(s, sel, 0, 0, ATTR_UNUSABLE);
    return;
  }
  const desc = readDescriptor(c, sel);
  const dpl = descDpl(desc.attr);
  if (!isReadable(desc.attr)) throw gpFault(sel);
  if (!isConforming(desc.attr) && ((sel & 3) > dpl || c.cpl > dpl)) throw gpFault(sel);
  if (!isPresent(desc.attr)) throw npFault(sel);
  markAccessed(c, desc);
  c.setSegCache(s, sel, desc.base, desc.limit, desc.attr);
}

/** SS load checks for privilege level `cpl` (RPL = DPL = CPL, writable data, present). */
export function loadStackSegment(c: Cpu, sel: number, cpl: number, faultVector = 13): void {
  if (isNullSelector(sel)) throw new CpuFault(faultVector, 0);
  const desc = readDescriptor(c, sel, faultVector);
  if ((sel & 3) !== cpl || descDpl(desc.attr) !== cpl || !isWritableData(desc.attr)) {
    throw new CpuFault(faultVector, sel & 0xfffc);
  }
  if (!isPresent(desc.attr)) throw new CpuFault(SSV, sel & 0xfffc);
  markAccessed(c, desc);
  c.setSegCache(SS, sel, desc.base, desc.limit, desc.attr);
}

/** After a return to an outer level: data segments the new CPL may not use become null (SDM IRET/RET). */
export function invalidateOuterSegments(c: Cpu): void {
  for (const s of [ES, DS, FS, GS]) {
    const attr = c.segAttr[s]!;
    if (attr & ATTR_UNUSABLE) continue;
    if ((!isCode(attr) || !isConforming(attr)) && descDpl(attr) < c.cpl) {
      c.setSegCache(s, 0, 0, 0, ATTR_UNUSABLE);
    }
  }
}

/** Loads CS for a transfer to `desc` at privilege `cpl` (the selector's RPL becomes cpl). */
export function loadCs(c: Cpu, sel: number, desc: Descriptor, cpl: number): void {
  markAccessed(c, desc);
  c.setSegCache(CS, (sel & 0xfffc) | cpl, desc.base, desc.limit, desc.attr);
}

/** Checks a code-segment target of a direct far JMP/CALL (SDM Vol. 2 JMP, "same privilege"). */
function checkDirectCodeTarget(c: Cpu, sel: number, desc: Descriptor): void {
  const dpl = descDpl(desc.attr);
  if (isConforming(desc.attr)) {
    if (dpl > c.cpl) throw gpFault(sel);
  } else if ((sel & 3) > c.cpl || dpl !== c.cpl) {
    throw gpFault(sel);
  }
  if (!isPresent(desc.attr)) throw npFault(sel);
}

/** Saved CS/SS/ESP/CPL so a multi-step transfer can be undone when it faults halfway. */
export interface TransferSnapshot {
  sel: number[];
  base: number[];
  limit: number[];
  attr: number[];
  esp: number;
  eip: number;
  flags: number;
}

export function snapshot(c: Cpu): TransferSnapshot {
  c.materialize();
  return {
    sel: Array.from(c.segSel),
    base: Array.from(c.segBase),
    limit: Array.from(c.segLimit),
    attr: Array.from(c.segAttr),
    esp: c.regs[ESP]!,
    eip: c.eip,
    flags: c.flags,
  };
}

export function restore(c: Cpu, s: TransferSnapshot): void {
  c.flags = s.flags;
  c.lazy = 0;
  for (let i = 0; i < 6; i++) c.setSegCache(i, s.sel[i]!, s.base[i]!, s.limit[i]!, s.attr[i]!);
  c.regs[ESP] = s.esp;
  c.eip = s.eip;
  c.updateCpl();
}

/**
 * Runs a transfer; on a fault puts CS/SS/ESP/EIP/EFLAGS back as they were,
 * then rethrows, unless a task switch committed meanwhile (its faults belong
 * to the new task).
 */
export function atomically(c: Cpu, f: () => void): void {
  const snap = snapshot(c);
  const switches = c.taskSwitches;
  try {
    f();
  } catch (e) {
    if (c.taskSwitches === switches) restore(c, snap);
    throw e;
  }
}

/** JMP ptr16:xx / JMP m16:xx. */
export function farJump(c: Cpu, sel: number, offset: number, size: number): void {
  if (c.realAddressing) {
    c.loadSegReal(CS, sel);
    c.eip = size === 2 ? offset & 0xffff : offset >>> 0;
    return;
  }
  if (isNullSelector(sel)) throw gpFault(0);
  const desc = readDescriptor(c, sel);
  if (isCodeData(desc.attr)) {
    if (!isCode(desc.attr)) throw gpFault(sel);
    checkDirectCodeTarget(c, sel, desc);
    if ((size === 2 ? offset & 0xffff : offset) > desc.limit) throw gpFault(0);
    loadCs(c, sel, desc, c.cpl);
    c.eip = size === 2 ? offset & 0xffff : offset >>> 0;
    return;
  }
  const type = descType(desc.attr);
  const dpl = descDpl(desc.attr);
  if (dpl < c.cpl || dpl < (sel & 3)) throw gpFault(sel);
  if (!isPresent(desc.attr)) throw npFault(sel);
  switch (type) {
    case 0x1:
    case 0x9:
      taskSwitch(c, sel, desc, TaskSwitchReason.Jmp);
      return;
    case 0x5:
      taskGate(c, desc, TaskSwitchReason.Jmp);
      return;
    case 0x4:
    case 0xc: {
      const { codeSel, codeDesc, gateOffset } = callGateTarget(c, desc);
      const cdpl = descDpl(codeDesc.attr);
      if (isConforming(codeDesc.attr) ? cdpl > c.cpl : cdpl !== c.cpl) throw gpFault(codeSel);
      if (!isPresent(codeDesc.attr)) throw npFault(codeSel);
      const target = type === 0x4 ? gateOffset & 0xffff : gateOffset;
      if (target > codeDesc.limit) throw gpFault(0);
      loadCs(c, codeSel, codeDesc, c.cpl);
      c.eip = target;
      return;
    }
    default:
      throw gpFault(sel);
  }
}

function taskGate(c: Cpu, gate: Descriptor, reason: TaskSwitchReason): void {
  const tssSel = gate.lo >>> 16;
  if (tssSel & 4) throw gpFault(tssSel);
  const tss = readDescriptor(c, tssSel);
  const type = descType(tss.attr);
  if (isCodeData(tss.attr) || (type !== 0x1 && type !== 0x9)) throw gpFault(tssSel);
  if (!isPresent(tss.attr)) throw npFault(tssSel);
  taskSwitch(c, tssSel, tss, reason);
}

function callGateTarget(c: Cpu, gate: Descriptor): { codeSel: number; codeDesc: Descriptor; gateOffset: number } {
  const codeSel = gate.lo >>> 16;
  const gateOffset = ((gate.lo & 0xffff) | (gate.hi & 0xffff_0000)) >>> 0;
  if (isNullSelector(codeSel)) throw gpFault(0);
  const codeDesc = readDescriptor(c, codeSel);
  if (!isCode(codeDesc.attr)) throw gpFault(codeSel);
  return { codeSel, codeDesc, gateOffset };
}

/** CALL ptr16:xx / CALL m16:xx. */
export function farCall(c: Cpu, sel: number, offset: number, size: number): void {
  if (c.realAddressing) {
    const cs = c.segSel[CS]!;
    const ret = c.eip;
    atomically(c, () => {
      c.push(cs, size);
      c.push(ret, size);
    });
    c.loadSegReal(CS, sel);
    c.eip = size === 2 ? offset & 0xffff : offset >>> 0;
    return;
  }
  if (isNullSelector(sel)) throw gpFault(0);
  const desc = readDescriptor(c, sel);
  if (isCodeData(desc.attr)) {
    if (!isCode(desc.attr)) throw gpFault(sel);
    checkDirectCodeTarget(c, sel, desc);
    const target = size === 2 ? offset & 0xffff : offset >>> 0;
    atomically(c, () => {
      const cs = c.segSel[CS]!;
      const ret = c.eip;
      c.push(cs, size);
      c.push(ret, size);
      if (target > desc.limit) throw gpFault(0);
      loadCs(c, sel, desc, c.cpl);
      c.eip = target;
    });
    return;
  }
  const type = descType(desc.attr);
  const dpl = descDpl(desc.attr);
  if (dpl < c.cpl || dpl < (sel & 3)) throw gpFault(sel);
  if (!isPresent(desc.attr)) throw npFault(sel);
  switch (type) {
    case 0x1:
    case 0x9:
      taskSwitch(c, sel, desc, TaskSwitchReason.Call);
      return;
    case 0x5:
      taskGate(c, desc, TaskSwitchReason.Call);
      return;
    case 0x4:
    case 0xc:
      atomically(c, () => callGate(c, desc, type === 0xc ? 4 : 2));
      return;
    default:
      throw gpFault(sel);
  }
}

/** CALL through a call gate, switching to an inner stack when the target is more privileged. */
function callGate(c: Cpu, gate: Descriptor, gateSize: number): void {
  const { codeSel, codeDesc, gateOffset } = callGateTarget(c, gate);
  const cdpl = descDpl(codeDesc.attr);
  if (cdpl > c.cpl) throw gpFault(codeSel);
  if (!isPresent(codeDesc.attr)) throw npFault(codeSel);
  const target = gateSize === 2 ? gateOffset & 0xffff : gateOffset;
  const retCs = c.segSel[CS]!;
  const retEip = c.eip;
  if (!isConforming(codeDesc.attr) && cdpl < c.cpl) {
    // Inner privilege: new stack from the TSS, copy the gate's parameter count.
    const { ss, esp } = tssStack(c, cdpl);
    const oldSs = c.segSel[SS]!;
    const oldEsp = c.regs[ESP]!;
    const count = gate.hi & 0x1f;
    const params: number[] = [];
    for (let i = count - 1; i >= 0; i--) params.push(c.peek(i * gateSize, gateSize));
    loadStackSegment(c, ss, cdpl, 10);
    c.regs[ESP] = esp;
    c.cpl = cdpl; // pushes onto the inner stack are made at the new privilege
    c.push(oldSs, gateSize);
    c.push(oldEsp, gateSize);
    for (const p of params) c.push(p, gateSize);
    c.push(retCs, gateSize);
    c.push(retEip, gateSize);
    if (target > codeDesc.limit) throw gpFault(0);
    loadCs(c, codeSel, codeDesc, cdpl);
  } else {
    c.push(retCs, gateSize);
    c.push(retEip, gateSize);
    if (target > codeDesc.limit) throw gpFault(0);
    loadCs(c, codeSel, codeDesc, c.cpl);
  }
  c.eip = target;
}

/** RETF / RETF imm16 (SDM Vol. 2 RET, far return, protected mode). */
export function farReturn(c: Cpu, size: number, popBytes: number): void {
  if (c.realAddressing) {
    const eip = c.peek(0, size);
    const cs = c.peek(size, size);
    c.addSp(2 * size + popBytes);
    c.loadSegReal(CS, cs);
    c.eip = size === 2 ? eip & 0xffff : eip;
    return;
  }
  atomically(c, () => {
    const eip = c.peek(0, size);
    const cs = c.peek(size, 2);
    if (isNullSelector(cs)) throw gpFault(0);
    const desc = readDescriptor(c, cs);
    const rpl = cs & 3;
    if (!isCode(desc.attr) || rpl < c.cpl) throw gpFault(cs);
    if (isConforming(desc.attr) ? descDpl(desc.attr) > rpl : descDpl(desc.attr) !== rpl) throw gpFault(cs);
    if (!isPresent(desc.attr)) throw npFault(cs);
    const target = size === 2 ? eip & 0xffff : eip >>> 0;
    if (rpl === c.cpl) {
      if (target > desc.limit) throw gpFault(0);
      c.addSp(2 * size + popBytes);
      loadCs(c, cs, desc, rpl);
      c.eip = target;
      return;
    }
    // Return to an outer privilege level: SS:ESP follow on the stack.
    const esp = c.peek(2 * size + popBytes, size);
    const ss = c.peek(3 * size + popBytes, 2);
    if (target > desc.limit) throw gpFault(0);
    loadCs(c, cs, desc, rpl);
    loadStackSegment(c, ss, rpl);
    c.regs[ESP] = size === 2 ? (c.regs[ESP]! & 0xffff0000) | (esp & 0xffff) : esp;
    c.addSp(popBytes);
    c.eip = target;
    invalidateOuterSegments(c);
  });
}

// ---- instruction handlers ------------------------------------------------

/**
 * After MOV SS/POP SS, interrupts and debug traps wait until the next
 * instruction (normally the ESP load) has completed (SDM Vol. 3A 6.8.3).
 */
function holdEventsAfterStackSwitch(c: Cpu): void {
  c.interruptShadow = true;
  c.debugShadow = true;
}

/** 8E: MOV Sreg, Ew. */
export function movSregE(c: Cpu, d: Insn): void {
  if (d.reg === CS || d.reg > GS) throw udFault();
  loadSegment(c, d.reg, c.readEAs(d, 2));
  if (d.reg === SS) holdEventsAfterStackSwitch(c);
}

/** 8C: MOV Ew, Sreg (register destinations take the zero-extended selector with a 32-bit operand). */
export function movESreg(c: Cpu, d: Insn): void {
  if (d.reg > GS) throw udFault();
  const v = c.segSel[d.reg]!;
  if (d.mod === 3) c.setReg(d.rm, d.size, v);
  else c.write(d.seg, c.ea(d), 2, v);
}

/** PUSH ES/CS/SS/DS/FS/GS. */
export function pushSreg(c: Cpu, d: Insn): void {
  const s = d.op < 0x100 ? (d.op >> 3) & 3 : d.op === 0x1a0 ? FS : GS;
  c.push(c.segSel[s]!, d.size);
}

/** POP ES/SS/DS/FS/GS. */
export function popSreg(c: Cpu, d: Insn): void {
  const s = d.op < 0x100 ? (d.op >> 3) & 3 : d.op === 0x1a1 ? FS : GS;
  const v = c.peek(0, 2);
  loadSegment(c, s, v);
  c.addSp(d.size);
  if (s === SS) holdEventsAfterStackSwitch(c);
}

/** LDS/LES/LFS/LGS/LSS Gv, Mp. */
export function loadFarPointer(c: Cpu, d: Insn): void {
  if (d.mod === 3) throw udFault();
  const s = d.op === 0xc5 ? DS : d.op === 0xc4 ? ES : d.op === 0x1b2 ? SS : d.op === 0x1b4 ? FS : GS;
  const ea = c.ea(d);
  const off = c.read(d.seg, ea, d.size);
  const sel = c.read(d.seg, d.a32 ? (ea + d.size) >>> 0 : (ea + d.size) & 0xffff, 2);
  loadSegment(c, s, sel);
  c.setReg(d.reg, d.size, off);
}

