/**
 * Picks the accelerator from `-accel a:b` / `-machine accel=a:b`, falling back
 * in order as QEMU does: each one that cannot start here prints why, and the
 * next is tried; when none is left the last reason is the error.
 */
import { createArena } from '../accel/tcg/jit/wasm-arena.js';
import type { MachineConfig } from '../config.js';
import type { Accelerator, MachineBus } from '../accel/accel.js';
import type { IrqSink } from '../io/irq.js';
import { UserError } from './errors.js';
import { DEFAULT_CPU_MODEL } from '../accel/cpu-models.js';

export interface AccelChoice {
  name: 'kvm' | 'tcg';
  /** RAM the accelerator must own (KVM's mmap); undefined: a plain buffer will do. */
  allocateRam?(bytes: number): Uint8Array;
  /** The -cpu model, or this accelerator's default. */
  cpuModel: string;
  /** The PIC and PIT live in the kernel (KVM irqchip): tsvm must not model them. */
  inKernelIrqchip: boolean;
  create(bus: MachineBus): Promise<Accelerator & { irqSink?: IrqSink }>;
}

export async function selectAccelerator(config: MachineConfig): Promise<AccelChoice> {
  const order = config.accel.order;
  for (let i = 0; i < order.length; i++) {
    const name = order[i]!;
    const last = i === order.length - 1;
    if (name === 'tcg') return tcgChoice(config);
    try {
      return await kvmChoice(config);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (last) throw new UserError(`-accel kvm: ${reason}`);
      process.stderr.write(`tsvm: -accel kvm: ${reason}\ntsvm: falling back to ${order[i + 1]}\n`);
    }
  }
  throw new UserError('no accelerator found');
}

function tcgChoice(config: MachineConfig): AccelChoice {
  return {
    name: 'tcg',
    cpuModel: config.cpuModel ?? DEFAULT_CPU_MODEL,
    inKernelIrqchip: false,
    // With wasm=on, RAM in a WebAssembly arena, which translated WebAssembly reads and writes (too large: none);
    // the translator makes WebAssembly blocks where RAM is in one (block.ts compileBlock).
    allocateRam: config.accel.wasm ? (bytes) => createArena(bytes)?.ram ?? new Uint8Array(bytes) : undefined,
    async create(bus) {
      const { TcgAccelerator } = await import('../accel/tcg/tcg.js');
      return new TcgAccelerator(bus, { oneInsnPerTb: config.accel.oneInsnPerTb });
    },
  };
}

async function kvmChoice(config: MachineConfig): Promise<AccelChoice> {
  const kvm = await import('../accel/kvm/kvm.js');
  const kernelIrqchip = config.kernelIrqchip === 'off' ? 'off' : 'on';
  const handle = kvm.openKvm(undefined, { kernelIrqchip: kernelIrqchip === 'on' });
  const cpuModel = config.cpuModel ?? kvm.KVM_DEFAULT_CPU_MODEL;
  return {
    name: 'kvm',
    cpuModel,
    allocateRam: (bytes) => handle.allocateRam(bytes),
    inKernelIrqchip: kernelIrqchip === 'on',
    async create(bus) {
      return new kvm.KvmAccelerator(handle, bus, { kernelIrqchip, cpuModel });
    },
  };
}
