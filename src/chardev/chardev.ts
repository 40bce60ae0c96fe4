/**
 * Character devices: the host side of a UART, debugcon or monitor.
 *
 * A backend (stdio, file, socket, ...) moves bytes between the host and one
 * frontend (a guest device or a monitor). Input is flow-controlled as in
 * QEMU: the backend holds bytes until the frontend says it has room
 * (`canReceive()`), and the frontend calls `Chardev.pump()` when room opens
 * (e.g. after the guest reads the UART's receive buffer).
 */

/**
 * Out-of-band events a backend reports to its frontend (QEMU's
 * QEMUChrEvent): a client connected or left, a break (telnet BREAK, Ctrl-A b),
 * or the mux moved the input focus to or away from this frontend.
 */
export type ChardevEvent = 'opened' | 'closed' | 'break' | 'focus-in' | 'focus-out';

export interface CharFrontend {
  /** How many bytes the frontend can take right now. */
  canReceive(): number;
  /** Delivers at most canReceive() bytes. */
  receive(data: Uint8Array): void;
  /** Optional: out-of-band events (a UART turns 'break' into LSR.BI; a monitor prints its prompt on 'focus-in'). */
  event?(event: ChardevEvent): void;
}

export interface Chardev {
  readonly id: string;
  /** Sends guest output to the host. Never blocks the guest; backends buffer. */
  write(data: Uint8Array): void;
  /** Connects the frontend that receives this chardev's input. */
  attach(frontend: CharFrontend): void;
  /** Re-offers held input to the frontend (called when it has room again). */
  pump(): void;
  /** Flushes pending output and releases host resources (restores the TTY for stdio). */
  close(): Promise<void>;
}
