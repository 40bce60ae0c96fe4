/**
 * Puts the monitors (-monitor/-qmp/-mon) and the gdbstub (-gdb/-s) on the
 * machine the runner built. Called once after buildPc; `close()` stops the
 * gdbstub (the chardevs themselves are closed with the machine).
 */
import type { Pc } from '../machine/pc.js';
import type { MonitorConfig } from '../config.js';
import { MachineControl } from './control.js';
import { Hmp } from './hmp.js';
import { Qmp } from './qmp.js';
import { DumpDefaults } from './hmp-memory.js';
import { captureHmpCommand } from './hmp-commands.js';
import { GdbServer } from '../gdbstub/server.js';
import { UserError } from '../machine/errors.js';

export interface Monitors {
  /** Tells a waiting gdb the exit status, then stops the gdbstub. */
  close(status: number): Promise<void>;
}

export async function attachMonitors(pc: Pc): Promise<Monitors> {
  const ctl = new MachineControl(pc);
  const dump = new DumpDefaults();
  const gdb: GdbServer = new GdbServer(pc, (line) => captureHmpCommand(line, { pc, ctl, gdbserver, dump }));
  const gdbserver = (spec: string) => gdb.listen(spec);
  for (const m of pc.config.monitors) {
    const chr = pc.chardevs.frontend(m.chardev);
    if (!chr) continue;
    const openNow = opensAtStart(pc, m, chr);
    if (m.mode === 'control') new Qmp(chr, { pc, ctl, gdbserver }, { pretty: m.pretty, openNow });
    else new Hmp(chr, { pc, ctl, gdbserver, dump: new DumpDefaults() }, { openNow });
  }
  if (pc.config.gdb !== undefined) {
    // QEMU: `-gdb tcp::1234: Could not open gdbserver on device ...` ends the start-up with one line.
    await gdb.listen(pc.config.gdb).catch((e: unknown) => {
      throw new UserError(e instanceof Error ? e.message : String(e));
    });
  }
  return { close: (status) => gdb.close(status) };
}

/**
 * Whether the monitor greets at once: stdio, files and an already connected
 * socket do; a waiting socket greets on 'opened'; a mux slot on its first
 * 'focus-in' (QEMU shows the banner when Ctrl-A c first reaches the monitor).
 */
function opensAtStart(pc: Pc, m: MonitorConfig, chr: object): boolean {
  const cfg = pc.config.chardevs.find((c) => c.id === m.chardev);
  if (cfg?.mux) return false;
  if ('connected' in chr) return (chr as { connected: boolean }).connected;
  return true;
}
