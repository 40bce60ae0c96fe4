/**
 * The few libc calls the KVM backend needs, through koffi (synchronous calls
 * on the calling thread: vCPU ioctls must come from the thread that runs the
 * vCPU, and koffi's async calls hop to a pool thread and cannot be variadic).
 *
 * Every failing call throws a KvmError whose message names the operation and
 * gives the errno text, e.g. `KVM_CREATE_VM: Permission denied`.
 */
import koffi from 'koffi';
import { IOCTL, type IoctlName } from './abi.js';

const libc = koffi.load('libc.so.6');

const c = {
  open: libc.func('int open(const char *path, int flags)'),
  close: libc.func('int close(int fd)'),
  ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)'),
  mmap: libc.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)'),
  munmap: libc.func('int munmap(void *addr, size_t length)'),
  strerror: libc.func('const char *strerror(int errnum)'),
  gettid: libc.func('int gettid()'),
  getpid: libc.func('int getpid()'),
  tgkill: libc.func('int tgkill(int tgid, int tid, int sig)'),
  eventfd: libc.func('int eventfd(unsigned int initval, int flags)'),
  write: libc.func('long write(int fd, const void *buf, unsigned long count)'),
  dlsym: libc.func('void *dlsym(void *handle, const char *name)'),
  signal: libc.func('void *signal(int signum, void *handler)'),
};

export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
const EFD_CLOEXEC = 0o2000000;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_NORESERVE = 0x4000;

export class KvmError extends Error {
  constructor(
    readonly operation: string,
    readonly errno: number,
  ) {
    super(`${operation}: ${errnoText(errno)}`);
    this.name = 'KvmError';
  }
}

export function errnoText(errno: number): string {
  return c.strerror(errno) as string;
}

/** open(2); throws KvmError(`path`, errno). */
export function openFile(path: string, flags: number): number {
  const fd = c.open(path, flags) as number;
  if (fd < 0) throw new KvmError(path, koffi.errno());
  return fd;
}

export function closeFd(fd: number): void {
  c.close(fd);
}

/** A pointer argument for ioctl: a buffer the kernel reads or fills. */
export type IoctlArg = Uint8Array | number | bigint | undefined;

/**
 * ioctl(2) with a KVM request; returns the non-negative result. `arg` is a
 * buffer (passed by address), an integer (passed by value) or nothing.
 */
export function kvmIoctl(fd: number, name: IoctlName, arg?: IoctlArg): number {
  const ret = rawIoctl(fd, IOCTL[name], arg);
  if (ret < 0) throw new KvmError(name, koffi.errno());
  return ret;
}

/** ioctl(2) returning -errno instead of throwing (KVM_RUN's EINTR is routine). */
export function ioctlErrno(fd: number, name: IoctlName, arg?: IoctlArg): number {
  const ret = rawIoctl(fd, IOCTL[name], arg);
  return ret < 0 ? -koffi.errno() : ret;
}

function rawIoctl(fd: number, request: number, arg: IoctlArg): number {
  if (arg instanceof Uint8Array) return c.ioctl(fd, request, 'void *', arg) as number;
  return c.ioctl(fd, request, 'uint64_t', arg ?? 0) as number;
}

/** A host mapping: its address (for KVM_SET_USER_MEMORY_REGION) and a view of its bytes. */
export interface Mapping {
  readonly address: bigint;
  readonly bytes: Uint8Array;
  unmap(): void;
}

/** Anonymous, zero-filled, lazily backed memory (guest RAM). */
export function mapAnonymous(length: number, operation: string): Mapping {
  return map(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, operation);
}

/** A shared mapping of a file descriptor (the vCPU's kvm_run page). */
export function mapShared(fd: number, length: number, operation: string): Mapping {
  return map(length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, operation);
}

function map(length: number, prot: number, flags: number, fd: number, operation: string): Mapping {
  const ptr = c.mmap(null, length, prot, flags, fd, 0);
  const address = koffi.address(ptr) as bigint;
  // MAP_FAILED is (void *)-1.
  if (ptr === null || address === 0xffff_ffff_ffff_ffffn) throw new KvmError(operation, koffi.errno());
  const bytes = new Uint8Array(koffi.view(ptr, length));
  let mapped = true;
  return {
    address,
    bytes,
    unmap() {
      if (mapped) c.munmap(ptr, length);
      mapped = false;
    },
  };
}

export function gettid(): number {
  return c.gettid() as number;
}

export function getpid(): number {
  return c.getpid() as number;
}

/** Sends `signal` to one thread of a process. */
export function tgkill(pid: number, tid: number, signal: number): void {
  c.tgkill(pid, tid, signal);
}

/** An eventfd(2) counter, for waking a thread that poll()s it. */
export function createEventFd(): number {
  const fd = c.eventfd(0, EFD_CLOEXEC) as number;
  if (fd < 0) throw new KvmError('eventfd', koffi.errno());
  return fd;
}

const ONE = new BigUint64Array([1n]);

/** Adds one to an eventfd, making it readable. */
export function signalEventFd(fd: number): void {
  c.write(fd, ONE, 8);
}

/**
 * Gives `signal` a handler that does nothing, so that the signal interrupts
 * blocking system calls (KVM_RUN returns EINTR) without killing the process.
 * The handler must be native code (JavaScript cannot run in a signal
 * handler); libc's getpid() serves: it ignores its argument, has no side
 * effect and is async-signal-safe. glibc's signal() sets SA_RESTART, so
 * Node's other system calls restart transparently.
 */
export function installNoopSignalHandler(signal: number): void {
  // dlsym(RTLD_DEFAULT, ...): RTLD_DEFAULT is the null handle on glibc.
  c.signal(signal, c.dlsym(null, 'getpid'));
}
