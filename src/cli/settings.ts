/**
 * The smaller options with a value to check: -boot, -display, -vga, -echr,
 * -d, -name, -rtc, -action. Messages as QEMU's vl.c, softmmu/bootdevice.c,
 * hw/i386/pc.c and softmmu/rtc.c word them.
 */
import type { BootConfig, MachineConfig, RtcConfig } from '../config.js';
import { LOG_CATEGORIES } from '../log.js';
import { CliError, OptionError } from './errors.js';
import { isHelp, parseInteger, SubOptions } from './suboptions.js';

/** Boot devices the pc's firmware knows: floppies, hard disk, CD-ROM, network. */
const PC_BOOT_DEVICES = 'abcdn';
const PC_MAX_BOOT_DEVICES = 3;

/** `-boot [order=]drives,once=drives,menu=on|off,strict=on|off`; later -boot options update earlier ones. */
export function parseBootOption(text: string, previous: BootConfig): BootConfig {
  const opts = new SubOptions(text, { implied: 'order', keyval: true, paramPrefix: 'boot.', unlocated: true });
  opts.allowOnly(['order', 'once', 'menu', 'strict'], ['splash', 'splash-time', 'reboot-timeout']);
  const boot = { ...previous };
  const order = opts.string('order');
  if (order !== undefined) boot.order = checkBootDevices(order);
  const once = opts.string('once');
  if (once !== undefined) boot.once = checkBootDevices(once);
  boot.menu = opts.bool('menu') ?? boot.menu;
  boot.strict = opts.bool('strict') ?? boot.strict;
  return boot;
}

function checkBootDevices(devices: string): string {
  const seen = new Set<string>();
  for (const d of devices) {
    if (d < 'a' || d > 'p') throw new CliError(`Invalid boot device '${d}'`);
    if (seen.has(d)) throw new CliError(`Boot device '${d}' was given twice`);
    seen.add(d);
  }
  for (const d of devices) {
    if (!PC_BOOT_DEVICES.includes(d)) throw new CliError(`Invalid boot device for PC: '${d}'`);
  }
  if (devices.length > PC_MAX_BOOT_DEVICES) throw new CliError('Too many boot devices for PC');
  return devices;
}

const DISPLAYS_NOT_YET = ['gtk', 'sdl', 'vnc', 'cocoa', 'egl-headless', 'spice-app', 'dbus'];

/** `-display none|curses`; graphical displays are refused by name. */
export function parseDisplayOption(text: string): MachineConfig['display'] | 'help' {
  const type = text.split(/[,=]/)[0]!;
  if (isHelp(type)) return 'help';
  if (DISPLAYS_NOT_YET.includes(type)) throw new OptionError(`display '${type}' not supported by tsvm yet`);
  const opts = new SubOptions(text, { implied: 'type', keyval: true });
  const display = opts.choice('type', ['none', 'curses'] as const)!;
  opts.allowOnly(['type'], display === 'curses' ? ['charset'] : []);
  return display;
}

const VGA_NOT_YET = ['cirrus', 'vmware', 'qxl', 'virtio', 'ati', 'xenfb', 'bochs'];

/** `-vga std|none`; QEMU takes the whole argument as the card's name. */
export function parseVgaOption(text: string): MachineConfig['vga'] | 'help' {
  if (isHelp(text)) return 'help';
  if (text === 'std' || text === 'none') return text;
  if (VGA_NOT_YET.includes(text)) throw new OptionError(`VGA card '${text}' not supported by tsvm yet`);
  throw new CliError(`unknown vga type: ${text}`);
}

/** `-echr 20` or `-echr 0x14`: the mux escape character. */
export function parseEchrOption(text: string): number {
  const n = parseInteger(text);
  // QEMU prints this and carries on with a garbage value; tsvm stops.
  if (n === undefined || n > 0xff) throw new CliError('Bad argument to echr');
  return n;
}

/** QEMU's -d items tsvm has no equivalent for yet. */
const LOG_ITEMS_NOT_YET = ['out_asm', 'op_opt', 'op_ind', 'fpu', 'mmu', 'page', 'plugin', 'strace', 'tid'];

/** `-d item1,item2`; `all` turns on every item, as in QEMU. */
export function parseLogItems(text: string): string[] {
  const items = text.split(',');
  if (items.includes('all')) return Object.keys(LOG_CATEGORIES);
  for (const item of items) {
    if (item in LOG_CATEGORIES) continue;
    if (item.startsWith('trace:')) throw new OptionError('trace events not supported by tsvm yet');
    if (LOG_ITEMS_NOT_YET.includes(item)) throw new OptionError(`log item '${item}' not supported by tsvm yet`);
    // QEMU prints the whole -d help list instead; tsvm keeps to one line.
    throw new OptionError(`unknown log item '${item}' (use -d help for a list)`);
  }
  return items;
}

/** `-name [guest=]name`. */
export function parseNameOption(text: string): string | undefined {
  const opts = new SubOptions(text, { implied: 'guest' });
  opts.allowOnly(['guest'], ['process', 'debug-threads']);
  return opts.string('guest');
}

const DATETIME = /^(\d+)-(\d+)-(\d+)(?:T(\d+):(\d+):(\d+))?$/;

/** `-rtc base=utc|localtime|2006-06-17T16:01:21,clock=host|rt|vm,driftfix=none|slew`; later -rtc options update earlier ones. */
export function parseRtcOption(text: string, previous: RtcConfig): RtcConfig {
  const opts = new SubOptions(text);
  opts.allowOnly(['base', 'clock', 'driftfix']);
  const rtc = { ...previous };
  const base = opts.string('base');
  if (base !== undefined) rtc.base = rtcBase(base);
  const clock = opts.string('clock');
  if (clock !== undefined) rtc.clock = oneOf(clock, ['host', 'rt', 'vm'] as const);
  const driftfix = opts.string('driftfix');
  if (driftfix !== undefined) rtc.driftfix = oneOf(driftfix, ['none', 'slew'] as const);
  return rtc;
}

function rtcBase(base: string): RtcConfig['base'] {
  if (base === 'utc' || base === 'localtime') return base;
  const m = DATETIME.exec(base);
  // QEMU puts the valid formats on a second line.
  if (!m) throw new CliError("invalid datetime format; valid formats: '2006-06-17T16:01:21' or '2006-06-17'");
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1).map((v) => Number(v ?? 0));
  // QEMU reads the date as UTC (mktimegm).
  return Date.UTC(year!, month! - 1, day!, hour, minute, second);
}

function oneOf<T extends string>(value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new CliError(`invalid option value '${value}'`);
}

/** `-action reboot=...,shutdown=...,panic=...`. */
export function parseActionOption(text: string): Partial<MachineConfig['action']> {
  const opts = new SubOptions(text);
  opts.allowOnly(['reboot', 'shutdown', 'panic'], ['watchdog']);
  if (opts.string('panic') === 'exit-failure') throw new OptionError("panic action 'exit-failure' not supported by tsvm yet");
  const action: Partial<MachineConfig['action']> = {};
  const reboot = opts.choice('reboot', ['reset', 'shutdown'] as const);
  if (reboot) action.reboot = reboot;
  const shutdown = opts.choice('shutdown', ['poweroff', 'pause'] as const);
  if (shutdown) action.shutdown = shutdown;
  const panic = opts.choice('panic', ['pause', 'shutdown', 'none'] as const);
  if (panic) action.panic = panic;
  return action;
}
