/**
 * Reading the files the user names on the command line, with the reason in
 * QEMU's words when it fails (`tsvm: -kernel x: No such file or directory`).
 */
import { readFileSync } from 'node:fs';
import { optionError } from './errors.js';

export function readUserFile(option: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw optionError(option, path, new Error(errnoText(err)));
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
};

/** The C library's strerror text for a Node fs error. */
export function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return (code && ERRNO_TEXT[code]) ?? (err instanceof Error ? err.message : String(err));
}
