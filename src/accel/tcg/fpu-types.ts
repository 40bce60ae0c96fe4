/**
 * The contract between TCG's integer CPU (cpu core) and its x87 unit (fpu.ts).
 *
 * The CPU decodes the escape opcodes D8-DF, raises #NM itself (CR0.EM/TS,
 * SDM Vol. 3A 2.5), computes the memory operand's linear address, and calls
 * `execute`. The FPU reads and writes memory through FpuHost.mem, whose
 * accessors go through segmentation-free linear addressing and paging and may
 * throw the CPU's page-fault exception (so an x87 store that faults leaves
 * the FPU state as the SDM requires: the FPU must write memory before it
 * commits its register stack).
 */

export interface FpuMemory {
  read8(linear: number): number;
  read16(linear: number): number;
  read32(linear: number): number;
  write8(linear: number, value: number): void;
  write16(linear: number, value: number): void;
  write32(linear: number, value: number): void;
}

export interface FpuHost {
  readonly mem: FpuMemory;
  /**
   * Reports an unmasked x87 exception at the next waiting x87 instruction
   * (SDM Vol. 1 8.7): with CR0.NE=1 this throws #MF and does not return;
   * with CR0.NE=0 it asserts FERR# (IRQ 13 through the PIC) and returns.
   */
  raiseMathFault(): void;
}

export interface X87Unit {
  /** Power-on/RESET state (SDM Vol. 3A Table 9-1): FCW=0x40, FSW=0, FTW empty. */
  reset(): void;
  /**
   * Executes one x87 instruction.
   * @param opcode 0xD8..0xDF
   * @param modrm the ModR/M byte
   * @param linear linear address of the memory operand (unused when modrm.mod = 3)
   * @param opsize32 32-bit operand size (FSTENV/FLDENV/FSAVE/FRSTOR layout)
   * @param protectedMode environment layout (real-mode vs protected-mode format)
   */
  execute(opcode: number, modrm: number, linear: number, opsize32: boolean, protectedMode: boolean): void;
  /** FWAIT/WAIT: signals a pending unmasked exception through FpuHost.raiseMathFault. */
  wait(): void;
  /** Records FIP/FCS/FOP/FDP for FSTENV/FSAVE/FXSAVE (called by the CPU before execute for non-control instructions). */
  setLastInstruction(cs: number, eip: number, opcode11: number, dataSelector: number, dataOffset: number): void;
  /** FXSAVE/FXRSTOR's x87 part of the 512-byte area (SDM Vol. 1 10.5.1); the CPU owns MXCSR/XMM bytes. */
  fxsave(linear: number): void;
  fxrstor(linear: number): void;
  /** For the monitor and gdbstub: control, status and tag words and ST(i) as doubles. */
  readonly controlWord: number;
  readonly statusWord: number;
  readonly tagWord: number;
  st(i: number): number;
}
