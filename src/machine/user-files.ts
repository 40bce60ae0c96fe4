/**
 * Reading the files the user names on the command line, with the reason in
 * QEMU's words when it fails (`tsvm: -kernel x: No such file or directory`).
 */
import { readFileSync } from 'node:fs';
import { strerror } from '../host-errors.js';
import { optionError } from './errors.js';

export function readUserFile(option: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw optionError(option, path, new Error(strerror(err)));
  }
}
