/**
 * HMP's command table: names, argument shapes and help lines as in QEMU's
 * hmp-commands.hx / hmp-commands-info.hx, and what each one does.
 */
import { LOG_CATEGORIES, configureLogging, logOn, type LogCategory } from '../log.js';
import type { Pc } from '../machine/pc.js';
import { MachineControl, MonitorError, VERSION_STRING } from './control.js';
import { evaluate } from './expression.js';
import { DumpDefaults, memoryDump, parseFormat } from './hmp-memory.js';
import { blockText, chardevText, cpusText, mtreeText, statusText } from './info.js';
import { formatRegisters } from './registers.js';

/** Starts or stops the gdbstub (`gdbserver`); returns the line QEMU prints. */
export type GdbServerControl = (spec: string) => Promise<string>;

export interface HmpContext {
  pc: Pc;
  ctl: MachineControl;
  dump: DumpDefaults;
  gdbserver: GdbServerControl;
  print(text: string): void;
}

interface Command {
  /** A short name QEMU also accepts (`c` for cont, `q` for quit). */
  alias?: string;
  args: string;
  help: string;
  run(ctx: HmpContext, args: string[]): void | Promise<void>;
}

function need(args: string[], i: number, name: string): string {
  const v = args[i];
  if (v === undefined) throw new MonitorError(`Parameter '${name}' is missing`);
  return v;
}

function integer(ctx: HmpContext, text: string): bigint {
  return evaluate(text, () => ctx.ctl.vcpu(0).getState());
}

/** screendump's `-f format` after the file name (QEMU's option order); PPM without it. */
function screendumpFormat(rest: string[]): 'ppm' | 'png' {
  if (rest[0] !== '-f') return 'ppm';
  const format = rest[1];
  if (format === undefined) throw new MonitorError("Parameter 'format' is missing");
  if (format !== 'ppm' && format !== 'png') throw new MonitorError(`invalid parameter value: ${format}`);
  return format;
}

/** x/xp: an optional /fmt then the address expression (which may contain spaces). */
function dumpCommand(physical: boolean) {
  return (ctx: HmpContext, args: string[]) => {
    const fmtSpec = args[0]?.startsWith('/') ? args.shift() : undefined;
    const fmt = parseFormat(fmtSpec, ctx.dump);
    if (args.length === 0) throw new MonitorError("Parameter 'addr' is missing");
    const addr = integer(ctx, args.join(' '));
    ctx.print(memoryDump(ctx.ctl, fmt, addr, physical));
  };
}

function saveCommand(physical: boolean) {
  return (ctx: HmpContext, args: string[]) => {
    const addr = integer(ctx, need(args, 0, 'val'));
    const size = integer(ctx, need(args, 1, 'size'));
    ctx.ctl.saveMemory(addr, Number(size), need(args, 2, 'filename'), physical);
  };
}

const INFO: Record<string, { help: string; run(ctx: HmpContext): void }> = {
  block: { help: 'show info of one block device or all block devices', run: (c) => c.print(blockText(c.pc)) },
  chardev: { help: 'show the character devices', run: (c) => c.print(chardevText(c.pc)) },
  cpus: { help: 'show infos for each CPU', run: (c) => c.print(cpusText(c.pc)) },
  jit: { help: 'show dynamic compiler info', run: (c) => c.print(jitText(c)) },
  kvm: { help: 'show KVM information', run: (c) => c.print(`kvm support: ${c.pc.accel.name === 'kvm' ? 'enabled' : 'disabled'}\n`) },
  mtree: { help: 'show memory tree', run: (c) => c.print(mtreeText(c.pc)) },
  name: { help: 'show the current VM name', run: (c) => c.print(c.pc.config.name !== undefined ? `${c.pc.config.name}\n` : '') },
  registers: {
    help: 'show the cpu registers',
    run: (c) =>
      c.print(formatRegisters(c.ctl.vcpu(0).getState(), { a20: (c.pc.bus.a20.mask & 0x100000) !== 0, limitInFlags: c.pc.accel.name === 'tcg' })),
  },
  status: { help: 'show the current VM status (running|paused)', run: (c) => c.print(statusText(c.pc) + '\n') },
  version: { help: 'show the version of QEMU', run: (c) => c.print(`${VERSION_STRING} (tsvm)\n`) },
};

/** `info jit` in QEMU's two sections, with the translator's counters under QEMU's names where they mean the same. */
function jitText(ctx: HmpContext): string {
  if (ctx.pc.accel.name !== 'tcg') return 'JIT information is only available with accel=tcg\n';
  const st = ctx.ctl.jitStats() ?? {};
  const row = (name: string, value: number | string | undefined) => (value === undefined ? '' : `${name.padEnd(20)}${value}\n`);
  const avg = st['liveBlocks'] ? (st['insnsInBlocks']! / st['liveBlocks']).toFixed(1) : undefined;
  return (
    'Translation buffer state:\n' +
    row('TB count', st['liveBlocks'] ?? 0) +
    row('TB avg target size', avg === undefined ? undefined : `${avg} insns`) +
    row('TBs translated', st['translated']) +
    row('TB entries', st['entries']) +
    row('TBs in WebAssembly', st['wasm']) +
    row('TBs executed', st['blocksRun']) +
    '\nStatistics:\n' +
    row('TB flush count', st['flushes'] ?? 0) +
    row('TB invalidate count', st['invalidated'] ?? 0) +
    row('guest insns', st['executed']) +
    row('guest insns in TBs', st['insnsRun']) +
    row('TB exits to interp', st['slowExits']) +
    row('translation time', st['translateMs'] === undefined ? undefined : `${Math.round(st['translateMs'])} ms`)
  );
}

const COMMANDS: Record<string, Command> = {
  help: { alias: '?', args: '[cmd]', help: 'show the help', run: (ctx, args) => ctx.print(helpText(args[0])) },
  info: {
    args: '[subcommand]',
    help: 'show various information about the system state',
    run: (ctx, args) => {
      const sub = args[0];
      if (sub === undefined) return ctx.print(infoHelp());
      const cmd = Object.hasOwn(INFO, sub) ? INFO[sub] : undefined;
      if (!cmd) throw new MonitorError(`unknown command: 'info ${sub}'`);
      cmd.run(ctx);
    },
  },
  x: { args: '/fmt addr', help: 'virtual memory dump starting at \'addr\'', run: dumpCommand(false) },
  xp: { args: '/fmt addr', help: 'physical memory dump starting at \'addr\'', run: dumpCommand(true) },
  stop: { args: '', help: 'stop emulation', run: (ctx) => ctx.ctl.stop() },
  cont: { alias: 'c', args: '', help: 'resume emulation', run: (ctx) => ctx.ctl.cont() },
  system_reset: { args: '', help: 'reset the system', run: (ctx) => ctx.ctl.systemReset() },
  system_powerdown: { args: '', help: 'send system power down event', run: (ctx) => ctx.ctl.systemPowerdown() },
  quit: { alias: 'q', args: '', help: 'quit the emulator', run: (ctx) => ctx.ctl.quit() },
  sendkey: { args: 'keys [hold_ms]', help: 'send keys to the VM (e.g. \'sendkey ctrl-alt-f1\', default hold time=100 ms)', run: (ctx, args) => ctx.ctl.sendKey(need(args, 0, 'keys')) },
  memsave: { args: 'addr size file', help: 'save to disk virtual memory dump starting at \'addr\' of size \'size\'', run: saveCommand(false) },
  pmemsave: { args: 'addr size file', help: 'save to disk physical memory dump starting at \'addr\' of size \'size\'', run: saveCommand(true) },
  screendump: {
    args: 'filename [-f format] [device [head]]',
    help: "save screen from head 'head' of display device 'device'in specified format 'format' as image 'filename'.Currently only 'png' and 'ppm' formats are supported.",
    run: (ctx, args) => ctx.ctl.screendump(need(args, 0, 'filename'), screendumpFormat(args.slice(1))),
  },
  gdbserver: { args: '[device]', help: 'start gdbserver on given device (default \'tcp::1234\'), stop with \'none\'', run: async (ctx, args) => ctx.print(await ctx.gdbserver(args[0] ?? 'tcp::1234')) },
  log: { args: 'item1[,...]', help: 'activate logging of the specified items', run: (ctx, args) => setLog(ctx, need(args, 0, 'items')) },
};

function setLog(ctx: HmpContext, items: string): void {
  if (items === 'none') {
    for (const k of Object.keys(logOn) as LogCategory[]) logOn[k] = false;
    return;
  }
  const names = items.split(',');
  if (names.some((n) => !(n in LOG_CATEGORIES))) {
    ctx.print(`Log items (comma separated):\n${Object.entries(LOG_CATEGORIES).map(([k, v]) => `${k.padEnd(10)} ${v}`).join('\n')}\n`);
    return;
  }
  configureLogging(names, ctx.pc.config.logFile);
}

/** A command by its name or alias. */
function lookup(name: string): Command | undefined {
  if (Object.hasOwn(COMMANDS, name)) return COMMANDS[name];
  return Object.values(COMMANDS).find((c) => c.alias === name);
}

/** QEMU's help layout: `name|alias params -- text` (two spaces before -- when there are no params). */
function helpText(cmd: string | undefined): string {
  if (cmd === 'info') return infoHelp();
  const entries = cmd === undefined ? Object.entries(COMMANDS) : Object.entries(COMMANDS).filter(([n, c]) => n === cmd || c.alias === cmd);
  return entries.map(([n, c]) => `${c.alias ? `${n}|${c.alias}` : n} ${c.args} -- ${c.help}\n`).join('');
}

function infoHelp(): string {
  return Object.entries(INFO).map(([n, c]) => `info ${n}  -- ${c.help}\n`).join('');
}

/** Runs one command line; every error becomes QEMU's one-line message. Returns false after `quit` (no more prompts). */
export async function runHmpCommand(line: string, ctx: HmpContext): Promise<boolean> {
  const words = line.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) return true;
  // `x/4i $pc`: QEMU accepts the format glued to the command name.
  const glued = /^(x|xp)(\/.*)$/.exec(words[0]!);
  if (glued) words.splice(0, 1, glued[1]!, glued[2]!);
  const name = words.shift()!;
  const cmd = lookup(name);
  if (!cmd) {
    ctx.print(`unknown command: '${name}'\n`);
    return true;
  }
  try {
    await cmd.run(ctx, words);
  } catch (e) {
    ctx.print(`${e instanceof Error ? e.message : String(e)}\n`);
  }
  return cmd !== COMMANDS['quit'];
}

/** Runs a command line and returns what it printed (QMP's human-monitor-command, gdb's `monitor`). */
export async function captureHmpCommand(line: string, ctx: Omit<HmpContext, 'print'>): Promise<string> {
  let out = '';
  await runHmpCommand(line, { ...ctx, print: (text) => (out += text) });
  return out;
}
