// Renders a PatternPicture as the paper's figure does: one cell per window position, labelled and
// coloured by the frame it reads (d, d+1, d-4, …). Terminal text and SVG here; PNG (pngjs, Node
// only) in pattern-png.ts, so that the browser page can import this module.
import pc from 'picocolors';
import { frameLabel, type PatternPicture } from '../ir/pattern.js';

export { frameLabel };

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

/** Pixels per window position, in the SVG and the PNG (pattern-png.ts). */
export const CELL = 56;

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
