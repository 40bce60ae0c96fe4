/**
 * tsvm's linuxboot option ROM: what QEMU's linuxboot.bin does for -kernel
 * under firmware such as SeaBIOS. QEMU's fw_cfg carries the kernel in four
 * pieces, each as address, size and data items (docs/specs/fw_cfg.rst):
 *
 *   setup    FW_CFG_SETUP_ADDR/SIZE/DATA      0x16 0x17 0x18
 *   cmdline  FW_CFG_CMDLINE_ADDR/SIZE/DATA    0x13 0x14 0x15
 *   kernel   FW_CFG_KERNEL_ADDR/SIZE/DATA     0x07 0x08 0x11
 *   initrd   FW_CFG_INITRD_ADDR/SIZE/DATA     0x0a 0x0b 0x12
 *
 * The ROM is a PnP option ROM with a boot entry vector (BEV): SeaBIOS runs
 * it from fw_cfg "genroms/" and, with QEMU's "bootorder" naming it first,
 * boots it before any disk. The BEV copies each piece through the
 * traditional data port into a 32 KiB bounce buffer at 0x30000 (rep insb)
 * and from there to its address with the BIOS block move (INT 15h AH=87h),
 * so that pieces above 1 MiB need no mode switch of its own; then it
 * enters the real-mode setup code as a boot loader does (boot.rst, "Running
 * the Kernel"): segment registers at the setup's segment, the stack below
 * the command line, a far jump to the setup's segment + 0x20, offset 0.
 *
 * The BIOS block move copies whole words: a piece of odd length carries one
 * byte of the bounce buffer past its end, into memory nothing uses yet.
 */
import { Emitter } from './rom.js';
import { FW_CFG, FW_CFG_DATA_PORT, FW_CFG_SELECTOR_PORT } from '../../devices/fw-cfg.js';

export const LINUXBOOT_ROM_NAME = 'linuxboot.bin';

const ROM_BYTES = 512;
const PNP_HEADER = 0x20;
const PNP_HEADER_BYTES = 0x20;
const STRINGS = PNP_HEADER + PNP_HEADER_BYTES;
const BOUNCE_SEGMENT = 0x3000;
const BOUNCE_BYTES = 0x8000;
/** INT 15h AH=87h's descriptor table: 6 descriptors; the caller fills the source (2) and destination (3). */
const MOVE_TABLE_BYTES = 48;
const DATA_WRITABLE = 0x93;

/** The four pieces in copy order: the address item (the size item follows it) and the data item. */
const PIECES: readonly [number, number][] = [
  [FW_CFG.SETUP_ADDR, FW_CFG.SETUP_DATA],
  [FW_CFG.CMDLINE_ADDR, FW_CFG.CMDLINE_DATA],
  [FW_CFG.KERNEL_ADDR, FW_CFG.KERNEL_DATA],
  [FW_CFG.INITRD_ADDR, FW_CFG.INITRD_DATA],
];

export function buildLinuxbootRom(): Uint8Array {
  const e = new Emitter(ROM_BYTES, 0);
  e.word(0xaa55);
  e.emit(ROM_BYTES / 512);
  e.emit(0xcb); // the init vector: retf, nothing to set up before boot
  e.pos = 0x1a;
  e.word(PNP_HEADER);
  e.pos = STRINGS;
  const manufacturer = asciiz(e, 'tsvm');
  const product = asciiz(e, 'Linux loader');
  const bev = emitBootEntry(e);
  emitCopyPiece(e);
  emitMoveHigh(e);
  emitRead32(e);
  e.resolve();
  writePnpHeader(e.image, { manufacturer, product, bev });
  e.image[ROM_BYTES - 1] = (0x100 - sum(e.image)) & 0xff;
  return e.image;
}

function asciiz(e: Emitter, text: string): number {
  const at = e.pos;
  e.emit(...[...text].map((c) => c.charCodeAt(0)), 0);
  return at;
}

/** The PnP expansion header (Plug and Play BIOS Specification 1.0A, section 3.2), its checksum in byte 9. */
function writePnpHeader(image: Uint8Array, at: { manufacturer: number; product: number; bev: number }): void {
  const h = image.subarray(PNP_HEADER, PNP_HEADER + PNP_HEADER_BYTES);
  const v = new DataView(h.buffer, h.byteOffset, h.length);
  h.set([0x24, 0x50, 0x6e, 0x50]); // "$PnP"
  h[4] = 1; // structure revision
  h[5] = PNP_HEADER_BYTES / 16;
  v.setUint16(0x0e, at.manufacturer, true);
  v.setUint16(0x10, at.product, true);
  v.setUint16(0x1a, at.bev, true);
  h[9] = (0x100 - sum(h)) & 0xff;
}

function sum(bytes: Uint8Array): number {
  return bytes.reduce((a, b) => (a + b) & 0xff, 0);
}

/** The BEV: copy the four pieces, then enter the setup code. */
function emitBootEntry(e: Emitter): number {
  const at = e.pos;
  e.emit(0xfa, 0xfc); // cli; cld
  for (const [addressKey, dataKey] of PIECES) {
    e.emit(0xbb), e.word(addressKey); // mov bx, address key
    e.emit(0xbe), e.word(dataKey); // mov si, data key
    e.emit(0xe8), e.rel('copy_piece', 2);
  }
  e.emit(0xb8), e.word(FW_CFG.CMDLINE_ADDR);
  e.emit(0xe8), e.rel('read32', 2);
  e.emit(0x66, 0x89, 0xc3); // mov ebx, eax
  e.emit(0xb8), e.word(FW_CFG.SETUP_ADDR);
  e.emit(0xe8), e.rel('read32', 2);
  e.emit(0x66, 0x29, 0xc3); // sub ebx, eax: the stack tops out where the command line starts
  e.emit(0x66, 0xc1, 0xe8, 0x04); // shr eax, 4: the setup's segment
  e.emit(0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xe0, 0x8e, 0xe8); // mov ds/es/fs/gs, ax
  e.emit(0x8e, 0xd0, 0x89, 0xdc); // mov ss, ax; mov sp, bx
  e.emit(0x05), e.word(0x20); // add ax, 20h
  e.emit(0x50, 0x6a, 0x00, 0xcb); // push ax; push 0; retf
  e.label('fail');
  e.emit(0xf4, 0xeb), e.rel('fail', 1); // hlt; jmp fail
  return at;
}

/** copy_piece: BX = the piece's address item (its size item is BX+1), SI = its data item. */
function emitCopyPiece(e: Emitter): void {
  e.label('copy_piece');
  e.emit(0x89, 0xd8); // mov ax, bx
  e.emit(0xe8), e.rel('read32', 2);
  e.emit(0x66, 0x89, 0xc7); // mov edi, eax: destination
  e.emit(0x8d, 0x47, 0x01); // lea ax, [bx+1]
  e.emit(0xe8), e.rel('read32', 2);
  e.emit(0x66, 0x89, 0xc5); // mov ebp, eax: bytes left
  e.emit(0x89, 0xf0); // mov ax, si
  e.emit(0xba), e.word(FW_CFG_SELECTOR_PORT);
  e.emit(0xef); // out dx, ax: select the data item, offset 0
  e.label('next_chunk');
  e.emit(0x66, 0x85, 0xed); // test ebp, ebp
  e.emit(0x74), e.rel('piece_done', 1);
  e.emit(0x66, 0xb9), e.word(BOUNCE_BYTES), e.word(0); // mov ecx, BOUNCE_BYTES
  e.emit(0x66, 0x39, 0xcd); // cmp ebp, ecx
  e.emit(0x73), e.rel('full_chunk', 1);
  e.emit(0x66, 0x89, 0xe9); // mov ecx, ebp
  e.label('full_chunk');
  e.emit(0x06, 0x57, 0x51); // push es; push di; push cx
  e.emit(0xb8), e.word(BOUNCE_SEGMENT);
  e.emit(0x8e, 0xc0, 0x31, 0xff); // mov es, ax; xor di, di
  e.emit(0xba), e.word(FW_CFG_DATA_PORT);
  e.emit(0xf3, 0x6c); // rep insb
  e.emit(0x59, 0x5f, 0x07); // pop cx; pop di; pop es
  e.emit(0xe8), e.rel('move_high', 2);
  e.emit(0x72), e.rel('fail', 1);
  e.emit(0x66, 0x01, 0xcf); // add edi, ecx
  e.emit(0x66, 0x29, 0xcd); // sub ebp, ecx
  e.emit(0xeb), e.rel('next_chunk', 1);
  e.label('piece_done');
  e.emit(0xc3);
}

/**
 * move_high: CX bytes from the bounce buffer to EDI through INT 15h AH=87h,
 * with its descriptor table on the stack; CF set on failure. Keeps all
 * registers (the flags come from the BIOS).
 */
function emitMoveHigh(e: Emitter): void {
  const bounce = BOUNCE_SEGMENT << 4;
  e.label('move_high');
  e.emit(0x66, 0x60, 0x06); // pushad; push es
  e.emit(0x83, 0xec, MOVE_TABLE_BYTES); // sub sp, 48
  e.emit(0x89, 0xe5, 0x16, 0x07); // mov bp, sp; push ss; pop es
  e.emit(0x89, 0xe7, 0x31, 0xc0, 0x51); // mov di, sp; xor ax, ax; push cx
  e.emit(0xb9), e.word(MOVE_TABLE_BYTES / 2);
  e.emit(0xf3, 0xab, 0x59); // rep stosw; pop cx
  e.emit(0xc7, 0x46, 0x10), e.word(0xffff); // source limit
  e.emit(0x66, 0xc7, 0x46, 0x12), e.word(bounce & 0xffff), e.emit(bounce >> 16, DATA_WRITABLE); // source base 0-23, access
  e.emit(0xc7, 0x46, 0x18), e.word(0xffff); // destination limit
  e.emit(0x66, 0x8b, 0x46, MOVE_TABLE_BYTES + 2); // mov eax, [bp+50]: EDI as pushad saved it
  e.emit(0x66, 0x89, 0x46, 0x1a); // destination base 0-23 (and 24-31, overwritten next)
  e.emit(0xc6, 0x46, 0x1d, DATA_WRITABLE);
  e.emit(0x66, 0xc1, 0xe8, 0x18, 0x88, 0x46, 0x1f); // shr eax, 24; destination base 24-31
  e.emit(0x41, 0xd1, 0xe9); // inc cx; shr cx, 1: words
  e.emit(0x89, 0xee, 0xb4, 0x87, 0xcd, 0x15); // mov si, bp; mov ah, 87h; int 15h
  e.emit(0x8d, 0x66, MOVE_TABLE_BYTES); // lea sp, [bp+48] (keeps CF)
  e.emit(0x07, 0x66, 0x61, 0xc3); // pop es; popad; ret
}

/** read32: AX = an item; EAX = its first four bytes, little-endian. Uses CX and DX. */
function emitRead32(e: Emitter): void {
  e.label('read32');
  e.emit(0xba), e.word(FW_CFG_SELECTOR_PORT);
  e.emit(0xef, 0x42); // out dx, ax; inc dx
  e.emit(0xb9), e.word(4);
  e.label('read32_byte');
  e.emit(0xec, 0x66, 0xc1, 0xc8, 0x08); // in al, dx; ror eax, 8
  e.emit(0xe2), e.rel('read32_byte', 1);
  e.emit(0xc3);
}
