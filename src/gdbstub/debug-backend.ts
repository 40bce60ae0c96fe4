/**
 * What the gdbstub needs from an accelerator beyond the Vcpu view: stop
 * before breakpoint addresses, stop on watched memory, and single-step.
 * tcg-debug.ts and kvm-debug.ts implement it.
 */

export type PointKind = 'sw' | 'hw' | 'write' | 'read' | 'access';

export interface DebugPoint {
  kind: PointKind;
  /** Linear address. */
  addr: bigint;
  /** Bytes watched (watchpoints); the breakpoint kind for breakpoints. */
  len: number;
}

export type StopCause =
  | { kind: 'breakpoint' }
  | { kind: 'step' }
  | { kind: 'watch'; access: 'write' | 'read' | 'access'; addr: bigint };

export interface DebugBackend {
  /** Installs the complete set gdb wants; false when the backend cannot honour it (the caller rolls back). */
  setPoints(points: readonly DebugPoint[]): boolean;
  /** Whether the next resume executes one instruction and stops. */
  setSingleStep(on: boolean): void;
  /** Removes every hook (gdb detached or left). */
  release(): void;
}
