import { describe, expect, it } from 'vitest';
import { FakeTerminal } from '../chardev/recorder.js';
import { DebugCon } from '../../src/devices/debugcon.js';
import { PortBus } from '../../src/io/port-bus.js';

describe('isa-debugcon', () => {
  it('sends written bytes to the chardev and reads back 0xE9', () => {
    const io = new PortBus();
    const chardev = new FakeTerminal();
    new DebugCon(io, 0xe9, chardev);
    for (const c of Buffer.from('ok\n')) io.write(0xe9, 1, c);
    expect(chardev.output).toBe('ok\n');
    expect(io.read(0xe9, 1)).toBe(0xe9);
  });

  it('works at SeaBIOS\'s 0x402 and passes only the first byte of a word write', () => {
    const io = new PortBus();
    const chardev = new FakeTerminal();
    new DebugCon(io, 0x402, chardev);
    io.write(0x402, 2, 0x4241);
    expect(chardev.output).toBe('A');
  });
});
