/**
 * Logging through pino, keyed by QEMU's -d categories.
 *
 * Nothing is logged unless its category is enabled (`-d in_asm,int,...`),
 * and the check is a plain boolean so hot paths can test `logOn.int` before
 * building a message. Output goes to stderr, or to the -D file.
 */
import { pino, type Logger } from 'pino';

export const LOG_CATEGORIES = {
  in_asm: 'show target assembly code for each compiled TB',
  op: 'show the JavaScript generated for each compiled TB',
  exec: 'show trace before each executed TB (lots of logging)',
  nochain: 'do not chain compiled TBs so that "exec" and "cpu" show complete traces',
  cpu: 'show CPU registers before entering a TB (lots of logging)',
  int: 'show interrupts/exceptions in short format',
  cpu_reset: 'show CPU state before CPU resets',
  unimp: 'log unimplemented functionality',
  guest_errors: 'log when the guest OS does something invalid (eg accessing a non-existent register)',
  ioport: 'show all i/o ports accesses',
  pcall: 'x86 only: show protected mode far calls/returns/exceptions',
  jit: 'show translator statistics at exit',
} as const;

export type LogCategory = keyof typeof LOG_CATEGORIES;

/** Which categories are on; read directly in hot paths. */
export const logOn: Record<LogCategory, boolean> = Object.fromEntries(
  Object.keys(LOG_CATEGORIES).map((k) => [k, false]),
) as Record<LogCategory, boolean>;

let base: Logger = pino({ level: 'silent' });

type LogFn = (obj: object, msg: string) => void;

function categoryLogger(category: LogCategory): LogFn {
  return (obj, msg) => {
    if (logOn[category]) base.info({ cat: category, ...obj }, msg);
  };
}

/** One function per category: `log.unimp({port}, 'unassigned port read')`. */
export const log = Object.fromEntries(
  (Object.keys(LOG_CATEGORIES) as LogCategory[]).map((k) => [k, categoryLogger(k)]),
) as Record<LogCategory, LogFn>;

/**
 * Turns on the -d categories and points output at stderr or the -D file.
 * Unknown names are the caller's to reject (see cli/); here they throw.
 */
export function configureLogging(categories: readonly string[], file?: string): void {
  for (const c of categories) {
    if (!(c in logOn)) throw new Error(`unknown log category ${c}`);
    logOn[c as LogCategory] = true;
  }
  if (categories.length === 0) return;
  // A -D file starts empty, as QEMU's does (pino would append).
  const dest = pino.destination({ dest: file ?? 2, sync: true, append: false });
  base = pino({ level: 'info', base: undefined, timestamp: false }, dest);
}

/** A number as log records show addresses, ports and values: 0x-prefixed hex (a negative one as its unsigned 32-bit value). */
export function hex(n: number): string {
  return '0x' + (n < 0 ? n >>> 0 : n).toString(16);
}
