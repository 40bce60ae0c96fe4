/**
 * Opens the machine's chardevs and hands them to frontends. A muxed chardev
 * (mon:stdio, -nographic) gives each frontend its own slot, in the order
 * the frontends ask, as QEMU attaches them: the serial port first, then
 * the monitor.
 */
import type { MachineConfig } from '../config.js';
import type { Chardev } from '../chardev/chardev.js';
import { createChardev } from '../chardev/create.js';
import { MuxChardev } from '../chardev/mux.js';
import { VcChardev } from '../chardev/vc.js';
import type { Lifecycle } from './lifecycle.js';
import { UserError } from './errors.js';

export class Chardevs {
  private readonly slotsTaken = new Map<string, number>();

  private constructor(private readonly byId: Map<string, Chardev>) {}

  static async open(config: MachineConfig, lifecycle: Lifecycle, commitDisks: () => void): Promise<Chardevs> {
    const byId = new Map<string, Chardev>();
    const hooks = {
      requestQuit: () => lifecycle.request({ kind: 'quit', cause: 'mux escape' }),
      commitDisks,
      escapeChar: config.escapeChar,
    };
    try {
      for (const cfg of config.chardevs) byId.set(cfg.id, await createChardev(cfg, hooks));
    } catch (err) {
      for (const c of byId.values()) await c.close();
      throw new UserError(`-chardev: ${err instanceof Error ? err.message : String(err)}`);
    }
    return new Chardevs(byId);
  }

  /** The chardev a frontend talks through: a mux slot, or the chardev itself. */
  frontend(id: string | undefined): Chardev | undefined {
    if (id === undefined) return undefined;
    const chr = this.byId.get(id);
    if (!(chr instanceof MuxChardev)) return chr;
    const slot = this.slotsTaken.get(id) ?? 0;
    this.slotsTaken.set(id, slot + 1);
    return chr.frontend(slot);
  }

  /** The virtual consoles in creation order: a display's consoles 2, 3, ... (QEMU's order: monitor, then serial ports). */
  virtualConsoles(): VcChardev[] {
    const backends = [...this.byId.values()].map((c) => (c instanceof MuxChardev ? c.backend : c));
    return backends.filter((c): c is VcChardev => c instanceof VcChardev);
  }

  async closeAll(): Promise<void> {
    for (const c of this.byId.values()) await c.close();
  }
}
