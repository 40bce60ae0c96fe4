/**
 * The KVM backend's public face (the machine imports only this):
 *
 *   const handle = openKvm();              // /dev/kvm, API version, capabilities, the VM
 *   const ram = handle.allocateRam(bytes); // guest RAM for the AddressSpace
 *   const accel = new KvmAccelerator(handle, bus, { kernelIrqchip: 'on', cpuModel: KVM_DEFAULT_CPU_MODEL });
 *
 * openKvm throws KvmInitError ("failed to initialize kvm: <reason>") when
 * this host cannot run KVM guests, which is what `-accel kvm:tcg` falls back on.
 */
export { openKvm, KvmHandle, KvmInitError, KVM_DEVICE } from './handle.js';
export { KvmAccelerator, type KvmOptions } from './accelerator.js';
export { KVM_DEFAULT_CPU_MODEL, kvmCpuModels } from './cpuid.js';
