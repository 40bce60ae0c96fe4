/**
 * The KVM accelerator: a VM over the machine's RAM, its vCPUs, and the run
 * loop that turns KVM exits into port, MMIO and lifecycle events.
 *
 * Threads. The boot vCPU runs on the main thread, calling KVM_RUN
 * synchronously, because every exit lands in the device model, which is
 * single-threaded JavaScript on the main thread. A kicker thread
 * (kicker.ts) brings KVM_RUN back when a device timer is due, when the
 * event loop has I/O (stdin, sockets, signals, monitors) or when its slice
 * is over, so the host stays responsive whether the guest spins or idles,
 * and an idle guest sleeps in the kernel. Application processors (-smp) run
 * in their own threads (ap.ts) and forward their rare exits here, kicking
 * the main thread the same way.
 *
 * Used by the machine as:
 *   const kvm = openKvm();                       // fails fast: KvmInitError
 *   const ram = kvm.allocateRam(bytes);          // the AddressSpace's buffer
 *   const mem = new AddressSpace(bytes, limit, ram); ... devices, ROMs ...
 *   const accel = new KvmAccelerator(kvm, bus, { kernelIrqchip, cpuModel });
 *   accel.vcpus[0].setState(bootState); await accel.run();
 */
import type { Accelerator, MachineBus, RunStop } from '../accel.js';
import type { AccelName } from '../../config.js';
import type { IrqSink } from '../../io/irq.js';
import type { AccessSize, RomRegion } from '../../memory/address-space.js';
import { log, logOn } from '../../log.js';
import { EXIT, INTERRUPT, KVM_EXIT_IO_OUT, KVM_MEM_READONLY, KVM_SYSTEM_EVENT, MEMREGION, RUN, SIZEOF } from './abi.js';
import { buildCpuid } from './cpuid.js';
import { createKernelIrqchip, KernelIrqSink } from './irqchip.js';
import { IDLE_SLICE_MS, jsTimersPending, Kicker, monotonicMs, SLICE_MS } from './kicker.js';
import { IRQCHIP_CAPS, KvmHandle } from './handle.js';
import { errnoText, ioctlErrno, kvmIoctl, type Mapping } from './libc.js';
import { planRange, planSlots, romBytes, samePlan, type SlotPlan } from './memslots.js';
import { KvmVcpu } from './vcpu.js';
import { formatCpuState } from './dump.js';
import { ApThreads } from './ap.js';
import { writeMpTable } from './mptable.js';

export interface KvmOptions {
  /** 'on': KVM's PIC/IOAPIC/LAPIC/PIT; 'off': tsvm's PIC and PIT through bus.intr. */
  kernelIrqchip: 'on' | 'off';
  cpuModel: string;
}

/** Where QEMU puts the pages KVM needs for real-mode emulation on VMX (just below a 256 KiB BIOS). */
const IDENTITY_MAP_ADDR = 0xfffb_c000n;
const TSS_ADDR = 0xfffb_d000;
const EINTR = 4;
const EAGAIN = 11;

export class KvmAccelerator implements Accelerator {
  readonly name: AccelName = 'kvm';
  readonly vcpus: KvmVcpu[] = [];
  /** True when the kernel emulates the PIC and PIT: the machine must not create its own. */
  readonly kernelIrqchip: boolean;
  /** KVM_IRQ_LINE into the in-kernel irqchip (installed on bus.irq already); undefined with irqchip off. */
  readonly irqSink: IrqSink | undefined;
  private readonly boot: KvmVcpu;
  private readonly kicker: Kicker;
  private readonly aps: ApThreads | undefined;
  private readonly romMappings = new Map<RomRegion, Mapping>();
  /** KVM's memory slots as set: slot number -> what it maps (undefined: free). */
  private readonly slots: (SlotPlan | undefined)[] = [];
  private readonlyMem = false;
  private maxSlots = 0;
  /** The gdbstub's handler of KVM_EXIT_DEBUG (src/gdbstub/kvm-debug.ts); it pauses the VM. */
  debugExit: ((run: DataView) => void) | undefined;
  private pauseRequested = false;
  private nextYield = 0;
  private publishedDeadline = NaN;
  private publishedYield = NaN;
  /** Resolves the idle wait of a halted vCPU (irqchip off). */
  private wake: (() => void) | undefined;

  constructor(
    private readonly handle: KvmHandle,
    private readonly bus: MachineBus,
    opts: KvmOptions,
  ) {
    this.kernelIrqchip = opts.kernelIrqchip === 'on';
    if (this.kernelIrqchip) handle.requireCaps(IRQCHIP_CAPS);
    else if (bus.smp > 1) throw new Error('-smp needs kernel_irqchip=on under kvm');
    const maxVcpus = handle.checkExtension('KVM_CAP_MAX_VCPUS');
    if (bus.smp > maxVcpus) {
      throw new Error(`Number of SMP cpus requested (${bus.smp}) exceeds the maximum cpus supported by KVM (${maxVcpus})`);
    }
    kvmIoctl(handle.vmFd, 'KVM_SET_IDENTITY_MAP_ADDR', u64Arg(IDENTITY_MAP_ADDR));
    kvmIoctl(handle.vmFd, 'KVM_SET_TSS_ADDR', TSS_ADDR);
    if (this.kernelIrqchip) {
      createKernelIrqchip(handle.vmFd);
      this.irqSink = new KernelIrqSink(handle.vmFd);
      bus.irq.setSink(this.irqSink);
    }
    this.mapMemory();

    const supported = handle.supportedCpuid();
    const cpuid = (apicId: number) =>
      buildCpuid(supported, { model: opts.cpuModel, apicId, smp: bus.smp, irqchip: this.kernelIrqchip });
    this.boot = new KvmVcpu(handle, 0, cpuid(0), this.kernelIrqchip);
    this.vcpus.push(this.boot);
    this.boot.reset();
    this.kicker = new Kicker(this.boot.fd, handle.vcpuMmapSize);
    for (let index = 1; index < bus.smp; index++) {
      const ap = new KvmVcpu(handle, index, cpuid(index), this.kernelIrqchip);
      ap.reset();
      this.vcpus.push(ap);
    }
    if (bus.smp > 1) {
      this.aps = new ApThreads(this.vcpus.slice(1), this.boot.fd, handle.vcpuMmapSize, (vcpu, run) => this.handleForwardedExit(vcpu, run));
    }

    bus.irq.onChange(() => this.wake?.());
    bus.lifecycle.onRequest(() => this.wake?.());
  }

  /** The KVM_GUESTDBG_* flags this host's KVM_SET_GUEST_DEBUG accepts (KVM_CAP_SET_GUEST_DEBUG2; 0 before Linux 5.16). */
  guestDebugFlags(): number {
    return this.handle.checkExtension('KVM_CAP_SET_GUEST_DEBUG2');
  }

  /** One memory slot per run of RAM or ROM pages (memslots.ts), kept in step with remaps of the page map (PAM). */
  private mapMemory(): void {
    this.readonlyMem = this.handle.checkExtension('KVM_CAP_READONLY_MEM') > 0;
    this.maxSlots = this.handle.checkExtension('KVM_CAP_NR_MEMSLOTS');
    const mem = this.bus.mem;
    this.updateSlots(planSlots(mem, this.readonlyMem), () => true);
    mem.onRemap((changed) => {
      const window = mem.remapWindows.find((w) => changed >= w.base && changed < w.base + w.size)!;
      const end = window.base + window.size;
      this.updateSlots(planRange(mem, this.readonlyMem, window.base, end), (plan) => plan.base >= window.base && plan.base < end);
    });
  }

  /**
   * Makes KVM's slots for which `inScope` holds the `wanted` ones: slots
   * that no longer fit are deleted before new ones are added, since KVM
   * refuses overlapping slots and cannot resize a slot or change its memory
   * or read-only flag in place. Runs on the main thread between exits; an
   * AP touching a deleted range meanwhile exits as MMIO, which handleMmio
   * answers from the address space.
   */
  private updateSlots(wanted: SlotPlan[], inScope: (plan: SlotPlan) => boolean): void {
    const added = wanted.filter((plan) => !this.slots.some((have) => have && samePlan(have, plan)));
    this.slots.forEach((have, slot) => {
      if (have && inScope(have) && !wanted.some((plan) => samePlan(have, plan))) {
        this.setSlot(slot, { ...have, size: 0 });
        this.slots[slot] = undefined;
      }
    });
    for (const plan of added) {
      let slot = this.slots.indexOf(undefined);
      if (slot < 0) slot = this.slots.length;
      if (slot >= this.maxSlots) throw new Error(`guest memory map needs more than the ${this.maxSlots} KVM memory slots KVM has`);
      this.setSlot(slot, plan);
      this.slots[slot] = plan;
    }
  }

  /** KVM_SET_USER_MEMORY_REGION; a size of 0 deletes the slot. */
  private setSlot(slot: number, plan: SlotPlan): void {
    const region = new Uint8Array(SIZEOF.kvm_userspace_memory_region);
    const view = new DataView(region.buffer);
    const host = plan.kind === 'ram' ? this.handle.ramAddress : this.romMapping(plan.region).address;
    const readonly = plan.kind === 'rom' || plan.readonly;
    view.setUint32(MEMREGION.slot, slot, true);
    view.setUint32(MEMREGION.flags, readonly ? KVM_MEM_READONLY : 0, true);
    view.setBigUint64(MEMREGION.guest_phys_addr, BigInt(plan.base), true);
    view.setBigUint64(MEMREGION.memory_size, BigInt(plan.size), true);
    view.setBigUint64(MEMREGION.userspace_addr, host + BigInt(plan.offset), true);
    kvmIoctl(this.handle.vmFd, 'KVM_SET_USER_MEMORY_REGION', region);
  }

  /** A page-aligned copy of a ROM's bytes for a read-only slot. */
  private romMapping(rom: RomRegion): Mapping {
    let m = this.romMappings.get(rom);
    if (!m) {
      m = this.handle.map(romBytes(rom), `mmap ROM ${rom.name}`);
      m.bytes.fill(0xff);
      m.bytes.set(rom.data);
      this.romMappings.set(rom, m);
    }
    return m;
  }

  async run(): Promise<RunStop> {
    const { lifecycle } = this.bus;
    this.pauseRequested = false;
    this.nextYield = this.sliceEnd();
    this.aps?.start();
    try {
      for (;;) {
        this.aps?.serviceExits();
        if (lifecycle.hasRequest) return 'request';
        if (this.pauseRequested) return 'paused';
        this.bus.timers.runExpired();
        if (this.boot.halted && !this.kernelIrqchip && !this.interruptCanWake()) {
          await this.idle();
          continue;
        }
        if (this.kicker.takeIoKick() || monotonicMs() >= this.nextYield) {
          this.quietKicker();
          await new Promise(setImmediate);
          this.nextYield = this.sliceEnd();
          continue;
        }
        this.runGuest();
      }
    } catch (e) {
      // A device or binding failure must end tsvm with a message, not an exception.
      lifecycle.request({ kind: 'error', message: e instanceof Error ? e.message : String(e) });
      return 'request';
    } finally {
      this.quietKicker();
      this.aps?.park();
    }
  }

  /**
   * The hot loop: KVM_RUN and its exits, without returning to the event
   * loop, until a kick, a halt (irqchip off) or a lifecycle request.
   */
  private runGuest(): void {
    const vcpu = this.boot;
    const run = vcpu.run;
    for (;;) {
      this.publishWakeTime();
      if (!this.kernelIrqchip) this.injectInterrupt(vcpu);
      const ret = ioctlErrno(vcpu.fd, 'KVM_RUN');
      if (ret < 0) {
        run.setUint8(RUN.immediate_exit, 0);
        // EINTR/EAGAIN: a kick (kicker.ts, or an AP with an exit for us).
        if (ret !== -EINTR && ret !== -EAGAIN) this.bus.lifecycle.request({ kind: 'error', message: `KVM_RUN: ${errnoText(-ret)}` });
        return;
      }
      if (this.handleExit(vcpu, run.getUint32(RUN.exit_reason, true))) return;
      if (this.bus.lifecycle.hasRequest || this.pauseRequested) return;
    }
  }

  /** Dispatches one exit of the boot vCPU; true when the hot loop must return to run(). */
  private handleExit(vcpu: KvmVcpu, reason: number): boolean {
    switch (reason) {
      case EXIT.KVM_EXIT_IO:
        handlePio(vcpu.run, this.bus);
        return false;
      case EXIT.KVM_EXIT_MMIO:
        handleMmio(vcpu.run, this.bus);
        return false;
      case EXIT.KVM_EXIT_IRQ_WINDOW_OPEN:
      case EXIT.KVM_EXIT_INTR:
        return false;
      case EXIT.KVM_EXIT_HLT:
        // Only with kernel_irqchip=off: run() waits for an interrupt.
        vcpu.halted = true;
        return true;
      default:
        return this.handleRareExit(vcpu, vcpu.run, reason);
    }
  }

  /** An AP's exit, forwarded from its thread (ap.ts). Returns true when the VM must stop. */
  private handleForwardedExit(vcpu: KvmVcpu, run: DataView): boolean {
    const reason = run.getUint32(RUN.exit_reason, true);
    if (reason === EXIT.KVM_EXIT_IO) handlePio(run, this.bus);
    else if (reason === EXIT.KVM_EXIT_MMIO) handleMmio(run, this.bus);
    else if (reason !== EXIT.KVM_EXIT_HLT) this.handleRareExit(vcpu, run, reason);
    return this.bus.lifecycle.hasRequest;
  }

  /**
   * Shutdown, errors and system events; `run` is the vCPU's kvm_run (or an
   * AP's copy of it). Returns true when a lifecycle request was posted.
   */
  private handleRareExit(vcpu: KvmVcpu, run: DataView, reason: number): boolean {
    const { lifecycle } = this.bus;
    switch (reason) {
      case EXIT.KVM_EXIT_DEBUG:
        if (!this.debugExit) return this.fatal(vcpu, 'KVM: debug exit without a debugger');
        this.debugExit(run);
        return true;
      case EXIT.KVM_EXIT_SHUTDOWN:
        log.int({ cpu: vcpu.index }, 'triple fault');
        lifecycle.request({ kind: 'reset', cause: 'triple fault' });
        return true;
      case EXIT.KVM_EXIT_FAIL_ENTRY: {
        const hw = run.getBigUint64(RUN.fail_entry_hardware_entry_failure_reason, true);
        return this.fatal(vcpu, `KVM: entry failed, hardware error 0x${hw.toString(16)}`);
      }
      case EXIT.KVM_EXIT_INTERNAL_ERROR:
        return this.fatal(vcpu, `KVM internal error. Suberror: ${run.getUint32(RUN.internal_suberror, true)}`);
      case EXIT.KVM_EXIT_SYSTEM_EVENT:
        return this.systemEvent(run.getUint32(RUN.system_event_type, true));
      default:
        return this.fatal(vcpu, `KVM: unhandled exit reason ${reason}`);
    }
  }

  private systemEvent(type: number): boolean {
    const { lifecycle } = this.bus;
    if (type === KVM_SYSTEM_EVENT.SHUTDOWN) lifecycle.request({ kind: 'poweroff', cause: 'KVM system event' });
    else if (type === KVM_SYSTEM_EVENT.RESET) lifecycle.request({ kind: 'reset', cause: 'KVM system event' });
    else if (type === KVM_SYSTEM_EVENT.CRASH) lifecycle.request({ kind: 'error', message: 'KVM: guest crashed' });
    else return false;
    return true;
  }

  /** Ends the VM with QEMU's wording; registers go to `-d cpu`. */
  private fatal(vcpu: KvmVcpu, message: string): boolean {
    if (logOn.cpu) {
      try {
        log.cpu({ cpu: vcpu.index, registers: formatCpuState(vcpu.getState()) }, message);
      } catch (e) {
        log.cpu({ cpu: vcpu.index, error: String(e) }, message);
      }
    }
    this.bus.lifecycle.request({ kind: 'error', message });
    return true;
  }

  /** When the event loop gets its next turn even without I/O (for JavaScript timers). */
  private sliceEnd(): number {
    return monotonicMs() + (jsTimersPending() ? SLICE_MS : IDLE_SLICE_MS);
  }

  /** Tells the kicker when to bring us back: the next device timer or the end of the slice. */
  private publishWakeTime(): void {
    const deadline = this.bus.timers.nextDeadline();
    if (deadline === this.publishedDeadline && this.nextYield === this.publishedYield) return;
    this.publishedDeadline = deadline;
    this.publishedYield = this.nextYield;
    const timerAt = deadline === Infinity ? Infinity : monotonicMs() + (deadline - this.bus.clock.now()) / 1e6;
    this.kicker.wakeAt(Math.min(timerAt, this.nextYield));
  }

  /** No kicks while the main thread is out of KVM_RUN. */
  private quietKicker(): void {
    this.kicker.wakeAt(Infinity);
    this.publishedDeadline = NaN;
  }

  /**
   * kernel_irqchip=off: hands the PIC's vector to KVM when the guest can take
   * it (api.rst, KVM_INTERRUPT), otherwise asks KVM to exit as soon as it can.
   */
  private injectInterrupt(vcpu: KvmVcpu): void {
    const run = vcpu.run;
    if (!this.bus.intr.hasInterrupt()) {
      run.setUint8(RUN.request_interrupt_window, 0);
      return;
    }
    if (run.getUint8(RUN.ready_for_interrupt_injection) && run.getUint8(RUN.if_flag)) {
      const buf = new Uint8Array(SIZEOF.kvm_interrupt);
      new DataView(buf.buffer).setUint32(INTERRUPT.irq, this.bus.intr.acknowledge() & 0xff, true);
      kvmIoctl(vcpu.fd, 'KVM_INTERRUPT', buf);
      vcpu.halted = false;
      run.setUint8(RUN.request_interrupt_window, 0);
    } else {
      run.setUint8(RUN.request_interrupt_window, 1);
    }
  }

  /** A halted vCPU (irqchip off) wakes for an interrupt it can take. */
  private interruptCanWake(): boolean {
    return this.bus.intr.hasInterrupt() && this.boot.run.getUint8(RUN.if_flag) !== 0;
  }

  /** Sleeps in the event loop until a timer is due, a line changes, or a request or pause comes. */
  private idle(): Promise<void> {
    this.quietKicker();
    return new Promise((resolve) => {
      const deadline = this.bus.timers.nextDeadline();
      const timer =
        deadline === Infinity ? undefined : setTimeout(() => this.wake?.(), Math.max(0, (deadline - this.bus.clock.now()) / 1e6));
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  pause(): void {
    this.pauseRequested = true;
    this.boot.requestExit();
    this.wake?.();
  }

  resetVcpus(): void {
    for (const vcpu of this.vcpus) vcpu.reset();
  }

  /**
   * The MP table (Intel MP spec 1.4) through which a multiprocessor guest
   * finds its application processors and the in-kernel IOAPIC. It lives in
   * the EBDA, so it is only written where several CPUs need it.
   */
  writePlatformTables(): void {
    if (!this.kernelIrqchip || this.bus.smp < 2) return;
    writeMpTable(this.bus.mem, { cpus: this.bus.smp, ...this.vcpus[0]!.cpuidSignature });
  }

  destroy(): void {
    this.kicker.destroy();
    this.aps?.destroy();
    for (const vcpu of this.vcpus) vcpu.destroy();
    this.handle.close();
  }
}

function u64Arg(value: bigint): Uint8Array {
  const buf = new Uint8Array(8);
  new DataView(buf.buffer).setBigUint64(0, value, true);
  return buf;
}

/** KVM_EXIT_IO: `count` accesses of `size` bytes (string I/O when count > 1) through the data area. */
export function handlePio(run: DataView, bus: MachineBus): void {
  const size = run.getUint8(RUN.io_size) as AccessSize;
  const port = run.getUint16(RUN.io_port, true);
  const count = run.getUint32(RUN.io_count, true);
  const out = run.getUint8(RUN.io_direction) === KVM_EXIT_IO_OUT;
  let at = Number(run.getBigUint64(RUN.io_data_offset, true));
  if ((size !== 1 && size !== 2 && size !== 4) || at + count * size > run.byteLength) {
    log.guest_errors({ port, size, count }, 'malformed KVM I/O exit');
    return;
  }
  for (let i = 0; i < count; i++, at += size) {
    if (out) bus.io.write(port, size, readLe(run, at, size));
    else writeLe(run, at, size, bus.io.read(port, size));
  }
}

/** KVM_EXIT_MMIO: an access of 1-8 bytes to a page without a memory slot. */
export function handleMmio(run: DataView, bus: MachineBus): void {
  const addr = Number(run.getBigUint64(RUN.mmio_phys_addr, true));
  const len = run.getUint32(RUN.mmio_len, true);
  const write = run.getUint8(RUN.mmio_is_write) !== 0;
  if (len < 1 || len > 8) return;
  // An AP may exit for a page that is RAM by now: a remap deleted its slot
  // just before adding the new one (updateSlots). It gets the RAM, bytewise.
  if (bus.mem.ramOffset(addr) >= 0) {
    for (let i = 0; i < len; i++) {
      if (write) bus.mem.write8(addr + i, run.getUint8(RUN.mmio_data + i));
      else run.setUint8(RUN.mmio_data + i, bus.mem.read8(addr + i));
    }
    return;
  }
  // Whole 1/2/4-byte accesses go to the region as one; anything else in pieces.
  for (let done = 0; done < len; ) {
    const size: AccessSize = len - done >= 4 && (len === 4 || len === 8) ? 4 : len - done >= 2 && len === 2 ? 2 : 1;
    const at = RUN.mmio_data + done;
    if (write) bus.mem.writeSlow(addr + done, size, readLe(run, at, size));
    else writeLe(run, at, size, bus.mem.readSlow(addr + done, size));
    done += size;
  }
}

function readLe(view: DataView, at: number, size: AccessSize): number {
  return size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at, true) : view.getUint32(at, true);
}

function writeLe(view: DataView, at: number, size: AccessSize, value: number): void {
  if (size === 1) view.setUint8(at, value);
  else if (size === 2) view.setUint16(at, value, true);
  else view.setUint32(at, value >>> 0, true);
}
