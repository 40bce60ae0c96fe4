/**
 * tsvm's entry point: QEMU command line in, exit status out.
 *
 * Every way out goes through `exit()`, so disks are flushed, the terminal is
 * restored and the pidfile removed whether the guest powered off, the user
 * pressed Ctrl-A x, a signal arrived or something failed.
 */
import { CliError, parseCommandLine } from './cli/parse.js';
import { configureLogging } from './log.js';
import { runMachine } from './machine/runner.js';
import { UserError } from './machine/errors.js';
import { execWithV8Flags, hasV8Flags } from './relaunch.js';

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  if (parsed.kind === 'print') {
    process.stdout.write(parsed.text.endsWith('\n') ? parsed.text : parsed.text + '\n');
    return 0;
  }
  if (parsed.config.accel.order.includes('tcg') && !hasV8Flags()) execWithV8Flags();
  configureLogging(parsed.config.logItems, parsed.config.logFile);
  return runMachine(parsed.config);
}

function reportFatal(err: unknown): number {
  if (err instanceof CliError || err instanceof UserError) {
    process.stderr.write(`tsvm: ${err.message}\n`);
  } else if (process.env.TSVM_DEBUG) {
    process.stderr.write(`tsvm: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
  } else {
    process.stderr.write(`tsvm: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  return 1;
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (err: unknown) => process.exit(reportFatal(err)),
);
