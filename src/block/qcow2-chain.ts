/**
 * Opening an image of any supported format by path, and the backing chain of
 * a qcow2 image: backing files are opened read-only, relative names are
 * resolved against the directory of the image that names them (as QEMU
 * does), the format comes from the backing-format extension or is probed, and
 * a chain that comes back to an image already in it is refused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlockBackend } from './block-backend.js';
import { lockImage } from './lock.js';
import { couldNotOpen } from '../host-errors.js';
import { probeFormat, type ImageFormat } from './probe.js';
import { Qcow2Image, openQcow2, type Qcow2OpenOptions } from './qcow2.js';
import { RawFileBackend } from './raw-file.js';

/** Deeper chains than this are refused rather than exhausting file descriptors. */
const MAX_CHAIN_DEPTH = 256;

/** qcow2's open options (the qcow2-only ones are refused or ignored for raw), and the format when it is not probed. */
export type OpenImageOptions = Omit<Qcow2OpenOptions, 'fd'> & { format?: ImageFormat };

/** Opens `file` as `format` (probed when absent); errors read "Could not open 'file': why". */
export function openImage(file: string, options: OpenImageOptions): BlockBackend {
  let fd: number;
  try {
    fd = fs.openSync(file, options.readOnly ? 'r' : 'r+');
    if (fs.fstatSync(fd).isDirectory()) {
      fs.closeSync(fd);
      throw Object.assign(new Error('EISDIR: is a directory'), { code: 'EISDIR' });
    }
  } catch (err) {
    throw couldNotOpen(file, err);
  }
  try {
    const format = options.format ?? probeFormat(fd);
    if (format === 'qcow2') return openQcow2(file, { ...options, fd });
    if (options.snapshot !== undefined) throw new Error(`Can't find snapshot '${options.snapshot}': raw images have no internal snapshots`);
    if (options.locking !== false) lockImage(fd, file, options.readOnly ? 'read' : 'write');
    // As QEMU does, a probed raw image may not be written into something that probes as another format.
    const guardProbe = options.format === undefined && !options.readOnly;
    return new RawFileBackend(file, fd, { readOnly: options.readOnly, cache: options.cache ?? 'writeback', guardProbe });
  } catch (err) {
    fs.closeSync(fd);
    const message = (err as Error).message;
    const prefix = `Could not open '${file}': `;
    throw new Error(message.startsWith(prefix) ? message : prefix + message, { cause: err });
  }
}

/** Resolves a backing file name as QEMU does: relative to the directory of the image naming it. */
export function resolveBackingPath(imagePath: string, backingName: string): string {
  return path.isAbsolute(backingName) ? backingName : path.join(path.dirname(imagePath), backingName);
}

export function openBackingFile(image: Qcow2Image, chain: readonly string[]): BlockBackend {
  const name = image.header.backingFile!;
  const backingPath = resolveBackingPath(image.path, name);
  const here = [...chain, realPath(image.path)];
  if (here.length > MAX_CHAIN_DEPTH) throw new Error(`Backing chain of '${image.path}' is deeper than ${MAX_CHAIN_DEPTH} images`);
  if (here.includes(realPath(backingPath))) {
    throw new Error(`Could not open backing file: backing chain loop: '${backingPath}' is already in the chain of '${image.path}'`);
  }
  const format = image.header.backingFormat;
  if (format !== undefined && format !== 'raw' && format !== 'qcow2') {
    throw new Error(`Could not open backing file: Unknown driver '${format}'`);
  }
  try {
    return openImage(backingPath, { format, readOnly: true, chain: here });
  } catch (err) {
    throw new Error(`Could not open backing file: ${(err as Error).message}`, { cause: err });
  }
}

function realPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

