/**
 * Advisory image locking, compatible with QEMU's file-posix locking: open
 * file description (OFD) byte-range locks on the image file itself, so a
 * tsvm and a QEMU (or two tsvms) see each other's locks, and the kernel drops
 * them when the process dies (no stale lock files after a SIGKILL).
 *
 * QEMU's scheme (block/file-posix.c, raw_apply_lock_bytes): a user holds a
 * shared lock on byte 100+p for each permission p it uses, and on byte 200+p
 * for each permission it refuses to share. Permission p may be taken only if
 * nobody holds 200+p; it may be refused to others only if nobody holds 100+p.
 *
 * Node has no fcntl(), so the call goes through koffi (already a dependency
 * for KVM). Locks belong to the descriptor: closing it releases them.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';

const PERM_BASE = 100;
const SHARED_BASE = 200;

/** BLK_PERM_* bit numbers and the names QEMU prints for them. */
const PERM_NAMES = ['consistent read', 'write', 'write unchanged', 'resize'] as const;
const CONSISTENT_READ = 0;
const WRITE = 1;
const RESIZE = 3;

const F_OFD_GETLK = 36;
const F_OFD_SETLK = 37;
const F_RDLCK = 0;
const F_WRLCK = 1;
const F_UNLCK = 2;

export type LockMode = 'read' | 'write';

export class ImageLockError extends Error {
  override name = 'ImageLockError';
}

interface Flock {
  l_type: number;
  l_whence: number;
  l_start: number;
  l_len: number;
  l_pid: number;
}

type FcntlFns = { set: (fd: number, fl: Flock) => number; get: (fd: number, fl: Flock) => number };
/** undefined: not loaded yet; null: no fcntl() to be had (locking is skipped, with one warning). */
let fcntlFns: FcntlFns | null | undefined;

function fcntl(): FcntlFns | null {
  if (fcntlFns !== undefined) return fcntlFns;
  try {
    const koffi = createRequire(import.meta.url)('koffi');
    const libc = koffi.load('libc.so.6');
    const flock = koffi.struct('tsvm_flock', { l_type: 'short', l_whence: 'short', l_start: 'int64', l_len: 'int64', l_pid: 'int' });
    const call = libc.func('int fcntl(int, int, ...)');
    const out = koffi.inout(koffi.pointer(flock));
    fcntlFns = {
      set: (fd, fl) => call(fd, F_OFD_SETLK, koffi.pointer(flock), fl),
      get: (fd, fl) => call(fd, F_OFD_GETLK, out, fl),
    };
  } catch (err) {
    // Like QEMU on a host without OFD locks: warn once and go on unlocked rather than refuse every image.
    process.stderr.write(`warning: image locking is not available (${(err as Error).message}); images are opened without locks\n`);
    fcntlFns = null;
  }
  return fcntlFns;
}

/**
 * Locks an open image as QEMU would for this use: a writer uses consistent
 * read, write and resize and shares none of write/resize; a reader uses
 * consistent read and refuses to share write (so `qemu-img info` on a disk a
 * VM writes fails, as it does with QEMU). Throws ImageLockError with QEMU's
 * message when another process holds a conflicting lock.
 */
export function lockImage(fd: number, path: string, mode: LockMode): void {
  const used = mode === 'write' ? [CONSISTENT_READ, WRITE, RESIZE] : [CONSISTENT_READ];
  const unshared = mode === 'write' ? [WRITE, RESIZE] : [WRITE];
  const fns = fcntl();
  if (fns === null) return;
  for (const p of used) takeShared(fns, fd, PERM_BASE + p);
  for (const p of unshared) takeShared(fns, fd, SHARED_BASE + p);
  for (const p of used) {
    if (heldByOther(fns, fd, SHARED_BASE + p)) throw lockError(fns, fd, `Failed to get "${PERM_NAMES[p]}" lock`, path);
  }
  for (const p of unshared) {
    if (heldByOther(fns, fd, PERM_BASE + p)) throw lockError(fns, fd, `Failed to get shared "${PERM_NAMES[p]}" lock`, path);
  }
}

function takeShared(fns: FcntlFns, fd: number, byte: number): void {
  fns.set(fd, { l_type: F_RDLCK, l_whence: 0, l_start: byte, l_len: 1, l_pid: 0 });
}

function heldByOther(fns: FcntlFns, fd: number, byte: number): boolean {
  const probe: Flock = { l_type: F_WRLCK, l_whence: 0, l_start: byte, l_len: 1, l_pid: 0 };
  return fns.get(fd, probe) === 0 && probe.l_type !== F_UNLCK;
}

function lockError(fns: FcntlFns, fd: number, what: string, path: string): ImageLockError {
  fns.set(fd, { l_type: F_UNLCK, l_whence: 0, l_start: 0, l_len: 0, l_pid: 0 });
  return new ImageLockError(`${what}\nIs another process using the image [${path}]?`);
}

/**
 * Creates `path`, or empties it, under a write lock: like qemu-img create,
 * refuse to clobber an image another process is using.
 */
export function createLockedFile(path: string): number {
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  try {
    lockImage(fd, path, 'write');
    fs.ftruncateSync(fd, 0);
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}
