/**
 * The suboption grammar every option shares: implied first key, `,,`,
 * bare flags, booleans, sizes, numbers.
 */
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/cli/errors.js';
import { parseInteger, parseSize, SubOptions } from '../../src/cli/suboptions.js';

function entries(text: string, implied?: string): Record<string, string | undefined> {
  const opts = new SubOptions(text, implied ? { implied } : {});
  return Object.fromEntries(opts.keys().map((k) => [k, opts.string(k)]));
}

describe('splitting', () => {
  it('gives the first element the implied key when it has no =', () => {
    expect(entries('socket,id=a', 'backend')).toEqual({ backend: 'socket', id: 'a' });
    expect(entries('backend=socket,id=a', 'backend')).toEqual({ backend: 'socket', id: 'a' });
  });

  it('reads ,, as a comma inside values, the implied one included', () => {
    expect(entries('file=a,,b,,,format=raw')).toEqual({ file: 'a,b,', format: 'raw' });
    expect(entries('x,,y,id=z', 'guest')).toEqual({ guest: 'x,y', id: 'z' });
  });

  it('keeps = inside a value', () => {
    expect(entries('append=console=ttyS0 root=/dev/sda')).toEqual({ append: 'console=ttyS0 root=/dev/sda' });
  });

  it('reads a bare key as on and a bare nokey as off', () => {
    expect(entries('server,nowait')).toEqual({ server: 'on', wait: 'off' });
  });

  it('keeps the last of a repeated key', () => {
    expect(entries('a=1,a=2')).toEqual({ a: '2' });
  });

  it('sees help and ? as requests for help', () => {
    expect(new SubOptions('isa-debug-exit,help', { implied: 'driver' }).help).toBe(true);
    expect(new SubOptions('isa-debug-exit,?', { implied: 'driver' }).help).toBe(true);
    expect(new SubOptions('isa-debug-exit', { implied: 'driver' }).help).toBe(false);
  });

  it('refuses bare keys in the keyval grammar', () => {
    expect(() => new SubOptions('pc,acpi', { implied: 'type', keyval: true })).toThrow(new OptionError("Expected '=' after parameter 'acpi'"));
  });

  it('allows an empty value', () => {
    expect(entries('path=,id=x')).toEqual({ path: '', id: 'x' });
  });
});

describe('typed values', () => {
  it('booleans: on/yes/true/y and off/no/false/n', () => {
    for (const word of ['on', 'yes', 'true', 'y']) expect(new SubOptions(`b=${word}`).bool('b')).toBe(true);
    for (const word of ['off', 'no', 'false', 'n']) expect(new SubOptions(`b=${word}`).bool('b')).toBe(false);
    expect(() => new SubOptions('b=maybe').bool('b')).toThrow("Parameter 'b' expects 'on' or 'off'");
  });

  it('sizes: suffixes in either case, fractions with a suffix, a default unit', () => {
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('4k')).toBe(4096);
    expect(parseSize('4K')).toBe(4096);
    expect(parseSize('2M')).toBe(2 << 20);
    expect(parseSize('1.5G')).toBe(1.5 * 2 ** 30);
    expect(parseSize('1T')).toBe(2 ** 40);
    expect(parseSize('512', 'm')).toBe(512 << 20);
    expect(parseSize('1.5')).toBeUndefined();
    expect(parseSize('1.5B')).toBeUndefined();
    expect(parseSize('-1')).toBeUndefined();
    expect(parseSize('16E')).toBeUndefined();
    expect(parseSize('1 G')).toBeUndefined();
    expect(parseSize(' 10k')).toBe(10240);
    expect(parseSize('0x1000')).toBe(4096);
    expect(parseSize('0x1.8k')).toBeUndefined();
    // QEMU rounds a fraction to the nearest byte: 1024.512 and 1024.4096.
    expect(parseSize('1.0005k')).toBe(1025);
    expect(parseSize('1.0004k')).toBe(1024);
  });

  it('integers: decimal, 0x hex and leading-0 octal, as strtoull base 0', () => {
    expect(parseInteger('233')).toBe(233);
    expect(parseInteger('0xe9')).toBe(0xe9);
    expect(parseInteger('0351')).toBe(0o351);
    expect(parseInteger('0')).toBe(0);
    expect(parseInteger('09')).toBeUndefined();
    expect(parseInteger('x')).toBeUndefined();
    expect(parseInteger('')).toBeUndefined();
  });

  it('unknown keys: Invalid parameter, or refused by name when QEMU has them', () => {
    const opts = new SubOptions('size=1G,slots=2', { implied: 'size' });
    expect(() => opts.allowOnly(['size'], ['slots'])).toThrow("parameter 'slots' not supported by tsvm yet");
    expect(() => new SubOptions('foo=1').allowOnly(['bar'])).toThrow("Invalid parameter 'foo'");
  });
});
