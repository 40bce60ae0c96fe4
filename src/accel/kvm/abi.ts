/**
 * The /dev/kvm ABI for x86-64 as numbers: ioctl request codes, capability
 * numbers, exit reasons and struct layouts as byte offsets.
 *
 * Everything here comes from <linux/kvm.h> and <asm/kvm.h> (and the kernel's
 * Documentation/virt/kvm/api.rst). tests/kvm/abi.test.ts compiles a C
 * program against the installed headers and checks every value below, so a
 * typo here fails a test instead of corrupting a guest.
 */

const KVMIO = 0xae;
const IOC_WRITE = 1;
const IOC_READ = 2;

/** The kernel's _IOC(dir, type, nr, size) (include/uapi/asm-generic/ioctl.h). */
function ioc(dir: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (KVMIO << 8) | nr) >>> 0;
}
const io = (nr: number): number => ioc(0, nr, 0);
const ior = (nr: number, size: number): number => ioc(IOC_READ, nr, size);
const iow = (nr: number, size: number): number => ioc(IOC_WRITE, nr, size);
const iowr = (nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, nr, size);

/** Struct sizes in bytes (x86-64). */
export const SIZEOF = {
  kvm_regs: 144,
  kvm_sregs: 312,
  kvm_segment: 24,
  kvm_dtable: 16,
  kvm_userspace_memory_region: 32,
  kvm_cpuid2: 8,
  kvm_cpuid_entry2: 40,
  kvm_msrs: 8,
  kvm_msr_entry: 16,
  kvm_fpu: 416,
  kvm_irq_level: 8,
  kvm_pit_config: 64,
  kvm_interrupt: 4,
  kvm_guest_debug: 72,
  kvm_mp_state: 4,
  kvm_translation: 24,
} as const;

export const IOCTL = {
  // System (/dev/kvm) ioctls.
  KVM_GET_API_VERSION: io(0x00),
  KVM_CREATE_VM: io(0x01),
  KVM_CHECK_EXTENSION: io(0x03),
  KVM_GET_VCPU_MMAP_SIZE: io(0x04),
  KVM_GET_SUPPORTED_CPUID: iowr(0x05, SIZEOF.kvm_cpuid2),
  // VM ioctls.
  KVM_CREATE_VCPU: io(0x41),
  KVM_SET_USER_MEMORY_REGION: iow(0x46, SIZEOF.kvm_userspace_memory_region),
  KVM_SET_TSS_ADDR: io(0x47),
  KVM_SET_IDENTITY_MAP_ADDR: iow(0x48, 8),
  KVM_CREATE_IRQCHIP: io(0x60),
  KVM_IRQ_LINE: iow(0x61, SIZEOF.kvm_irq_level),
  KVM_CREATE_PIT2: iow(0x77, SIZEOF.kvm_pit_config),
  // vCPU ioctls.
  KVM_RUN: io(0x80),
  KVM_GET_REGS: ior(0x81, SIZEOF.kvm_regs),
  KVM_SET_REGS: iow(0x82, SIZEOF.kvm_regs),
  KVM_GET_SREGS: ior(0x83, SIZEOF.kvm_sregs),
  KVM_SET_SREGS: iow(0x84, SIZEOF.kvm_sregs),
  KVM_TRANSLATE: iowr(0x85, SIZEOF.kvm_translation),
  KVM_INTERRUPT: iow(0x86, SIZEOF.kvm_interrupt),
  KVM_GET_MSRS: iowr(0x88, SIZEOF.kvm_msrs),
  KVM_SET_MSRS: iow(0x89, SIZEOF.kvm_msrs),
  KVM_GET_FPU: ior(0x8c, SIZEOF.kvm_fpu),
  KVM_SET_FPU: iow(0x8d, SIZEOF.kvm_fpu),
  KVM_SET_CPUID2: iow(0x90, SIZEOF.kvm_cpuid2),
  KVM_GET_MP_STATE: ior(0x98, SIZEOF.kvm_mp_state),
  KVM_SET_MP_STATE: iow(0x99, SIZEOF.kvm_mp_state),
  KVM_SET_GUEST_DEBUG: iow(0x9b, SIZEOF.kvm_guest_debug),
} as const;

export type IoctlName = keyof typeof IOCTL;

export const KVM_API_VERSION = 12;

/** Capabilities tsvm relies on (KVM_CHECK_EXTENSION). */
export const CAP = {
  KVM_CAP_IRQCHIP: 0,
  KVM_CAP_USER_MEMORY: 3,
  KVM_CAP_SET_TSS_ADDR: 4,
  KVM_CAP_EXT_CPUID: 7,
  KVM_CAP_NR_VCPUS: 9,
  KVM_CAP_NR_MEMSLOTS: 10,
  KVM_CAP_MP_STATE: 14,
  KVM_CAP_PIT2: 33,
  KVM_CAP_SET_IDENTITY_MAP_ADDR: 37,
  KVM_CAP_MAX_VCPUS: 66,
  KVM_CAP_READONLY_MEM: 81,
  KVM_CAP_IMMEDIATE_EXIT: 136,
  /** Answers with the KVM_GUESTDBG_* flags KVM_SET_GUEST_DEBUG accepts (Linux 5.16+). */
  KVM_CAP_SET_GUEST_DEBUG2: 195,
} as const;

export type CapName = keyof typeof CAP;

export const EXIT = {
  KVM_EXIT_UNKNOWN: 0,
  KVM_EXIT_EXCEPTION: 1,
  KVM_EXIT_IO: 2,
  KVM_EXIT_HYPERCALL: 3,
  KVM_EXIT_DEBUG: 4,
  KVM_EXIT_HLT: 5,
  KVM_EXIT_MMIO: 6,
  KVM_EXIT_IRQ_WINDOW_OPEN: 7,
  KVM_EXIT_SHUTDOWN: 8,
  KVM_EXIT_FAIL_ENTRY: 9,
  KVM_EXIT_INTR: 10,
  KVM_EXIT_INTERNAL_ERROR: 17,
  KVM_EXIT_SYSTEM_EVENT: 24,
} as const;

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;
export const KVM_MEM_READONLY = 1 << 1;
export const KVM_SYSTEM_EVENT = { SHUTDOWN: 1, RESET: 2, CRASH: 3 } as const;
export const KVM_MP_STATE = { RUNNABLE: 0, UNINITIALIZED: 1, INIT_RECEIVED: 2, HALTED: 3, SIPI_RECEIVED: 4 } as const;
/** kvm_pit_config.flags: the PIT speaker port 0x61 stays with userspace unless this is set. */
export const KVM_PIT_SPEAKER_DUMMY = 1;

/** struct kvm_run (the per-vCPU page mapped from the vCPU fd). */
export const RUN = {
  request_interrupt_window: 0,
  immediate_exit: 1,
  exit_reason: 8,
  ready_for_interrupt_injection: 12,
  if_flag: 13,
  cr8: 16,
  apic_base: 24,
  // The exit union starts at 32.
  io_direction: 32,
  io_size: 33,
  io_port: 34,
  io_count: 36,
  io_data_offset: 40,
  mmio_phys_addr: 32,
  mmio_data: 40,
  mmio_len: 48,
  mmio_is_write: 52,
  fail_entry_hardware_entry_failure_reason: 32,
  fail_entry_cpu: 40,
  internal_suberror: 32,
  internal_ndata: 36,
  internal_data: 40,
  system_event_type: 32,
  system_event_ndata: 36,
  system_event_data: 40,
} as const;

/** struct kvm_regs: 18 u64 in this order (not the instruction encoding order). */
export const REGS_ORDER = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags'] as const;
export const REGS = Object.fromEntries(REGS_ORDER.map((name, i) => [name, i * 8])) as Record<(typeof REGS_ORDER)[number], number>;

/** struct kvm_segment. */
export const SEGMENT = {
  base: 0,
  limit: 8,
  selector: 12,
  type: 14,
  present: 15,
  dpl: 16,
  db: 17,
  s: 18,
  l: 19,
  g: 20,
  avl: 21,
  unusable: 22,
} as const;

/** struct kvm_dtable. */
export const DTABLE = { base: 0, limit: 8 } as const;

/** struct kvm_sregs. */
export const SREGS = {
  cs: 0,
  ds: 24,
  es: 48,
  fs: 72,
  gs: 96,
  ss: 120,
  tr: 144,
  ldt: 168,
  gdt: 192,
  idt: 208,
  cr0: 224,
  cr2: 232,
  cr3: 240,
  cr4: 248,
  cr8: 256,
  efer: 264,
  apic_base: 272,
  interrupt_bitmap: 280,
} as const;

/** struct kvm_userspace_memory_region. */
export const MEMREGION = { slot: 0, flags: 4, guest_phys_addr: 8, memory_size: 16, userspace_addr: 24 } as const;

/** struct kvm_cpuid2 header and struct kvm_cpuid_entry2. */
export const CPUID2 = { nent: 0, entries: 8 } as const;
export const CPUID_ENTRY = { function: 0, index: 4, flags: 8, eax: 12, ebx: 16, ecx: 20, edx: 24 } as const;
/** kvm_cpuid_entry2.flags: the leaf has subleaves selected by ECX. */
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

/** struct kvm_msrs header and struct kvm_msr_entry. */
export const MSRS = { nmsrs: 0, entries: 8 } as const;
export const MSR_ENTRY = { index: 0, data: 8 } as const;

/** struct kvm_fpu. */
export const FPU = { fpr: 0, fcw: 128, fsw: 130, ftwx: 132, last_opcode: 134, last_ip: 136, last_dp: 144, xmm: 152, mxcsr: 408 } as const;

export const IRQ_LEVEL = { irq: 0, level: 4 } as const;
export const PIT_CONFIG = { flags: 0 } as const;
export const INTERRUPT = { irq: 0 } as const;
export const GUEST_DEBUG = { control: 0, debugreg: 8 } as const;
export const MP_STATE = { mp_state: 0 } as const;
export const TRANSLATION = { linear_address: 0, physical_address: 8, valid: 16 } as const;
