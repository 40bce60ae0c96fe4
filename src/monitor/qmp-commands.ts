/**
 * QMP's commands: argument checking as QEMU's generated marshallers do it
 * (missing, unexpected and mistyped members), then the shared machine
 * control. Each returns the value of `"return"`.
 */
import { accessSync, constants } from 'node:fs';
import type { Pc } from '../machine/pc.js';
import { MachineControl, MonitorError } from './control.js';
import { DumpDefaults } from './hmp-memory.js';
import { captureHmpCommand, type GdbServerControl } from './hmp-commands.js';
import { blockInfo, chardevInfo, cpusFast, versionInfo } from './info.js';

export interface QmpContext {
  pc: Pc;
  ctl: MachineControl;
  gdbserver: GdbServerControl;
}

type ArgType = 'str' | 'int' | 'bool';
interface QmpCommand {
  args?: Record<string, { type: ArgType; optional?: boolean }>;
  run(ctx: QmpContext, args: Record<string, unknown>): unknown | Promise<unknown>;
}

const NONE = () => ({});

export const QMP_COMMANDS: Record<string, QmpCommand> = {
  qmp_capabilities: { args: { enable: { type: 'str', optional: true } }, run: NONE },
  'query-status': {
    run: ({ pc }) => ({ status: pc.runState, singlestep: false, running: pc.runState === 'running' }),
  },
  'query-version': { run: versionInfo },
  'query-commands': { run: () => Object.keys(QMP_COMMANDS).map((name) => ({ name })) },
  'query-kvm': { run: ({ pc }) => ({ enabled: pc.accel.name === 'kvm', present: kvmPresent() }) },
  'query-cpus-fast': { run: ({ pc }) => cpusFast(pc) },
  'query-block': { run: ({ pc }) => blockInfo(pc) },
  'query-chardev': { run: ({ pc }) => chardevInfo(pc) },
  'query-name': { run: ({ pc }) => (pc.config.name !== undefined ? { name: pc.config.name } : {}) },
  stop: { run: ({ ctl }) => (ctl.stop(), {}) },
  cont: { run: ({ ctl }) => (ctl.cont(), {}) },
  system_reset: { run: ({ ctl }) => (ctl.systemReset(), {}) },
  system_powerdown: { run: ({ ctl }) => (ctl.systemPowerdown(), {}) },
  quit: { run: ({ ctl }) => (ctl.quit(), {}) },
  'human-monitor-command': {
    args: { 'command-line': { type: 'str' }, 'cpu-index': { type: 'int', optional: true } },
    run: async (ctx, args) => {
      const out = await captureHmpCommand(args['command-line'] as string, { ...ctx, dump: new DumpDefaults() });
      // QEMU hands HMP's output over with the monitor's CR LF line ends.
      return out.replace(/\r?\n/g, '\r\n');
    },
  },
  screendump: {
    args: { filename: { type: 'str' }, device: { type: 'str', optional: true }, head: { type: 'int', optional: true }, format: { type: 'str', optional: true } },
    run: ({ ctl }, args) => {
      const format = args['format'] ?? 'ppm';
      if (format !== 'ppm' && format !== 'png') throw new MonitorError(`Parameter 'format' does not accept value '${String(format)}'`);
      ctl.screendump(args['filename'] as string, format);
      return {};
    },
  },
  pmemsave: {
    args: { val: { type: 'int' }, size: { type: 'int' }, filename: { type: 'str' } },
    run: ({ ctl }, a) => (ctl.saveMemory(BigInt(a['val'] as number), a['size'] as number, a['filename'] as string, true), {}),
  },
  memsave: {
    args: { val: { type: 'int' }, size: { type: 'int' }, filename: { type: 'str' }, 'cpu-index': { type: 'int', optional: true } },
    run: ({ ctl }, a) => (ctl.saveMemory(BigInt(a['val'] as number), a['size'] as number, a['filename'] as string, false, (a['cpu-index'] as number | undefined) ?? 0), {}),
  },
};

function kvmPresent(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const TYPE_NAMES: Record<ArgType, string> = { str: 'string', int: 'integer', bool: 'boolean' };

/** QEMU's visitor errors for a command's arguments. */
export function checkArguments(cmd: QmpCommand, args: unknown): Record<string, unknown> {
  if (args === undefined) args = {};
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new MonitorError("QMP input member 'arguments' must be an object");
  const given = args as Record<string, unknown>;
  const spec = cmd.args ?? {};
  for (const key of Object.keys(given)) if (!(key in spec)) throw new MonitorError(`Parameter '${key}' is unexpected`);
  for (const [key, { type, optional }] of Object.entries(spec)) {
    const v = given[key];
    if (v === undefined) {
      if (!optional) throw new MonitorError(`Parameter '${key}' is missing`);
      continue;
    }
    const ok = type === 'str' ? typeof v === 'string' : type === 'bool' ? typeof v === 'boolean' : Number.isSafeInteger(v);
    if (!ok) throw new MonitorError(`Invalid parameter type for '${key}', expected: ${TYPE_NAMES[type]}`);
  }
  return given;
}
