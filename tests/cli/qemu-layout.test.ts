/**
 * What tsvm derives from a command line against what qemu-system-x86_64
 * creates for the same line, read from QEMU's monitor: the chardevs
 * (`info chardev`: the -nographic mux, the default monitor,
 * compat_monitorN, serialN, debugcon) and the drives (`info block`: ids,
 * files, read-only, cache mode, the default CD-ROM). Runs only where QEMU is
 * installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChardevConfig, DriveConfig } from '../../src/config.js';
import { parseCommandLine } from '../../src/cli/parse.js';
import { requireTool } from '../helpers/tools.js';

const QEMU = 'qemu-system-x86_64';
requireTool(QEMU, 'qemu-system-x86');
const dir = mkdtempSync(join(tmpdir(), 'tsvm-chardevs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** QEMU's chardev `filename` reduced to tsvm's backend kinds. */
function qemuKind(filename: string): string {
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

/** Runs QEMU, its monitor on stdio, and returns what `command` printed; `muxed`: the monitor shares stdio with COM1 and needs Ctrl-A c first. */
function qemuMonitor(argv: string[], command: string, muxed = false): string {
  const input = `${muxed ? '\x01c' : ''}${command}\nquit\n`;
  return spawnSync(QEMU, ['-S', ...argv], { cwd: dir, input, encoding: 'utf8', timeout: 10_000 }).stdout;
}

function qemuChardevs(argv: string[], muxed: boolean): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [, id, filename] of qemuMonitor(argv, 'info chardev', muxed).matchAll(/^(\S+): filename=(\S+)/gm)) {
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

describe('chardevs as qemu-system-x86_64 creates them', () => {
  it.each(LINES)('%j', (argv, muxed) => {
    const result = parseCommandLine(argv);
    if (result.kind !== 'run') throw new Error('expected a config');
    expect(tsvmChardevs(result.config.chardevs)).toEqual(qemuChardevs(argv, muxed));
  });
});

/** How `info block` shows each -drive cache= mode. */
const QEMU_CACHE_MODES: Record<string, string> = {
  writeback: 'writeback',
  writethrough: 'writethrough',
  'writeback, direct': 'none',
  'writethrough, direct': 'directsync',
  'writeback, ignore flushes': 'unsafe',
};

/** `info block` as id -> "file ro cache"; an empty drive shows as "-". */
function qemuDrives(argv: string[]): Record<string, string> {
  const shown: Record<string, string> = {};
  const text = qemuMonitor(['-display', 'none', '-monitor', 'stdio', ...argv], 'info block');
  for (const [, id, rest] of text.matchAll(/^(\S+?):? (?:\(#block\d+\): )?(.*)$/gm)) {
    // QEMU's pc has an SD card slot with no controller behind it; tsvm has neither.
    if (id === 'sd0' || id!.startsWith('(qemu)') || id === 'QEMU') continue;
    const file = /^(\S+) \(\w+(, read-only)?\)$/.exec(rest!);
    const cache = /Cache mode:\s+(.*)/.exec(text.slice(text.indexOf(`${id} `)))?.[1]?.trim() ?? '';
    shown[id!] = file ? `${file[1]} ${file[2] ? 'ro' : 'rw'} ${QEMU_CACHE_MODES[cache]}` : '-';
  }
  return shown;
}

function tsvmDrives(drives: readonly DriveConfig[]): Record<string, string> {
  return Object.fromEntries(drives.map((d) => [d.id, d.file === undefined ? '-' : `${d.file} ${d.readonly ? 'ro' : 'rw'} ${d.cache}`]));
}

const DRIVE_LINES: string[][] = [
  [],
  ['-hda', 'a.img', '-cdrom', 'b.img', '-hdb', 'c.img'],
  ['-drive', 'file=a.img,format=raw', '-drive', 'file=b.img,format=raw', '-drive', 'file=c.img,format=raw,cache=writethrough'],
  // (QEMU refuses a read-only IDE disk, "Block node is read-only"; tsvm's ATA disk fails writes instead, so only if=none here.)
  ['-hdc', 'a.img', '-drive', 'file=b.img,format=raw,if=none,id=ro,readonly=on,cache=unsafe'],
  ['-drive', 'file=a.img,format=raw,cache=directsync'],
  ['-drive', 'file=a.img,format=raw,bus=1,unit=1', '-drive', 'file=b.img,format=raw,if=none,id=spare,cache=none'],
  ['-drive', 'if=ide,index=1,media=cdrom'],
  ['-nodefaults', '-hdd', 'a.img'],
];

describe('drives as qemu-system-x86_64 creates them', () => {
  for (const name of ['a.img', 'b.img', 'c.img']) writeFileSync(join(dir, name), Buffer.alloc(1 << 20));

  it.each(DRIVE_LINES)('%j', (...argv) => {
    const result = parseCommandLine(argv);
    if (result.kind !== 'run') throw new Error('expected a config');
    // tsvm's pc has no floppy controller, so no default floppy drive either.
    const { floppy0, ...qemu } = qemuDrives(argv);
    expect(tsvmDrives(result.config.drives)).toEqual(qemu);
  });
});
