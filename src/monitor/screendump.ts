/**
 * screendump of the VGA text screen, drawn as QEMU draws text mode: each
 * cell's glyph from plane 2 (character map A or B by attribute bit 3),
 * foreground attribute bits 3-0 and background bits 6-4 (bits 7-4 without
 * blink) in the attribute palette's colours through the DAC, cells 9, 8 or
 * 16 dots wide as the sequencer clocks them and as tall as the CRTC's
 * character height (720x400 for mode 3), the cursor over its scan lines in
 * the cell's foreground colour. With 9-dot cells the ninth column is
 * background, except for characters B0h-DFh under line-graphics enable,
 * where it repeats the eighth (QEMU's range; the IBM reference says C0h-DFh).
 * Blinking is drawn in its visible phase. Saved as a binary PPM (P6) or a PNG.
 */
import type { TextDisplay } from '../devices/vga.js';

const LINE_GRAPHICS_FIRST = 0xb0;
const LINE_GRAPHICS_LAST = 0xdf;

export interface RgbImage {
  width: number;
  height: number;
  /** Rows top to bottom, 3 bytes (R, G, B) per pixel. */
  rgb: Buffer;
}

export function encodePpm(img: RgbImage): Buffer {
  return Buffer.concat([Buffer.from(`P6\n${img.width} ${img.height}\n255\n`, 'ascii'), img.rgb]);
}

export function renderTextDisplay(d: TextDisplay): RgbImage {
  const width = d.cols * d.cellWidth;
  const height = d.rows * d.cellHeight;
  const image = { width, height, rgb: Buffer.alloc(width * height * 3) };
  if (d.blanked) return image;
  for (let row = 0; row < d.rows; row++) {
    for (let col = 0; col < d.cols; col++) {
      const cursor = d.cursorVisible && row === d.cursorRow && col === d.cursorCol;
      paintCell(image, d, col * d.cellWidth, row * d.cellHeight, d.cells[row * d.cols + col]!, cursor);
    }
  }
  return image;
}

/** The cell's glyph rows as 9-bit dot patterns (bit 8 the leftmost dot, bit 0 the ninth). */
function glyphRows(d: TextDisplay, ch: number, attr: number): number[] {
  const base = d.fontOffsets[(attr >> 3) & 1] + ch * 32;
  const repeatEighth = d.lineGraphics && ch >= LINE_GRAPHICS_FIRST && ch <= LINE_GRAPHICS_LAST;
  return Array.from({ length: d.cellHeight }, (_, y) => {
    const bits = d.font[(base + y) & 0xffff]!;
    return (bits << 1) | (repeatEighth ? bits & 1 : 0);
  });
}

function paintCell(img: RgbImage, d: TextDisplay, x0: number, y0: number, cell: number, cursor: boolean): void {
  const ch = cell & 0xff;
  const attr = cell >> 8;
  const fg = d.colours[attr & 0x0f]!;
  const bg = d.colours[d.blink ? (attr >> 4) & 0x07 : attr >> 4]!;
  const rows = glyphRows(d, ch, attr);
  const cursorLast = Math.min(d.cursorEnd, d.cellHeight - 1);
  for (let y = 0; y < d.cellHeight; y++) {
    const underCursor = cursor && d.cursorStart <= cursorLast && y >= d.cursorStart && y <= cursorLast;
    for (let x = 0; x < d.cellWidth; x++) {
      // 16-dot cells are 8 dots doubled (40-column modes); the ninth dot is bit 0.
      const dot = d.cellWidth === 16 ? 8 - (x >> 1) : 8 - x;
      const [r, g, b] = underCursor || (rows[y]! >> dot) & 1 ? fg : bg;
      const at = ((y0 + y) * img.width + x0 + x) * 3;
      img.rgb[at] = r;
      img.rgb[at + 1] = g;
      img.rgb[at + 2] = b;
    }
  }
}
