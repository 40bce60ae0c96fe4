/**
 * The i686 CPU's architectural state and the accessors every instruction
 * family uses: registers by size, segmented and linear memory access with
 * the limit/type checks of SDM Vol. 3A 5.3-5.6, the stack, EFLAGS, control
 * registers. Instruction semantics live in the family files (alu.ts,
 * control.ts, ...); the fetch/decode/execute loop in interp.ts.
 */
import type { AddressSpace } from '../../memory/address-space.js';
import type { PortBus } from '../../io/port-bus.js';
import type { CpuInterruptSource, IrqRouter } from '../../io/irq.js';
import type { Lifecycle } from '../../machine/lifecycle.js';
import type { X87Unit } from './fpu-types.js';
import { FlagState } from './flags.js';
import { Mmu } from './mmu.js';
import { CpuFault, gpFault, ssFault } from './exceptions.js';
import type { Insn } from './insn.js';
import type { Block } from './jit/block.js';
import {
  AC,
  ARITH_FLAGS,
  ATTR_DB,
  ATTR_P,
  ATTR_S,
  ATTR_UNUSABLE,
  ACV,
  CR0_AM,
  CR0_PE,
  CS,
  DF,
  ESP,
  EFLAGS_DEFINED,
  ID,
  IF,
  IOPL,
  NT,
  RF,
  SS,
  TF,
  VM,
  VIF,
  VIP,
  DOUBLE_ZERO,
} from './constants.js';
import type { CpuModelInfo } from './cpuid.js';
import { recordDataAccess, updateBreakpoints } from './debug.js';
import { FLAT_CS, fastFlat, fastReadable, fastReadNeed, fastWritable } from './jit/memory.js';

/** What the CPU is plugged into. Only mem and io are required (tests run bare CPUs). */
export interface CpuBus {
  mem: AddressSpace;
  io: PortBus;
  intr?: CpuInterruptSource;
  irq?: IrqRouter;
  lifecycle?: Lifecycle;
  /** Guest nanoseconds (RDTSC). */
  clock?: { now(): number };
}

export class Cpu extends FlagState {
  /** EAX..EDI. */
  readonly regs: Uint32Array;
  /**
   * The same registers as int32 bits, for translated code: V8 keeps every
   * int32 a small integer, while a uint32 at or above 2^31 (any kernel
   * address) is a boxed double outside optimised code.
   */
  readonly regs32: Int32Array;
  // Fields that hold unsigned 32-bit values start as DOUBLE_ZERO (constants.ts says why); reset() sets them.
  eip = DOUBLE_ZERO;
  /** EIP of the instruction being executed (faults restart it). */
  insnEip = DOUBLE_ZERO;
  /** ESP before the instruction (restored on faults), as int32 bits like regs32. */
  insnEsp = 0;

  // Segment registers with their descriptor caches, indexed ES CS SS DS FS GS.
  readonly segSel = new Int32Array(6);
  readonly segBase = new Uint32Array(6);
  readonly segLimit = new Uint32Array(6);
  readonly segAttr = new Int32Array(6);

  gdtrBase = DOUBLE_ZERO;
  gdtrLimit = 0xffff;
  idtrBase = DOUBLE_ZERO;
  idtrLimit = 0xffff;
  ldtrSel = 0;
  ldtrBase = DOUBLE_ZERO;
  ldtrLimit = DOUBLE_ZERO;
  ldtrAttr = 0x82;
  trSel = 0;
  trBase = DOUBLE_ZERO;
  trLimit = DOUBLE_ZERO;
  trAttr = 0x8b;

  cr0 = DOUBLE_ZERO;
  cr2 = DOUBLE_ZERO;
  cr3 = DOUBLE_ZERO;
  cr4 = 0;
  efer = 0;
  readonly dr = new Uint32Array(8);
  cpl = 0;

  // MSRs (SDM Vol. 4) kept as plain numbers.
  sysenterCs = 0;
  sysenterEsp = DOUBLE_ZERO;
  sysenterEip = DOUBLE_ZERO;
  /** TSC = guest ns * tscPerNs + tscOffset. */
  tscOffset = DOUBLE_ZERO;
  apicBase = DOUBLE_ZERO;
  patLo = DOUBLE_ZERO;
  patHi = DOUBLE_ZERO;
  miscEnable = 1;

  /** CR0.AM, EFLAGS.AC and CPL 3 together: misaligned data accesses raise #AC(0). */
  alignmentCheck = false;
  /**
   * For translated code's RAM fast path (jit/memory.ts): per segment, reads
   * at [s] and writes at [6 + s], the offset below which an access of up to
   * 4 bytes certainly passes the segment checks of `linear` (0: none does);
   * [12] and [13] the same for SS as a 32-bit stack (0 unless SS.B).
   */
  readonly fastEnd = new Uint32Array(14);
  /** Bit i set when fastEnd[i]'s segment is flat (jit/memory.ts's fastFlat); FLAT_CS when CS's limit is 4 GiB - 1. */
  flat = 0;
  /** TLB bits a read at the current CPL needs (jit/memory.ts). */
  tlbReadNeed = 0;
  /** Where the MMU's fast-path entries for the current CPL start in its tables (Mmu.fastHalf). */
  tlbHalf = 0;
  /** Calls translated code may still make from one block into another before returning to the dispatcher (jit/codegen.ts's nested calls). */
  nestedCalls = 0;
  /**
   * The nested callee that left by an exit of its own (not a return to its
   * call site), ending the block run it was called in, and the EIP (int32
   * bits) the call entered it at: set by the innermost caller leaving after
   * it, cleared by the dispatcher before each block run; the dispatcher
   * then goes on from that callee's exit (jit/codegen.ts's nested calls).
   */
  nestedLeft: Block | undefined = undefined;
  nestedLeftEip = 0;
  /** Count of committed task switches (a fault after the commit is not rolled back). */
  taskSwitches = 0;
  halted = false;
  /** Interrupts are held off for one instruction after STI, MOV SS, POP SS. */
  interruptShadow = false;
  nmiPending = false;
  nmiBlocked = false;

  // Debug registers at work (debug.ts), derived from DR7/DR0-3/CR4.DE by updateBreakpoints.
  /** Some breakpoint is enabled in DR7: run on the interpreter, which checks them. */
  debugArmed = false;
  /** Enabled instruction breakpoints (bit n: DRn). */
  execBreakpoints = 0;
  /** Enabled I/O breakpoints (bit n: DRn). */
  ioBreakpoints = 0;
  /** DR6 bits of debug traps (B0-B3, BS) waiting for the end of the instruction. */
  debugTraps = 0;
  /** MOV SS/POP SS hold debug traps until after the next instruction (SDM Vol. 3A 6.8.3). */
  debugShadow = false;

  readonly mmu: Mmu;
  fpu!: X87Unit;

  constructor(
    readonly bus: CpuBus,
    readonly model: CpuModelInfo,
  ) {
    super();
    this.mmu = new Mmu(bus.mem, this);
    // In RAM's WebAssembly arena, where translated WebAssembly reads them (jit/wasm-arena.ts).
    this.regs = this.mmu.arena?.regs ?? new Uint32Array(8);
    this.regs32 = new Int32Array(this.regs.buffer, this.regs.byteOffset, 8);
    this.mmu.onWatchedAccess = (lin, size, write) => recordDataAccess(this, lin, size, write);
    this.reset();
  }

  /** Power-on/RESET state (SDM Vol. 3A, Table 9-1). */
  reset(): void {
    this.regs.fill(0);
    this.regs[2] = this.model.resetEdx;
    this.eip = 0xfff0;
    this.flags = 2;
    this.lazy = 0;
    for (let s = 0; s < 6; s++) this.setSegCache(s, 0, 0, 0xffff, 0x93);
    this.setSegCache(CS, 0xf000, 0xffff_0000, 0xffff, 0x9b);
    this.gdtrBase = this.idtrBase = 0;
    this.gdtrLimit = this.idtrLimit = 0xffff;
    this.ldtrSel = this.ldtrBase = 0;
    this.ldtrLimit = 0xffff;
    this.trSel = this.trBase = 0;
    this.trLimit = 0xffff;
    this.cr0 = 0x6000_0010;
    this.cr2 = this.cr3 = this.cr4 = this.efer = 0;
    this.dr.fill(0);
    this.dr[6] = 0xffff_0ff0;
    this.dr[7] = 0x400;
    this.debugTraps = 0;
    this.debugShadow = false;
    updateBreakpoints(this);
    this.cpl = 0;
    this.sysenterCs = this.sysenterEsp = this.sysenterEip = 0;
    this.tscOffset = -this.tscNow();
    this.patLo = this.patHi = 0x0007_0406;
    this.miscEnable = 1;
    this.halted = false;
    this.interruptShadow = false;
    this.nmiPending = this.nmiBlocked = false;
    this.updateCpl();
    this.mmu.flush();
    this.fpu?.reset();
  }

  // ---- modes ------------------------------------------------------------

  get protectedMode(): boolean {
    return (this.cr0 & CR0_PE) !== 0;
  }

  get v86(): boolean {
    return (this.flags & VM) !== 0;
  }

  /** Real mode or virtual-8086 mode: segment registers are paragraph numbers. */
  get realAddressing(): boolean {
    return !(this.cr0 & CR0_PE) || (this.flags & VM) !== 0;
  }

  get cs32(): boolean {
    return (this.segAttr[CS]! & ATTR_DB) !== 0;
  }

  get ss32(): boolean {
    return (this.segAttr[SS]! & ATTR_DB) !== 0;
  }

  get iopl(): number {
    return (this.flags >> 12) & 3;
  }

  // ---- registers --------------------------------------------------------

  reg(r: number, size: number): number {
    if (size === 4) return this.regs[r]!;
    if (size === 2) return this.regs[r]! & 0xffff;
    return r < 4 ? this.regs[r]! & 0xff : (this.regs[r - 4]! >>> 8) & 0xff;
  }

  setReg(r: number, size: number, v: number): void {
    if (size === 4) this.regs[r] = v;
    else if (size === 2) this.regs[r] = (this.regs[r]! & 0xffff0000) | (v & 0xffff);
    else if (r < 4) this.regs[r] = (this.regs[r]! & 0xffffff00) | (v & 0xff);
    else this.regs[r - 4] = (this.regs[r - 4]! & 0xffff00ff) | ((v & 0xff) << 8);
  }

  // ---- EFLAGS -----------------------------------------------------------

  getEflags(): number {
    return ((this.flags & ~ARITH_FLAGS) | this.arithFlags() | 2) >>> 0;
  }

  /**
   * Writes the EFLAGS bits in `mask` (the caller decides which bits the
   * instruction and privilege level may change: POPF, IRET, task switch).
   */
  setEflags(value: number, mask: number): void {
    this.materialize();
    mask &= EFLAGS_DEFINED;
    if (!this.model.hasCpuid) mask &= ~ID;
    if (!this.model.hasAc) mask &= ~AC;
    const old = this.flags;
    this.flags = ((old & ~mask) | (value & mask) | 2) >>> 0;
    if ((old ^ this.flags) & VM) this.updateCpl();
    this.updateAlignmentCheck();
  }

  /** Recomputes whether #AC is armed (SDM Vol. 3A 6.15, interrupt 17); call after CR0, EFLAGS or CPL change. */
  updateAlignmentCheck(): void {
    const armed = (this.cr0 & CR0_AM) !== 0 && (this.flags & AC) !== 0 && this.cpl === 3;
    if (armed === this.alignmentCheck) return;
    this.alignmentCheck = armed;
    for (let s = 0; s < 6; s++) this.updateFastEnd(s);
  }

  /** IOPL, IF etc. that POPF/IRET may touch at the current privilege (SDM Vol. 2, POPF). */
  popfMask(size: number): number {
    let mask = ARITH_FLAGS | TF | DF | NT | AC | ID;
    if (this.cpl === 0 || !this.protectedMode) mask |= IOPL | IF;
    else if (this.cpl <= this.iopl) mask |= IF;
    if (this.v86) mask = (mask & ~IOPL) | (this.iopl === 3 ? IF : 0);
    if (size === 2) mask &= 0xffff;
    return mask & ~(VM | RF | VIF | VIP);
  }

  // ---- segments ---------------------------------------------------------

  setSegCache(s: number, sel: number, base: number, limit: number, attr: number): void {
    this.segSel[s] = sel & 0xffff;
    this.segBase[s] = base;
    this.segLimit[s] = limit;
    this.segAttr[s] = attr;
    this.updateFastEnd(s);
    if (s === CS) {
      this.flat = this.segLimit[CS] === 0xffff_ffff ? this.flat | FLAT_CS : this.flat & ~FLAT_CS;
      this.updateCpl();
    }
  }

  /** Recomputes fastEnd for segment `s` (its attributes, limit or #AC changed). */
  private updateFastEnd(s: number): void {
    const limit = this.segLimit[s]!;
    const end = this.alignmentCheck || limit < 3 ? 0 : limit - 2;
    this.fastEnd[s] = fastReadable(this.segAttr[s]!) ? end : 0;
    this.fastEnd[6 + s] = fastWritable(this.segAttr[s]!) ? end : 0;
    this.updateFlat(s, s);
    this.updateFlat(s, 6 + s);
    if (s === SS) {
      this.fastEnd[12] = this.ss32 ? this.fastEnd[s]! : 0;
      this.fastEnd[13] = this.ss32 ? this.fastEnd[6 + s]! : 0;
      this.updateFlat(s, 12);
      this.updateFlat(s, 13);
    }
  }

  /** Recomputes bit i of `flat` for fastEnd[i], an entry of segment `s`. */
  private updateFlat(s: number, i: number): void {
    if (fastFlat(this.segBase[s]!, this.fastEnd[i]!)) this.flat |= 1 << i;
    else this.flat &= ~(1 << i);
  }

  /** CPL: CS.RPL in protected mode (SS.DPL matches), 0 in real mode, 3 in v86 mode. */
  updateCpl(): void {
    const old = this.cpl;
    if (!(this.cr0 & CR0_PE)) this.cpl = 0;
    else if (this.flags & VM) this.cpl = 3;
    else this.cpl = this.segSel[CS]! & 3;
    this.tlbReadNeed = fastReadNeed(this.cpl);
    this.tlbHalf = this.mmu.fastHalf();
    if (old !== this.cpl) this.onCplChange();
    this.updateAlignmentCheck();
  }

  /** Hook for caches keyed on privilege (none in the interpreter). */
  onCplChange(): void {}

  /** Loads a segment register the real-mode/v86 way: base = selector * 16. */
  loadSegReal(s: number, sel: number): void {
    sel &= 0xffff;
    if (this.flags & VM) {
      this.setSegCache(s, sel, sel << 4, 0xffff, s === CS ? 0xfb : 0xf3);
    } else {
      // Real mode keeps the cached limit and attributes ("unreal" mode).
      this.segSel[s] = sel;
      this.segBase[s] = sel << 4;
      this.segAttr[s] = (this.segAttr[s]! & ~ATTR_UNUSABLE) | ATTR_P | ATTR_S;
      this.updateFastEnd(s);
    }
  }

  /**
   * Linear address of seg:off for an access of `size` bytes, after the
   * limit and type checks (SDM Vol. 3A 5.3, 5.5). #SS for SS, #GP otherwise.
   */
  linear(s: number, off: number, size: number, write: boolean): number {
    if (this.alignmentCheck && off & (size - 1) && size <= 8) throw new CpuFault(ACV, 0);
    const attr = this.segAttr[s]!;
    const limit = this.segLimit[s]!;
    if (this.cr0 & CR0_PE && !(this.flags & VM)) {
      if (attr & ATTR_UNUSABLE) throw s === SS ? ssFault(0) : gpFault(0);
      const type = attr & 0xf;
      if (write ? (type & 0xa) !== 0x2 : (type & 0xa) === 0x8) throw s === SS ? ssFault(0) : gpFault(0);
      if ((type & 0xc) === 0x4) {
        // Expand-down data segment: valid offsets are (limit, 0xFFFF or 0xFFFFFFFF].
        const upper = attr & ATTR_DB ? 0xffff_ffff : 0xffff;
        if (off <= limit || off + size - 1 > upper) throw s === SS ? ssFault(0) : gpFault(0);
        return (this.segBase[s]! + off) >>> 0;
      }
    }
    if (limit !== 0xffff_ffff && off + size - 1 > limit) throw s === SS ? ssFault(0) : gpFault(0);
    return (this.segBase[s]! + off) >>> 0;
  }

  read(s: number, off: number, size: number): number {
    const lin = this.linear(s, off, size, false);
    return size === 4 ? this.mmu.read32(lin) : size === 2 ? this.mmu.read16(lin) : this.mmu.read8(lin);
  }

  write(s: number, off: number, size: number, v: number): void {
    const lin = this.linear(s, off, size, true);
    this.writeLin(lin, size, v);
  }

  readLin(lin: number, size: number): number {
    return size === 4 ? this.mmu.read32(lin) : size === 2 ? this.mmu.read16(lin) : this.mmu.read8(lin);
  }

  writeLin(lin: number, size: number, v: number): void {
    if (size === 4) this.mmu.write32(lin, v);
    else if (size === 2) this.mmu.write16(lin, v & 0xffff);
    else this.mmu.write8(lin, v & 0xff);
  }

  /** Reads at a linear address as a supervisor would (descriptor tables, TSS): CPL-independent. */
  readSys(lin: number, size: number): number {
    const cpl = this.cpl;
    this.cpl = 0;
    try {
      return this.readLin(lin >>> 0, size);
    } finally {
      this.cpl = cpl;
    }
  }

  writeSys(lin: number, size: number, v: number): void {
    const cpl = this.cpl;
    this.cpl = 0;
    try {
      this.writeLin(lin >>> 0, size, v);
    } finally {
      this.cpl = cpl;
    }
  }

  // ---- ModR/M operands --------------------------------------------------

  /** Effective address (offset within the segment) of the memory operand. */
  ea(d: Insn): number {
    let a = d.disp;
    if (d.base >= 0) a += this.regs[d.base]!;
    if (d.index >= 0) a += this.regs[d.index]! << d.scale;
    return d.a32 ? a >>> 0 : a & 0xffff;
  }

  /** Linear address of the memory operand, checked for an access of d.size bytes. */
  eaLinear(d: Insn, write: boolean, size = d.size): number {
    return this.linear(d.seg, this.ea(d), size, write);
  }

  readE(d: Insn): number {
    if (d.mod === 3) return this.reg(d.rm, d.size);
    return this.readLin(this.eaLinear(d, false), d.size);
  }

  /** The r/m operand read with an explicit size (MOVZX/MOVSX sources, selector operands). */
  readEAs(d: Insn, size: number): number {
    if (d.mod === 3) return this.reg(d.rm, size);
    return this.readLin(this.eaLinear(d, false, size), size);
  }

  writeEAs(d: Insn, size: number, v: number): void {
    if (d.mod === 3) this.setReg(d.rm, size, v);
    else this.writeLin(this.eaLinear(d, true, size), size, v);
  }

  writeE(d: Insn, v: number): void {
    if (d.mod === 3) this.setReg(d.rm, d.size, v);
    else this.writeLin(this.eaLinear(d, true), d.size, v);
  }

  // ---- stack ------------------------------------------------------------

  /** Pushes `size` bytes (2 or 4) at SS:(E)SP. The store happens before ESP changes (faults restart cleanly). */
  push(v: number, size: number): void {
    const esp = this.regs[ESP]!;
    if (this.ss32) {
      const n = (esp - size) >>> 0;
      this.write(SS, n, size, v);
      this.regs[ESP] = n;
    } else {
      const n = (esp - size) & 0xffff;
      this.write(SS, n, size, v);
      this.regs[ESP] = (esp & 0xffff0000) | n;
    }
  }

  pop(size: number): number {
    const esp = this.regs[ESP]!;
    if (this.ss32) {
      const v = this.read(SS, esp, size);
      this.regs[ESP] = (esp + size) >>> 0;
      return v;
    }
    const v = this.read(SS, esp & 0xffff, size);
    this.regs[ESP] = (esp & 0xffff0000) | ((esp + size) & 0xffff);
    return v;
  }

  /** Reads the stack `offset` bytes above (E)SP without popping. */
  peek(offset: number, size: number): number {
    const sp = this.ss32 ? (this.regs[ESP]! + offset) >>> 0 : (this.regs[ESP]! + offset) & 0xffff;
    return this.read(SS, sp, size);
  }

  /** Adds to (E)SP respecting the stack size. */
  addSp(n: number): void {
    const esp = this.regs[ESP]!;
    this.regs[ESP] = this.ss32 ? (esp + n) >>> 0 : (esp & 0xffff0000) | ((esp + n) & 0xffff);
  }

  // ---- time -------------------------------------------------------------

  /** Nominal TSC frequency: 1 GHz, one tick per guest nanosecond. */
  tscNow(): number {
    return Math.floor(this.bus.clock?.now() ?? 0);
  }

  readTsc(): number {
    return this.tscNow() + this.tscOffset;
  }

  // ---- faults -----------------------------------------------------------

  /** Throws #GP(0) unless CPL 0 (privileged instructions). */
  requireCpl0(): void {
    if (this.cpl !== 0) throw gpFault(0);
  }

  /** Jump target within the code segment's limit, else #GP(0). */
  setEip(target: number, size: number): void {
    target = size === 2 ? target & 0xffff : target >>> 0;
    if (target > this.segLimit[CS]!) throw gpFault(0);
    this.eip = target;
  }
}


