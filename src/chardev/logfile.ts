/**
 * `logfile=path`: a copy of everything the guest writes to a chardev, kept
 * in a file (QEMU's ChardevCommon logfile). Input is not logged.
 */
import type { CharFrontend, Chardev } from './chardev.js';
import { FileChardev } from './file.js';

export class LoggedChardev implements Chardev {
  private readonly log: FileChardev;

  constructor(
    private readonly inner: Chardev,
    path: string,
  ) {
    // Truncated, as QEMU does without logappend=on (which tsvm does not take yet).
    this.log = new FileChardev(`${inner.id}-log`, path, false);
  }

  get id(): string {
    return this.inner.id;
  }

  write(data: Uint8Array): void {
    this.inner.write(data);
    this.log.write(data);
  }

  attach(frontend: CharFrontend): void {
    this.inner.attach(frontend);
  }

  pump(): void {
    this.inner.pump();
  }

  async close(): Promise<void> {
    await this.inner.close();
    await this.log.close();
  }
}
