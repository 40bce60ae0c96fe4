/**
 * Architectural constants of the i686 (Intel SDM Vol. 3A): EFLAGS bits,
 * control-register bits, segment register numbers and exception vectors.
 */

// EFLAGS (SDM Vol. 1, 3.4.3)
export const CF = 1 << 0;
export const PF = 1 << 2;
export const AF = 1 << 4;
export const ZF = 1 << 6;
export const SF = 1 << 7;
export const TF = 1 << 8;
export const IF = 1 << 9;
export const DF = 1 << 10;
export const OF = 1 << 11;
export const IOPL = 3 << 12;
export const NT = 1 << 14;
export const RF = 1 << 16;
export const VM = 1 << 17;
export const AC = 1 << 18;
export const VIF = 1 << 19;
export const VIP = 1 << 20;
export const ID = 1 << 21;
/** The six arithmetic status flags the ALU computes lazily. */
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;
/** Bits of EFLAGS that exist on this CPU (bit 1 reads as 1). */
export const EFLAGS_DEFINED = ARITH_FLAGS | TF | IF | DF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;

// CR0 (SDM Vol. 3A, 2.5)
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_EM = 1 << 2;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_AM = 1 << 18;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;

// CR4
export const CR4_VME = 1 << 0;
export const CR4_PVI = 1 << 1;
export const CR4_TSD = 1 << 2;
export const CR4_DE = 1 << 3;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_MCE = 1 << 6;
export const CR4_PGE = 1 << 7;
export const CR4_PCE = 1 << 8;
export const CR4_OSFXSR = 1 << 9;
export const CR4_OSXMMEXCPT = 1 << 10;

// EFER
export const EFER_NXE = 1 << 11;

// Segment registers, in encoding order (ModR/M reg field of MOV Sreg).
export const ES = 0;
export const CS = 1;
export const SS = 2;
export const DS = 3;
export const FS = 4;
export const GS = 5;

// General registers
export const EAX = 0;
export const ECX = 1;
export const EDX = 2;
export const EBX = 3;
export const ESP = 4;
export const EBP = 5;
export const ESI = 6;
export const EDI = 7;

// Exception vectors (SDM Vol. 3A, 6.3.1)
export const DE = 0;
export const DB = 1;
export const NMI = 2;
export const BP = 3;
export const OFV = 4;
export const BR = 5;
export const UD = 6;
export const NM = 7;
export const DFV = 8;
export const TS = 10;
export const NP = 11;
export const SSV = 12;
export const GP = 13;
export const PFV = 14;
export const MF = 16;
export const ACV = 17;
export const MC = 18;

/**
 * Segment descriptor attribute layout used in the segment caches: the
 * descriptor's bits 40..55 shifted down (type 0-3, S 4, DPL 5-6, P 7, AVL 8,
 * L 9, D/B 10, G 11), the layout VMX and KVM use too.
 */
export const ATTR_S = 1 << 4;
export const ATTR_P = 1 << 7;
export const ATTR_DB = 1 << 10;
export const ATTR_G = 1 << 11;
/** Not part of a descriptor: the register holds a null selector (protected mode). */
export const ATTR_UNUSABLE = 1 << 16;

/**
 * The initial value of a field of a long-lived object that will hold numbers
 * outside int32 (unsigned 32-bit EIPs and addresses, CR0 with PG set,
 * instruction counts): zero as a double (-0, which is 0 to every operator
 * but Object.is). V8 picks a field's representation from its first value,
 * and a field that started with small integers and later receives a double
 * changes representation: the object gets a new map, and every optimised
 * function that checked the old one deoptimises ("wrong map"). For the Cpu
 * that is every translated block and the interpreter's hot paths, once for
 * each of eip, cr0, the descriptor-table bases, cr2... as a Linux boot first
 * puts a kernel address in each: nine Cpu maps up to the kernel's init.
 */
export const DOUBLE_ZERO = -0;
