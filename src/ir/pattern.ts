// The shift pattern as the paper draws it: for one window, which frame each position reads.
// Pure analysis of a PatchShift/ChannelShift; renderers live in src/explore/pattern-picture.ts.
import { patchOffset, patternReach } from '../lang/facts.js';
import type { ChannelShift, PatchShift } from '../lang/model.js';

export interface PatternPicture {
  /** rows × cols of relative frames: the token at (h, w) of frame d reads frame d + read[h][w]. */
  read: number[][];
  gridSize: number;
  windowH: number;
  windowW: number;
  /** max |s| over the grid. */
  reach: number;
}

/** A relative frame as the picture labels it: d, d+1, d-4. */
export function frameLabel(rel: number): string {
  return rel === 0 ? 'd' : rel > 0 ? `d+${rel}` : `d${rel}`;
}

/**
 * The frame a cyclic shift really reads on a clip of `tokens` temporal tokens: `rel` wrapped into
 * (−tokens/2, tokens/2] — on 4 tokens d+4 is d itself and d−3 is d+1.
 */
export function wrappedFrame(rel: number, tokens: number): number {
  const r = ((rel % tokens) + tokens) % tokens;
  return r > tokens / 2 ? r - tokens : r;
}

/** Tile the pattern over a windowH × windowW window by position mod grid size. */
export function patternPicture(shift: PatchShift, windowH: number, windowW: number): PatternPicture {
  const read: number[][] = [];
  for (let h = 0; h < windowH; h++) {
    const row: number[] = [];
    for (let w = 0; w < windowW; w++) row.push(-patchOffset(shift.grid, h, w));
    read.push(row);
  }
  return { read, gridSize: shift.grid.length, windowH, windowW, reach: patternReach(shift) };
}

/**
 * Temporal offsets one block mixes into a token's output, relative to its own frame
 * (ignoring the boundary rule). TPS with shift-back: query i computed at frame d + s_i attends to
 * keys read from frames d + s_i − s_j; without shift-back the output at d attends to d − s_j.
 * TCS: channels from d − 1 and d + 1.
 */
export function blockTemporalOffsets(shift: PatchShift | ChannelShift | null): number[] {
  if (!shift) return [0];
  if (shift.kind === 'channel') return [-1, 0, 1];
  const s = shift.grid.flat();
  const offsets = new Set<number>([0]);
  for (const si of s) for (const sj of s) offsets.add(shift.shiftBack ? si - sj : -sj);
  return [...offsets].sort((a, b) => a - b);
}
