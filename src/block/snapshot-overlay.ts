/**
 * `-snapshot` / `snapshot=on`: the guest writes into a temporary overlay and
 * the base image is never written (it may even be opened read-only).
 *
 * The overlay is a sparse temporary file as large as the medium, unlinked as
 * soon as it is created, so it disappears when tsvm exits however it exits.
 * Like QEMU (which puts a temporary qcow2 in $TMPDIR or /var/tmp), it lives
 * on disk rather than in memory because a guest may write gigabytes.
 * Writes are tracked per cluster; the first write to a cluster copies the
 * base's cluster into the overlay so partial writes keep the rest of it.
 *
 * Only an explicit commit (QEMU's Ctrl-A s, or the monitor's `commit`)
 * writes the guest's changes back to the base.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addressableBytes, checkRange, type BlockBackend } from './block-backend.js';
import { readFully, writeFully } from './file-io.js';

const CLUSTER_SIZE = 64 * 1024;

export class SnapshotOverlay implements BlockBackend {
  readonly readOnly = false;
  readonly length: number;
  private fd: number | undefined;
  /** One bit per cluster: set once the cluster lives in the overlay. */
  private readonly dirty: Uint32Array;

  /**
   * @param base the image, opened read-only
   * @param openBaseForCommit opens the image for writing, only when the user commits
   */
  constructor(
    private readonly base: BlockBackend,
    private readonly openBaseForCommit: () => BlockBackend,
  ) {
    this.length = base.length;
    this.dirty = new Uint32Array(Math.ceil(addressableBytes(this.length) / CLUSTER_SIZE / 32));
    this.fd = createUnlinkedTempFile();
  }

  read(offset: number, buf: Uint8Array): void {
    checkRange('snapshot overlay', offset, buf.length, this.length);
    this.forEachClusterSpan(offset, buf.length, (cluster, at, len, bufPos) => {
      const part = buf.subarray(bufPos, bufPos + len);
      if (this.isDirty(cluster)) readFully(this.openFd(), part, at);
      else this.base.read(at, part);
    });
  }

  write(offset: number, data: Uint8Array): void {
    checkRange('snapshot overlay', offset, data.length, this.length);
    const fd = this.openFd();
    this.forEachClusterSpan(offset, data.length, (cluster, at, len, bufPos) => {
      if (!this.isDirty(cluster) && len < CLUSTER_SIZE) this.copyClusterFromBase(cluster);
      writeFully(fd, data.subarray(bufPos, bufPos + len), at);
      this.markDirty(cluster);
    });
  }

  /**
   * Writes every cluster the guest changed into the base image, makes it
   * durable, and starts over with an empty overlay (the base now holds it all).
   */
  commit(): void {
    const target = this.openBaseForCommit();
    try {
      const limit = addressableBytes(this.length);
      for (let cluster = 0; cluster * CLUSTER_SIZE < limit; cluster++) {
        if (!this.isDirty(cluster)) continue;
        const start = cluster * CLUSTER_SIZE;
        const bytes = new Uint8Array(Math.min(CLUSTER_SIZE, limit - start));
        readFully(this.openFd(), bytes, start);
        target.write(start, bytes);
      }
      target.flush();
    } finally {
      target.close();
    }
    this.dirty.fill(0);
  }

  /** Nothing to make durable: the overlay is thrown away on exit (QEMU runs it cache=unsafe too). */
  flush(): void {}

  close(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
    this.base.close();
  }

  private copyClusterFromBase(cluster: number): void {
    const start = cluster * CLUSTER_SIZE;
    const size = Math.min(CLUSTER_SIZE, addressableBytes(this.length) - start);
    const bytes = new Uint8Array(size);
    this.base.read(start, bytes);
    writeFully(this.openFd(), bytes, start);
  }

  /** Splits [offset, offset+count) at cluster boundaries. */
  private forEachClusterSpan(
    offset: number,
    count: number,
    visit: (cluster: number, at: number, len: number, bufPos: number) => void,
  ): void {
    let done = 0;
    while (done < count) {
      const at = offset + done;
      const cluster = Math.floor(at / CLUSTER_SIZE);
      const len = Math.min(count - done, (cluster + 1) * CLUSTER_SIZE - at);
      visit(cluster, at, len, done);
      done += len;
    }
  }

  private isDirty(cluster: number): boolean {
    return (this.dirty[cluster >>> 5]! & (1 << (cluster & 31))) !== 0;
  }

  private markDirty(cluster: number): void {
    this.dirty[cluster >>> 5]! |= 1 << (cluster & 31);
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error('snapshot overlay used after close');
    return this.fd;
  }
}

/** QEMU's get_tmp_filename(): $TMPDIR, else /var/tmp (large, unlike a tmpfs /tmp). */
function createUnlinkedTempFile(): number {
  const dir = process.env.TMPDIR || (fs.existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir());
  const file = path.join(dir, `tsvm-snapshot-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  fs.unlinkSync(file);
  return fd;
}
