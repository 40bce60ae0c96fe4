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
  /**
   * The guest's EFLAGS, read by FCMOVcc (DA/DB C0-DF), which moves on CF, ZF
   * and PF, and by the FCOMI family after an unmasked invalid operand (see
   * execute). Optional so a host without these P6 instructions (486/Pentium
   * models, which the CPU should #UD before calling execute) need not
   * provide it; without it FCMOVcc reads EFLAGS as 0.
   */
  eflags?(): number;
}

/** execute() result: nothing for the CPU to do beyond finishing the instruction. */
export const X87_DONE = -1;
/**
 * execute() result: the encoding is undefined on a P6 (SDM Vol. 2 Tables A-7..A-22
 * as real CPUs implement them: reserved register forms #UD, FISTTP (SSE3) #UD,
 * reserved memory forms D9 /1, DB /4, DB /6, DD /5 #UD). The unit has changed no
 * state; the CPU raises #UD.
 */
export const X87_UD = -2;
/** EFLAGS bits returned by the FCOMI family (SDM Vol. 2 FCOMI: ZF, PF, CF set; OF, SF, AF cleared). */
export const X87_EFLAGS_MASK = 0x8d5; // OF|SF|ZF|AF|PF|CF: the bits the CPU replaces

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
   * @returns X87_DONE, or X87_UD, or for
   *   - DF E0 (FNSTSW AX): the 16-bit status word, which the CPU stores in AX;
   *   - DB E8-F7, DF E8-F7 (FUCOMI, FCOMI, FUCOMIP, FCOMIP): the new ZF|PF|CF
   *     bits; the CPU sets EFLAGS = (EFLAGS & ~X87_EFLAGS_MASK) | result
   *     (OF, SF, AF cleared). After an unmasked invalid-operand exception the
   *     result is the current ZF|PF|CF (read through FpuHost.eflags), so only
   *     OF, SF, AF change, as the SDM specifies; X87_DONE if the host has no
   *     eflags().
   */
  execute(opcode: number, modrm: number, linear: number, opsize32: boolean, protectedMode: boolean): number;
  /** FWAIT/WAIT: signals a pending unmasked exception through FpuHost.raiseMathFault. */
  wait(): void;
  /**
   * Records FIP/FCS/FOP/FDP for FSTENV/FSAVE/FXSAVE. The CPU may call it before
   * every execute(); the unit keeps the values only for non-control
   * instructions (SDM Vol. 1 8.1.8), so FNSTENV saves the pointers of the last
   * instruction that could have raised an exception. dataSelector/dataOffset
   * are kept only for memory forms (modrm.mod != 3). opcode11 is
   * ((opcode & 7) << 8) | modrm.
   */
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
