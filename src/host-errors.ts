/**
 * Host error messages in the words QEMU uses: strerror() texts for the errno
 * values that opening images, files and sockets can give, so that users see
 * `Could not open 'x.img': No such file or directory` as from QEMU.
 */

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  EROFS: 'Read-only file system',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ECONNREFUSED: 'Connection refused',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ENOTFOUND: 'Name or service not known',
  ENXIO: 'No such device or address',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EBUSY: 'Device or resource busy',
  ETXTBSY: 'Text file busy',
  EIO: 'Input/output error',
};

export function strerror(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return STRERROR[code] ?? (code || String(err));
}

export function couldNotOpen(path: string, err: unknown): Error {
  return new Error(`Could not open '${path}': ${strerror(err)}`, { cause: err });
}
