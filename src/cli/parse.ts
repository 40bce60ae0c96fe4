/**
 * tsvm's command line, read the way QEMU reads its own (softmmu/vl.c):
 * options are single-dash long names (`--name` is the same option), an
 * option's argument is the next word whatever it looks like (`-m -5` is
 * "-m with argument -5"), a word that is not an option is a disk image for
 * IDE disk 0, and options act in order, so `-version` or a help request
 * prints before later options are looked at.
 */
import type { MachineConfig } from '../config.js';
import { newDraft } from './draft.js';
import { CliError, locatedError } from './errors.js';
import { finalizeConfig } from './finalize.js';
import { findOption, NOT_YET_OPTIONS, type OptionSpec } from './options.js';
import { shorthandDrive } from './drive.js';

export { CliError } from './errors.js';

export type CliResult = { kind: 'run'; config: MachineConfig } | { kind: 'print'; text: string };

/** `-name`, `--name` and `-name=value` (tsvm's addition; QEMU's lookup_opt calls `-m=512` an invalid option). */
function lookupOption(word: string): { spec: OptionSpec; name: string; inline?: string } {
  const name = word.slice(word.startsWith('--') ? 2 : 1);
  const exact = findOption(name);
  if (exact) return { spec: exact, name };
  const eq = name.indexOf('=');
  const withValue = eq > 0 ? findOption(name.slice(0, eq)) : undefined;
  if (withValue?.arg !== undefined) return { spec: withValue, name: name.slice(0, eq), inline: name.slice(eq + 1) };
  if (NOT_YET_OPTIONS.includes(eq > 0 ? name.slice(0, eq) : name)) throw new CliError(`${word}: option not supported by tsvm yet`);
  throw new CliError(`${word}: invalid option`);
}

export function parseCommandLine(argv: readonly string[]): CliResult {
  const draft = newDraft();
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith('-')) {
      draft.drives.push(shorthandDrive(word, word, 'hd', 0));
      continue;
    }
    const { spec, name, inline } = lookupOption(word);
    let arg = '';
    let location = word;
    if (spec.arg !== undefined && inline === undefined) {
      if (i + 1 >= argv.length) throw new CliError(`${word}: requires an argument`);
      arg = argv[++i]!;
      location = `${word} ${arg}`;
    } else if (inline !== undefined) {
      arg = inline;
    }
    let printed: string | void;
    try {
      printed = spec.apply(draft, arg, name, location);
    } catch (err) {
      throw locatedError(location, err);
    }
    if (typeof printed === 'string') return { kind: 'print', text: printed };
  }
  return { kind: 'run', config: finalizeConfig(draft) };
}
