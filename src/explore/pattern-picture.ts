// Renders a PatternPicture as the paper's figure does: one cell per window position, labelled and
// coloured by the frame it reads (d, d+1, d-4, …). Terminal text, SVG and PNG.
import pc from 'picocolors';
import { PNG } from 'pngjs';
import type { PatternPicture } from '../ir/pattern.js';

export function frameLabel(rel: number): string {
  return rel === 0 ? 'd' : rel > 0 ? `d+${rel}` : `d${rel}`;
}

/** A diverging colour per relative frame: past frames blue, future frames red, own frame grey. */
export function frameColor(rel: number, reach: number): [number, number, number] {
  if (rel === 0) return [225, 225, 225];
  const t = Math.min(1, Math.abs(rel) / Math.max(1, reach));
  const strong = Math.round(255 - 150 * t);
  const weak = Math.round(235 - 175 * t);
  return rel < 0 ? [weak, strong, 255] : [255, strong, weak];
}

export function patternToText(p: PatternPicture, color = false): string {
  const width = Math.max(3, ...p.read.flat().map((r) => frameLabel(r).length));
  const paint = (rel: number, s: string): string => {
    if (!color || rel === 0) return s;
    return rel < 0 ? pc.blue(s) : pc.red(s);
  };
  const header = '      ' + Array.from({ length: p.windowW }, (_, w) => `w${w}`.padStart(width)).join(' ');
  const rows = p.read.map(
    (row, h) => `  h${String(h).padEnd(2)} ` + row.map((rel) => paint(rel, frameLabel(rel).padStart(width))).join(' '),
  );
  return [header, ...rows].join('\n');
}

const CELL = 56;

export function patternToSvg(p: PatternPicture, title: string): string {
  const titleHeight = 28;
  const width = p.windowW * CELL + 2;
  const height = p.windowH * CELL + titleHeight + 2;
  const cells: string[] = [];
  for (let h = 0; h < p.windowH; h++) {
    for (let w = 0; w < p.windowW; w++) {
      const rel = p.read[h]![w]!;
      const [r, g, b] = frameColor(rel, p.reach);
      const x = 1 + w * CELL;
      const y = titleHeight + 1 + h * CELL;
      cells.push(
        `<rect x="${x}" y="${y}" width="${CELL}" height="${CELL}" fill="rgb(${r},${g},${b})" stroke="#555" stroke-width="1"/>` +
          `<text x="${x + CELL / 2}" y="${y + CELL / 2 + 6}" text-anchor="middle" font-family="monospace" font-size="16">${frameLabel(rel)}</text>`,
      );
    }
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="4" y="20" font-family="sans-serif" font-size="15">${escapeXml(title)}</text>`,
    ...cells,
    `</svg>`,
    '',
  ].join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

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
