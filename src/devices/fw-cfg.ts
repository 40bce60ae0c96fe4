/**
 * QEMU's firmware configuration device (QEMU docs/specs/fw_cfg.rst), the
 * x86 I/O-port flavour firmware such as SeaBIOS probes for: a 16-bit
 * selector at 0x510 picks an item and resets its offset; each byte read
 * from the data port 0x511 returns the next byte of the item (0 past its
 * end). Writes to the data port are ignored, as in QEMU since 2.4. Only the
 * traditional interface exists here: FW_CFG_ID advertises no DMA.
 *
 * Items are numbered keys; named blobs ("etc/e820", "bootorder", ...) are
 * files from key 0x20 on, listed in the big-endian file directory at 0x19.
 */
import type { PortBus } from '../io/port-bus.js';

export const FW_CFG_SELECTOR_PORT = 0x510;
export const FW_CFG_DATA_PORT = 0x511;

/** Selector keys (fw_cfg.rst, "Selector Register"; include/standard-headers/linux/qemu_fw_cfg.h). */
export const FW_CFG = {
  SIGNATURE: 0x00,
  ID: 0x01,
  UUID: 0x02,
  RAM_SIZE: 0x03,
  NOGRAPHIC: 0x04,
  NB_CPUS: 0x05,
  KERNEL_ADDR: 0x07,
  KERNEL_SIZE: 0x08,
  INITRD_ADDR: 0x0a,
  INITRD_SIZE: 0x0b,
  BOOT_MENU: 0x0e,
  MAX_CPUS: 0x0f,
  KERNEL_DATA: 0x11,
  INITRD_DATA: 0x12,
  CMDLINE_ADDR: 0x13,
  CMDLINE_SIZE: 0x14,
  CMDLINE_DATA: 0x15,
  SETUP_ADDR: 0x16,
  SETUP_SIZE: 0x17,
  SETUP_DATA: 0x18,
  FILE_DIR: 0x19,
  FILE_FIRST: 0x20,
} as const;

/** FW_CFG_ID bit 0: the traditional (port) interface. Bit 1 (DMA) is not offered. */
const FEATURE_TRADITIONAL = 0x1;
const FILE_NAME_BYTES = 56;
const FILE_ENTRY_BYTES = 64;
const MAX_FILES = 0x1000 - FW_CFG.FILE_FIRST;

export class FwCfg {
  private readonly items = new Map<number, Uint8Array>();
  private readonly files: { name: string; key: number }[] = [];
  private selected = 0;
  private offset = 0;

  constructor(io: PortBus) {
    io.register(
      'fw_cfg',
      FW_CFG_SELECTOR_PORT,
      2,
      {
        read: (port) => (port === FW_CFG_DATA_PORT ? this.readData() : 0),
        write: (port, _size, value) => {
          if (port === FW_CFG_SELECTOR_PORT) this.select(value & 0xffff);
        },
      },
      1 | 2,
    );
    this.setItem(FW_CFG.SIGNATURE, new TextEncoder().encode('QEMU'));
    this.setItem(FW_CFG.ID, le(FEATURE_TRADITIONAL, 4));
    this.setItem(FW_CFG.UUID, new Uint8Array(16));
    this.updateFileDir();
  }

  setItem(key: number, data: Uint8Array): void {
    this.items.set(key, data);
  }

  /** A named file; adding the same name again replaces its contents. */
  addFile(name: string, data: Uint8Array): void {
    if (name.length >= FILE_NAME_BYTES) throw new Error(`fw_cfg: file name too long: ${name}`);
    let file = this.files.find((f) => f.name === name);
    if (!file) {
      if (this.files.length >= MAX_FILES) throw new Error('fw_cfg: too many files');
      file = { name, key: FW_CFG.FILE_FIRST + this.files.length };
      this.files.push(file);
    }
    this.items.set(file.key, data);
    this.updateFileDir();
  }

  private select(key: number): void {
    this.selected = key;
    this.offset = 0;
  }

  private readData(): number {
    const item = this.items.get(this.selected);
    if (!item || this.offset >= item.length) return 0;
    return item[this.offset++]!;
  }

  /** FW_CFG_FILE_DIR: count (BE32), then per file size (BE32), select (BE16), reserved (16), name[56]. */
  private updateFileDir(): void {
    const dir = new Uint8Array(4 + FILE_ENTRY_BYTES * this.files.length);
    const v = new DataView(dir.buffer);
    v.setUint32(0, this.files.length);
    this.files.forEach((f, i) => {
      const at = 4 + FILE_ENTRY_BYTES * i;
      v.setUint32(at, this.items.get(f.key)!.length);
      v.setUint16(at + 4, f.key);
      dir.set(new TextEncoder().encode(f.name), at + 8);
    });
    this.items.set(FW_CFG.FILE_DIR, dir);
  }
}

/** `value` as `bytes` little-endian bytes (fw_cfg's numeric items are little-endian). */
export function le(value: number | bigint, bytes: 2 | 4 | 8): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(value);
  for (let i = 0; i < bytes; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}
