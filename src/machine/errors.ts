/**
 * An error the user caused and can fix (a missing image, a file that is not
 * a kernel): printed as one `tsvm: ...` line, exit status 1, no stack trace.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
}

/** Wraps an error about a named option's argument: `tsvm: -hda x.img: Could not open ...`. */
export function optionError(option: string, arg: string, err: unknown): UserError {
  const reason = err instanceof Error ? err.message : String(err);
  return new UserError(`${option} ${arg}: ${reason}`);
}
