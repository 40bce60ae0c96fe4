/**
 * The gdbstub (-gdb tcp::PORT, -s, HMP gdbserver): a chardev socket that
 * takes one gdb at a time, as QEMU's does. When gdb connects the VM stops
 * (QEMU's behaviour) and the session in session.ts serves it.
 */
import type { Pc } from '../machine/pc.js';
import type { Chardev } from '../chardev/chardev.js';
import { createChardev } from '../chardev/create.js';
import { parseLegacyChardev } from '../cli/chardev.js';
import { GdbSession, type MonitorCommand } from './session.js';

export class GdbServer {
  private chr: Chardev | undefined;
  private session: GdbSession | undefined;

  constructor(
    private readonly pc: Pc,
    /** Runs gdb's `monitor ...` lines (qRcmd) as HMP commands. */
    private readonly monitorCommand: MonitorCommand,
  ) {}

  /** Opens the stub on a chardev spec (`tcp::1234`, `unix:path,server=on`), or closes it for `none`; returns QEMU's line. */
  async listen(spec: string): Promise<string> {
    await this.close();
    if (spec === 'none') return 'Disabled gdbserver\n';
    const device = /^\d+$/.test(spec) ? `tcp::${spec}` : spec;
    try {
      const parsed = parseLegacyChardev('gdb', device);
      if (parsed.kind !== 'new') throw new Error(`gdbstub: chardev ${parsed.id} cannot be shared`);
      const cfg = parsed.chardev;
      // QEMU's gdbstub listens without waiting for the client: -gdb tcp::1234 means server=on,wait=off.
      if (cfg.backend.kind === 'socket') cfg.backend = { ...cfg.backend, server: true, wait: false };
      this.chr = await createChardev(cfg, { requestQuit: () => this.pc.bus.lifecycle.request({ kind: 'quit', cause: 'host-ui' }) });
    } catch (e) {
      throw new Error(`Could not open gdbserver on device '${device}': ${e instanceof Error ? e.message : String(e)}`);
    }
    this.session = new GdbSession(this.chr, this.pc, this.monitorCommand);
    return `Waiting for gdb connection on device '${device}'\n`;
  }

  /** Closes the stub; with the status tsvm exits with, a gdb waiting for a stop hears it first. */
  async close(status?: number): Promise<void> {
    if (status !== undefined) this.session?.targetExited(status);
    this.session?.release();
    this.session = undefined;
    await this.chr?.close();
    this.chr = undefined;
  }
}
