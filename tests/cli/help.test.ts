/**
 * The texts tsvm prints instead of running: -version, -h and the `help`
 * lists, in QEMU's layout.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CPU_MODELS } from '../../src/accel/cpu-models.js';
import { OPTIONS } from '../../src/cli/options.js';
import { parseCommandLine } from '../../src/cli/parse.js';
import { LOG_CATEGORIES } from '../../src/log.js';
import { requireTool } from '../helpers/tools.js';

function printed(...argv: string[]): string {
  const result = parseCommandLine(argv);
  if (result.kind !== 'print') throw new Error('expected printed text');
  return result.text;
}

const QEMU = 'qemu-system-x86_64';
requireTool(QEMU, 'qemu-system-x86');

describe('-version', () => {
  it('is a version line and a copyright line, as QEMU prints', () => {
    const lines = printed('-version').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^tsvm version \d+\.\d+\.\d+ \(QEMU-compatible command line\)$/);
    expect(lines[1]).toMatch(/^Copyright \(c\) /);
  });

  it('wins over options after it, not over errors before it', () => {
    expect(printed('-version', '-foo')).toContain('tsvm version');
    expect(() => parseCommandLine(['-foo', '-version'])).toThrow('-foo: invalid option');
  });
});

describe('-h', () => {
  const text = printed('-h');

  it('starts with the version and the usage line', () => {
    expect(text.split('\n').slice(0, 3)).toEqual([
      expect.stringMatching(/^tsvm version /),
      expect.stringMatching(/^Copyright /),
      'usage: tsvm [options] [disk_image]',
    ]);
  });

  it('documents every option in the table, under its section', () => {
    for (const o of OPTIONS) expect(text).toContain(`\n-${o.names.map((n) => n).join('/-')}`);
    expect(text).toContain('\nStandard options:\n');
    expect(text).toContain('\nDebug/Expert options:\n');
  });

  it('puts help text at column 16, on the next line when the synopsis is long', () => {
    expect(text).toContain('\n-cpu cpu        select CPU');
    expect(text).toContain("\n-hda/-hdb/-hdc/-hdd file\n                use 'file' as hard disk 0, 1, 2 or 3 image");
  });

  it('-help and --help are the same', () => {
    expect(printed('-help')).toBe(text);
    expect(printed('--help')).toBe(text);
  });
});

describe('help lists', () => {
  it('-machine help', () => {
    expect(printed('-machine', 'help')).toBe(
      'Supported machines are:\n' +
        'pc                   Standard PC (i440FX + PIIX, 1996) (default)\n' +
        'pc-i440fx-X.Y        Standard PC (i440FX + PIIX, 1996) (alias of pc, for any QEMU version X.Y)\n',
    );
    expect(printed('-M', '?')).toBe(printed('-machine', 'help'));
    expect(printed('-machine', 'type=help')).toBe(printed('-machine', 'help'));
  });

  it('-cpu help lists CPU_MODELS as QEMU lists x86 models', () => {
    const lines = printed('-cpu', 'help').trimEnd().split('\n');
    expect(lines[0]).toBe('Available CPUs:');
    expect(lines.slice(1)).toEqual(CPU_MODELS.map((m) => `x86 ${m.name.padEnd(20)}  ${m.description}`));
  });

  it('-device help', () => {
    expect(printed('-device', 'help')).toBe('Misc devices:\nname "isa-debug-exit", bus ISA\nname "isa-debugcon", bus ISA\n');
  });

  it('-device NAME,help lists the properties', () => {
    expect(printed('-device', 'isa-debug-exit,help')).toBe(
      'isa-debug-exit options:\n  iobase=<uint32>        -  (default: 1281)\n  iosize=<uint32>        -  (default: 2)\n',
    );
    expect(printed('-device', 'isa-debugcon,?')).toBe(
      'isa-debugcon options:\n  chardev=<str>          - ID of a chardev to use as a backend\n  iobase=<uint32>        -  (default: 233)\n',
    );
  });

  it('-device isa-debug-exit,help matches qemu-system-x86_64 line for line', () => {
    const qemu = spawnSync(QEMU, ['-device', 'isa-debug-exit,help'], { encoding: 'utf8' }).stdout;
    expect(printed('-device', 'isa-debug-exit,help')).toBe(qemu);
  });

  it('-d help lists LOG_CATEGORIES', () => {
    const lines = printed('-d', 'help').trimEnd().split('\n');
    expect(lines[0]).toBe('Log items (comma separated):');
    expect(lines.slice(1)).toEqual(Object.entries(LOG_CATEGORIES).map(([k, v]) => `${k.padEnd(15)} ${v}`));
  });

  it('-accel help, -display help, -chardev help, -vga help', () => {
    expect(printed('-accel', 'help')).toBe('Accelerators supported in tsvm:\ntcg\nkvm\n');
    expect(printed('-display', 'help')).toBe('Available display backend types:\nnone\ncurses\n');
    expect(printed('-chardev', 'help')).toBe(
      'Available chardev backend types: \n  stdio\n  null\n  file\n  pipe\n  socket\n  vc\n',
    );
    expect(printed('-vga', 'help')).toBe('none                 no graphic card\nstd                  standard VGA (default)\n');
  });
});
