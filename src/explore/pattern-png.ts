// The shift pattern picture as PNG (pngjs: Node only; the browser page draws the SVG of
// pattern-picture.ts). Same cells and colours as the SVG.
import { PNG } from 'pngjs';
import type { PatternPicture } from '../ir/pattern.js';
import { CELL, frameColor, frameLabel } from './pattern-picture.js';

// A 3×5 bitmap font for the characters of frame labels.
const GLYPHS: Record<string, string[]> = {
  '0': ['111', '101', '101', '101', '111'],
  '1': ['010', '110', '010', '010', '111'],
  '2': ['111', '001', '111', '100', '111'],
  '3': ['111', '001', '111', '001', '111'],
  '4': ['101', '101', '111', '001', '001'],
  '5': ['111', '100', '111', '001', '111'],
  '6': ['111', '100', '111', '101', '111'],
  '7': ['111', '001', '010', '010', '010'],
  '8': ['111', '101', '111', '101', '111'],
  '9': ['111', '101', '111', '001', '111'],
  d: ['001', '001', '111', '101', '111'],
  '+': ['000', '010', '111', '010', '000'],
  '-': ['000', '000', '111', '000', '000'],
};

export function patternToPng(p: PatternPicture): Uint8Array {
  const width = p.windowW * CELL + 1;
  const height = p.windowH * CELL + 1;
  const png = new PNG({ width, height });
  const set = (x: number, y: number, [r, g, b]: [number, number, number]) => {
    const i = (y * width + x) * 4;
    png.data[i] = r;
    png.data[i + 1] = g;
    png.data[i + 2] = b;
    png.data[i + 3] = 255;
  };
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) set(x, y, [85, 85, 85]);
  const scale = 3;
  for (let h = 0; h < p.windowH; h++) {
    for (let w = 0; w < p.windowW; w++) {
      const rel = p.read[h]![w]!;
      const x0 = w * CELL + 1;
      const y0 = h * CELL + 1;
      const fill = frameColor(rel, p.reach);
      for (let y = 0; y < CELL - 1; y++) for (let x = 0; x < CELL - 1; x++) set(x0 + x, y0 + y, fill);
      const label = frameLabel(rel);
      const textW = label.length * 4 * scale - scale;
      let cx = x0 + Math.floor((CELL - 1 - textW) / 2);
      const cy = y0 + Math.floor((CELL - 1 - 5 * scale) / 2);
      for (const ch of label) {
        const glyph = GLYPHS[ch]!;
        for (let gy = 0; gy < 5; gy++)
          for (let gx = 0; gx < 3; gx++)
            if (glyph[gy]![gx] === '1')
              for (let sy = 0; sy < scale; sy++)
                for (let sx = 0; sx < scale; sx++) set(cx + gx * scale + sx, cy + gy * scale + sy, [20, 20, 20]);
        cx += 4 * scale;
      }
    }
  }
  return PNG.sync.write(png);
}
