/**
 * The two ways a command line goes wrong.
 *
 * QEMU prefixes most errors with the option that caused them
 * (`-m lots: Parameter 'size' expects ...`), via its "location" machinery.
 * Code that validates one option's argument throws OptionError with the bare
 * message; the argv loop adds the location. Checks that span options
 * (`-initrd only allowed with -kernel option`) throw CliError directly, as QEMU
 * prints those without a location.
 */

/** The final message: what follows `tsvm: ` on stderr (main prints it and exits 1). */
export class CliError extends Error {
  override name = 'CliError';
}

/** A message about one option's argument; the caller adds `-opt arg: `. */
export class OptionError extends Error {
  override name = 'OptionError';
}

/** `-m lots` as QEMU shows an option in its messages: the argv words as typed. */
export function locatedError(location: string, err: unknown): unknown {
  return err instanceof OptionError ? new CliError(`${location}: ${err.message}`) : err;
}

/** A message about an option found after all options were read; defaults tsvm added have no location. */
export function errorAt(location: string, message: string): CliError {
  return new CliError(location ? `${location}: ${message}` : message);
}
