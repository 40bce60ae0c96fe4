/**
 * From the options read to a MachineConfig: the rules that span options
 * (vl.c qemu_validate_options and friends) and the pc machine's defaults.
 */
import type { MachineConfig } from '../config.js';
import { findCpuModel } from '../accel/cpu-models.js';
import { connectBackends } from './backends.js';
import { placeDrives } from './drive.js';
import { CliError } from './errors.js';
import type { Draft } from './draft.js';

export function finalizeConfig(draft: Draft): MachineConfig {
  checkKernelOptions(draft);
  const accel = chooseAccelerators(draft);
  checkCpuModel(draft.cpuModel, accel.order);
  checkDaemonize(draft);
  const backends = connectBackends(draft);

  const config: MachineConfig = {
    machineType: 'pc',
    accel: { order: accel.order, oneInsnPerTb: draft.accel.oneInsnPerTb ?? false, wasm: draft.accel.wasm ?? false },
    cpuModel: draft.cpuModel,
    memoryBytes: draft.memoryBytes,
    smp: draft.smp,
    drives: placeDrives(draft.drives, draft.snapshot, !draft.noDefaults),
    boot: draft.boot,
    dataDirs: draft.dataDirs,
    display: draft.display ?? 'none',
    nographic: draft.nographic,
    vga: draft.vga ?? (draft.noDefaults ? 'none' : 'std'),
    ...backends,
    noReboot: draft.action.reboot === 'shutdown',
    noShutdown: draft.action.shutdown === 'pause',
    snapshot: draft.snapshot,
    startPaused: draft.startPaused,
    logItems: draft.logItems,
    daemonize: draft.daemonize,
    rtc: draft.rtc,
    noDefaults: draft.noDefaults,
    acpi: !draft.noAcpi && draft.machine.acpi !== false,
    hpet: draft.machine.hpet !== false,
    escapeChar: draft.escapeChar,
    globals: draft.globals,
    action: draft.action,
  };
  if (accel.kernelIrqchip) config.kernelIrqchip = accel.kernelIrqchip;
  for (const key of ['kernel', 'initrd', 'append', 'bios', 'gdb', 'logFile', 'name', 'pidfile'] as const) {
    if (draft[key] !== undefined) config[key] = draft[key];
  }
  return config;
}

function checkKernelOptions(draft: Draft): void {
  if (draft.kernel !== undefined) return;
  if (draft.initrd !== undefined) throw new CliError('-initrd only allowed with -kernel option');
  if (draft.append !== undefined) throw new CliError('-append only allowed with -kernel option');
}

/** -accel and -machine accel= each give a fallback order, but not both; by default TCG. */
function chooseAccelerators(draft: Draft): Pick<MachineConfig['accel'], 'order'> & Pick<MachineConfig, 'kernelIrqchip'> {
  if (draft.accel.order.length && draft.machine.accel) {
    throw new CliError('The -accel and "-machine accel=" options are incompatible');
  }
  const order = draft.accel.order.length ? draft.accel.order : (draft.machine.accel ?? ['tcg']);
  const kernelIrqchip = draft.accel.kernelIrqchip ?? draft.machine.kernelIrqchip;
  return kernelIrqchip ? { order, kernelIrqchip } : { order };
}

function checkCpuModel(name: string | undefined, order: readonly string[]): void {
  if (name === undefined) return;
  // QEMU: "CPU model 'host' requires KVM or HVF"; tsvm has no HVF.
  if (findCpuModel(name)?.kvmOnly && !order.includes('kvm')) throw new CliError(`CPU model '${name}' requires KVM`);
}

function checkDaemonize(draft: Draft): void {
  if (!draft.daemonize) return;
  if (draft.nographic) throw new CliError('-nographic cannot be used with -daemonize');
  if (draft.display === 'curses') throw new CliError('curses display cannot be used with -daemonize');
}

