/**
 * Exceptions as guest events. An instruction that faults throws a CpuFault;
 * the interpreter catches it, rolls EIP/ESP back to the faulting
 * instruction (faults) or leaves them after it (traps), and delivers the
 * vector through the IDT/IVT (interrupts.ts). CpuFault is not an Error:
 * no stack trace is captured, so faulting is cheap for the guest.
 */
import { DE, GP, NM, NP, PFV, SSV, TS, UD, ACV, MF, DFV } from './constants.js';

export class CpuFault {
  constructor(
    readonly vector: number,
    /** Error code pushed for #DF #TS #NP #SS #GP #PF #AC; -1 for none. */
    readonly errorCode: number = -1,
  ) {}
}

/** Vectors that push an error code (SDM Vol. 3A, Table 6-1). */
export function hasErrorCode(vector: number): boolean {
  return vector === DFV || vector === TS || vector === NP || vector === SSV || vector === GP || vector === PFV || vector === ACV;
}

/** Contributory exceptions for the double-fault rules (SDM Vol. 3A, Table 6-4). */
export function isContributory(vector: number): boolean {
  return vector === DE || (vector >= TS && vector <= GP);
}

export function gpFault(code = 0): CpuFault {
  return new CpuFault(GP, code & 0xffff);
}
export function ssFault(code = 0): CpuFault {
  return new CpuFault(SSV, code & 0xffff);
}
export function npFault(code: number): CpuFault {
  return new CpuFault(NP, code & 0xffff);
}
export function tsFault(code: number): CpuFault {
  return new CpuFault(TS, code & 0xffff);
}
export function udFault(): CpuFault {
  return new CpuFault(UD);
}
export function nmFault(): CpuFault {
  return new CpuFault(NM);
}
export function deFault(): CpuFault {
  return new CpuFault(DE);
}
export function mfFault(): CpuFault {
  return new CpuFault(MF);
}
