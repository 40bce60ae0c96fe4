/**
 * System instructions (SDM Vol. 2 and Vol. 3A chapter 2): MOV to/from
 * CR0-4 and DR0-7, LGDT/LIDT/SGDT/SIDT/LMSW/SMSW/INVLPG, LLDT/LTR/SLDT/STR/
 * VERR/VERW/LAR/LSL/ARPL, CLTS, INVD/WBINVD, HLT, CLI/STI, CPUID, RDTSC,
 * RDMSR/WRMSR, SYSENTER/SYSEXIT, UD2 and the hint NOPs.
 */
import type { Cpu } from './cpu.js';
import type { Insn } from './insn.js';
import { CpuFault, gpFault, udFault } from './exceptions.js';
import {
  CR0_PE,
  CR0_PG,
  CR0_TS,
  CR0_WP,
  CR0_ET,
  CR4_DE,
  CR4_PAE,
  CR4_PGE,
  CR4_PSE,
  CR4_TSD,
  CR4_PCE,
  CR4_VME,
  CR4_PVI,
  CR4_OSFXSR,
  CS,
  DB,
  EAX,
  EBX,
  ECX,
  EDX,
  EFER_NXE,
  ESP,
  IF,
  RF,
  SS,
  VIF,
  VM,
  ZF,
} from './constants.js';
import {
  descDpl,
  descType,
  isCode,
  isCodeData,
  isConforming,
  isNullSelector,
  isPresent,
  isReadable,
  readDescriptor,
} from './descriptors.js';
import { loadLdt } from './task.js';
import { setVirtualIf, virtualProtected, virtualV86 } from './vme.js';
import { DR6_BD, DR6_FIXED, DR7_GD, dr7Value, reportInDr6, updateBreakpoints } from './debug.js';
import {
  CPUID_CMOV,
  CPUID_DE,
  CPUID_FXSR,
  CPUID_VME,
  CPUID_PAE,
  CPUID_PAT,
  CPUID_PGE,
  CPUID_PSE,
  CPUID_SEP,
  CPUID_TSC,
  CPUID_MSR,
  CPUID_EXT_NX,
} from '../cpu-models.js';
import { log, logOn } from '../../log.js';

/** Privileged instruction outside ring 0 (or in v86 mode). */
function requirePrivilege(c: Cpu): void {
  if (c.cpl !== 0) throw gpFault(0);
}

// ---- control registers ---------------------------------------------------

export function writeCr0(c: Cpu, v: number): void {
  v = (v | CR0_ET) >>> 0;
  if (v & CR0_PG && !(v & CR0_PE)) throw gpFault(0);
  // CD=0 with NW=1 is invalid.
  if (v & (1 << 29) && !(v & (1 << 30))) throw gpFault(0);
  if (v & CR0_PG && c.cr4 & CR4_PAE) checkPdptes(c, c.cr3);
  const changed = c.cr0 ^ v;
  c.cr0 = v;
  if (changed & (CR0_PG | CR0_WP | CR0_PE)) c.mmu.flush();
  if (changed & CR0_PE) c.updateCpl();
  c.updateAlignmentCheck();
}

export function writeCr3(c: Cpu, v: number): void {
  if (c.cr0 & CR0_PG && c.cr4 & CR4_PAE) checkPdptes(c, v);
  c.cr3 = v >>> 0;
  c.mmu.flushNonGlobal();
}

/** PAE: loading PDPTEs with reserved bits set is #GP (SDM Vol. 3A 4.4.1). */
function checkPdptes(c: Cpu, cr3: number): void {
  const base = (cr3 & 0xffff_ffe0) >>> 0;
  for (let i = 0; i < 4; i++) {
    const lo = c.bus.mem.read32(base + i * 8);
    if (lo & 1 && lo & 0x1e6) throw gpFault(0);
  }
}

/** CR4 bits this model has: those of its CPUID features (no machine checks: no MCE), PCE with RDPMC (P6). */
function cr4Allowed(c: Cpu): number {
  const m = c.model;
  let allowed = 0;
  if (m.identity.family >= 6) allowed |= CR4_PCE;
  if (m.hasFeature(CPUID_VME)) allowed |= CR4_VME | CR4_PVI;
  if (m.hasFeature(CPUID_DE)) allowed |= CR4_DE;
  if (m.hasFeature(CPUID_FXSR)) allowed |= CR4_OSFXSR;
  if (m.hasFeature(CPUID_PSE)) allowed |= CR4_PSE;
  if (m.hasFeature(CPUID_PAE)) allowed |= CR4_PAE;
  if (m.hasFeature(CPUID_PGE)) allowed |= CR4_PGE;
  if (m.hasFeature(CPUID_TSC)) allowed |= CR4_TSD;
  return allowed;
}

export function writeCr4(c: Cpu, v: number): void {
  if (v & ~cr4Allowed(c)) throw gpFault(0);
  if (v & CR4_PAE && c.cr0 & CR0_PG) checkPdptes(c, c.cr3);
  const changed = c.cr4 ^ v;
  c.cr4 = v >>> 0;
  if (changed & (CR4_PSE | CR4_PAE | CR4_PGE)) c.mmu.flush();
  if (changed & CR4_DE) updateBreakpoints(c); // I/O breakpoints exist only with DE
}

/** 0F 20/22: MOV r32, CRn / MOV CRn, r32 (the mod field is ignored). */
export function movCr(c: Cpu, d: Insn): void {
  if (c.v86 || c.cpl !== 0) throw gpFault(0);
  const toCr = d.op === 0x122;
  const n = d.reg;
  if (!toCr) {
    const v = n === 0 ? c.cr0 : n === 2 ? c.cr2 : n === 3 ? c.cr3 : n === 4 ? c.cr4 : -1;
    if (v === -1) throw udFault();
    c.regs[d.rm] = v >>> 0;
    return;
  }
  const v = c.regs[d.rm]!;
  switch (n) {
    case 0:
      writeCr0(c, v);
      return;
    case 2:
      c.cr2 = v;
      return;
    case 3:
      writeCr3(c, v);
      return;
    case 4:
      writeCr4(c, v);
      return;
    default:
      throw udFault();
  }
}

/**
 * 0F 21/23: MOV r32, DRn / MOV DRn, r32 (SDM Vol. 2 MOV DR). DR4/DR5 alias
 * DR6/DR7 unless CR4.DE, which makes them #UD. With DR7.GD set any access
 * is a #DB fault reporting BD (general detect, SDM Vol. 3B 17.2.4).
 */
export function movDr(c: Cpu, d: Insn): void {
  if (c.v86 || c.cpl !== 0) throw gpFault(0);
  let n = d.reg;
  if (n === 4 || n === 5) {
    if (c.cr4 & CR4_DE) throw udFault();
    n += 2;
  }
  if (c.dr[7]! & DR7_GD) {
    reportInDr6(c, DR6_BD);
    throw new CpuFault(DB);
  }
  if (d.op === 0x121) {
    c.regs[d.rm] = c.dr[n]!;
    return;
  }
  const v = c.regs[d.rm]!;
  if (n === 6) c.dr[6] = (v | DR6_FIXED) >>> 0;
  else c.dr[n] = n === 7 ? dr7Value(v) : v;
  if (n !== 6) updateBreakpoints(c);
}

/** 0F 06: CLTS. */
export function clts(c: Cpu): void {
  requirePrivilege(c);
  c.cr0 &= ~CR0_TS;
}

/** 0F 08/09: INVD/WBINVD (no caches to manage). */
export function invd(c: Cpu): void {
  requirePrivilege(c);
}

// ---- descriptor tables ---------------------------------------------------

/** 0F 01: group 7 (SGDT SIDT LGDT LIDT SMSW LMSW INVLPG). */
export function group7(c: Cpu, d: Insn): void {
  switch (d.reg) {
    case 0:
    case 1: {
      if (d.mod === 3) throw udFault();
      const limit = d.reg === 0 ? c.gdtrLimit : c.idtrLimit;
      const base = d.reg === 0 ? c.gdtrBase : c.idtrBase;
      const ea = c.ea(d);
      c.write(d.seg, ea, 2, limit);
      c.write(d.seg, d.a32 ? (ea + 2) >>> 0 : (ea + 2) & 0xffff, 4, d.o32 ? base : base & 0xff_ffff);
      return;
    }
    case 2:
    case 3: {
      if (d.mod === 3) throw udFault();
      requirePrivilege(c);
      const ea = c.ea(d);
      const limit = c.read(d.seg, ea, 2);
      let base = c.read(d.seg, d.a32 ? (ea + 2) >>> 0 : (ea + 2) & 0xffff, 4);
      if (!d.o32) base &= 0xff_ffff;
      if (d.reg === 2) {
        c.gdtrBase = base;
        c.gdtrLimit = limit;
      } else {
        c.idtrBase = base;
        c.idtrLimit = limit;
      }
      return;
    }
    case 4:
      if (d.mod === 3) c.setReg(d.rm, d.size, d.size === 4 ? c.cr0 : c.cr0 & 0xffff);
      else c.write(d.seg, c.ea(d), 2, c.cr0 & 0xffff);
      return;
    case 6: {
      requirePrivilege(c);
      const v = c.readEAs(d, 2);
      // LMSW changes PE MP EM TS; it can set PE but never clear it.
      writeCr0(c, (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & CR0_PE));
      return;
    }
    case 7:
      if (d.mod === 3) throw udFault();
      requirePrivilege(c);
      c.mmu.flushPage((c.segBase[d.seg]! + c.ea(d)) >>> 0);
      return;
    default:
      throw udFault();
  }
}

/** 0F 00: group 6 (SLDT STR LLDT LTR VERR VERW). Not recognised in real or v86 mode. */
export function group6(c: Cpu, d: Insn): void {
  if (c.realAddressing) throw udFault();
  switch (d.reg) {
    case 0:
    case 1: {
      const sel = d.reg === 0 ? c.ldtrSel : c.trSel;
      if (d.mod === 3) c.setReg(d.rm, d.size, sel);
      else c.write(d.seg, c.ea(d), 2, sel);
      return;
    }
    case 2:
    case 3: {
      requirePrivilege(c);
      const sel = c.readEAs(d, 2);
      if (d.reg === 2) loadLdt(c, sel, 13);
      else loadTr(c, sel);
      return;
    }
    case 4:
    case 5: {
      const sel = c.readEAs(d, 2);
      c.setArith(ZF, verify(c, sel, d.reg === 5) ? ZF : 0);
      return;
    }
    default:
      throw udFault();
  }
}

function loadTr(c: Cpu, sel: number): void {
  if (isNullSelector(sel)) throw gpFault(0);
  if (sel & 4) throw gpFault(sel);
  const desc = readDescriptor(c, sel);
  const type = descType(desc.attr);
  if (isCodeData(desc.attr) || (type !== 0x1 && type !== 0x9)) throw gpFault(sel);
  if (!isPresent(desc.attr)) throw new CpuFault(11, sel & 0xfffc);
  c.writeSys(desc.addr + 4, 4, desc.hi | 0x200);
  c.trSel = sel;
  c.trBase = desc.base;
  c.trLimit = desc.limit;
  c.trAttr = desc.attr | 2;
}

/** A selector's descriptor if it is visible at CPL/RPL (LAR/LSL/VERR/VERW), else undefined. */
function visibleDescriptor(c: Cpu, sel: number) {
  if (isNullSelector(sel)) return undefined;
  let desc;
  try {
    desc = readDescriptor(c, sel);
  } catch (e) {
    if (e instanceof CpuFault) return undefined;
    throw e;
  }
  if (!(isCode(desc.attr) && isConforming(desc.attr))) {
    const dpl = descDpl(desc.attr);
    if (dpl < c.cpl || dpl < (sel & 3)) return undefined;
  }
  return desc;
}

function verify(c: Cpu, sel: number, write: boolean): boolean {
  const desc = visibleDescriptor(c, sel);
  if (!desc || !isCodeData(desc.attr)) return false;
  return write ? !isCode(desc.attr) && (desc.attr & 2) !== 0 : isReadable(desc.attr);
}

/** System descriptor types LAR/LSL accept (SDM Vol. 2 LAR/LSL). */
const LAR_TYPES = new Set([1, 2, 3, 4, 5, 9, 0xb, 0xc]);
const LSL_TYPES = new Set([1, 2, 3, 9, 0xb]);

/** 0F 02/03: LAR/LSL Gv, Ew. */
export function larLsl(c: Cpu, d: Insn): void {
  if (c.realAddressing) throw udFault();
  const sel = c.readEAs(d, 2);
  const desc = visibleDescriptor(c, sel);
  const lar = d.op === 0x102;
  const ok = desc && (isCodeData(desc.attr) || (lar ? LAR_TYPES : LSL_TYPES).has(descType(desc.attr)));
  if (!desc || !ok) {
    c.setArith(ZF, 0);
    return;
  }
  c.setArith(ZF, ZF);
  if (lar) c.setReg(d.reg, d.size, (desc.hi & 0x00f0_ff00) >>> 0);
  else c.setReg(d.reg, d.size, desc.limit);
}

/** 63: ARPL Ew, Gw (not recognised in real/v86 mode). */
export function arpl(c: Cpu, d: Insn): void {
  if (c.realAddressing) throw udFault();
  const dst = c.readEAs(d, 2);
  const src = c.reg(d.reg, 2);
  if ((dst & 3) < (src & 3)) {
    c.writeEAs(d, 2, (dst & ~3) | (src & 3));
    c.setArith(ZF, ZF);
  } else {
    c.setArith(ZF, 0);
  }
}

// ---- interrupts flag, halt ----------------------------------------------

/** F4: HLT. */
export function hlt(c: Cpu): void {
  requirePrivilege(c);
  c.halted = true;
}

/** FA: CLI (on VIF instead under CR4.VME/PVI, see vme.ts). */
export function cli(c: Cpu): void {
  if (c.protectedMode && c.iopl < c.cpl) {
    if (!virtualV86(c) && !virtualProtected(c)) throw gpFault(0);
    c.flags &= ~VIF;
    return;
  }
  c.flags &= ~IF;
}

/** FB: STI (interrupts stay blocked until after the next instruction; on VIF under CR4.VME/PVI). */
export function sti(c: Cpu): void {
  if (c.protectedMode && c.iopl < c.cpl) {
    if (!virtualV86(c) && !virtualProtected(c)) throw gpFault(0);
    setVirtualIf(c);
    return;
  }
  if (!(c.flags & IF)) c.interruptShadow = true;
  c.flags |= IF;
}

// ---- identification, time, MSRs -----------------------------------------

/** 0F A2: CPUID. */
export function cpuid(c: Cpu): void {
  const [a, b, cc, dd] = c.model.cpuid(c.regs[EAX]!, c.regs[ECX]!);
  c.regs[EAX] = a;
  c.regs[EBX] = b;
  c.regs[ECX] = cc;
  c.regs[EDX] = dd;
}

/** 0F 31: RDTSC (#GP with CR4.TSD outside ring 0). */
export function rdtsc(c: Cpu): void {
  if (!c.model.hasFeature(CPUID_TSC)) throw udFault();
  if (c.cr4 & CR4_TSD && c.cpl !== 0) throw gpFault(0);
  setEdxEax(c, c.readTsc());
}

function setEdxEax(c: Cpu, v: number): void {
  c.regs[EAX] = v % 0x1_0000_0000;
  c.regs[EDX] = Math.floor(v / 0x1_0000_0000);
}

// MSR numbers (SDM Vol. 4)
const MSR_PLATFORM_ID = 0x17;
const MSR_TSC = 0x10;
const MSR_UCODE_REV = 0x8b;
const MSR_SYSENTER_CS = 0x174;
const MSR_SYSENTER_ESP = 0x175;
const MSR_SYSENTER_EIP = 0x176;
const MSR_MISC_ENABLE = 0x1a0;
const MSR_PAT = 0x277;
const MSR_EFER = 0xc000_0080;

/** Reads MSR `n` as [lo, hi]; undefined for an MSR this model does not have (=> #GP). */
function readMsr(c: Cpu, n: number): [number, number] | undefined {
  const m = c.model;
  switch (n) {
    case MSR_TSC: {
      const t = c.readTsc();
      return [t % 0x1_0000_0000, Math.floor(t / 0x1_0000_0000)];
    }
    case MSR_PLATFORM_ID:
    case MSR_UCODE_REV:
      return m.identity.family >= 6 ? [0, 0] : undefined;
    case MSR_SYSENTER_CS:
      return m.hasFeature(CPUID_SEP) ? [c.sysenterCs, 0] : undefined;
    case MSR_SYSENTER_ESP:
      return m.hasFeature(CPUID_SEP) ? [c.sysenterEsp, 0] : undefined;
    case MSR_SYSENTER_EIP:
      return m.hasFeature(CPUID_SEP) ? [c.sysenterEip, 0] : undefined;
    case MSR_MISC_ENABLE:
      return m.identity.family >= 6 ? [c.miscEnable, 0] : undefined;
    case MSR_PAT:
      return m.hasFeature(CPUID_PAT) ? [c.patLo, c.patHi] : undefined;
    case MSR_EFER:
      return m.hasExtFeature(CPUID_EXT_NX) ? [c.efer, 0] : undefined;
  }
  return undefined;
}

/** Writes MSR `n`; false when it does not exist or the value is invalid (=> #GP). */
function writeMsr(c: Cpu, n: number, lo: number, hi: number): boolean {
  const m = c.model;
  switch (n) {
    case MSR_TSC:
      c.tscOffset = lo + hi * 0x1_0000_0000 - c.tscNow();
      return true;
    case MSR_UCODE_REV:
      return m.identity.family >= 6;
    case MSR_SYSENTER_CS:
    case MSR_SYSENTER_ESP:
    case MSR_SYSENTER_EIP:
      if (!m.hasFeature(CPUID_SEP)) return false;
      if (n === MSR_SYSENTER_CS) c.sysenterCs = lo & 0xffff;
      else if (n === MSR_SYSENTER_ESP) c.sysenterEsp = lo;
      else c.sysenterEip = lo;
      return true;
    case MSR_MISC_ENABLE:
      if (m.identity.family < 6) return false;
      c.miscEnable = lo;
      return true;
    case MSR_PAT:
      if (!m.hasFeature(CPUID_PAT)) return false;
      // Each entry must be a valid memory type (0, 1, 4, 5, 6, 7).
      for (const v of [lo, hi]) for (let i = 0; i < 32; i += 8) if ([2, 3].includes((v >>> i) & 0xff) || ((v >>> i) & 0xf8)) return false;
      c.patLo = lo;
      c.patHi = hi;
      return true;
    case MSR_EFER:
      if (!m.hasExtFeature(CPUID_EXT_NX) || hi !== 0 || lo & ~EFER_NXE) return false;
      if ((c.efer ^ lo) & EFER_NXE) c.mmu.flush();
      c.efer = lo;
      return true;
  }
  return false;
}

/** 0F 33: RDPMC. No counters count here: the two P6 counters read 0 (#GP for others, or with CR4.PCE=0 outside ring 0). */
export function rdpmc(c: Cpu): void {
  if (c.model.identity.family < 6) throw udFault();
  if (!(c.cr4 & CR4_PCE) && c.cpl !== 0) throw gpFault(0);
  if (c.regs[ECX]! > 1) throw gpFault(0);
  c.regs[EAX] = 0;
  c.regs[EDX] = 0;
}

/** 0F 32: RDMSR. */
export function rdmsr(c: Cpu): void {
  if (!c.model.hasFeature(CPUID_MSR)) throw udFault();
  requirePrivilege(c);
  const n = c.regs[ECX]!;
  const v = readMsr(c, n);
  if (!v) {
    if (logOn.unimp) log.unimp({ msr: '0x' + n.toString(16) }, 'rdmsr of unknown MSR');
    throw gpFault(0);
  }
  c.regs[EAX] = v[0] >>> 0;
  c.regs[EDX] = v[1] >>> 0;
}

/** 0F 30: WRMSR. */
export function wrmsr(c: Cpu): void {
  if (!c.model.hasFeature(CPUID_MSR)) throw udFault();
  requirePrivilege(c);
  const n = c.regs[ECX]!;
  if (!writeMsr(c, n, c.regs[EAX]!, c.regs[EDX]!)) {
    if (logOn.unimp) log.unimp({ msr: '0x' + n.toString(16) }, 'wrmsr of unknown MSR or bad value');
    throw gpFault(0);
  }
}

/** 0F 34: SYSENTER (SDM Vol. 2): flat ring-0 CS/SS from SYSENTER_CS. */
export function sysenter(c: Cpu): void {
  if (!c.model.hasFeature(CPUID_SEP)) throw udFault();
  if (!c.protectedMode || (c.sysenterCs & 0xfffc) === 0) throw gpFault(0);
  c.setEflags(0, VM | IF | RF);
  const cs = c.sysenterCs & 0xfffc;
  c.setSegCache(CS, cs, 0, 0xffff_ffff, 0xc9b);
  c.setSegCache(SS, cs + 8, 0, 0xffff_ffff, 0xc93);
  c.regs[ESP] = c.sysenterEsp;
  c.eip = c.sysenterEip;
}

/** 0F 35: SYSEXIT: flat ring-3 CS/SS, EIP = EDX, ESP = ECX. */
export function sysexit(c: Cpu): void {
  if (!c.model.hasFeature(CPUID_SEP)) throw udFault();
  if (!c.protectedMode || c.v86 || c.cpl !== 0 || (c.sysenterCs & 0xfffc) === 0) throw gpFault(0);
  const cs = c.sysenterCs & 0xfffc;
  c.setSegCache(CS, (cs + 16) | 3, 0, 0xffff_ffff, 0xcfb);
  c.setSegCache(SS, (cs + 24) | 3, 0, 0xffff_ffff, 0xcf3);
  c.regs[ESP] = c.regs[ECX]!;
  c.eip = c.regs[EDX]!;
}

/** CMOVcc needs the P6 feature bit; earlier models #UD it. */
export function requireCmov(c: Cpu): void {
  if (!c.model.hasFeature(CPUID_CMOV)) throw udFault();
}

/** 0F 0B UD2, and any opcode the CPU does not implement. */
export function undefinedOpcode(): void {
  throw udFault();
}

/** 0F 18-1F: hint NOPs (NOP Ev, PREFETCH hints). */
export function hintNop(): void {}

