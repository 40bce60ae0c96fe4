/**
 * The main loop: runs the accelerator and acts on what the guest or the user
 * asked for (reset, poweroff, debug-exit, quit), as QEMU's main loop does
 * with its runstate and -action settings.
 */
import { writeFileSync, unlinkSync } from 'node:fs';
import type { MachineConfig } from '../config.js';
import type { LifecycleRequest } from './lifecycle.js';
import { buildPc, type Pc } from './pc.js';

/** Builds the PC, runs it to the end and returns tsvm's exit status. */
export async function runMachine(config: MachineConfig): Promise<number> {
  const pc = await buildPc(config);
  const pidfile = config.pidfile;
  if (pidfile) writeFileSync(pidfile, `${process.pid}\n`);
  const onSignal = (signal: NodeJS.Signals) => {
    const num = signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15;
    pc.bus.lifecycle.request({ kind: 'quit', cause: `terminating on signal ${num}` });
  };
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  try {
    return await loop(pc);
  } finally {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
    await pc.close();
    if (pidfile) removeQuietly(pidfile);
  }
}

async function loop(pc: Pc): Promise<number> {
  if (pc.config.startPaused) await pc.waitForResume();
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
      if (config.noReboot || config.action.reboot === 'shutdown') return 0;
      pc.reset();
      return undefined;
    case 'poweroff':
      if (config.noShutdown || config.action.shutdown === 'pause') {
        await pc.waitForResume();
        return undefined;
      }
      return 0;
    case 'exit':
      return req.status;
    case 'quit':
      if (req.cause.startsWith('terminating on signal')) process.stderr.write(`tsvm: ${req.cause}\n`);
      return 0;
    case 'error':
      process.stderr.write(`tsvm: ${req.message}\n`);
      return 1;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone: nothing to undo.
  }
}
