// Static tables of window attention: which row of the relative-position bias table each
// (query, key) pair of a window reads, and Swin's shifted-window mask. Both follow
// pst-reference.md ("Relative position bias", "Mask"); the odd-looking temporal index of PST is
// part of the contract and is reproduced as written there.
import { patchOffset } from '../lang/facts.js';
import type { AttentionKind, Shift } from '../lang/model.js';
import type { Triple } from './window.js';

export interface BiasIndex {
  /** [groups][N][N] rows into the bias table. */
  index: Int32Array;
  groups: number;
  /** Window w uses group (w div windowsPerGroup) mod groups. */
  windowsPerGroup: number;
}

export interface BiasIndexArgs {
  attention: AttentionKind;
  /** The window the table was built for (as configured, before shrinking). */
  configured: Readonly<Triple>;
  /** The window actually used on this feature map. */
  window: Readonly<Triple>;
  /** window2d: the bias table's temporal extent (bias_frames); window3d: ignored (= window depth). */
  biasFrames: number;
  /** window2d: number of temporal tokens D (one group of windows per frame). */
  frames: number;
  windowsPerFrame: number;
  /** The block's shift: a patch shift changes the temporal term for every head. */
  shift: Shift | null;
}

const mod = (a: number, n: number): number => ((a % n) + n) % n;

export function biasIndex(args: BiasIndexArgs): BiasIndex {
  const [wd, wh, ww] = args.configured;
  const [ed, eh, ew] = args.window;
  const n = ed * eh * ew;
  const rowH = 2 * ww - 1;
  const rowD = (2 * wh - 1) * rowH;
  const spatial = (i: number, j: number): number => {
    const hi = Math.floor(i / ew) % eh;
    const wi = i % ew;
    const hj = Math.floor(j / ew) % eh;
    const wj = j % ew;
    return (hi - hj + wh - 1) * rowH + (wi - wj + ww - 1);
  };

  if (args.attention === 'window3d') {
    // Video Swin: a 3-D relative position, table built for the configured window depth.
    const index = new Int32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const dd = Math.floor(i / (eh * ew)) - Math.floor(j / (eh * ew));
        index[i * n + j] = (dd + wd - 1) * rowD + spatial(i, j);
      }
    }
    return { index, groups: 1, windowsPerGroup: 1 };
  }

  const tb = args.biasFrames;
  if (tb === 1) {
    // A 2-D table: no temporal term at all.
    const index = new Int32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) index[i * n + j] = (tb - 1) * rowD + spatial(i, j);
    return { index, groups: 1, windowsPerGroup: 1 };
  }

  // Tb > 1: PST indexes between the query frame f and key frame 0 of a virtual Tb-frame window,
  // so the index depends on the window's frame: one group of windows per frame.
  const groups = args.frames;
  const shift = args.shift;
  const offset = (pos: number): number => (shift?.kind === 'patch' ? patchOffset(shift.grid, Math.floor(pos / ew) % eh, pos % ew) : 0);
  const index = new Int32Array(groups * n * n);
  for (let f = 0; f < groups; f++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const dd = shift?.kind === 'patch' ? mod(f - offset(i), tb) - mod(-offset(j), tb) : f;
        if (dd <= -tb || dd >= tb) {
          throw new Error(`internal: temporal bias offset ${dd} outside a ${tb}-frame table (frame ${f})`);
        }
        index[(f * n + i) * n + j] = (dd + tb - 1) * rowD + spatial(i, j);
      }
    }
  }
  return { index, groups, windowsPerGroup: args.windowsPerFrame };
}

export interface WindowMask {
  /** [windows][N][N]: 0, or −100 where query and key come from different regions. */
  mask: Float32Array;
  /** Window w uses mask (w mod windows). */
  windows: number;
}

/**
 * Swin's shifted-window mask. Each padded axis with a shift s > 0 is cut into the regions
 * [0, P−w), [P−w, P−s), [P−s, P); a pair of tokens in different regions gets −100. For window2d
 * the mask is the same in every frame, so it is built for one frame (windows = windows per frame);
 * for window3d it covers the temporal axis too. Null when no axis is shifted.
 */
export function windowMask(
  attention: AttentionKind,
  padded: Readonly<Triple>,
  window: Readonly<Triple>,
  shift: Readonly<Triple>,
): WindowMask | null {
  if (shift.every((s) => s === 0)) return null;
  const extent: Readonly<Triple> = attention === 'window2d' ? [window[0], padded[1], padded[2]] : padded;
  const region = (axis: number, p: number): number => {
    const s = shift[axis]!;
    if (s === 0) return 0;
    const size = extent[axis]!;
    if (p < size - window[axis]!) return 0;
    return p < size - s ? 1 : 2;
  };
  const [nd, nh, nw] = [0, 1, 2].map((a) => extent[a]! / window[a]!) as Triple;
  const [wd, wh, ww] = window;
  const n = wd * wh * ww;
  const windows = nd * nh * nw;
  const mask = new Float32Array(windows * n * n);
  const labels = new Int32Array(n);
  for (let win = 0; win < windows; win++) {
    const bd = Math.floor(win / (nh * nw));
    const bh = Math.floor(win / nw) % nh;
    const bw = win % nw;
    for (let t = 0; t < n; t++) {
      const d = bd * wd + Math.floor(t / (wh * ww));
      const h = bh * wh + (Math.floor(t / ww) % wh);
      const w = bw * ww + (t % ww);
      labels[t] = (region(0, d) * 3 + region(1, h)) * 3 + region(2, w);
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) mask[(win * n + i) * n + j] = labels[i] === labels[j] ? 0 : -100;
    }
  }
  return { mask, windows };
}
