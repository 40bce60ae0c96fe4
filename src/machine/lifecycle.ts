/**
 * Guest lifecycle requests: reset, poweroff, debug-exit, fatal errors.
 *
 * Devices and CPUs post a request; the accelerator's run loop notices it
 * between slices (or on the next exit) and the machine acts on it, so a
 * request made deep inside an instruction never unwinds the emulator.
 */

export type LifecycleRequest =
  /** Guest asked for a reset: triple fault, 0xCF9, i8042, port 0x92. */
  | { kind: 'reset'; cause: string }
  /** Guest powered off (ACPI S5), or the monitor said system_powerdown and the guest complied. */
  | { kind: 'poweroff'; cause: string }
  /** isa-debug-exit or another device that ends tsvm with a status. */
  | { kind: 'exit'; status: number; cause: string }
  /** The user quit (Ctrl-A x, monitor `quit`, SIGINT/SIGTERM). */
  | { kind: 'quit'; cause: string }
  /** An unrecoverable emulation error: one line for the user. */
  | { kind: 'error'; message: string };

export class Lifecycle {
  private pending: LifecycleRequest | undefined;
  private readonly listeners: (() => void)[] = [];

  /** Posts a request. A terminal request (exit/quit/error/poweroff) is never overwritten by a reset. */
  request(req: LifecycleRequest): void {
    if (this.pending && this.pending.kind !== 'reset' && req.kind === 'reset') return;
    if (this.pending && this.pending.kind !== 'reset') return;
    this.pending = req;
    for (const l of this.listeners) l();
  }

  /** True when the run loop should stop and hand over to the machine. */
  get hasRequest(): boolean {
    return this.pending !== undefined;
  }

  take(): LifecycleRequest | undefined {
    const req = this.pending;
    this.pending = undefined;
    return req;
  }

  /** Called whenever a request is posted (used to wake an idle run loop). */
  onRequest(listener: () => void): void {
    this.listeners.push(listener);
  }
}
