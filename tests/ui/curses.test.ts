/**
 * -display curses: the VGA text screen in a terminal and the terminal's keys
 * as key presses. First the pieces (key decoding, what a redraw sends), then
 * tsvm itself in a real terminal (tmux, 80x25): the built-in BIOS boots the
 * syslinux floppy, its prompt appears on the terminal, typed keys reach
 * syslinux, and after tsvm ends the shell's screen and terminal modes are back.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { CursesDisplay, decodeKeys } from '../../src/ui/curses.js';
import type { TextScreen } from '../../src/devices/vga.js';
import { ensureDiskImages, image } from '../bios/harness.js';
import { requireTool } from '../helpers/tools.js';

requireTool('tmux', 'tmux');
const TSVM = path.resolve(import.meta.dirname, '../../bin/tsvm');

describe('terminal input as keys', () => {
  it('types characters with Shift where a US keyboard needs it, control characters with Ctrl', () => {
    expect(decodeKeys(Buffer.from('aZ1!\r\x7f\t \x03'))).toEqual([
      ['a'], ['shift', 'z'], ['1'], ['shift', '1'], ['ret'], ['backspace'], ['tab'], ['spc'], ['ctrl', 'c'],
    ]);
  });

  it('decodes cursor, editing and function key sequences, and Esc then a key as Alt', () => {
    expect(decodeKeys(Buffer.from('\x1b[A\x1bOD\x1b[3~\x1b[6~\x1bOP\x1b[24~\x1b[Z\x1bx\x1b2'))).toEqual([
      ['up'], ['left'], ['delete'], ['pgdn'], ['f1'], ['f12'], ['shift', 'tab'], ['alt', 'x'], ['alt', '2'],
    ]);
  });
});

describe('drawing the text screen', () => {
  function display(screen: TextScreen) {
    let out = '';
    const stdout = new Writable({ write: (chunk, _enc, done) => ((out += chunk.toString()), done()) });
    const d = new CursesDisplay({ textScreen: () => screen, pressChord: () => {} }, { stdin: new PassThrough(), stdout });
    const take = () => {
      const o = out;
      out = '';
      return o;
    };
    return { d, take };
  }

  function screenOf(cells: Uint16Array, cursorRow = 0, cursorCol = 0): TextScreen {
    return { cols: 80, rows: 25, cells, cursorRow, cursorCol, cursorVisible: true };
  }

  it('enters the alternate screen, maps code page 437 and attributes to ANSI, moves the cursor, leaves on close', () => {
    const cells = new Uint16Array(80 * 25).fill(0x0720);
    cells[0] = 0x1f00 | 0xc9; // ╔, bright white on blue
    cells[1] = 0x4e00 | 0x01; // ☺, yellow on red
    const { d, take } = display(screenOf(cells, 3, 7));
    const first = take();
    expect(first).toContain('\x1b[?1049h');
    expect(first).toContain('\x1b[0;97;44m╔\x1b[0;93;41m☺\x1b[0;37;40m ');
    expect(first.endsWith('\x1b[4;8H\x1b[?25h')).toBe(true);
    d.close();
    expect(take()).toContain('\x1b[?1049l');
  });

  it('redraws only the cells that changed, and nothing when nothing did', () => {
    const cells = new Uint16Array(80 * 25).fill(0x0720);
    const { d, take } = display(screenOf(cells));
    take();
    d.refresh();
    expect(take()).toBe('');
    cells[80 * 2 + 5] = 0x0741; // "A" at row 3, column 6
    cells[80 * 2 + 6] = 0x0742;
    d.refresh();
    expect(take()).toBe('\x1b[3;6H\x1b[0;37;40mAB\x1b[1;1H\x1b[?25h');
    d.close();
  });

  it('presses the keys of what is typed; Esc-1 selects the (only) VGA console and reaches no key', async () => {
    const cells = new Uint16Array(80 * 25);
    const stdin = new PassThrough();
    const pressed: number[][][] = [];
    const d = new CursesDisplay({ textScreen: () => screenOf(cells), pressChord: (m) => pressed.push(m.map((k) => [...k])) }, { stdin, stdout: new Writable({ write: (_c, _e, done) => done() }) });
    stdin.write('A\x1b1');
    await new Promise((r) => setImmediate(r));
    expect(pressed).toEqual([[[0x12], [0x1c]]]);
    d.close();
  });
});

describe('tsvm -display curses in a terminal', () => {
  let dir: string;
  const session = `tsvm-curses-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', session);
  async function waitFor(text: RegExp, what: string): Promise<string> {
    for (let i = 0; i < 600; i++) {
      const s = screen();
      if (text.test(s)) return s;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${what} did not appear; the terminal shows:\n${screen()}`);
  }

  beforeAll(() => {
    ensureDiskImages();
    dir = mkdtempSync(path.join(tmpdir(), 'tsvm-curses-'));
    return () => {
      try {
        tmux('kill-session', '-t', session);
      } catch {
        // Already gone.
      }
      rmSync(dir, { recursive: true, force: true });
    };
  }, 600_000);

  it('shows the guest screen, takes typed keys, and gives the terminal back when tsvm ends', async () => {
    const pidfile = path.join(dir, 'tsvm.pid');
    const modes = path.join(dir, 'stty.txt');
    const tsvm = [process.execPath, TSVM, '-accel', 'tcg', '-fda', image('floppy.img'), '-snapshot', '-display', 'curses', '-pidfile', pidfile];
    const script = `echo SHELL-BEFORE; stty -a > ${modes}.before; ${tsvm.join(' ')}; stty -a > ${modes}; echo TSVM-EXITED; sleep 600`;
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '25', 'sh', '-c', script);
    const boot = await waitFor(/^boot:/m, "syslinux's prompt");
    expect(boot).toMatch(/SYSLINUX 6\.\d+ CHS \d+ Copyright/);
    expect(boot).not.toContain('SHELL-BEFORE'); // the guest has the whole (alternate) screen
    tmux('send-keys', '-t', session, 'tsvm', 'Enter');
    await waitFor(/Loading tsvm-floppy-kernel\.\.\. failed: No such file or directory/, 'the answer to the typed label');
    expect(screen()).toMatch(/^boot: tsvm$/m);
    process.kill(Number(readFileSync(pidfile, 'utf8')), 'SIGTERM');
    const after = await waitFor(/TSVM-EXITED/, 'the shell after tsvm');
    expect(after).toContain('SHELL-BEFORE');
    expect(after).not.toContain('SYSLINUX');
    expect(existsSync(modes)).toBe(true);
    const lflags = (file: string) => readFileSync(file, 'utf8').match(/-?(icanon|echo|isig)\b/g);
    expect(lflags(modes)).toEqual(lflags(`${modes}.before`));
    expect(lflags(modes)).toEqual(expect.arrayContaining(['icanon', 'echo', 'isig']));
  }, 180_000);
});
