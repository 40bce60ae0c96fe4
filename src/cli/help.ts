/**
 * -version and -h, shaped like QEMU's: the version banner, then the options
 * by section, each `-name arg` followed by its help, continuation lines
 * indented to column 16.
 */
import { readFileSync } from 'node:fs';
import type { OptionSpec, Section } from './options.js';

const SECTION_ORDER: readonly Section[] = [
  'Standard',
  'Block device',
  'Display',
  'i386 target only',
  'Network',
  'Character device',
  'Linux/Multiboot boot specific',
  'Debug/Expert',
];
const HELP_COLUMN = 16;

/** package.json sits two levels up from both src/cli/ and dist/cli/. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function versionText(): string {
  return `tsvm version ${packageVersion()} (QEMU-compatible command line)\nCopyright (c) 2026 the tsvm developers; command line after QEMU by Fabrice Bellard and the QEMU Project developers\n`;
}

function sectionTitle(section: Section): string {
  return section.endsWith('only') || section.endsWith('specific') ? `${section}:` : `${section} options:`;
}

function optionHelp(option: OptionSpec): string {
  const [firstArgLine = '', ...moreArgLines] = (option.arg ?? '').split('\n');
  const synopsis = [option.names.map((n) => `-${n}`).join('/'), firstArgLine].filter(Boolean).join(' ');
  const indent = ' '.repeat(HELP_COLUMN);
  const helpLines = option.help.split('\n');
  const lines = [...moreArgLines.map((l) => `${indent.slice(8)}${l}`)];
  if (synopsis.length < HELP_COLUMN && moreArgLines.length === 0) {
    return [`${synopsis.padEnd(HELP_COLUMN)}${helpLines[0]}`, ...helpLines.slice(1).map((l) => indent + l)].join('\n');
  }
  return [synopsis, ...lines, ...helpLines.map((l) => indent + l)].join('\n');
}

export function usage(options: readonly OptionSpec[]): string {
  const sections = SECTION_ORDER.filter((s) => options.some((o) => o.section === s)).map((s) =>
    [sectionTitle(s), ...options.filter((o) => o.section === s).map(optionHelp)].join('\n'),
  );
  return [
    versionText() + 'usage: tsvm [options] [disk_image]',
    "'disk_image' is a raw hard disk image for IDE hard disk 0",
    ...sections,
    "When using -nographic, press 'ctrl-a h' to get some help.\n",
  ].join('\n\n');
}
