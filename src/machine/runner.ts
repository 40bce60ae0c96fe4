/**
 * The main loop: runs the accelerator and acts on what the guest or the user
 * asked for (reset, poweroff, debug-exit, quit), as QEMU's main loop does
 * with its runstate and -action settings.
 */
import { writeFileSync, unlinkSync } from 'node:fs';
import type { MachineConfig } from '../config.js';
import type { LifecycleRequest } from './lifecycle.js';
import { buildPc, type Pc } from './pc.js';
import { attachMonitors } from '../monitor/attach.js';
import { daemonize, daemonReady, isDaemonChild } from '../monitor/daemonize.js';
import { CursesDisplay } from '../ui/curses.js';
import { Vga } from '../devices/vga.js';
import { I8042 } from '../devices/i8042.js';

/** Builds the PC, runs it to the end and returns tsvm's exit status. */
export async function runMachine(config: MachineConfig): Promise<number> {
  if (config.daemonize && !isDaemonChild()) return daemonize();
  const pc = await buildPc(config);
  const monitors = await attachMonitors(pc).catch(async (err: unknown) => {
    await pc.close();
    throw err;
  });
  const display = openDisplay(pc);
  const pidfile = config.pidfile;
  if (pidfile) writeFileSync(pidfile, `${process.pid}\n`);
  // -daemonize: the user's command returns now, with the sockets listening and the pidfile written.
  daemonReady();
  const onSignal = (signal: NodeJS.Signals) => {
    const num = signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15;
    pc.bus.lifecycle.request({ kind: 'quit', cause: `terminating on signal ${num}` });
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  let status = 1;
  try {
    status = await loop(pc);
    return status;
  } finally {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
    display?.close();
    await monitors.close(status);
    await pc.close();
    if (pidfile) removeQuietly(pidfile);
  }
}

/** -display curses: the VGA's text screen and the keyboard in the terminal (nothing to show without a VGA). */
function openDisplay(pc: Pc): CursesDisplay | undefined {
  const vga = pc.chip(Vga);
  const keyboard = pc.chip(I8042);
  if (pc.config.display !== 'curses' || !vga || !keyboard) return undefined;
  const machine = { textScreen: () => vga.textScreen(), pressChord: (makes: readonly (readonly number[])[]) => keyboard.pressChord(makes) };
  return new CursesDisplay(machine, pc.chardevs.virtualConsoles());
}

async function loop(pc: Pc): Promise<number> {
  if (pc.config.startPaused) await pc.waitForResume('prelaunch');
  for (;;) {
    const stop = await pc.accel.run();
    if (stop === 'paused') {
      await pc.waitForResume();
      continue;
    }
    const req = pc.bus.lifecycle.take();
    if (!req) continue;
    const status = await handle(pc, req);
    if (status !== undefined) return status;
  }
}

/** Returns an exit status to end tsvm, or undefined to keep running. */
async function handle(pc: Pc, req: LifecycleRequest): Promise<number | undefined> {
  const { config } = pc;
  switch (req.kind) {
    case 'reset':
      // -no-reboot is -action reboot=shutdown: a guest reset ends tsvm with status 0.
      if (config.noReboot || config.action.reboot === 'shutdown') {
        pc.emit({ event: 'SHUTDOWN', ...resetCause(req.cause) });
        return 0;
      }
      pc.reset();
      if (!announcedByMonitor(req.cause)) pc.emit({ event: 'RESET', ...resetCause(req.cause) });
      return undefined;
    case 'poweroff':
      pc.emit({ event: 'SHUTDOWN', guest: true, reason: 'guest-shutdown' });
      if (config.noShutdown || config.action.shutdown === 'pause') {
        await pc.waitForResume('shutdown');
        return undefined;
      }
      return 0;
    case 'exit':
      return req.status;
    case 'quit':
      if (!announcedByMonitor(req.cause)) pc.emit({ event: 'SHUTDOWN', guest: false, reason: quitReason(req.cause) });
      if (req.cause.startsWith('terminating on signal')) process.stderr.write(`tsvm: ${req.cause}\n`);
      return 0;
    case 'error':
      process.stderr.write(`tsvm: ${req.message}\n`);
      return 1;
  }
}

/** The monitor sends RESET/SHUTDOWN itself for what it asks (before its reply, as QEMU does). */
function announcedByMonitor(cause: string): boolean {
  return cause.startsWith('host-qmp');
}

/** QEMU's ShutdownCause of a reset: the monitor's (host-qmp-system-reset) or the guest's. */
function resetCause(cause: string): { guest: boolean; reason: string } {
  return cause.startsWith('host-') ? { guest: false, reason: cause } : { guest: true, reason: 'guest-reset' };
}

/** QEMU's ShutdownCause for a quit: the monitor's, a signal's, or the user interface's (Ctrl-A x). */
function quitReason(cause: string): string {
  if (cause.startsWith('host-')) return cause;
  return cause.startsWith('terminating on signal') ? 'host-signal' : 'host-ui';
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: nothing to undo.
  }
}
