/**
 * The chardevs tsvm derives from a command line (the -nographic mux, the
 * default monitor, compat_monitorN, serialN, debugcon) against the ones
 * qemu-system-x86_64 creates for the same line, read from its monitor's
 * `info chardev`. Runs only where QEMU is installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChardevConfig } from '../../src/config.js';
import { parseCommandLine } from '../../src/cli/parse.js';

const QEMU = 'qemu-system-x86_64';
const haveQemu = spawnSync(QEMU, ['-version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'tsvm-chardevs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** QEMU's chardev `filename` reduced to tsvm's backend kinds; a virtual console is a null chardev in tsvm. */
function qemuKind(filename: string): string {
  if (filename === 'vc') return 'null';
  if (filename.startsWith('disconnected:')) return 'socket';
  return filename;
}

/** QEMU shows a mux as `id: mux` plus `id-base: <backend>`. */
function tsvmChardevs(chardevs: readonly ChardevConfig[]): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const c of chardevs) {
    if (c.mux) {
      shown[c.id] = 'mux';
      shown[`${c.id}-base`] = c.backend.kind;
    } else {
      shown[c.id] = c.backend.kind;
    }
  }
  return shown;
}

/** Runs QEMU with its monitor on stdio; `muxed`: the monitor shares stdio with COM1 and needs Ctrl-A c first. */
function qemuChardevs(argv: string[], muxed: boolean): Record<string, string> {
  const input = `${muxed ? '\x01c' : ''}info chardev\nquit\n`;
  const run = spawnSync(QEMU, ['-S', ...argv], { cwd: dir, input, encoding: 'utf8', timeout: 10_000 });
  const shown: Record<string, string> = {};
  for (const [, id, filename] of run.stdout.matchAll(/^(\S+): filename=(\S+)/gm)) {
    // tsvm's pc has no parallel port.
    if (id !== 'parallel0') shown[id!] = qemuKind(filename!);
  }
  return shown;
}

const LINES: [string[], boolean][] = [
  [['-nographic'], true],
  [['-nographic', '-serial', 'null'], false],
  [['-display', 'none', '-monitor', 'stdio'], false],
  [['-display', 'none', '-serial', 'mon:stdio'], true],
  [['-display', 'none', '-monitor', 'stdio', '-serial', 'tcp::4444,server=on,wait=off', '-serial', 'file:com2.txt', '-qmp', 'null', '-debugcon', 'file:dbg.txt'], false],
  [['-display', 'none', '-chardev', 'stdio,id=con,mux=on', '-serial', 'chardev:con', '-mon', 'chardev=con'], true],
  [['-nodefaults', '-display', 'none', '-monitor', 'stdio', '-chardev', 'null,id=n', '-serial', 'chardev:n'], false],
];

describe.runIf(haveQemu)('chardevs as qemu-system-x86_64 creates them', () => {
  it.each(LINES)('%j', (argv, muxed) => {
    const result = parseCommandLine(argv);
    if (result.kind !== 'run') throw new Error('expected a config');
    expect(tsvmChardevs(result.config.chardevs)).toEqual(qemuChardevs(argv, muxed));
  });
});
