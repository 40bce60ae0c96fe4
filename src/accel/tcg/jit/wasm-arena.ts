/**
 * Guest RAM and the CPU state translated WebAssembly reads and writes, in one
 * WebAssembly.Memory (wasm-block.ts): a block imports the memory and reaches
 * everything at fixed addresses, while tsvm's JavaScript keeps typed-array
 * views of the same bytes (AddressSpace.ram, Cpu.regs, the MMU's fast-path
 * tables), so nothing is copied between the two. The memory is allocated
 * at its full size and never grows (growing would detach those views).
 *
 * Layout: the state page (registers, then the flag-record slots a block
 * stores its exits' records in), the MMU's fast-path tables for reads and
 * writes (mmu.ts: 2 x 2^20 int32 each), then RAM.
 */

const WASM_PAGE = 65536;
/** Byte address of EAX..EDI (int32 each). */
export const REGS = 0;
/** Byte addresses of the flag record a block takes at entry and hands over at an exit (FlagState's lA, lB, lR). */
export const SLOT_LA = 32;
export const SLOT_LB = 36;
export const SLOT_LR = 40;
/** Byte address of the EIP a block leaving by INDIRECT_EXIT (a RET) goes to. */
export const SLOT_EIP = 44;
/** Byte address of the instructions a block completed before the label it leaves from (wasm-block.ts). */
export const SLOT_N = 48;
/** Byte addresses of the record's lazy word and of EFLAGS (FlagState.lazy and flags), in and out of a block. */
export const SLOT_FW = 52;
export const SLOT_FLAGS = 56;
const TABLE_ENTRIES = 2 * (1 << 20);
export const FAST_READS = WASM_PAGE;
export const FAST_WRITES = FAST_READS + 4 * TABLE_ENTRIES;
export const RAM_BASE = FAST_WRITES + 4 * TABLE_ENTRIES;
/** wasm32 addresses at most 4 GiB; V8 allows a memory of 65,536 pages. */
const MAX_PAGES = 65536;

export interface WasmArena {
  readonly memory: WebAssembly.Memory;
  readonly ram: Uint8Array;
  readonly regs: Uint32Array;
  readonly slots: Int32Array;
  readonly fastReads: Int32Array;
  readonly fastWrites: Int32Array;
}

/** Arenas by the buffer their RAM is a view of: how the CPU and MMU built on an AddressSpace find theirs. */
const byBuffer = new WeakMap<ArrayBufferLike, WasmArena>();

/**
 * An arena for `ramBytes` of guest RAM, or undefined when it cannot hold
 * that much (translated code is then JavaScript only). RAM indices must
 * also stay below 2 GiB: blocks compute them as int32.
 */
export function createArena(ramBytes: number): WasmArena | undefined {
  const pages = Math.ceil((RAM_BASE + ramBytes) / WASM_PAGE);
  if (ramBytes > 2 ** 31 || pages > MAX_PAGES) return undefined;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const buffer = memory.buffer;
  const arena: WasmArena = {
    memory,
    ram: new Uint8Array(buffer, RAM_BASE, ramBytes),
    regs: new Uint32Array(buffer, REGS, 8),
    slots: new Int32Array(buffer, 0, WASM_PAGE / 4),
    fastReads: new Int32Array(buffer, FAST_READS, TABLE_ENTRIES),
    fastWrites: new Int32Array(buffer, FAST_WRITES, TABLE_ENTRIES),
  };
  byBuffer.set(buffer, arena);
  return arena;
}

/** The arena `ram` (an AddressSpace's RAM) lives in, if any. */
export function arenaOf(ram: Uint8Array): WasmArena | undefined {
  return byBuffer.get(ram.buffer);
}
