// PST's data movement as the interpreter runs it on a lowered tiny model, checked element by
// element against pst-reference.md written out directly (not through index maps): TCS keeps the
// edge frames, TPS is cyclic in time at window-local positions after the window shift, the shift
// back inverts it, patch merging concatenates x0..x3 in the spec's order; folding changes nothing.
import { describe, expect, it } from 'vitest';
import { gather } from '../../backends/reference/gather.js';
import { interpret, type ReferenceWeights } from '../../backends/reference/interpreter.js';
import { foldViews } from '../../src/passes/fold.js';
import { size, type Graph, type Node } from '../../src/ir/graph.js';
import { lowerModel } from '../../src/passes/lower.js';
import * as maps from '../../src/ir/maps.js';
import { patternC, random, tinyPst } from './fixtures.js';

// tinyPst at 1×3×8×40×40: D = 4, stage 1 map 10×10, windows 4×4 padded to 12×12 (3×3 windows
// per frame), shift 2 on block 1; C = 16, 2 heads of 8 channels, TCS fold 1.
const D = 4;
const WPF = 9;

function randomWeights(g: Graph, seed: number): ReferenceWeights {
  const next = random(seed);
  const w = new Map<string, { shape: number[]; data: Float64Array }>();
  for (const id of g.params) {
    const n = g.nodes[id]!;
    if (n.op.kind !== 'param') continue;
    const isNormWeight = /norm\d?\.weight$/.test(n.op.name);
    const data = Float64Array.from({ length: size(n.shape) }, () => (isNormWeight ? 1 + 0.1 * next() : 0.3 * next()));
    w.set(n.op.name, { shape: n.shape, data });
  }
  return w;
}

function run(g: Graph, pick: (n: Node) => boolean, seed = 7) {
  const next = random(seed);
  const clip = Float64Array.from({ length: size(g.inputShape) }, () => next());
  return interpret(g, { clip }, randomWeights(g, 1), { keep: pick });
}

/** Element checks collect their mismatches: one expect per test keeps the suite fast. */
class Mismatches {
  readonly list: string[] = [];
  check(got: number | undefined, want: number | undefined, where: string): void {
    if (got === undefined || want === undefined) throw new Error(`${where}: index outside the tensor`);
    if (got !== want && this.list.length < 5) this.list.push(`${where}: got ${got}, want ${want}`);
  }
}

const find = (g: Graph, label: string, kind: string, what?: string): Node => {
  const n = g.nodes.find((x) => x.label === label && x.op.kind === kind && (what === undefined || (x.op.kind === 'view' && x.op.what === what)));
  if (!n) throw new Error(`no ${kind} ${what ?? ''} at ${label}`);
  return n;
};

describe('temporal channel shift (even blocks)', () => {
  it('moves fold channels per head from d−1 and d+1; edge frames keep their values', () => {
    const g = lowerModel(tinyPst(), { batch: 1, frames: 8, size: 40 });
    const tcs = find(g, 'layers.0.blocks.0.attn', 'view', 'tcs');
    const r = run(g, (n) => n.id === tcs.id || n.id === tcs.inputs[0]);
    const x = r.values.get(tcs.inputs[0]!)!;
    const y = r.values.get(tcs.id)!;
    const [windows, n, C] = tcs.shape as [number, number, number];
    const bad = new Mismatches();
    let fromNeighbour = 0;
    for (let w = 0; w < windows; w++) {
      const d = Math.floor(w / WPF) % D;
      for (let t = 0; t < n; t++) {
        for (let ch = 0; ch < C; ch++) {
          const k = ch % 8;
          const src = k === 0 ? (d > 0 ? w - WPF : w) : k === 1 ? (d < D - 1 ? w + WPF : w) : w;
          if (src !== w) fromNeighbour++;
          bad.check(y[(w * n + t) * C + ch], x[(src * n + t) * C + ch], `window ${w} token ${t} channel ${ch}`);
        }
      }
    }
    expect(bad.list).toEqual([]);
    expect(fromNeighbour).toBe(2 * 2 * (D - 1) * WPF * n); // 2 channels × 2 heads × 3 frames each way
  });
});

describe('temporal patch shift (odd blocks)', () => {
  for (const ratio of [1, 0.5]) {
    it(`reads frame (d − s) mod D at the window-local position after the window shift (ratio ${ratio})`, () => {
      const g = lowerModel(tinyPst({}, [null, { ...patternC, ratio }]), { batch: 1, frames: 8, size: 40 });
      const norm1 = find(g, 'layers.0.blocks.1.norm1', 'layernorm');
      const tps = find(g, 'layers.0.blocks.1.attn', 'view', 'tps');
      const r = run(g, (n) => n.id === norm1.id || n.id === tps.id);
      const ln = r.values.get(norm1.id)!; // [1, 4, 10, 10, 16]
      const y = r.values.get(tps.id)!; // [1·4·3·3, 16, 16]
      const C = 16;
      // The padded (12×12, zeros) map rolled by (−2, −2), read at frame f, position (h, w).
      const rolled = (f: number, h: number, w: number, ch: number): number => {
        const ph = (h + 2) % 12;
        const pw = (w + 2) % 12;
        return ph < 10 && pw < 10 ? ln[((f * 10 + ph) * 10 + pw) * C + ch]! : 0;
      };
      const shiftedChannels = ratio === 1 ? 16 : 8;
      const bad = new Mismatches();
      for (let d = 0; d < D; d++) {
        for (let a = 0; a < 3; a++) {
          for (let b = 0; b < 3; b++) {
            const win = (d * 3 + a) * 3 + b;
            for (let i = 0; i < 4; i++) {
              for (let j = 0; j < 4; j++) {
                const s = patternC.grid[i % 3]![j % 3]!;
                for (let ch = 0; ch < C; ch++) {
                  const f = ch < shiftedChannels ? (((d - s) % D) + D) % D : d;
                  bad.check(y[(win * 16 + i * 4 + j) * C + ch], rolled(f, 4 * a + i, 4 * b + j, ch), `window ${win} (${i},${j}) channel ${ch}`);
                }
              }
            }
          }
        }
      }
      expect(bad.list).toEqual([]);
    });
  }

  it('shifts the attention output back: position (h, w) reads frame (d + s) mod D', () => {
    const g = lowerModel(tinyPst(), { batch: 1, frames: 8, size: 40 });
    const back = find(g, 'layers.0.blocks.1.attn', 'view', 'tps_back');
    const r = run(g, (n) => n.id === back.id || n.id === back.inputs[0]);
    const a = r.values.get(back.inputs[0]!)!;
    const y = r.values.get(back.id)!;
    const bad = new Mismatches();
    for (let win = 0; win < D * WPF; win++) {
      const d = Math.floor(win / WPF);
      for (let t = 0; t < 16; t++) {
        const s = patternC.grid[Math.floor(t / 4) % 3]![(t % 4) % 3]!;
        const src = (((d + s) % D) + D) % D * WPF + (win % WPF);
        for (let ch = 0; ch < 16; ch++) bad.check(y[(win * 16 + t) * 16 + ch], a[(src * 16 + t) * 16 + ch], `window ${win} token ${t} channel ${ch}`);
      }
    }
    expect(bad.list).toEqual([]);
  });
});

describe('patch merging', () => {
  it('pads to even and concatenates x0 = (0,0), x1 = (1,0), x2 = (0,1), x3 = (1,1) on channels', () => {
    // one frame, 3×3, one channel: x[h][w] = 3h + w + 1
    const x = Float64Array.from({ length: 9 }, (_, k) => k + 1);
    const y = gather(x, maps.patchMergeGather([1, 1, 3, 3, 1]));
    expect(Array.from(y)).toEqual([1, 4, 2, 5, 3, 6, 0, 0, 7, 0, 8, 0, 9, 0, 0, 0]);
  });
});

describe('foldViews', () => {
  it('gives the same numbers as the unfolded graph', () => {
    const g = lowerModel(tinyPst(), { batch: 1, frames: 8, size: 40 });
    const f = foldViews(g);
    const a = run(g, () => false);
    const b = run(f, () => false);
    expect(Array.from(b.features)).toEqual(Array.from(a.features));
    expect(Array.from(b.logits!)).toEqual(Array.from(a.logits!));
  });
});
