import { describe, expect, it } from 'vitest';
import { MuxChardev } from '../../src/chardev/mux.js';
import { bytes, FakeTerminal, Recorder } from './recorder.js';

function setup(escapeChar?: number) {
  const term = new FakeTerminal();
  const quits: number[] = [];
  const commits: number[] = [];
  const mux = new MuxChardev(term, { requestQuit: () => quits.push(1), commitDisks: () => commits.push(1), escapeChar });
  const serial = new Recorder();
  const monitor = new Recorder();
  mux.attach(serial);
  mux.frontend(1).attach(monitor);
  return { term, mux, serial, monitor, quits, commits };
}

describe('chardev mux', () => {
  it('passes input to the focused frontend and output from every frontend', () => {
    const { term, mux, serial, monitor } = setup();
    term.type('ls\r');
    expect(serial.text).toBe('ls\r');
    expect(monitor.text).toBe('');
    mux.write(bytes('guest '));
    mux.frontend(1).write(bytes('(qemu) '));
    expect(term.output).toBe('guest (qemu) ');
  });

  it('Ctrl-A x prints the termination notice and asks to quit', () => {
    const { term, serial, quits } = setup();
    term.type('a\x01xb');
    expect(quits).toEqual([1]);
    expect(term.output).toBe('tsvm: Terminated\n\r');
    expect(serial.text).toBe('ab');
  });

  it('Ctrl-A h prints QEMU\'s escape help', () => {
    const { term, serial } = setup();
    term.type('\x01h');
    expect(term.output).toBe(
      '\n\r' +
        'C-a h    print this help\n\r' +
        'C-a x    exit emulator\n\r' +
        'C-a s    save disk data back to file (if -snapshot)\n\r' +
        'C-a b    send break (magic sysrq)\n\r' +
        'C-a c    switch between console and monitor\n\r' +
        'C-a C-a  sends C-a\n\r',
    );
    expect(serial.text).toBe('');
  });

  it('Ctrl-A c moves the focus between serial and monitor and tells them', () => {
    const { term, serial, monitor } = setup();
    term.type('1\x01c2');
    expect(serial.text).toBe('1');
    expect(monitor.text).toBe('2');
    expect(serial.events).toEqual(['focus-out']);
    expect(monitor.events).toEqual(['focus-in']);
    term.type('\x01c3');
    expect(serial.text).toBe('13');
    expect(monitor.text).toBe('2');
  });

  it('Ctrl-A Ctrl-A and Ctrl-A a send a literal Ctrl-A; other escapes are swallowed', () => {
    const { term, serial, commits } = setup();
    term.type('\x01\x01|\x01a|\x01z|\x01s|\x01b');
    expect(serial.text).toBe('\x01|\x01|||');
    expect(commits).toEqual([1]);
    expect(serial.events).toEqual(['break']);
  });

  it('handles an escape split across two reads and a custom -echr', () => {
    const { term, quits } = setup(0x14); // Ctrl-T
    term.type('\x01');
    term.type('\x14');
    term.type('x');
    expect(quits).toEqual([1]);
    const other = setup(0x7e); // '~'
    other.term.type('~h');
    expect(other.term.output.startsWith('\n\rEscape-Char set to Ascii: 0x7e\n\r\n\r~ h    print this help')).toBe(true);
  });

  it('holds input while the focused frontend is full, and still sees Ctrl-A x', () => {
    const { term, mux, serial, quits } = setup();
    serial.room = 2;
    term.type('abcdef');
    expect(serial.text).toBe('ab');
    term.type('\x01x');
    expect(quits).toEqual([1]);
    serial.room = 10;
    mux.pump();
    expect(serial.text).toBe('abcdef');
  });

  it('closes the backend when the mux is closed, not when a frontend view is', async () => {
    const { term, mux } = setup();
    await mux.frontend(1).close();
    expect(term.closed).toBe(false);
    await mux.close();
    expect(term.closed).toBe(true);
  });
});
