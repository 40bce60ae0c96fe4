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
import { VcChardev } from '../../src/chardev/vc.js';
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
    const d = new CursesDisplay({ textScreen: () => screen, pressChord: () => {} }, [], { stdin: new PassThrough(), stdout });
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
    cells[80 * 3 - 1] = 0x0743; // the end of row 3 and the start of row 4: a cursor move for each row
    cells[80 * 3] = 0x0744;
    d.refresh();
    expect(take()).toBe('\x1b[3;80H\x1b[0;37;40mC\x1b[4;1HD\x1b[1;1H\x1b[?25h');
    d.close();
  });

  it('presses the keys of what is typed on the VGA console; Esc-2 shows a virtual console, which gets the bytes, Esc-1 goes back', async () => {
    const cells = new Uint16Array(80 * 25).fill(0x0720);
    const stdin = new PassThrough();
    let out = '';
    const stdout = new Writable({ write: (chunk, _enc, done) => ((out += chunk.toString()), done()) });
    const pressed: number[][][] = [];
    const vc = new VcChardev('compat_monitor0');
    const typed: string[] = [];
    vc.attach({ canReceive: () => 100, receive: (data) => typed.push(Buffer.from(data).toString('latin1')) });
    vc.write(Buffer.from('(qemu) '));
    const d = new CursesDisplay({ textScreen: () => screenOf(cells), pressChord: (m) => pressed.push(m.map((k) => [...k])) }, [vc], { stdin, stdout });
    const typeIn = async (text: string) => {
      stdin.write(text);
      await new Promise((r) => setImmediate(r));
    };
    await typeIn('A\x1b1');
    expect(pressed).toEqual([[[0x12], [0x1c]]]);
    out = '';
    await typeIn('\x1b2info\r');
    expect(out).toContain('\x1b[1;1H\x1b[0;37;40m(qemu) ');
    expect(typed).toEqual(['info\r']);
    await typeIn('\x1b3x\x1b1b');
    expect(typed).toEqual(['info\r', 'x']); // there is no console 3: the monitor keeps the focus
    expect(pressed).toEqual([[[0x12], [0x1c]], [[0x32]]]);
    d.close();
  });
});

describe('a virtual console', () => {
  const text = (vc: VcChardev, row: number) =>
    String.fromCharCode(...Array.from(vc.textScreen().cells.subarray(row * 80, row * 80 + 80), (c) => c & 0xff)).trimEnd();

  it('takes a terminal\'s output: CR LF, backspace, erase line, wrapping and scrolling', () => {
    const vc = new VcChardev('vc');
    vc.write(Buffer.from('hello\r\nab\b\bxy\r\nline\x1b[1;3H\x1b[K'));
    expect([text(vc, 0), text(vc, 1), text(vc, 2)]).toEqual(['he', 'xy', 'line']);
    vc.write(Buffer.from('\x1b[2J\x1b[H' + 'z'.repeat(81)));
    expect([text(vc, 0), text(vc, 1)]).toEqual(['z'.repeat(80), 'z']);
    vc.write(Buffer.from('\n'.repeat(30) + 'last'));
    // LF keeps the column; the lines scrolled off the top are gone.
    expect([text(vc, 0), text(vc, 24)]).toEqual(['', ' last']);
    expect(vc.textScreen()).toMatchObject({ cursorRow: 24, cursorCol: 5 });
  });
});

describe('tsvm -display curses in a terminal', () => {
  let dir: string;
  const session = `tsvm-curses-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', session);
  function endSession(): void {
    try {
      tmux('kill-session', '-t', session);
    } catch {
      // No session (yet, or any more).
    }
  }
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
      endSession();
      rmSync(dir, { recursive: true, force: true });
    };
  }, 600_000);

  /** Starts tsvm on the syslinux floppy in a fresh 80x25 terminal, from a shell that records the terminal modes before and after. */
  async function startTsvm(name: string): Promise<{ pidfile: string; modes: string }> {
    const pidfile = path.join(dir, `${name}.pid`);
    const modes = path.join(dir, `${name}.stty`);
    const tsvm = [process.execPath, TSVM, '-accel', 'tcg', '-fda', image('floppy.img'), '-snapshot', '-display', 'curses', '-pidfile', pidfile];
    const script = `echo SHELL-BEFORE; stty -a > ${modes}.before; ${tsvm.join(' ')}; stty -a > ${modes}; echo TSVM-EXITED; sleep 600`;
    endSession();
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '25', 'sh', '-c', script);
    const boot = await waitFor(/^boot:/m, "syslinux's prompt");
    expect(boot).toMatch(/SYSLINUX 6\.\d+ CHS \d+ Copyright/);
    expect(boot).not.toContain('SHELL-BEFORE'); // the guest has the whole (alternate) screen
    return { pidfile, modes };
  }

  /** After tsvm: the shell's own screen and the terminal modes it had before. */
  async function expectTerminalBack(modes: string): Promise<void> {
    const after = await waitFor(/TSVM-EXITED/, 'the shell after tsvm');
    expect(after).toContain('SHELL-BEFORE');
    expect(after).not.toContain('SYSLINUX');
    const lflags = (file: string) => readFileSync(file, 'utf8').match(/-?(icanon|echo|isig)\b/g);
    expect(lflags(modes)).toEqual(lflags(`${modes}.before`));
    expect(lflags(modes)).toEqual(expect.arrayContaining(['icanon', 'echo', 'isig']));
  }

  it('shows the guest screen and takes typed keys; Esc-2 is the monitor, whose quit gives the terminal back', async () => {
    const { modes } = await startTsvm('quit');
    tmux('send-keys', '-t', session, 'tsvm', 'Enter');
    await waitFor(/Loading tsvm-floppy-kernel\.\.\. failed: No such file or directory/, 'the answer to the typed label');
    expect(screen()).toMatch(/^boot: tsvm$/m);
    tmux('send-keys', '-t', session, 'Escape', '2');
    await waitFor(/monitor - type 'help' for more information\n\(qemu\)/, 'the monitor');
    expect(screen()).not.toContain('SYSLINUX');
    tmux('send-keys', '-t', session, 'info status', 'Enter');
    await waitFor(/VM status: running/, "the monitor's answer");
    tmux('send-keys', '-t', session, 'Escape', '1');
    await waitFor(/^boot: tsvm$/m, 'the VGA console again');
    tmux('send-keys', '-t', session, 'Escape', '2', 'quit', 'Enter');
    await expectTerminalBack(modes);
  }, 180_000);

  it('gives the terminal back when a signal ends tsvm', async () => {
    const { pidfile, modes } = await startTsvm('signal');
    process.kill(Number(readFileSync(pidfile, 'utf8')), 'SIGTERM');
    await expectTerminalBack(modes);
    expect(existsSync(modes)).toBe(true);
  }, 180_000);
});
