/**
 * One KVM vCPU: its file descriptor, its kvm_run page, and the conversions
 * between KVM's register structs and tsvm's CpuState.
 */
import type { Vcpu } from '../accel.js';
import { GPR_NAMES, resetCpuState, SEGMENT_NAMES, type CpuState, type SegmentState, type TableRegister } from '../cpu-state.js';
import {
  CPUID2,
  CPUID_ENTRY,
  DTABLE,
  FPU,
  KVM_MP_STATE,
  MP_STATE,
  MSR_ENTRY,
  MSRS,
  REGS,
  RUN,
  SEGMENT,
  SIZEOF,
  SREGS,
  TRANSLATION,
} from './abi.js';
import type { CpuidEntry, KvmHandle } from './handle.js';
import { ioctlErrno, kvmIoctl, mapShared, type Mapping } from './libc.js';
import { log } from '../../log.js';

/** MSR values of a PC at power-on, as QEMU puts them (target/i386/kvm/kvm.c, kvm_put_msrs). */
const RESET_MSRS: readonly [index: number, value: bigint][] = [
  [0x10, 0n], // IA32_TSC
  [0x174, 0n], // IA32_SYSENTER_CS
  [0x175, 0n], // IA32_SYSENTER_ESP
  [0x176, 0n], // IA32_SYSENTER_EIP
  [0x1a0, 1n], // IA32_MISC_ENABLE: fast strings
  [0x277, 0x0007_0406_0007_0406n], // IA32_PAT power-on value
];
/** Long-mode MSRs, only on CPUs with LM. */
const RESET_MSRS_64: readonly [index: number, value: bigint][] = [
  [0xc000_0081, 0n], // STAR
  [0xc000_0082, 0n], // LSTAR
  [0xc000_0083, 0n], // CSTAR
  [0xc000_0084, 0n], // FMASK
  [0xc000_0102, 0n], // KERNEL_GS_BASE
];

/** kvm_sregs field for each CpuState segment. */
const SREG_OFFSET = { es: SREGS.es, cs: SREGS.cs, ss: SREGS.ss, ds: SREGS.ds, fs: SREGS.fs, gs: SREGS.gs } as const;

export class KvmVcpu implements Vcpu {
  readonly fd: number;
  /** The kvm_run page (and the PIO data area that follows it). */
  readonly runPage: Mapping;
  readonly run: DataView;
  /** Set when the guest executed HLT and KVM handed it to us (irqchip off). */
  halted = false;
  /**
   * Runs a state access with this vCPU out of KVM_RUN. The boot vCPU is only
   * ever in KVM_RUN inside the run loop, so it runs `fn` directly; an AP's
   * thread replaces this (ap.ts).
   */
  quiesce: <T>(fn: () => T) => T = (fn) => fn();
  private readonly regs = new Uint8Array(SIZEOF.kvm_regs);
  private readonly sregs = new Uint8Array(SIZEOF.kvm_sregs);
  private readonly regsView = new DataView(this.regs.buffer);
  private readonly sregsView = new DataView(this.sregs.buffer);

  constructor(
    handle: KvmHandle,
    readonly index: number,
    private readonly cpuid: readonly CpuidEntry[],
    private readonly irqchip: boolean,
  ) {
    this.fd = kvmIoctl(handle.vmFd, 'KVM_CREATE_VCPU', index);
    this.runPage = mapShared(this.fd, handle.vcpuMmapSize, 'mmap kvm_run');
    this.run = new DataView(this.runPage.bytes.buffer, this.runPage.bytes.byteOffset, this.runPage.bytes.byteLength);
    this.setCpuid(cpuid);
  }

  private setCpuid(entries: readonly CpuidEntry[]): void {
    const buf = new Uint8Array(SIZEOF.kvm_cpuid2 + entries.length * SIZEOF.kvm_cpuid_entry2);
    const view = new DataView(buf.buffer);
    view.setUint32(CPUID2.nent, entries.length, true);
    entries.forEach((e, i) => {
      const o = CPUID2.entries + i * SIZEOF.kvm_cpuid_entry2;
      for (const field of ['function', 'index', 'flags', 'eax', 'ebx', 'ecx', 'edx'] as const) {
        view.setUint32(o + CPUID_ENTRY[field], e[field] >>> 0, true);
      }
    });
    kvmIoctl(this.fd, 'KVM_SET_CPUID2', buf);
  }

  /** Power-on state: registers (EDX = CPUID signature), FPU, MSRs, and for APs wait-for-SIPI. */
  reset(): void {
    const state = resetCpuState();
    state.gpr[2] = BigInt(this.cpuidLeaf(1)?.eax ?? 0x600);
    this.setState(state);
    this.resetFpu();
    this.resetMsrs();
    if (this.irqchip) this.setMpState(this.index === 0 ? KVM_MP_STATE.RUNNABLE : KVM_MP_STATE.UNINITIALIZED);
  }

  /** CPUID.1 EAX (signature) and EDX (features), for the MP table's processor entries. */
  get cpuidSignature(): { signature: number; features: number } {
    const leaf = this.cpuidLeaf(1);
    return { signature: leaf?.eax ?? 0, features: leaf?.edx ?? 0 };
  }

  private cpuidLeaf(fn: number): CpuidEntry | undefined {
    return this.cpuid.find((e) => e.function === fn);
  }

  /** x87 FCW 0x37F (all exceptions masked), MXCSR 0x1F80, empty stack (Intel SDM Vol. 3A, 9.1.1). */
  private resetFpu(): void {
    const fpu = new Uint8Array(SIZEOF.kvm_fpu);
    const view = new DataView(fpu.buffer);
    view.setUint16(FPU.fcw, 0x37f, true);
    view.setUint32(FPU.mxcsr, 0x1f80, true);
    kvmIoctl(this.fd, 'KVM_SET_FPU', fpu);
  }

  private resetMsrs(): void {
    const longMode = ((this.cpuidLeaf(0x8000_0001)?.edx ?? 0) >>> 29) & 1;
    for (const [index, value] of longMode ? [...RESET_MSRS, ...RESET_MSRS_64] : RESET_MSRS) {
      if (!this.setMsr(index, value)) log.unimp({ msr: '0x' + index.toString(16) }, 'KVM refused a reset MSR value');
    }
  }

  /** KVM_SET_MSRS for one MSR; false when KVM does not take it. */
  setMsr(index: number, value: bigint): boolean {
    const buf = new Uint8Array(SIZEOF.kvm_msrs + SIZEOF.kvm_msr_entry);
    const view = new DataView(buf.buffer);
    view.setUint32(MSRS.nmsrs, 1, true);
    view.setUint32(MSRS.entries + MSR_ENTRY.index, index, true);
    view.setBigUint64(MSRS.entries + MSR_ENTRY.data, value, true);
    return ioctlErrno(this.fd, 'KVM_SET_MSRS', buf) === 1;
  }

  /** Makes the next or current KVM_RUN return EINTR (api.rst: immediate_exit). From the vCPU's own thread. */
  requestExit(): void {
    this.run.setUint8(RUN.immediate_exit, 1);
  }

  getMpState(): number {
    const buf = new Uint8Array(SIZEOF.kvm_mp_state);
    kvmIoctl(this.fd, 'KVM_GET_MP_STATE', buf);
    return new DataView(buf.buffer).getUint32(MP_STATE.mp_state, true);
  }

  setMpState(state: number): void {
    const buf = new Uint8Array(SIZEOF.kvm_mp_state);
    new DataView(buf.buffer).setUint32(MP_STATE.mp_state, state, true);
    kvmIoctl(this.fd, 'KVM_SET_MP_STATE', buf);
  }

  getState(): CpuState {
    return this.quiesce(() => this.readState());
  }

  setState(state: CpuState): void {
    this.quiesce(() => this.writeState(state));
  }

  translate(linear: bigint): bigint | undefined {
    return this.quiesce(() => this.translateNow(linear));
  }

  private readState(): CpuState {
    kvmIoctl(this.fd, 'KVM_GET_REGS', this.regs);
    kvmIoctl(this.fd, 'KVM_GET_SREGS', this.sregs);
    const r = this.regsView;
    const s = this.sregsView;
    const state = resetCpuState();
    GPR_NAMES.forEach((name, i) => (state.gpr[i] = r.getBigUint64(REGS[name], true)));
    state.rip = r.getBigUint64(REGS.rip, true);
    state.rflags = r.getBigUint64(REGS.rflags, true);
    for (const name of SEGMENT_NAMES) state.seg[name] = readSegment(s, SREG_OFFSET[name]);
    state.ldtr = readSegment(s, SREGS.ldt);
    state.tr = readSegment(s, SREGS.tr);
    state.gdtr = readDtable(s, SREGS.gdt);
    state.idtr = readDtable(s, SREGS.idt);
    state.cr0 = s.getBigUint64(SREGS.cr0, true);
    state.cr2 = s.getBigUint64(SREGS.cr2, true);
    state.cr3 = s.getBigUint64(SREGS.cr3, true);
    state.cr4 = s.getBigUint64(SREGS.cr4, true);
    state.efer = s.getBigUint64(SREGS.efer, true);
    state.halted = this.irqchip ? this.getMpState() === KVM_MP_STATE.HALTED : this.halted;
    return state;
  }

  /**
   * Loads a CpuState. Fields CpuState does not carry (APIC base, CR8, the
   * pending-interrupt bitmap) keep KVM's current values.
   */
  private writeState(state: CpuState): void {
    const r = this.regsView;
    GPR_NAMES.forEach((name, i) => r.setBigUint64(REGS[name], BigInt.asUintN(64, state.gpr[i] ?? 0n), true));
    r.setBigUint64(REGS.rip, BigInt.asUintN(64, state.rip), true);
    r.setBigUint64(REGS.rflags, BigInt.asUintN(64, state.rflags | 2n), true);
    kvmIoctl(this.fd, 'KVM_SET_REGS', this.regs);

    kvmIoctl(this.fd, 'KVM_GET_SREGS', this.sregs);
    const s = this.sregsView;
    for (const name of SEGMENT_NAMES) writeSegment(s, SREG_OFFSET[name], state.seg[name]);
    writeSegment(s, SREGS.ldt, state.ldtr);
    writeSegment(s, SREGS.tr, state.tr);
    writeDtable(s, SREGS.gdt, state.gdtr);
    writeDtable(s, SREGS.idt, state.idtr);
    s.setBigUint64(SREGS.cr0, BigInt.asUintN(64, state.cr0), true);
    s.setBigUint64(SREGS.cr2, BigInt.asUintN(64, state.cr2), true);
    s.setBigUint64(SREGS.cr3, BigInt.asUintN(64, state.cr3), true);
    s.setBigUint64(SREGS.cr4, BigInt.asUintN(64, state.cr4), true);
    s.setBigUint64(SREGS.efer, BigInt.asUintN(64, state.efer), true);
    kvmIoctl(this.fd, 'KVM_SET_SREGS', this.sregs);

    this.halted = state.halted;
    if (this.irqchip && (state.halted || this.index === 0)) {
      this.setMpState(state.halted ? KVM_MP_STATE.HALTED : KVM_MP_STATE.RUNNABLE);
    }
  }

  private translateNow(linear: bigint): bigint | undefined {
    const buf = new Uint8Array(SIZEOF.kvm_translation);
    const view = new DataView(buf.buffer);
    view.setBigUint64(TRANSLATION.linear_address, BigInt.asUintN(64, linear), true);
    if (ioctlErrno(this.fd, 'KVM_TRANSLATE', buf) < 0 || view.getUint8(TRANSLATION.valid) === 0) return undefined;
    return view.getBigUint64(TRANSLATION.physical_address, true);
  }

  destroy(): void {
    this.runPage.unmap();
  }
}

function readSegment(v: DataView, o: number): SegmentState {
  return {
    selector: v.getUint16(o + SEGMENT.selector, true),
    base: v.getBigUint64(o + SEGMENT.base, true),
    limit: v.getUint32(o + SEGMENT.limit, true),
    type: v.getUint8(o + SEGMENT.type),
    s: v.getUint8(o + SEGMENT.s) !== 0,
    dpl: v.getUint8(o + SEGMENT.dpl),
    present: v.getUint8(o + SEGMENT.present) !== 0,
    db: v.getUint8(o + SEGMENT.db) !== 0,
    l: v.getUint8(o + SEGMENT.l) !== 0,
    g: v.getUint8(o + SEGMENT.g) !== 0,
    avl: v.getUint8(o + SEGMENT.avl) !== 0,
    unusable: v.getUint8(o + SEGMENT.unusable) !== 0,
  };
}

function writeSegment(v: DataView, o: number, seg: SegmentState): void {
  v.setBigUint64(o + SEGMENT.base, BigInt.asUintN(64, seg.base), true);
  v.setUint32(o + SEGMENT.limit, seg.limit >>> 0, true);
  v.setUint16(o + SEGMENT.selector, seg.selector & 0xffff, true);
  v.setUint8(o + SEGMENT.type, seg.type & 0xf);
  v.setUint8(o + SEGMENT.present, seg.present ? 1 : 0);
  v.setUint8(o + SEGMENT.dpl, seg.dpl & 3);
  v.setUint8(o + SEGMENT.db, seg.db ? 1 : 0);
  v.setUint8(o + SEGMENT.s, seg.s ? 1 : 0);
  v.setUint8(o + SEGMENT.l, seg.l ? 1 : 0);
  v.setUint8(o + SEGMENT.g, seg.g ? 1 : 0);
  v.setUint8(o + SEGMENT.avl, seg.avl ? 1 : 0);
  v.setUint8(o + SEGMENT.unusable, seg.unusable ? 1 : 0);
}

function readDtable(v: DataView, o: number): TableRegister {
  return { base: v.getBigUint64(o + DTABLE.base, true), limit: v.getUint16(o + DTABLE.limit, true) };
}

function writeDtable(v: DataView, o: number, t: TableRegister): void {
  v.setBigUint64(o + DTABLE.base, BigInt.asUintN(64, t.base), true);
  v.setUint16(o + DTABLE.limit, t.limit & 0xffff, true);
}
