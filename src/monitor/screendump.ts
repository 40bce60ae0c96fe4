/**
 * screendump of the VGA text screen: 9x16 pixels per cell like QEMU's
 * 720x400 text-mode picture, in the 16 CGA colours, saved as a binary PPM
 * (P6) or a PNG.
 * tsvm carries no VGA font, so a non-blank character is drawn as a block
 * of its foreground colour inside the cell and a blank as background: the
 * layout, colours and cursor of the screen are right, the glyph shapes are
 * not.
 */
import type { TextScreen } from '../devices/vga.js';

const CELL_W = 9;
const CELL_H = 16;
// prettier-ignore
const PALETTE = [
  [0, 0, 0], [0, 0, 0xaa], [0, 0xaa, 0], [0, 0xaa, 0xaa], [0xaa, 0, 0], [0xaa, 0, 0xaa], [0xaa, 0x55, 0], [0xaa, 0xaa, 0xaa],
  [0x55, 0x55, 0x55], [0x55, 0x55, 0xff], [0x55, 0xff, 0x55], [0x55, 0xff, 0xff], [0xff, 0x55, 0x55], [0xff, 0x55, 0xff], [0xff, 0xff, 0x55], [0xff, 0xff, 0xff],
] as const;
/** Characters drawn as background: space, NUL and the blank 0xFF. */
const BLANK = new Set([0x00, 0x20, 0xff]);

export interface RgbImage {
  width: number;
  height: number;
  /** Rows top to bottom, 3 bytes (R, G, B) per pixel. */
  rgb: Buffer;
}

export function encodePpm(img: RgbImage): Buffer {
  return Buffer.concat([Buffer.from(`P6\n${img.width} ${img.height}\n255\n`, 'ascii'), img.rgb]);
}

export function renderTextScreen(screen: TextScreen): RgbImage {
  const width = screen.cols * CELL_W;
  const height = screen.rows * CELL_H;
  const pixels = Buffer.alloc(width * height * 3);
  for (let row = 0; row < screen.rows; row++) {
    for (let col = 0; col < screen.cols; col++) {
      const cell = screen.cells[row * screen.cols + col]!;
      const cursor = screen.cursorVisible && row === screen.cursorRow && col === screen.cursorCol;
      paintCell(pixels, width, col * CELL_W, row * CELL_H, cell, cursor);
    }
  }
  return { width, height, rgb: pixels };
}

function paintCell(pixels: Buffer, width: number, x0: number, y0: number, cell: number, cursor: boolean): void {
  const ch = cell & 0xff;
  const attr = cell >> 8;
  const fg = PALETTE[attr & 0xf]!;
  const bg = PALETTE[(attr >> 4) & 0x7]!;
  for (let y = 0; y < CELL_H; y++) {
    for (let x = 0; x < CELL_W; x++) {
      const glyph = !BLANK.has(ch) && x >= 1 && x <= 6 && y >= 3 && y <= 12;
      const underline = cursor && y >= 14;
      const [r, g, b] = glyph || underline ? fg : bg;
      const at = ((y0 + y) * width + x0 + x) * 3;
      pixels[at] = r;
      pixels[at + 1] = g;
      pixels[at + 2] = b;
    }
  }
}
