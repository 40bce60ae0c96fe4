/**
 * Temporary directories that go when their test file ends: vitest runs this
 * module as a setup file (vitest.config.ts), so each file's afterAll removes
 * the directories its tests and helpers made.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

/** A new directory under the system's temp dir, named `prefix` and a random suffix, removed after the test file. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});
