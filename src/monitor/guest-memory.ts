/**
 * Guest memory as the monitor and gdbstub see it: physical addresses
 * straight from the address space, virtual ones through a vCPU's current
 * paging mode, page by page (a virtual range may map to scattered frames).
 */
import type { Vcpu } from '../accel/accel.js';
import type { AddressSpace } from '../memory/address-space.js';

const PAGE = 4096n;
/** Physical addresses the address space can name (4 GiB below plus RAM above; larger is nowhere). */
const PHYS_LIMIT = 1n << 52n;

export class GuestMemoryError extends Error {}

export function readPhysical(mem: AddressSpace, addr: bigint, length: number): Uint8Array {
  if (addr < 0n || addr + BigInt(length) > PHYS_LIMIT) throw new GuestMemoryError(`cannot access memory at 0x${addr.toString(16)}`);
  return mem.readBytes(Number(addr), length);
}

export function writePhysical(mem: AddressSpace, addr: bigint, data: Uint8Array): void {
  if (addr < 0n || addr + BigInt(data.length) > PHYS_LIMIT) throw new GuestMemoryError(`cannot access memory at 0x${addr.toString(16)}`);
  mem.writeBytes(Number(addr), data);
}

/** Reads `length` bytes at a linear address; throws GuestMemoryError at the first unmapped page. */
export function readVirtual(vcpu: Vcpu, mem: AddressSpace, addr: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  forEachPage(vcpu, addr, length, (phys, done, n) => out.set(mem.readBytes(Number(phys), n), done));
  return out;
}

export function writeVirtual(vcpu: Vcpu, mem: AddressSpace, addr: bigint, data: Uint8Array): void {
  forEachPage(vcpu, addr, data.length, (phys, done, n) => mem.writeBytes(Number(phys), data.subarray(done, done + n)));
}

function forEachPage(vcpu: Vcpu, addr: bigint, length: number, fn: (phys: bigint, done: number, n: number) => void): void {
  let done = 0;
  while (done < length) {
    const lin = addr + BigInt(done);
    const n = Math.min(length - done, Number(PAGE - (lin % PAGE)));
    const phys = vcpu.translate(lin);
    if (phys === undefined || phys + BigInt(n) > PHYS_LIMIT) throw new GuestMemoryError(`cannot access memory at 0x${lin.toString(16)}`);
    fn(phys, done, n);
    done += n;
  }
}
