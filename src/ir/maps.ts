// The data-movement maps PST needs, each an IndexMap from an output index to an input index.
// Shapes are channels-last where it matters: windows are [windows, tokens, channels] and feature
// maps [B, D, H, W, C]. Every constructor checks its shapes (a mismatch is a compiler bug, not a
// user's mistake, so it throws IndexMapError) and returns a simplified map.
import { patchOffset } from '../lang/facts.js';
import type { Boundary } from '../lang/model.js';
import {
  IndexMapError,
  type ICond,
  type IExpr,
  type IndexMap,
  TRUE,
  add,
  and,
  c,
  compose,
  div,
  eq,
  le,
  lt,
  mod,
  mul,
  product,
  rowMajorStrides,
  select,
  simplify,
  sub,
  unflatten,
  v,
} from './indexmap.js';

function fail(message: string): never {
  throw new IndexMapError(message);
}

function checkShape(shape: readonly number[], rank: number | undefined, what: string): void {
  if (rank !== undefined && shape.length !== rank) fail(`${what}: expected rank ${rank}, got [${shape}]`);
  for (const n of shape) if (!Number.isSafeInteger(n) || n < 1) fail(`${what}: bad shape [${shape}]`);
}

function divides(what: string, n: number, by: number): void {
  if (!Number.isSafeInteger(by) || by < 1 || n % by !== 0) fail(`${what}: ${by} does not divide ${n}`);
}

function withValid(map: IndexMap, valid: ICond): IndexMap {
  return simplify(valid.k === 'true' ? map : { ...map, valid });
}

// ---------------------------------------------------------------------------------------------
// Views: reshape, permute, crop, slice; and roll, pad.

/** Same elements in row-major order, seen with another shape. */
export function reshape(inShape: number[], outShape: number[]): IndexMap {
  checkShape(inShape, undefined, 'reshape');
  checkShape(outShape, undefined, 'reshape');
  if (product(inShape) !== product(outShape)) fail(`reshape: [${inShape}] and [${outShape}] differ in size`);
  const strides = rowMajorStrides(outShape);
  let flat: IExpr = c(0);
  outShape.forEach((_, k) => (flat = add(flat, mul(v(k), strides[k]!))));
  return simplify({ outShape: [...outShape], inShape: [...inShape], index: unflatten(flat, inShape) });
}

/** Output dim k is input dim perm[k] (torch's permute). */
export function permute(inShape: number[], perm: number[]): IndexMap {
  checkShape(inShape, undefined, 'permute');
  const seen = new Set(perm);
  if (perm.length !== inShape.length || seen.size !== perm.length || perm.some((p) => !(p >= 0 && p < perm.length))) {
    fail(`permute: [${perm}] is not a permutation of ${inShape.length} dims`);
  }
  const index = new Array<IExpr>(inShape.length);
  perm.forEach((p, k) => (index[p] = v(k)));
  return { outShape: perm.map((p) => inShape[p]!), inShape: [...inShape], index };
}

/** torch.roll: out[i] = in[(i − shift) mod n] along each axis. */
export function roll(shape: number[], shifts: number[]): IndexMap {
  checkShape(shape, undefined, 'roll');
  if (shifts.length !== shape.length) fail(`roll: ${shifts.length} shifts for rank ${shape.length}`);
  const index = shape.map((n, k) => mod(sub(v(k), c(shifts[k]!)), n));
  return simplify({ outShape: [...shape], inShape: [...shape], index });
}

/**
 * The broadcast of a reduction's result back over the reduced axes: out[i] = in[i without
 * `axes`] for an output of `outShape` (the adjoint of a sum or mean over `axes`).
 */
export function broadcast(outShape: number[], axes: number[]): IndexMap {
  checkShape(outShape, undefined, 'broadcast');
  if (axes.some((a) => !(Number.isInteger(a) && a >= 0 && a < outShape.length))) fail(`broadcast: axes [${axes}] outside rank ${outShape.length}`);
  const kept = outShape.map((_, k) => k).filter((k) => !axes.includes(k));
  return { outShape: [...outShape], inShape: kept.map((k) => outShape[k]!), index: kept.map((k) => v(k)) };
}

/** Zeros appended at the end of each axis. */
export function pad(inShape: number[], padAfter: number[]): IndexMap {
  checkShape(inShape, undefined, 'pad');
  if (padAfter.length !== inShape.length || padAfter.some((p) => !Number.isSafeInteger(p) || p < 0)) {
    fail(`pad: bad padding [${padAfter}] for [${inShape}]`);
  }
  let valid: ICond = TRUE;
  inShape.forEach((n, k) => {
    if (padAfter[k]! > 0) valid = and(valid, lt(v(k), c(n)));
  });
  const map = { outShape: inShape.map((n, k) => n + padAfter[k]!), inShape: [...inShape], index: inShape.map((_, k) => v(k)) };
  return withValid(map, valid);
}

/** Keep the first outShape[k] entries of each axis. */
export function crop(inShape: number[], outShape: number[]): IndexMap {
  checkShape(inShape, undefined, 'crop');
  checkShape(outShape, inShape.length, 'crop');
  if (outShape.some((n, k) => n > inShape[k]!)) fail(`crop: [${outShape}] is larger than [${inShape}]`);
  return { outShape: [...outShape], inShape: [...inShape], index: outShape.map((_, k) => v(k)) };
}

/** out[i] = in[start + step·i] along each axis (steps may be negative, never 0). */
export function slice(inShape: number[], starts: number[], steps: number[], outShape: number[]): IndexMap {
  checkShape(inShape, undefined, 'slice');
  checkShape(outShape, inShape.length, 'slice');
  inShape.forEach((n, k) => {
    const start = starts[k]!;
    const step = steps[k]!;
    const last = start + step * (outShape[k]! - 1);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(step) || step === 0) fail(`slice: bad start/step on axis ${k}`);
    if (start < 0 || start >= n || last < 0 || last >= n) fail(`slice: axis ${k} reads outside [0, ${n})`);
  });
  const index = inShape.map((_, k) => add(mul(v(k), steps[k]!), c(starts[k]!)));
  return simplify({ outShape: [...outShape], inShape: [...inShape], index });
}

/** [Bw, N, C] → [Bw, heads, N, C/heads]: the per-head view of window tokens. */
export function headSplit(shape: number[], heads: number): IndexMap {
  checkShape(shape, 3, 'headSplit');
  const [bw, n, ch] = shape as [number, number, number];
  divides('headSplit channels by heads', ch, heads);
  const split = [bw, n, heads, ch / heads];
  return simplify(compose(permute(split, [0, 2, 1, 3]), reshape(shape, split)));
}

// ---------------------------------------------------------------------------------------------
// Windows. Window number ((b·nD + d)·nH + h)·nW + w; tokens row-major (t, h, w) inside a window.

function windowGeometry(shape: number[], window: number[]) {
  checkShape(shape, 5, 'window');
  checkShape(window, 3, 'window size');
  const [b, d, h, w, ch] = shape as [number, number, number, number, number];
  const [wd, wh, ww] = window as [number, number, number];
  divides('window along D', d, wd);
  divides('window along H', h, wh);
  divides('window along W', w, ww);
  return { b, ch, wd, wh, ww, nD: d / wd, nH: h / wh, nW: w / ww };
}

/** [B, D, H, W, C] → [B·nD·nH·nW, wd·wh·ww, C]. */
export function windowPartition(shape: number[], window: number[]): IndexMap {
  const g = windowGeometry(shape, window);
  const win = v(0);
  const tok = v(1);
  const wb = div(win, g.nD * g.nH * g.nW);
  const wdI = mod(div(win, g.nH * g.nW), g.nD);
  const whI = mod(div(win, g.nW), g.nH);
  const wwI = mod(win, g.nW);
  const td = div(tok, g.wh * g.ww);
  const th = mod(div(tok, g.ww), g.wh);
  const tw = mod(tok, g.ww);
  const index = [wb, add(mul(wdI, g.wd), td), add(mul(whI, g.wh), th), add(mul(wwI, g.ww), tw), v(2)];
  const outShape = [g.b * g.nD * g.nH * g.nW, g.wd * g.wh * g.ww, g.ch];
  return simplify({ outShape, inShape: [...shape], index });
}

/** The inverse of windowPartition: reads [B, D, H, W, C] (the `shape` given) from the windows. */
export function windowReverse(shape: number[], window: number[]): IndexMap {
  const g = windowGeometry(shape, window);
  const [b, d, h, w] = [v(0), v(1), v(2), v(3)];
  const winNo = add(
    mul(add(mul(add(mul(b, g.nD), div(d, g.wd)), g.nH), div(h, g.wh)), g.nW),
    div(w, g.ww),
  );
  const tokNo = add(mul(add(mul(mod(d, g.wd), g.wh), mod(h, g.wh)), g.ww), mod(w, g.ww));
  const inShape = [g.b * g.nD * g.nH * g.nW, g.wd * g.wh * g.ww, g.ch];
  return simplify({ outShape: [...shape], inShape, index: [winNo, tokNo, v(4)] });
}

// ---------------------------------------------------------------------------------------------
// Temporal shifts on window tokens [Bw, N, C]. Window w lies in frame d = (w div wpf) mod frames
// of its clip; "frame d + δ" is window w + δ·wpf. The three boundaries say what a read outside
// the clip gives: the own frame (keep), zero (zeros), or the frame wrapped within the clip (cyclic).

interface Frames {
  frames: number;
  windowsPerFrame: number;
}

function checkFrames(bw: number, f: Frames): void {
  divides('windows per clip', bw, f.frames * f.windowsPerFrame);
}

function frameOf(win: IExpr, f: Frames): IExpr {
  return mod(div(win, f.windowsPerFrame), f.frames);
}

function inClip(frame: IExpr, f: Frames): ICond {
  return and(le(c(0), frame), lt(frame, c(f.frames)));
}

/** Apply fn to the leaves of a tree of selects. */
function mapLeaves(e: IExpr, fn: (leaf: IExpr) => IExpr): IExpr {
  if (e.k !== 'select') return fn(e);
  return select(e.cond, mapLeaves(e.then, fn), mapLeaves(e.else, fn));
}

/** The window index read by window `win` for a temporal offset δ, and where it is valid. */
function shiftedWindow(win: IExpr, delta: IExpr, f: Frames, boundary: Boundary): { index: IExpr; valid: ICond } {
  const wpf = f.windowsPerFrame;
  const frame0 = frameOf(win, f);
  switch (boundary) {
    case 'cyclic': {
      // Clip start + wrapped frame + window within the frame: the batch index never changes.
      const clip = mul(div(win, f.frames * wpf), f.frames * wpf);
      const frame = mul(mod(add(div(win, wpf), delta), f.frames), wpf);
      return { index: add(add(clip, frame), mod(win, wpf)), valid: TRUE };
    }
    case 'keep': {
      // Decide at each leaf of δ's select tree, so δ is not repeated in the test.
      const kept = mapLeaves(delta, (s) => select(inClip(add(frame0, s), f), s, c(0)));
      return { index: add(win, mul(kept, wpf)), valid: TRUE };
    }
    case 'zeros': {
      const inside = mapLeaves(delta, (s) => select(inClip(add(frame0, s), f), c(1), c(0)));
      return { index: add(win, mul(delta, wpf)), valid: eq(inside, c(1)) };
    }
  }
}

export interface ChannelShiftOptions extends Frames {
  heads: number;
  /** Channels per head taken from frame d−1 (and as many from d+1). */
  foldChannels: number;
  boundary: Boundary;
}

/**
 * Temporal channel shift (TCS / TSM) per head: channels k < fold of each head read frame d−1,
 * channels k in [fold, 2·fold) read frame d+1, the rest their own frame.
 */
export function channelShift(shape: number[], o: ChannelShiftOptions): IndexMap {
  checkShape(shape, 3, 'channelShift');
  const [bw, , ch] = shape as [number, number, number];
  checkFrames(bw, o);
  divides('channels by heads', ch, o.heads);
  const headDim = ch / o.heads;
  if (!Number.isSafeInteger(o.foldChannels) || o.foldChannels < 0 || 2 * o.foldChannels > headDim) {
    fail(`channelShift: fold ${o.foldChannels} does not fit a head of ${headDim} channels`);
  }
  const k = mod(v(2), headDim);
  const delta = select(lt(k, c(o.foldChannels)), c(-1), select(lt(k, c(2 * o.foldChannels)), c(1), c(0)));
  const { index, valid } = shiftedWindow(v(0), delta, o, o.boundary);
  return withValid({ outShape: [...shape], inShape: [...shape], index: [index, v(1), v(2)] }, valid);
}

export interface PatchShiftOptions extends Frames {
  heads: number;
  /** The first `shiftedHeads` heads are shifted; the others read their own frame. */
  shiftedHeads: number;
  /** grid[h mod rows][w mod cols] = s: the token at window position (h, w) reads frame d − s. */
  grid: number[][];
  windowH: number;
  windowW: number;
  boundary: Boundary;
  /** The shift back on the attention output: read frame d + s instead. */
  inverse?: boolean;
}

/** `values[index]` as a chain of selects, for a small table of constants. */
function lookup(index: IExpr, values: IExpr[]): IExpr {
  let e = values[values.length - 1]!;
  for (let r = values.length - 2; r >= 0; r--) e = select(eq(index, c(r)), values[r]!, e);
  return e;
}

/** Temporal patch shift (TPS): each token position of a window reads another frame, per the grid. */
export function patchShift(shape: number[], o: PatchShiftOptions): IndexMap {
  checkShape(shape, 3, 'patchShift');
  const [bw, n, ch] = shape as [number, number, number];
  checkFrames(bw, o);
  if (o.windowH * o.windowW !== n) fail(`patchShift: window ${o.windowH}×${o.windowW} does not hold ${n} tokens`);
  divides('channels by heads', ch, o.heads);
  if (!Number.isSafeInteger(o.shiftedHeads) || o.shiftedHeads < 0 || o.shiftedHeads > o.heads) {
    fail(`patchShift: ${o.shiftedHeads} shifted heads of ${o.heads}`);
  }
  const rows = o.grid.length;
  const cols = o.grid[0]?.length ?? 0;
  if (rows === 0 || cols === 0 || o.grid.some((r) => r.length !== cols || r.some((s) => !Number.isSafeInteger(s)))) {
    fail('patchShift: the grid must be a non-empty rectangle of integers');
  }
  const h = div(v(1), o.windowW);
  const w = mod(v(1), o.windowW);
  // δ: the frame offset read, −s (or +s for the shift back). The map evaluates patchOffset
  // symbolically: a select over (h mod rows) of a select over (w mod cols) of one tile's offsets.
  const sign = o.inverse ? 1 : -1;
  const tile = (r: number) => Array.from({ length: cols }, (_, k) => c(sign * patchOffset(o.grid, r, k)));
  let delta = lookup(
    mod(h, rows),
    Array.from({ length: rows }, (_, r) => lookup(mod(w, cols), tile(r))),
  );
  if (o.shiftedHeads < o.heads) delta = select(lt(v(2), c(o.shiftedHeads * (ch / o.heads))), delta, c(0));
  const { index, valid } = shiftedWindow(v(0), delta, o, o.boundary);
  return withValid({ outShape: [...shape], inShape: [...shape], index: [index, v(1), v(2)] }, valid);
}

// ---------------------------------------------------------------------------------------------
// Gathers

/**
 * Patch merging: [B, D, H, W, C] → [B, D, ⌈H/2⌉, ⌈W/2⌉, 4C], zero-padding H and W to even, then
 * x0 = x[:, :, 0::2, 0::2], x1 = x[:, :, 1::2, 0::2], x2 = x[:, :, 0::2, 1::2],
 * x3 = x[:, :, 1::2, 1::2] concatenated on channels in that order.
 */
export function patchMergeGather(shape: number[]): IndexMap {
  checkShape(shape, 5, 'patchMergeGather');
  const [b, d, h, w, ch] = shape as [number, number, number, number, number];
  const part = div(v(4), ch); // 0..3: (row offset, column offset) = (part mod 2, part div 2)
  const hIn = add(mul(v(2), 2), mod(part, 2));
  const wIn = add(mul(v(3), 2), div(part, 2));
  let valid: ICond = TRUE;
  if (h % 2) valid = and(valid, lt(hIn, c(h)));
  if (w % 2) valid = and(valid, lt(wIn, c(w)));
  const map = {
    outShape: [b, d, Math.ceil(h / 2), Math.ceil(w / 2), 4 * ch],
    inShape: [...shape],
    index: [v(0), v(1), hIn, wIn, mod(v(4), ch)],
  };
  return withValid(map, valid);
}

/**
 * The patches of a Conv3d with kernel = stride: clip [B, Cin, T, H, W] (channels first) →
 * [B, D, H', W', Cin·kt·kh·kw], zero-padded at the end of each axis so the kernel divides, with
 * the last dim ordered (cin, dt, dh, dw) like a flattened Conv3d weight [Cout, Cin, kt, kh, kw].
 */
export function patchEmbedGather(shape: number[], kernel: number[]): IndexMap {
  checkShape(shape, 5, 'patchEmbedGather');
  checkShape(kernel, 3, 'patch kernel');
  const [b, cin, t, h, w] = shape as [number, number, number, number, number];
  const [kt, kh, kw] = kernel as [number, number, number];
  const j = v(4);
  const tIn = add(mul(v(1), kt), mod(div(j, kh * kw), kt));
  const hIn = add(mul(v(2), kh), mod(div(j, kw), kh));
  const wIn = add(mul(v(3), kw), mod(j, kw));
  let valid: ICond = TRUE;
  if (t % kt) valid = and(valid, lt(tIn, c(t)));
  if (h % kh) valid = and(valid, lt(hIn, c(h)));
  if (w % kw) valid = and(valid, lt(wIn, c(w)));
  const map = {
    outShape: [b, Math.ceil(t / kt), Math.ceil(h / kh), Math.ceil(w / kw), cin * kt * kh * kw],
    inShape: [...shape],
    index: [v(0), div(j, kt * kh * kw), tIn, hIn, wIn],
  };
  return withValid(map, valid);
}
