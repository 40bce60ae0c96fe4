/**
 * The host terminal's raw mode, and the one place that restores it.
 *
 * While tsvm owns a TTY on stdin it is in raw mode (no echo, no line
 * editing, Ctrl-C as a byte). It must be restored on every way out: a normal
 * exit and an uncaught exception both pass through process 'exit'; SIGINT,
 * SIGTERM and SIGHUP are caught here only to restore the terminal before the
 * signal takes its default course, unless the application has its own
 * handler, which then decides (and exits through 'exit'). SIGKILL cannot be
 * caught; `stty sane` mends the terminal after that.
 */
import type { ReadStream } from 'node:tty';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

let rawInput: ReadStream | undefined;
let handlersInstalled = false;
let restoreActions: (() => void)[] = [];

export function enterRawMode(stdin: ReadStream): void {
  installRestoreHandlers();
  stdin.setRawMode(true);
  rawInput = stdin;
}

/**
 * Runs `action` once, when the terminal is restored, before raw mode ends
 * (a full-screen display leaving the alternate screen). It must be synchronous.
 */
export function onTerminalRestore(action: () => void): void {
  installRestoreHandlers();
  restoreActions.push(action);
}

/** Puts the terminal back as tsvm found it. Idempotent; main may call it from any exit path. */
export function restoreTerminal(): void {
  const actions = restoreActions;
  restoreActions = [];
  for (const action of actions) action();
  const input = rawInput;
  rawInput = undefined;
  if (!input) return;
  try {
    input.setRawMode(false);
  } catch {
    // The terminal may already be gone (hangup); nothing left to restore.
  }
}

function installRestoreHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', restoreTerminal);
  for (const signal of SIGNALS) {
    const onSignal = (): void => {
      restoreTerminal();
      if (process.listenerCount(signal) > 1) return;
      // Nobody else handles it: take the default action (terminate) as if we were never here.
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
