/** Types of check-guest.mjs's module interface. */

export declare const BANNER: string;
export declare const PROMPT: string;

export interface GuestOutput {
  command: string;
  /** What the command printed, CRs removed, trimmed. */
  output: string;
  /** From typing the command to the next prompt. */
  ms: number;
}

export interface GuestRun {
  outputs: GuestOutput[];
  /** The emulator's exit status after `poweroff -f` (null if killed by a signal). */
  exitCode: number | null;
  signal: string | null;
  /** Everything the guest printed on its console. */
  transcript: string;
}

export declare function driveGuest(opts: {
  /** The emulator's argv, e.g. ['qemu-system-i386', '-kernel', ...]. */
  command: string[];
  /** Shell commands, each typed after a prompt. */
  commands: string[];
  timeoutSeconds?: number;
  onConsole?: (text: string) => void;
}): Promise<GuestRun>;
