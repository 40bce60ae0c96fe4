/**
 * tsvm-img as a user runs it, side by side with qemu-img: same output for
 * info/check/map/snapshot -l, same exit codes, and images each tool accepts
 * from the other.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { buildCli, pattern, qemuImg, qemuIo, sha256, tempDir, tsvmImg, type Run } from './helpers.js';

let build: string;
beforeAll(() => {
  build = buildCli();
});

const img = (args: string[], cwd?: string): Run => tsvmImg(build, args, cwd);

function ok(r: Run): Run {
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r;
}

/**
 * An image qemu-img made and wrote: data and (v3) zero clusters. Writes are
 * whole clusters: QEMU fills the rest of a partly written cluster with a
 * host-file hole that its map then reports as zeros, which tsvm (without
 * SEEK_DATA) does not see.
 */
function qemuMadeImage(dir: string, compat: string, name = 'q.qcow2'): string {
  const file = path.join(dir, name);
  ok(qemuImg(['create', '-q', '-f', 'qcow2', '-o', `compat=${compat}`, file, '8M']));
  expect(qemuIo(['-c', 'write -P 7 0 320k', '-c', 'write -P 9 3M 64k', file]).status).toBe(0);
  if (compat === '1.1') expect(qemuIo(['-c', 'write -z 1M 128k', file]).status).toBe(0);
  return file;
}

describe('create', () => {
  test.each([
    ['qcow2', ['-o', 'compat=1.1']],
    ['qcow2', ['-o', 'compat=0.10,cluster_size=4096']],
    ['qcow2', ['-o', 'cluster_size=512,lazy_refcounts=on,refcount_bits=8']],
    ['raw', []],
  ])('-f %s %o: qemu-img accepts the image and reports the same info', (format, options) => {
    const dir = tempDir();
    const file = path.join(dir, 'new.img');
    const r = ok(img(['create', '-f', format, ...options, file, '1G']));
    expect(r.stdout).toMatch(new RegExp(`^Formatting '.*new\\.img', fmt=${format} `));
    if (format === 'qcow2') expect(qemuImg(['check', file]).status).toBe(0);
    for (const output of ['human', 'json']) {
      expect(img(['info', `--output=${output}`, file]).stdout).toBe(qemuImg(['info', `--output=${output}`, file]).stdout);
    }
  });

  test('with a backing file: the size comes from it, the name is kept relative, qemu-img reads through', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'base.raw'), pattern(3 * 65536 + 512, 3));
    ok(img(['create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', 'top.qcow2'], dir));
    for (const output of ['human', 'json']) {
      expect(img(['info', `--output=${output}`, 'top.qcow2'], dir).stdout).toBe(qemuImg(['info', `--output=${output}`, 'top.qcow2'], dir).stdout);
    }
    expect(ok(qemuImg(['compare', 'top.qcow2', 'base.raw'], dir)).stdout).toContain('Images are identical.');
  });

  test('info --backing-chain over raw <- qcow2 <- qcow2 prints what qemu-img prints', () => {
    const dir = tempDir();
    ok(qemuImg(['create', '-q', '-f', 'raw', 'b.raw', '1M'], dir));
    ok(img(['create', '-q', '-f', 'qcow2', '-b', 'b.raw', '-F', 'raw', 'm.qcow2'], dir));
    ok(img(['create', '-q', '-f', 'qcow2', '-b', 'm.qcow2', '-F', 'qcow2', 't.qcow2'], dir));
    for (const output of ['human', 'json']) {
      const args = ['info', '--backing-chain', `--output=${output}`, 't.qcow2'];
      expect(img(args, dir).stdout).toBe(qemuImg(args, dir).stdout);
    }
  });

  test('sizes read as qemu-img reads them', () => {
    const dir = tempDir();
    const sizes = ['0x1000', ' 10k', '10 k', '1.0005k', '1.5', '0x1.8k'];
    for (const [format, size] of [...sizes.map((s) => ['raw', s]), ['qcow2', '1025']]) {
      const [ours, theirs] = [img, qemuImg].map((tool) => {
        const f = path.join(dir, `${tool === img ? 'ours' : 'theirs'}.${format}`);
        fs.rmSync(f, { force: true });
        const r = tool(['create', '-q', '-f', format!, f, size!]);
        const virtualSize = r.status === 0 ? JSON.parse(qemuImg(['info', '--output=json', f]).stdout)['virtual-size'] : undefined;
        return { status: r.status, virtualSize };
      });
      expect({ format, size, ...ours }).toEqual({ format, size, ...theirs });
    }
  });

  test('errors in qemu-img\'s words', () => {
    const dir = tempDir();
    const f = path.join(dir, 'x.qcow2');
    let r = img(['create', '-f', 'qcow2', f, '12Q']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tsvm-img: Invalid image size specified/);
    r = img(['create', '-f', 'qcow2', f]);
    expect(r.stderr).toBe(`tsvm-img: ${f}: Image creation needs a size parameter\n`);
    r = img(['create', '-f', 'vmdk', f, '1M']);
    expect(r.stderr).toBe("tsvm-img: Unknown file format 'vmdk'\n");
    r = img(['create', '-f', 'qcow2', '-b', 'missing.raw', '-F', 'raw', f]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Could not open '.*missing\.raw': No such file or directory/);
    r = img(['frobnicate']);
    expect(r.stderr).toBe("tsvm-img: Command not found: frobnicate\nTry 'tsvm-img --help' for more information\n");
    expect(r.status).toBe(1);
  });
});

describe.each(['0.10', '1.1'])('on images qemu-img made (compat=%s)', (compat) => {
  test('info, map and snapshot -l print what qemu-img prints', () => {
    const dir = tempDir();
    const file = qemuMadeImage(dir, compat);
    ok(qemuImg(['snapshot', '-c', 'snap one', file]));
    for (const args of [['info'], ['info', '--output=json'], ['map'], ['map', '--output=json'], ['snapshot', '-l']]) {
      expect(img([...args, file]).stdout).toBe(qemuImg([...args, file]).stdout);
    }
  });

  test('check: the same report and exit status', () => {
    const file = qemuMadeImage(tempDir(), compat);
    const mine = img(['check', file]);
    const theirs = qemuImg(['check', file]);
    expect(mine.stdout).toBe(theirs.stdout);
    expect(mine.status).toBe(0);
  });
});

describe('check exit codes', () => {
  /** Adds one to the refcount of host cluster `cluster` (16-bit refcounts, first refcount block). */
  function bumpRefcount(file: string, cluster: number, by: number): void {
    const fd = fs.openSync(file, 'r+');
    const b = Buffer.alloc(8);
    fs.readSync(fd, b, 0, 8, 48);
    const reftable = Number(b.readBigUInt64BE());
    fs.readSync(fd, b, 0, 8, reftable);
    const block = Number(b.readBigUInt64BE());
    const counter = Buffer.alloc(2);
    fs.readSync(fd, counter, 0, 2, block + cluster * 2);
    counter.writeUInt16BE(counter.readUInt16BE() + by);
    fs.writeSync(fd, counter, 0, 2, block + cluster * 2);
    fs.closeSync(fd);
  }

  test('3 for a leak, repaired by -r leaks', () => {
    const file = qemuMadeImage(tempDir(), '1.1');
    bumpRefcount(file, 0, 1); // the header cluster now counts one reference too many
    const mine = img(['check', file]);
    const theirs = qemuImg(['check', file]);
    expect(theirs.status).toBe(3);
    expect(mine.status).toBe(3);
    expect(mine.stdout).toBe(theirs.stdout);
    expect(mine.stderr).toBe(theirs.stderr);
    const fixed = img(['check', '-r', 'leaks', file]);
    expect(fixed.status).toBe(0);
    expect(fixed.stdout).toContain('1 leaked clusters');
    expect(qemuImg(['check', file]).status).toBe(0);
  });

  test('2 for a corruption, repaired by -r all', () => {
    const file = qemuMadeImage(tempDir(), '1.1');
    bumpRefcount(file, 0, -1); // the header cluster now counts no reference
    const mine = img(['check', file]);
    const theirs = qemuImg(['check', file]);
    expect(theirs.status).toBe(2);
    expect(mine.status).toBe(2);
    expect(mine.stdout).toBe(theirs.stdout);
    expect(mine.stderr).toBe(theirs.stderr);
    expect(img(['check', '-r', 'all', file]).status).toBe(0);
    expect(qemuImg(['check', file]).status).toBe(0);
  });

  test('1 when the image cannot be opened, 63 for raw', () => {
    const dir = tempDir();
    expect(img(['check', path.join(dir, 'none.qcow2')]).status).toBe(1);
    fs.writeFileSync(path.join(dir, 'disk.raw'), Buffer.alloc(4096));
    const r = img(['check', '-f', 'raw', path.join(dir, 'disk.raw')]);
    expect(r.status).toBe(63);
    expect(r.stderr).toBe('tsvm-img: This image format does not support checks\n');
  });
});

describe('convert', () => {
  test('qcow2 with a backing file to raw, and raw to compressed qcow2: same guest bytes as qemu-img', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'base.raw'), pattern(2 * 1024 * 1024, 11));
    ok(qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', path.join(dir, 'top.qcow2')]));
    expect(qemuIo(['-c', 'write -P 1 100k 500k', '-c', 'write -z 1M 64k', path.join(dir, 'top.qcow2')]).status).toBe(0);
    ok(img(['convert', '-f', 'qcow2', '-O', 'raw', 'top.qcow2', 'flat.raw'], dir));
    ok(qemuImg(['convert', '-O', 'raw', 'top.qcow2', 'qemu-flat.raw'], dir));
    expect(sha256(path.join(dir, 'flat.raw'))).toBe(sha256(path.join(dir, 'qemu-flat.raw')));

    ok(img(['convert', '-c', '-O', 'qcow2', 'flat.raw', 'packed.qcow2'], dir));
    expect(ok(qemuImg(['check', 'packed.qcow2'], dir)).stdout).toMatch(/[1-9][\d.]*% compressed clusters/);
    expect(ok(qemuImg(['compare', '-F', 'raw', 'packed.qcow2', 'flat.raw'], dir)).stdout).toContain('Images are identical.');

    ok(img(['convert', '-O', 'qcow2', '-o', 'compat=0.10,cluster_size=4096', 'packed.qcow2', 'v2.qcow2'], dir));
    expect(ok(qemuImg(['check', 'v2.qcow2'], dir)).stdout).toContain('No errors were found on the image.');
    expect(ok(qemuImg(['compare', 'v2.qcow2', 'flat.raw'], dir)).stdout).toContain('Images are identical.');
    expect(fs.statSync(path.join(dir, 'v2.qcow2')).size).toBeLessThan(2 * 1024 * 1024); // zeros were not written
  });

  test('-l reads an internal snapshot', () => {
    const dir = tempDir();
    const file = qemuMadeImage(dir, '1.1');
    ok(qemuImg(['snapshot', '-c', 'old', file]));
    expect(qemuIo(['-c', 'write -P 0xee 0 1M', file]).status).toBe(0);
    ok(img(['convert', '-l', 'old', '-O', 'raw', file, path.join(dir, 'old.raw')]));
    ok(qemuImg(['convert', '-l', 'snapshot.name=old', '-O', 'raw', file, path.join(dir, 'qemu-old.raw')]));
    expect(sha256(path.join(dir, 'old.raw'))).toBe(sha256(path.join(dir, 'qemu-old.raw')));
  });
});

describe('resize', () => {
  test('grows a qcow2 past its L1 table; qemu-img agrees on size and content', () => {
    const dir = tempDir();
    const file = path.join(dir, 'g.qcow2');
    ok(img(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', file, '1M']));
    expect(qemuIo(['-c', 'write -P 5 0 1M', file]).status).toBe(0);
    expect(ok(img(['resize', file, '+9M'])).stdout).toBe('Image resized.\n');
    expect(JSON.parse(qemuImg(['info', '--output=json', file]).stdout)['virtual-size']).toBe(10 * 1024 * 1024);
    expect(ok(qemuImg(['check', file])).stdout).toContain('No errors were found');
    expect(qemuIo(['-c', 'read -P 5 0 1M', '-c', 'read -P 0 1M 9M', '-c', 'write -P 6 9M 1M', file]).stdout).not.toMatch(/Pattern verification failed/);
    expect(qemuImg(['check', file]).status).toBe(0);
  });

  test('shrinks a qcow2 with --shrink: clusters past the end are freed, regrowing shows zeros', () => {
    const dir = tempDir();
    const file = path.join(dir, 's.qcow2');
    ok(img(['create', '-q', '-f', 'qcow2', file, '4M']));
    expect(qemuIo(['-c', 'write -P 8 0 4M', file]).status).toBe(0);
    expect(img(['resize', file, '1000K']).status).toBe(1);
    ok(img(['resize', '--shrink', file, '1000K']));
    const check = ok(qemuImg(['check', file]));
    expect(check.stdout).toContain('No errors were found');
    expect(check.stdout).toMatch(/^16\/16 = 100.00% allocated/m); // 1000K rounds up to 16 clusters
    ok(qemuImg(['resize', file, '4M']));
    const io = qemuIo(['-c', 'read -P 8 0 1000K', '-c', 'read -P 0 1000K 3096K', file]);
    expect(io.stdout).not.toMatch(/Pattern verification failed/);
    expect(io.status).toBe(0);
  });

  test('shrinking raw needs --shrink', () => {
    const dir = tempDir();
    const file = path.join(dir, 'r.raw');
    fs.writeFileSync(file, Buffer.alloc(4 * 1024 * 1024));
    const refused = img(['resize', '-f', 'raw', file, '1M']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^tsvm-img: Use the --shrink option to perform a shrink operation\./);
    expect(fs.statSync(file).size).toBe(4 * 1024 * 1024);
    ok(img(['resize', '-f', 'raw', '--shrink', file, '-1M']));
    expect(fs.statSync(file).size).toBe(3 * 1024 * 1024);
  });
});

test('snapshot -c/-l/-a/-d: qemu-img sees the snapshots and the reverted data', () => {
  const dir = tempDir();
  const file = qemuMadeImage(dir, '1.1');
  ok(qemuImg(['convert', '-O', 'raw', file, path.join(dir, 'before.raw')]));
  ok(img(['snapshot', '-c', 'keep', file]));
  expect(img(['snapshot', '-l', file]).stdout).toBe(qemuImg(['snapshot', '-l', file]).stdout);
  expect(qemuIo(['-c', 'write -P 0x42 0 2M', file]).status).toBe(0);
  expect(qemuImg(['check', file]).status).toBe(0);
  ok(img(['snapshot', '-a', 'keep', file]));
  expect(ok(qemuImg(['compare', '-F', 'raw', file, path.join(dir, 'before.raw')])).stdout).toContain('Images are identical.');
  ok(img(['snapshot', '-d', 'keep', file]));
  expect(qemuImg(['snapshot', '-l', file]).stdout).toBe('');
  expect(ok(qemuImg(['check', file])).stdout).toContain('No errors were found');
  const missing = img(['snapshot', '-a', 'nope', file]);
  expect(missing.status).toBe(1);
  expect(missing.stderr).toBe("tsvm-img: Can't find snapshot 'nope'\n".replace('tsvm-img: ', "tsvm-img: Could not apply snapshot 'nope': "));
});

test('commit writes the overlay into its backing file and empties it', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'base.raw'), pattern(1024 * 1024, 21));
  ok(qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', path.join(dir, 'top.qcow2')]));
  expect(qemuIo(['-c', 'write -P 3 10k 300k', path.join(dir, 'top.qcow2')]).status).toBe(0);
  ok(qemuImg(['convert', '-O', 'raw', 'top.qcow2', 'view.raw'], dir));
  expect(ok(img(['commit', 'top.qcow2'], dir)).stdout).toBe('Image committed.\n');
  expect(sha256(path.join(dir, 'base.raw'))).toBe(sha256(path.join(dir, 'view.raw')));
  expect(JSON.parse(qemuImg(['map', '--output=json', 'top.qcow2'], dir).stdout).every((e: { depth: number }) => e.depth === 1)).toBe(true);
  expect(qemuImg(['check', 'top.qcow2'], dir).status).toBe(0);
});

test('rebase: safe mode keeps the guest view, -u only renames', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'old.raw'), pattern(1024 * 1024, 31));
  const newer = Buffer.from(pattern(1024 * 1024, 31));
  newer.fill(0x99, 200_000, 400_000);
  fs.writeFileSync(path.join(dir, 'new.raw'), newer);
  ok(qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'old.raw', '-F', 'raw', path.join(dir, 'top.qcow2')]));
  expect(qemuIo(['-c', 'write -P 3 0 64k', path.join(dir, 'top.qcow2')]).status).toBe(0);
  ok(qemuImg(['convert', '-O', 'raw', 'top.qcow2', 'view.raw'], dir));
  ok(img(['rebase', '-b', 'new.raw', '-F', 'raw', 'top.qcow2'], dir));
  expect(JSON.parse(qemuImg(['info', '--output=json', 'top.qcow2'], dir).stdout)['backing-filename']).toBe('new.raw');
  expect(ok(qemuImg(['compare', '-F', 'raw', 'top.qcow2', 'view.raw'], dir)).stdout).toContain('Images are identical.');
  expect(qemuImg(['check', 'top.qcow2'], dir).status).toBe(0);

  ok(img(['rebase', '-u', '-b', '', 'top.qcow2'], dir));
  expect(JSON.parse(qemuImg(['info', '--output=json', 'top.qcow2'], dir).stdout)['backing-filename']).toBeUndefined();
  // Nothing was copied: what the backing file provided now reads as zeros.
  expect(qemuImg(['compare', '-F', 'raw', 'top.qcow2', 'view.raw'], dir).status).toBe(1);
  expect(qemuImg(['check', 'top.qcow2'], dir).status).toBe(0);
});

describe('advisory locking, compatible with QEMU', () => {
  /** A tsvm process holding `file` open for writing until killed. */
  function holdOpen(file: string): Promise<() => void> {
    const chain = path.join(build, 'src/block/qcow2-chain.js');
    const script = `import { openImage } from ${JSON.stringify(chain)};
      openImage(${JSON.stringify(file)}, { readOnly: false });
      process.stdout.write('open\\n'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    return new Promise((resolve) => child.stdout.once('data', () => resolve(() => child.kill('SIGKILL'))));
  }

  test('a writer holds off other writers and readers, tsvm and QEMU alike, until it exits', async () => {
    const file = qemuMadeImage(tempDir(), '1.1');
    const release = await holdOpen(file);
    try {
      const writer = img(['snapshot', '-c', 's', file]);
      expect(writer.status).toBe(1);
      expect(writer.stderr).toBe(`tsvm-img: Could not open '${file}': Failed to get "write" lock\nIs another process using the image [${file}]?\n`);
      expect(qemuImg(['info', file]).stderr).toContain('Failed to get shared "write" lock');
      expect(img(['info', file]).stderr).toContain('Failed to get shared "write" lock');
      expect(ok(img(['info', '-U', file])).stdout).toBe(qemuImg(['info', '-U', file]).stdout); // --force-share
      const clobber = img(['create', '-f', 'qcow2', file, '1M']);
      expect(clobber.status).toBe(1);
      expect(clobber.stderr).toContain('Failed to get "write" lock');
    } finally {
      release();
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(qemuImg(['check', file]).status).toBe(0); // create did not touch the image in use
    ok(img(['snapshot', '-c', 's', file])); // the kernel dropped the dead process's locks
  });

  /**
   * Whether some process holds QEMU's "write" permission byte (101) of `file`, read from /proc/locks:
   * probing with qemu-img info instead takes a lock itself, and a qemu-io opening at that moment fails.
   */
  function writeLockHeld(file: string): boolean {
    const ino = fs.statSync(file).ino;
    return fs.readFileSync('/proc/locks', 'utf8').split('\n').some((line) => {
      const f = line.trim().split(/\s+/);
      if (f[1] !== 'OFDLCK' || Number(f[5]?.split(':')[2]) !== ino) return false;
      const end = f[7] === 'EOF' ? Infinity : Number(f[7]);
      return Number(f[6]) <= 101 && 101 <= end;
    });
  }

  test('tsvm-img refuses an image QEMU has open for writing', async () => {
    const file = qemuMadeImage(tempDir(), '1.1');
    // qemu-io's sleep is in milliseconds: hold the image for ten minutes (killed below), not 3 s, which a
    // loaded CI machine could spend before tsvm-img even starts.
    const qemu = spawn('qemu-io', ['-c', 'sleep 600000', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let qemuErr = '';
    qemu.stderr.on('data', (d) => (qemuErr += d));
    try {
      const deadline = Date.now() + 60_000;
      while (!writeLockHeld(file)) {
        expect(qemu.exitCode, `qemu-io exited: ${qemuErr}`).toBeNull();
        expect(Date.now(), 'qemu-io took no lock within 60 s').toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = img(['snapshot', '-c', 's', file]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/Failed to get "write" lock|Failed to get shared "write" lock/);
    } finally {
      qemu.kill('SIGKILL');
    }
  });
});
