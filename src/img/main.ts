/**
 * tsvm-img: qemu-img for tsvm. Subcommands and flags follow qemu-img; errors
 * are one "tsvm-img: ..." message on stderr and qemu-img's exit status.
 */
import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import { check } from './check.js';
import { commit } from './commit.js';
import { convert } from './convert.js';
import { create } from './create.js';
import { ImgError } from './errors.js';
import { info } from './info.js';
import { map } from './map.js';
import { rebase } from './rebase.js';
import { resize } from './resize.js';
import { snapshot } from './snapshot.js';

const collect = (value: string, previous: string[]) => [...previous, value];
const output = () => new Option('--output <fmt>', 'human or json').choices(['human', 'json']).default('human');
const forceShare = () => new Option('-U, --force-share', 'open without locking (the image may be in use)');

function program(): Command {
  const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
  const cmd = new Command('tsvm-img')
    .description('tsvm disk image utility (qemu-img compatible)')
    .version(`tsvm-img version ${version}`, '-V, --version')
    .configureOutput({ outputError: (text, write) => write(qemuStyle(text)) })
    .showSuggestionAfterError(false);

  cmd.command('create')
    .description('create a new disk image')
    .option('-f <fmt>', 'image format (raw, qcow2)')
    .option('-b <backing_file>', 'backing file')
    .option('-F <backing_fmt>', 'backing file format')
    .option('-u', 'do not check that the backing file opens')
    .option('-o <options>', 'format options (cluster_size, compat, lazy_refcounts, refcount_bits)', collect, [])
    .option('-q', 'quiet')
    .argument('<filename>')
    .argument('[size]', 'bytes, or with a k, M, G, T, P or E suffix')
    .action((file: string, size: string | undefined, o) =>
      create(file, size, { format: o.f, backing: o.b, backingFormat: o.F, unsafe: o.u, options: o.o, quiet: o.q }),
    );

  cmd.command('info')
    .description('show information about an image')
    .option('-f <fmt>', 'image format')
    .addOption(output())
    .option('--backing-chain', 'show every image of the backing chain')
    .addOption(forceShare())
    .argument('<filename>')
    .action((file: string, o) => info(file, { format: o.f, output: o.output, backingChain: o.backingChain, forceShare: o.forceShare }));

  cmd.command('check')
    .description('check an image for consistency (exit 0 ok, 1 error, 2 corruptions, 3 leaks)')
    .option('-f <fmt>', 'image format')
    .option('-r <leaks|all>', 'repair leaks, or everything')
    .addOption(output())
    .addOption(forceShare())
    .option('-q', 'quiet')
    .argument('<filename>')
    .action((file: string, o) => {
      process.exitCode = check(file, { format: o.f, output: o.output, repair: o.r, forceShare: o.forceShare });
    });

  cmd.command('convert')
    .description('convert images to a new image')
    .option('-f <fmt>', 'input format')
    .option('-O <output_fmt>', 'output format (default raw)')
    .option('-c', 'compress (qcow2 output)')
    .option('-p', 'show progress')
    .option('-o <options>', 'output format options', collect, [])
    .option('-l <snapshot>', 'read this internal snapshot of the input')
    .option('-t <cache>', 'output cache mode: writeback (fsync at the end, default) or unsafe (no fsync)')
    .addOption(forceShare())
    .option('-q', 'quiet')
    .argument('<filenames...>', 'input images, then the output image')
    .action((files: string[], o) =>
      convert(files, { format: o.f, outputFormat: o.O, compress: o.c, progress: o.p, options: o.o, snapshot: o.l, cache: o.t, forceShare: o.forceShare }),
    );

  cmd.command('resize')
    .description('change the virtual size of an image')
    .option('-f <fmt>', 'image format')
    .option('--shrink', 'allow making the image smaller')
    .option('-q', 'quiet')
    .argument('<filename>')
    .argument('<size>', '[+|-]size')
    .action((file: string, size: string, o) => resize(file, size, { format: o.f, shrink: o.shrink }));

  cmd.command('snapshot')
    .description('list, create, apply or delete internal snapshots')
    .option('-f <fmt>', 'image format')
    .option('-l', 'list')
    .option('-a <snapshot>', 'apply (revert to)')
    .option('-c <snapshot>', 'create')
    .option('-d <snapshot>', 'delete')
    .option('-q', 'quiet')
    .argument('<filename>')
    .action((file: string, o) => snapshot(file, { format: o.f, list: o.l, apply: o.a, create: o.c, delete: o.d }));

  cmd.command('map')
    .description('show the allocation of an image')
    .option('-f <fmt>', 'image format')
    .addOption(output())
    .addOption(forceShare())
    .argument('<filename>')
    .action((file: string, o) => map(file, { format: o.f, output: o.output, forceShare: o.forceShare }));

  cmd.command('commit')
    .description('write an image\'s changes into its backing file')
    .option('-f <fmt>', 'image format')
    .option('-d', 'do not empty the image afterwards')
    .option('-q', 'quiet')
    .argument('<filename>')
    .action((file: string, o) => commit(file, { format: o.f, drop: o.d }));

  cmd.command('rebase')
    .description('change the backing file of an image')
    .option('-f <fmt>', 'image format')
    .option('-u', 'unsafe: only rewrite the backing file name')
    .option('-b <backing_file>', 'new backing file ("" for none)')
    .option('-F <backing_fmt>', 'new backing file format')
    .option('-q', 'quiet')
    .argument('<filename>')
    .action((file: string, o) => rebase(file, { format: o.f, unsafe: o.u, backing: o.b, backingFormat: o.F }));
  return cmd;
}

/** Commander's "error: unknown command 'x'" in qemu-img's words. */
function qemuStyle(text: string): string {
  const message = text
    .replace(/^error: /, '')
    .replace(/^unknown command '(.*)'/, 'Command not found: $1')
    .replace(/^unknown option '(.*)'/, "unrecognized option '$1'")
    .trimEnd();
  return `tsvm-img: ${message}\nTry 'tsvm-img --help' for more information\n`;
}

/** qemu-img resize takes "-1G": take a negative size out of argv before option parsing sees it. */
function protectNegativeSize(argv: string[]): string[] {
  const args = argv.slice(2);
  if (args[0] !== 'resize') return argv;
  const last = args[args.length - 1];
  if (last === undefined || !/^-\d/.test(last)) return argv;
  return [...argv.slice(0, -1), '--', last];
}

export function main(argv: string[]): void {
  try {
    program().parse(protectNegativeSize(argv));
  } catch (err) {
    process.stderr.write(`tsvm-img: ${(err as Error).message}\n`);
    process.exitCode = err instanceof ImgError ? err.exitCode : 1;
  }
}

main(process.argv);
