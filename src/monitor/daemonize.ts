/**
 * -daemonize as QEMU does it: the command the user ran (the parent) starts
 * the machine in a detached child and returns only once the child says
 * its monitors and gdb socket are listening, so a script can connect next.
 * A failure during start-up reaches the user on the parent's stderr and
 * becomes its exit status; afterwards the child is on its own (new
 * session, no terminal, stderr unread).
 */
import { spawn } from 'node:child_process';

const CHILD_ENV = 'TSVM_DAEMONIZED';
const READY = 'tsvm-ready';

export function isDaemonChild(): boolean {
  return process.env[CHILD_ENV] === '1';
}

/** The parent's side: resolves with the status the user's command exits with. */
export function daemonize(): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, [CHILD_ENV]: '1' },
  });
  child.stderr!.pipe(process.stderr, { end: false });
  return new Promise((resolve) => {
    child.on('message', (m) => {
      if (m !== READY) return;
      child.stderr!.unpipe();
      child.stderr!.destroy();
      child.disconnect();
      child.unref();
      resolve(0);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** The child's side, once monitors and the gdbstub listen: release the parent. */
export function daemonReady(): void {
  if (!isDaemonChild() || !process.send) return;
  // The parent stops reading our stderr: later writes must not fail loudly.
  process.stderr.on('error', () => {});
  process.send(READY, () => process.disconnect());
}
