/**
 * gdb under KVM: KVM_SET_GUEST_DEBUG with the x86 debug registers. Every
 * breakpoint (Z0 and Z1 alike, so guest memory is never patched) and
 * watchpoint takes one of DR0-DR3; a fifth is refused, as on hardware.
 * x86 has no read-only data breakpoint, so read watchpoints are refused
 * too (gdb's awatch works). A hit or a single step comes back as
 * KVM_EXIT_DEBUG, which the accelerator hands to `debugExit`.
 *
 * A single step also sets KVM_GUESTDBG_BLOCKIRQ where the host offers it
 * (KVM_CAP_SET_GUEST_DEBUG2, Linux 5.16+), as QEMU does: interrupts stay
 * pending during the step, so stepi lands on the next instruction and not
 * in the handler of a timer that fired meanwhile. An older host lacks the
 * flag and a step there may stop at the first instruction of a handler.
 */
import type { KvmAccelerator } from '../accel/kvm/accelerator.js';
import { GUEST_DEBUG, SIZEOF } from '../accel/kvm/abi.js';
import { kvmIoctl } from '../accel/kvm/libc.js';
import type { Accelerator } from '../accel/accel.js';
import type { DebugBackend, DebugPoint, StopCause } from './debug-backend.js';

const KVM_GUESTDBG_ENABLE = 0x1;
const KVM_GUESTDBG_SINGLESTEP = 0x2;
const KVM_GUESTDBG_USE_HW_BP = 0x20000;
const KVM_GUESTDBG_BLOCKIRQ = 0x100000;
/** kvm_run.debug.arch.dr6 (the exit union at 32 holds exception, pad, pc, dr6, dr7). */
const DEBUG_EXIT_DR6 = 48;
const DR6_BS = 0x4000n;
/** DR7: GE plus the always-one bit 10, as QEMU starts from. */
const DR7_BASE = 0x0600n;
const RW_BITS = { sw: 0n, hw: 0n, write: 1n, access: 3n } as const;
const LEN_BITS: Record<number, bigint> = { 1: 0n, 2: 1n, 4: 3n, 8: 2n };

export class KvmDebug implements DebugBackend {
  private points: readonly DebugPoint[] = [];
  private singleStep = false;
  private readonly accel: KvmAccelerator;
  private readonly blockIrqOnStep: boolean;

  constructor(
    accel: Accelerator,
    private readonly onStop: (cause: StopCause) => void,
  ) {
    this.accel = accel as KvmAccelerator;
    this.blockIrqOnStep = (this.accel.guestDebugFlags() & KVM_GUESTDBG_BLOCKIRQ) !== 0;
    this.accel.debugExit = (run) => this.exit(run);
  }

  setPoints(points: readonly DebugPoint[]): boolean {
    if (points.length > 4) return false;
    for (const p of points) {
      if (p.kind === 'read') return false;
      if (p.kind !== 'sw' && p.kind !== 'hw' && (LEN_BITS[p.len] === undefined || p.addr % BigInt(p.len) !== 0n)) return false;
    }
    this.points = points;
    this.apply();
    return true;
  }

  setSingleStep(on: boolean): void {
    this.singleStep = on;
    this.apply();
  }

  release(): void {
    this.points = [];
    this.singleStep = false;
    this.apply();
    this.accel.debugExit = undefined;
  }

  private apply(): void {
    const buf = new Uint8Array(SIZEOF.kvm_guest_debug);
    const view = new DataView(buf.buffer);
    let control = 0;
    if (this.points.length > 0 || this.singleStep) control |= KVM_GUESTDBG_ENABLE;
    if (this.points.length > 0) control |= KVM_GUESTDBG_USE_HW_BP;
    if (this.singleStep) control |= KVM_GUESTDBG_SINGLESTEP | (this.blockIrqOnStep ? KVM_GUESTDBG_BLOCKIRQ : 0);
    view.setUint32(GUEST_DEBUG.control, control, true);
    let dr7 = DR7_BASE;
    this.points.forEach((p, i) => {
      view.setBigUint64(GUEST_DEBUG.debugreg + 8 * i, p.addr, true);
      const rw = RW_BITS[p.kind as keyof typeof RW_BITS];
      const len = p.kind === 'sw' || p.kind === 'hw' ? 0n : LEN_BITS[p.len]!;
      dr7 |= (2n << BigInt(2 * i)) | (rw << BigInt(16 + 4 * i)) | (len << BigInt(18 + 4 * i));
    });
    view.setBigUint64(GUEST_DEBUG.debugreg + 8 * 7, dr7, true);
    for (const vcpu of this.accel.vcpus) kvmIoctl(vcpu.fd, 'KVM_SET_GUEST_DEBUG', buf);
  }

  /** KVM_EXIT_DEBUG: which debug register fired (DR6 B0-B3) or a single step (BS). */
  private exit(run: DataView): void {
    const dr6 = run.getBigUint64(DEBUG_EXIT_DR6, true);
    if (this.singleStep || (dr6 & DR6_BS) !== 0n) {
      this.singleStep = false;
      this.apply();
      this.onStop({ kind: 'step' });
      return;
    }
    const hit = this.points.find((_, i) => (dr6 & (1n << BigInt(i))) !== 0n);
    if (hit && (hit.kind === 'write' || hit.kind === 'access')) this.onStop({ kind: 'watch', access: hit.kind, addr: hit.addr });
    else this.onStop({ kind: 'breakpoint' });
  }
}
