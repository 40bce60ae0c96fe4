/**
 * Opening KVM: /dev/kvm, the API version, the capabilities tsvm uses, and
 * the VM file descriptor. This is the step the machine takes before it
 * builds its address space, because guest RAM must be an mmap KVM can map
 * into the guest (`allocateRam`).
 *
 * Any failure here is reported as one line in QEMU's wording
 * (`failed to initialize kvm: No such file or directory`) so that
 * `-accel kvm:tcg` can fall back and plain `-accel kvm` can exit 1.
 */
import { CAP, CPUID2, CPUID_ENTRY, KVM_API_VERSION, SIZEOF, type CapName } from './abi.js';
import { closeFd, errnoText, kvmIoctl, KvmError, mapAnonymous, O_CLOEXEC, O_RDWR, openFile, type Mapping } from './libc.js';

export const KVM_DEVICE = '/dev/kvm';
const E2BIG = 7;

/** Capabilities without which tsvm does not start. */
const REQUIRED_CAPS: readonly CapName[] = [
  'KVM_CAP_USER_MEMORY',
  'KVM_CAP_SET_TSS_ADDR',
  'KVM_CAP_EXT_CPUID',
  'KVM_CAP_SET_IDENTITY_MAP_ADDR',
  'KVM_CAP_IMMEDIATE_EXIT',
  'KVM_CAP_MP_STATE',
  'KVM_CAP_NR_MEMSLOTS',
];
/** Needed only with kernel_irqchip=on. */
export const IRQCHIP_CAPS: readonly CapName[] = ['KVM_CAP_IRQCHIP', 'KVM_CAP_PIT2'];

export class KvmInitError extends Error {
  constructor(reason: string) {
    super(`failed to initialize kvm: ${reason}`);
    this.name = 'KvmInitError';
  }
}

/** One entry of KVM_GET_SUPPORTED_CPUID. */
export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

export class KvmHandle {
  private readonly mappings: Mapping[] = [];
  private ramMapping: Mapping | undefined;
  private closed = false;

  constructor(
    readonly systemFd: number,
    readonly vmFd: number,
    readonly vcpuMmapSize: number,
  ) {}

  /** KVM_CHECK_EXTENSION on the VM (0 = absent; some return a count). */
  checkExtension(cap: CapName): number {
    return kvmIoctl(this.vmFd, 'KVM_CHECK_EXTENSION', CAP[cap]);
  }

  /** Throws KvmInitError naming the first capability the kernel lacks. */
  requireCaps(caps: readonly CapName[]): void {
    for (const cap of caps) {
      if (this.checkExtension(cap) <= 0) throw new KvmInitError(`kernel lacks ${cap}`);
    }
  }

  /**
   * Guest RAM: one anonymous mapping (zero-filled, backed on first touch)
   * shared by KVM's memory slots and tsvm's devices. Call once.
   */
  allocateRam(bytes: number): Uint8Array {
    if (this.ramMapping) throw new Error('guest RAM already allocated');
    this.ramMapping = this.map(bytes, 'mmap guest RAM');
    return this.ramMapping.bytes;
  }

  /** Host address of guest RAM (for memory slots). */
  get ramAddress(): bigint {
    if (!this.ramMapping) throw new Error('guest RAM not allocated');
    return this.ramMapping.address;
  }

  /** Page-aligned host memory that lives as long as the VM (ROM copies). */
  map(bytes: number, operation: string): Mapping {
    const mapping = mapAnonymous(bytes, operation);
    this.mappings.push(mapping);
    return mapping;
  }

  supportedCpuid(): CpuidEntry[] {
    // E2BIG means "more entries than nent": grow until it fits.
    for (let nent = 128; ; nent *= 2) {
      const buf = new Uint8Array(SIZEOF.kvm_cpuid2 + nent * SIZEOF.kvm_cpuid_entry2);
      const view = new DataView(buf.buffer);
      view.setUint32(CPUID2.nent, nent, true);
      try {
        kvmIoctl(this.systemFd, 'KVM_GET_SUPPORTED_CPUID', buf);
      } catch (e) {
        if (e instanceof KvmError && e.errno === E2BIG && nent < 4096) continue;
        throw e;
      }
      return readCpuidEntries(view);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.mappings) m.unmap();
    this.ramMapping?.unmap();
    closeFd(this.vmFd);
    closeFd(this.systemFd);
  }
}

function readCpuidEntries(view: DataView): CpuidEntry[] {
  const n = view.getUint32(CPUID2.nent, true);
  const entries: CpuidEntry[] = [];
  for (let i = 0; i < n; i++) {
    const o = CPUID2.entries + i * SIZEOF.kvm_cpuid_entry2;
    const u32 = (field: keyof typeof CPUID_ENTRY): number => view.getUint32(o + CPUID_ENTRY[field], true);
    entries.push({
      function: u32('function'),
      index: u32('index'),
      flags: u32('flags'),
      eax: u32('eax'),
      ebx: u32('ebx'),
      ecx: u32('ecx'),
      edx: u32('edx'),
    });
  }
  return entries;
}

/**
 * Opens /dev/kvm, checks the API version and required capabilities (the
 * in-kernel irqchip's too unless `kernelIrqchip` is false, so that a host
 * without them falls back before the machine is built), and creates the VM.
 * Throws KvmInitError with a one-line reason.
 */
export function openKvm(device = KVM_DEVICE, opts: { kernelIrqchip?: boolean } = {}): KvmHandle {
  let systemFd: number;
  try {
    systemFd = openFile(device, O_RDWR | O_CLOEXEC);
  } catch (e) {
    throw new KvmInitError(e instanceof KvmError ? errnoText(e.errno) : String(e));
  }
  let vmFd = -1;
  try {
    const version = kvmIoctl(systemFd, 'KVM_GET_API_VERSION');
    if (version !== KVM_API_VERSION) throw new KvmInitError(`KVM API version ${version}, tsvm needs ${KVM_API_VERSION}`);
    const vcpuMmapSize = kvmIoctl(systemFd, 'KVM_GET_VCPU_MMAP_SIZE');
    vmFd = kvmIoctl(systemFd, 'KVM_CREATE_VM', 0);
    const handle = new KvmHandle(systemFd, vmFd, vcpuMmapSize);
    handle.requireCaps(REQUIRED_CAPS);
    if (opts.kernelIrqchip ?? true) handle.requireCaps(IRQCHIP_CAPS);
    return handle;
  } catch (e) {
    if (vmFd >= 0) closeFd(vmFd);
    closeFd(systemFd);
    if (e instanceof KvmInitError) throw e;
    throw new KvmInitError(e instanceof Error ? e.message : String(e));
  }
}
