import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DriveConfig } from '../../src/config.js';
import { BlockProbeGuardError, BlockReadOnlyError, BlockRangeError } from '../../src/block/block-backend.js';
import { openBlockBackend } from '../../src/block/open.js';
import { SnapshotOverlay } from '../../src/block/snapshot-overlay.js';
import { firstDifference } from './bytes.js';
import { GUEST_PASS, guestArgs } from '../disk/ata-writer.js';
import { buildGuests } from '../kvm/harness.js';
import { requireTool } from '../helpers/tools.js';
import { runTsvm } from '../helpers/tsvm-process.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvm-block-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function drive(file: string, over: Partial<DriveConfig> = {}): DriveConfig {
  return {
    id: 'd0', file, interface: 'ide', index: 0, media: 'disk', readonly: false,
    snapshot: false, cache: 'writeback', locking: true, format: 'raw', ...over,
  };
}

function image(name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

describe('raw backend', () => {
  it('reads the file and writes reach it', () => {
    const file = image('a.img', pattern(4096));
    const b = openBlockBackend(drive(file));
    expect(b.length).toBe(4096);
    const buf = new Uint8Array(512);
    b.read(512, buf);
    expect(firstDifference(buf, pattern(4096).subarray(512, 1024))).toBe(-1);
    b.write(1024, new Uint8Array(512).fill(0xab));
    b.flush();
    expect(fs.readFileSync(file).subarray(1024, 1536)).toEqual(Buffer.alloc(512, 0xab));
    b.close();
  });

  it('reads the tail of a partial last sector as zeros', () => {
    const b = openBlockBackend(drive(image('p.img', new Uint8Array(700).fill(1))));
    const buf = new Uint8Array(512).fill(9);
    b.read(512, buf);
    expect(Array.from(buf.subarray(0, 188))).toEqual(new Array(188).fill(1));
    expect(Array.from(buf.subarray(188))).toEqual(new Array(324).fill(0));
    expect(() => b.read(1024, buf)).toThrow(BlockRangeError);
    b.close();
  });

  it('refuses writes when readonly=on and leaves the file alone', () => {
    const file = image('ro.img', pattern(2048));
    const b = openBlockBackend(drive(file, { readonly: true }));
    expect(b.readOnly).toBe(true);
    expect(() => b.write(0, new Uint8Array(512))).toThrow(BlockReadOnlyError);
    b.close();
    expect(firstDifference(new Uint8Array(fs.readFileSync(file)), pattern(2048))).toBe(-1);
  });

  it('opens a CD-ROM read-only even when the file is not writable', () => {
    const file = image('cd.iso', pattern(4096));
    fs.chmodSync(file, 0o444);
    const b = openBlockBackend(drive(file, { media: 'cdrom' }));
    expect(b.readOnly).toBe(true);
    b.close();
  });

  it('gives QEMU\'s message for a missing image', () => {
    expect(() => openBlockBackend(drive('x.img'))).toThrow("Could not open 'x.img': No such file or directory");
    expect(() => openBlockBackend(drive(dir))).toThrow(`Could not open '${dir}': Is a directory`);
  });
});

describe('format probing', () => {
  const qcow2Header = Uint8Array.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3, ...new Array(504).fill(0)]);

  it('opens a probed qcow2 image through the qcow2 driver, and -snapshot leaves it unchanged', () => {
    const file = path.join(dir, 'q.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '1M']);
    const before = fs.readFileSync(file);
    const b = openBlockBackend(drive(file, { format: undefined, snapshot: true }));
    expect(b.length).toBe(1 << 20);
    b.write(4096, pattern(512));
    const buf = new Uint8Array(512);
    b.read(4096, buf);
    expect(firstDifference(buf, pattern(512))).toBe(-1);
    b.close();
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses a file whose qcow2 header is corrupt, naming it', () => {
    const file = image('q.qcow2', qcow2Header);
    expect(() => openBlockBackend(drive(file, { format: undefined }))).toThrow(`Could not open '${file}'`);
  });

  it('opens a qcow2 file as raw bytes when format=raw says so', () => {
    const b = openBlockBackend(drive(image('q.img', qcow2Header), { format: 'raw' }));
    const buf = new Uint8Array(4);
    b.read(0, buf);
    expect(Array.from(buf)).toEqual([0x51, 0x46, 0x49, 0xfb]);
    b.close();
  });
});

describe('a probed raw image', () => {
  const magic = Uint8Array.from([0x51, 0x46, 0x49, 0xfb]);

  it('warns as QEMU does and refuses to let block 0 turn into a qcow2 header', () => {
    const file = image('probed.img', pattern(2048));
    const warnings: string[] = [];
    const b = openBlockBackend(drive(file, { format: undefined }), { warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Image format was not specified for '${file}' and probing guessed raw.`);
    const sector = new Uint8Array(512);
    sector.set(magic);
    expect(() => b.write(0, sector)).toThrow(BlockProbeGuardError);
    expect(() => b.write(0, magic)).toThrow(BlockProbeGuardError);
    b.write(0, new Uint8Array(512).fill(0x5a)); // any other block 0 is fine
    b.write(512, sector); // and the magic elsewhere
    b.close();
    const after = new Uint8Array(fs.readFileSync(file));
    expect(firstDifference(after.subarray(0, 512), new Uint8Array(512).fill(0x5a))).toBe(-1);
    expect(firstDifference(after.subarray(512, 516), magic)).toBe(-1);
  });

  it('has no restriction and no warning with format=raw', () => {
    const file = image('explicit.img', pattern(2048));
    const warnings: string[] = [];
    const b = openBlockBackend(drive(file, { format: 'raw' }), { warn: (m) => warnings.push(m) });
    b.write(0, magic);
    b.close();
    expect(warnings).toEqual([]);
    expect(firstDifference(new Uint8Array(fs.readFileSync(file)).subarray(0, 4), magic)).toBe(-1);
  });
});

/**
 * How to run tsvm so that it cannot write a 0444 file. Root may write any file (CAP_DAC_OVERRIDE), so
 * root runs it without that capability, still as root so that it can read the checkout wherever it is;
 * any other user already cannot.
 */
function withoutWriteOverride(): string[] {
  if (process.getuid?.() !== 0) return [];
  requireTool('setpriv', 'util-linux');
  return ['setpriv', '--inh-caps=-dac_override', '--bounding-set=-dac_override'];
}

describe('snapshot overlay', () => {
  beforeAll(() => buildGuests());

  it('never writes the base but reads back the guest\'s writes', () => {
    const size = 3 * 64 * 1024 + 512;
    const original = pattern(size);
    const file = image('base.img', original);
    const b = openBlockBackend(drive(file, { snapshot: true }));
    // A partial write inside a cluster, one spanning a cluster boundary, and the last sector.
    b.write(1024, new Uint8Array(512).fill(0x11));
    b.write(64 * 1024 - 512, new Uint8Array(1024).fill(0x22));
    b.write(size - 512, new Uint8Array(512).fill(0x33));
    b.flush();
    const all = new Uint8Array(size);
    b.read(0, all);
    const expected = original.slice();
    expected.fill(0x11, 1024, 1536);
    expected.fill(0x22, 64 * 1024 - 512, 64 * 1024 + 512);
    expected.fill(0x33, size - 512);
    expect(firstDifference(all, expected)).toBe(-1);
    b.close();
    expect(firstDifference(new Uint8Array(fs.readFileSync(file)), original)).toBe(-1);
  });

  it('writes the guest\'s changes to the base only on commit (Ctrl-A s)', () => {
    const original = pattern(128 * 1024);
    const file = image('commit.img', original);
    const b = openBlockBackend(drive(file, { snapshot: true })) as SnapshotOverlay;
    b.write(70 * 1024, new Uint8Array(1024).fill(0x44));
    expect(firstDifference(new Uint8Array(fs.readFileSync(file)), original)).toBe(-1);
    b.commit();
    const expected = original.slice();
    expected.fill(0x44, 70 * 1024, 71 * 1024);
    expect(firstDifference(new Uint8Array(fs.readFileSync(file)), expected)).toBe(-1);
    const back = new Uint8Array(expected.length);
    b.read(0, back);
    expect(firstDifference(back, expected)).toBe(-1);
    b.close();
  });

  it('works over a base the user cannot write: the guest reads back its own writes, the base is unchanged', async () => {
    const size = 1 << 20;
    const base = image('ro-base.img', pattern(size));
    fs.chmodSync(base, 0o444);
    const args = guestArgs('tcg', ['-drive', `file=${base},format=raw,if=ide,snapshot=on`]);
    const run = await runTsvm(args, 120_000, { wrapper: withoutWriteOverride() });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^PASS\r?$/m);
    expect(run.status).toBe(GUEST_PASS);
    expect(firstDifference(new Uint8Array(fs.readFileSync(base)), pattern(size))).toBe(-1);
  }, 150_000);
});
