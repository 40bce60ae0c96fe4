/**
 * The machine-level options: -machine, -accel/-enable-kvm, -cpu, -m, -smp.
 * Messages and rules after QEMU's vl.c, accel/accel-softmmu.c,
 * hw/core/machine-smp.c and target/i386/cpu.c.
 */
import type { AccelName } from '../config.js';
import { CPU_MODELS, findCpuModel } from '../accel/cpu-models.js';
import { CliError, OptionError } from './errors.js';
import { isHelp, SubOptions } from './suboptions.js';

const MACHINE_DESCRIPTION = 'Standard PC (i440FX + PIIX, 1996)';
/**
 * Scripts pin versioned QEMU machine names (`-M pc-i440fx-7.2`); tsvm has a
 * single i440FX model, so every version is an alias of it.
 */
const VERSIONED_PC = /^pc-i440fx-\d+\.\d+$/;
/** QEMU's limit for the pc machine. */
const MAX_CPUS = 255;

const ACCELERATORS: readonly AccelName[] = ['tcg', 'kvm'];

/** What -machine asked for; options merge, later keys win. */
export interface MachineRequest {
  accel?: AccelName[];
  kernelIrqchip?: 'on' | 'off' | 'split';
  acpi?: boolean;
  hpet?: boolean;
}

export function machineHelp(): string {
  return [
    'Supported machines are:',
    `${'pc'.padEnd(20)} ${MACHINE_DESCRIPTION} (default)`,
    `${'pc-i440fx-X.Y'.padEnd(20)} ${MACHINE_DESCRIPTION} (alias of pc, for any QEMU version X.Y)`,
    '',
  ].join('\n');
}

export function acceleratorHelp(): string {
  return `Accelerators supported in tsvm:\n${ACCELERATORS.join('\n')}\n`;
}

export function cpuHelp(): string {
  return `Available CPUs:\n${CPU_MODELS.map((m) => `x86 ${m.name.padEnd(20)}  ${m.description}\n`).join('')}`;
}

/** Features the pc machine of QEMU can turn off and tsvm never has: accepting "off" is honest. */
const ABSENT_MACHINE_FEATURES = ['usb', 'vmport'];

/** `-machine [type=]name,key=val`: returns false for `-machine help`. */
export function parseMachineOption(text: string, machine: MachineRequest): boolean {
  const opts = new SubOptions(text, { implied: 'type', keyval: true, unlocated: true });
  const type = opts.string('type');
  if (opts.help || (type !== undefined && isHelp(type))) return false;
  if (type !== undefined && type !== 'pc' && !VERSIONED_PC.test(type)) {
    // QEMU adds "Use -machine help to list supported machines" on a second line.
    throw new CliError(`unsupported machine type: "${type}" (use -machine help to list supported machines)`);
  }
  for (const key of opts.keys()) {
    switch (key) {
      case 'type':
        break;
      case 'accel':
        machine.accel = parseAccelList(opts.string('accel')!, (m) => new CliError(m));
        break;
      case 'kernel_irqchip':
      case 'kernel-irqchip':
        machine.kernelIrqchip = kernelIrqchip(opts, key);
        break;
      case 'acpi':
        machine.acpi = opts.choice('acpi', ['on', 'off', 'auto']) !== 'off';
        break;
      case 'hpet':
        machine.hpet = opts.bool('hpet');
        break;
      default:
        if (!ABSENT_MACHINE_FEATURES.includes(key)) throw new CliError(`Property 'pc-machine.${key}' not found`);
        if (opts.bool(key)) throw new CliError(`machine property '${key}' not supported by tsvm yet`);
    }
  }
  return true;
}

function kernelIrqchip(opts: SubOptions, key: string): 'on' | 'off' | 'split' {
  const value = opts.string(key)!;
  if (value === 'on' || value === 'off' || value === 'split') return value;
  throw new CliError(`Parameter 'kernel-irqchip' does not accept value '${value}'`);
}

/** `kvm:tcg`: the accelerators to try, in order. */
function parseAccelList(text: string, error: (message: string) => Error): AccelName[] {
  return text.split(':').map((name) => {
    if (!(ACCELERATORS as readonly string[]).includes(name)) throw error(`invalid accelerator ${name}`);
    return name as AccelName;
  });
}

/** What the -accel options asked for, in order; several build the fallback order. */
export interface AccelRequest {
  order: AccelName[];
  oneInsnPerTb?: boolean;
  wasm?: boolean;
  kernelIrqchip?: 'on' | 'off' | 'split';
}

const ACCEL_PROPERTIES: Record<AccelName, { known: string[]; notYet: string[] }> = {
  tcg: { known: ['one-insn-per-tb', 'wasm'], notYet: ['thread', 'tb-size', 'split-wx'] },
  kvm: { known: ['kernel-irqchip'], notYet: ['kvm-shadow-mem', 'dirty-ring-size', 'notify-vmexit', 'notify-window'] },
};

/**
 * `-accel name[,prop=value]`. QEMU takes one accelerator per -accel;
 * tsvm also takes `-accel kvm:tcg` (the -machine accel= syntax), which the
 * issue asks for and QEMU refuses. Returns false for `-accel help`.
 */
export function parseAccelOption(text: string, accel: AccelRequest): boolean {
  const opts = new SubOptions(text, { implied: 'accel' });
  const name = opts.string('accel');
  if (opts.help || (name !== undefined && isHelp(name))) return false;
  if (name === undefined) throw new OptionError('No accelerator selected');
  const names = parseAccelList(name, (m) => new OptionError(m));
  for (const key of opts.keys()) {
    if (key === 'accel') continue;
    const owner = names.find((n) => ACCEL_PROPERTIES[n].known.includes(key) || ACCEL_PROPERTIES[n].notYet.includes(key));
    if (!owner) throw new OptionError(`Property '${names[0]}-accel.${key}' not found`);
    if (ACCEL_PROPERTIES[owner].notYet.includes(key)) throw new OptionError(`property '${owner}-accel.${key}' not supported by tsvm yet`);
  }
  const oneInsnPerTb = opts.bool('one-insn-per-tb');
  if (oneInsnPerTb !== undefined) accel.oneInsnPerTb = oneInsnPerTb;
  const wasm = opts.bool('wasm');
  if (wasm !== undefined) accel.wasm = wasm;
  if (opts.has('kernel-irqchip')) accel.kernelIrqchip = opts.choice('kernel-irqchip', ['on', 'off', 'split'])!;
  for (const n of names) if (!accel.order.includes(n)) accel.order.push(n);
  return true;
}

/** `-cpu model`: returns undefined for `-cpu help`. Feature flags are not modelled yet. */
export function parseCpuOption(text: string): string | undefined {
  const [model, ...features] = text.split(',');
  if (isHelp(model!)) return undefined;
  if (!findCpuModel(model!)) throw new CliError(`unable to find CPU model '${model}'`);
  if (features.length) throw new OptionError(`CPU feature flags (${features.join(',')}) not supported by tsvm yet`);
  return model!;
}

/** QEMU rounds guest RAM up to 8 KiB. */
const RAM_ALIGNMENT = 8192;

/** `-m [size=]n[kMGT]`: a bare number means MiB. */
export function parseMemoryOption(text: string): number {
  const opts = new SubOptions(text, { implied: 'size' });
  opts.allowOnly(['size'], ['slots', 'maxmem']);
  const bytes = opts.size('size', 'm');
  // QEMU treats -m 0 as "the default"; tsvm refuses it as the mistake it usually is.
  if (bytes === undefined || bytes === 0) throw new OptionError('ram size must be greater than 0');
  if (!Number.isSafeInteger(bytes)) throw new OptionError('ram size too large');
  return Math.ceil(bytes / RAM_ALIGNMENT) * RAM_ALIGNMENT;
}

const SMP_KEYS = ['cpus', 'maxcpus', 'sockets', 'dies', 'clusters', 'cores', 'threads'] as const;
type SmpKey = (typeof SMP_KEYS)[number];

/**
 * `-smp [cpus=]n,sockets=,dies=,cores=,threads=,maxcpus=`: QEMU's
 * machine_parse_smp_config for the pc machine (dies supported, clusters not,
 * cores preferred over sockets since 6.2). Returns the number of CPUs.
 */
export function parseSmpOption(text: string): number {
  const opts = new SubOptions(text, { implied: 'cpus', keyval: true, paramPrefix: 'smp.', unlocated: true });
  opts.allowOnly(SMP_KEYS);
  const given = Object.fromEntries(SMP_KEYS.map((k) => [k, opts.integer(k, 'integer')])) as Record<SmpKey, number | undefined>;
  if (Object.values(given).some((v) => v === 0)) {
    throw new CliError('Invalid CPU topology: CPU topology parameters must be greater than zero');
  }
  if ((given.clusters ?? 1) > 1) throw new CliError("clusters > 1 not supported by this machine's CPU topology");
  return checkTopology(completeTopology(given));
}

interface Topology {
  cpus: number;
  maxcpus: number;
  sockets: number;
  dies: number;
  cores: number;
  threads: number;
}

function completeTopology(given: Record<SmpKey, number | undefined>): Topology {
  const dies = given.dies ?? 1;
  let { cpus = 0, maxcpus = 0, sockets = 0, cores = 0, threads = 0 } = given;
  if (cpus === 0 && maxcpus === 0) {
    sockets ||= 1;
    cores ||= 1;
    threads ||= 1;
  } else {
    maxcpus ||= cpus;
    if (cores === 0) {
      sockets ||= 1;
      threads ||= 1;
      cores = Math.floor(maxcpus / (sockets * dies * threads));
    } else if (sockets === 0) {
      threads ||= 1;
      sockets = Math.floor(maxcpus / (dies * cores * threads));
    }
    threads ||= Math.floor(maxcpus / (sockets * dies * cores));
  }
  maxcpus ||= sockets * dies * cores * threads;
  cpus ||= maxcpus;
  return { cpus, maxcpus, sockets, dies, cores, threads };
}

function checkTopology(t: Topology): number {
  const hierarchy = `sockets (${t.sockets}) * dies (${t.dies}) * cores (${t.cores}) * threads (${t.threads})`;
  if (t.sockets * t.dies * t.cores * t.threads !== t.maxcpus) {
    throw new CliError(`Invalid CPU topology: product of the hierarchy must match maxcpus: ${hierarchy} != maxcpus (${t.maxcpus})`);
  }
  if (t.maxcpus < t.cpus) {
    throw new CliError(
      `Invalid CPU topology: maxcpus must be equal to or greater than smp: ${hierarchy} == maxcpus (${t.maxcpus}) < smp_cpus (${t.cpus})`,
    );
  }
  if (t.maxcpus > MAX_CPUS) {
    throw new CliError(`Invalid SMP CPUs ${t.maxcpus}. The max CPUs supported by machine 'pc' is ${MAX_CPUS}`);
  }
  if (t.maxcpus > t.cpus) throw new OptionError(`CPU hotplug (maxcpus ${t.maxcpus} > cpus ${t.cpus}) not supported by tsvm yet`);
  return t.cpus;
}
