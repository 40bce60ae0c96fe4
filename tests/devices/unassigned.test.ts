/**
 * Unassigned ports and memory: what the guest reads, and the `-d unimp`
 * lines a user sees in the -D file (and only with the category on).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configureLogging, logOn } from '../../src/log.js';
import { PortBus } from '../../src/io/port-bus.js';
import { AddressSpace } from '../../src/memory/address-space.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvm-unimp-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function poke(): { port: number; mem: number } {
  const io = new PortBus();
  const mem = new AddressSpace(1 << 20);
  io.write(0x1234, 2, 0xbeef);
  mem.writeSlow(0xf000_0000, 4, 1);
  return { port: io.read(0x1234, 2), mem: mem.readSlow(0xf000_0000, 4) };
}

describe('unassigned ports and memory', () => {
  it('read as all-ones and log nothing while -d unimp is off', () => {
    expect(logOn.unimp).toBe(false);
    expect(poke()).toEqual({ port: 0xffff, mem: 0xffff_ffff });
  });

  it('are reported in the -D file under -d unimp', () => {
    const file = path.join(dir, 'trace.log');
    configureLogging(['unimp'], file);
    poke();
    const text = fs.readFileSync(file, 'utf8');
    expect(text).toContain('"port":"0x1234"');
    expect(text).toContain('write to unassigned port');
    expect(text).toContain('read from unassigned port');
    expect(text).toContain('"addr":"0xf0000000"');
    expect(text).toContain('write to unassigned memory');
    expect(text).toContain('read from unassigned memory');
  });
});
