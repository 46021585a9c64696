// The training ops of the reference interpreter: every op's adjoint (as autodiff emits it and the
// interpreter runs it) against float64 central differences on fresh random inputs, plus values
// worked out by hand for the loss and the dropout masks.
import { afterAll, describe, expect, it } from 'vitest';
import * as grad from '../../backends/reference/grad-ops.js';
import { interpret } from '../../backends/reference/interpreter.js';
import { GraphBuilder, size, type Graph, type NodeId, type WindowAttentionOp } from '../../src/ir/graph.js';
import { lowerModel } from '../../src/passes/lower.js';
import * as maps from '../../src/ir/maps.js';
import { keeps, stepKey } from '../../src/ir/rng.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { freshSeed } from '../webgpu/util.js';
import { tinyModel } from '../passes/helpers.js';
import { gradCheck, probedGraph, randomData, type Param } from '../passes/gradcheck.js';
import { tinyPst } from './fixtures.js';

const seed = freshSeed();
const TOL = 1e-6;
/** op → worst relative error seen, printed at the end (docs/training.md quotes it). */
const figures = new Map<string, number>();
afterAll(() => console.log(`seed ${seed}; max relative error vs central differences:\n${[...figures].map(([k, v]) => `  ${k}: ${v.toExponential(1)}`).join('\n')}`));

function check(name: string, build: (g: GraphBuilder, param: Param) => NodeId, options: { rngKey?: [number, number]; entries?: number; labels?: number[] } = {}): void {
  const { graph, weights } = probedGraph(build, seed);
  const inputs = { clip: new Float64Array(1), ...(options.labels ? { labels: options.labels } : {}) };
  const result = gradCheck(graph, weights, inputs, { entries: options.entries ?? 40, seed, ...(options.rngKey ? { rngKey: options.rngKey } : {}) });
  figures.set(name, Math.max(figures.get(name) ?? 0, result.max));
  expect(result.max, `${name}: ${[...result.errors].map(([p, e]) => `${p} ${e.toExponential(1)}`).join(', ')} (seed ${seed})`).toBeLessThanOrEqual(TOL);
}

describe('adjoints against central differences (float64)', () => {
  // The clip input is unused by these graphs: every tensor is a param so that it gets a gradient.
  it('linear: dX, dW, db over 3-D rows', () => {
    check('linear', (g, p) => g.op({ kind: 'linear', bias: true }, [p('x', [2, 3, 5]), p('w', [4, 5]), p('b', [4])], 'fc'));
  });
  it('linear without bias, weight through a reshape view (the patch embedding kernel)', () => {
    check('linear (weight view)', (g, p) => {
      const kernel = p('kernel', [4, 2, 1, 2, 2]);
      const flat = g.view(kernel, maps.reshape([4, 2, 1, 2, 2], [4, 8]), 'reshape', 'k');
      return g.op({ kind: 'linear', bias: false }, [p('x', [3, 8]), flat], 'fc');
    });
  });
  it('layernorm: dx, dγ, dβ', () => {
    check('layernorm', (g, p) => g.op({ kind: 'layernorm', eps: 1e-5 }, [p('x', [3, 2, 6]), p('gamma', [6]), p('beta', [6])], 'ln'));
  });
  it('gelu', () => {
    check('gelu', (g, p) => g.op({ kind: 'gelu' }, [g.op({ kind: 'scale', factor: 3 }, [p('x', [4, 7])], 's')], 'act'));
  });
  it('add with fan-out (x read twice)', () => {
    check('add', (g, p) => {
      const x = p('x', [3, 4]);
      return g.op({ kind: 'add' }, [x, g.op({ kind: 'gelu' }, [x], 'act')], 'res');
    });
  });
  it('mean over D, H, W', () => {
    check('mean', (g, p) => g.op({ kind: 'mean', axes: [1, 2, 3] }, [p('x', [2, 2, 3, 2, 4])], 'pool'));
  });
  it('sum, scale and mul', () => {
    check('sum/scale/mul', (g, p) => {
      const m = g.op({ kind: 'mul' }, [p('a', [3, 4]), p('b', [3, 4])], 'm');
      return g.op({ kind: 'scale', factor: -0.5 }, [g.op({ kind: 'sum', axes: [0] }, [m], 's')], 'k');
    });
  });
  it('window attention with a Swin mask and the TPS bias index (qkv and bias table)', () => {
    // The op of an odd (TPS, shifted-window) block of pst-tiny: mask, TPS index, 2 heads.
    const model = tinyModel('pst-tiny');
    const lowered = lowerModel(model, { batch: 1, frames: 8, size: 32 });
    const node = lowered.nodes.find((n) => n.op.kind === 'window_attention' && n.label === 'layers.0.blocks.1.attn')!;
    const op = node.op as WindowAttentionOp;
    expect(op.mask).not.toBeNull();
    expect(op.biasGroups).toBeGreaterThan(1); // TPS: the index depends on the frame
    const qkvShape = lowered.nodes[node.inputs[0]!]!.shape;
    const tableShape = lowered.nodes[node.inputs[1]!]!.shape;
    check('window_attention', (g, p) => g.op(op, [g.op({ kind: 'scale', factor: 2 }, [p('qkv', qkvShape)], 's'), p('table', tableShape)], 'attn'), { entries: 30 });
  });
  it('window attention, several windows per bias group and mask windows', () => {
    const n = 4;
    const op: WindowAttentionOp = {
      kind: 'window_attention',
      heads: 2,
      scale: 0.7,
      biasIndex: Int32Array.from({ length: 2 * n * n }, (_, i) => (i * 7) % 5),
      biasGroups: 2,
      windowsPerGroup: 2,
      mask: Float32Array.from({ length: 2 * n * n }, (_, i) => (i % 3 === 0 ? -100 : 0)),
      maskWindows: 2,
    };
    check('window_attention', (g, p) => g.op(op, [p('qkv', [6, n, 12]), p('table', [5, 2])], 'attn'));
  });
  it('dropout per element and per sample (fixed key)', () => {
    const rngKey = stepKey(seed, 3);
    check('dropout', (g, p) => g.op({ kind: 'dropout', rate: 0.4, stream: 5, perSample: false }, [p('x', [4, 6])], 'drop'), { rngKey });
    check('dropout', (g, p) => g.op({ kind: 'dropout', rate: 0.3, stream: 2, perSample: true }, [p('x', [6, 2, 3])], 'drop_path'), { rngKey });
  });
  it('cross-entropy with label smoothing 0.1', () => {
    check('cross_entropy', (g, p) => {
      const labels = g.input('labels', [3]);
      return g.op({ kind: 'cross_entropy', smoothing: 0.1 }, [g.op({ kind: 'scale', factor: 3 }, [p('logits', [3, 5])], 's'), labels], 'loss');
    }, { labels: [4, 0, 2] });
  });
});

describe('training ops on values worked out by hand', () => {
  it('cross-entropy: uniform logits give log K; smoothing moves the target', () => {
    const logits = new Float64Array(2 * 4);
    expect(grad.crossEntropy(logits, Float64Array.of(1, 3), 4, 0)[0]).toBeCloseTo(Math.log(4), 14);
    // logits [0, 1]: log-probabilities −log(1+e)·[1, 1] + [0, 1]; label 0, ε = 0.2: target [0.9, 0.1].
    const lse = Math.log(1 + Math.E);
    const want = 0.9 * lse + 0.1 * (lse - 1);
    expect(grad.crossEntropy(Float64Array.of(0, 1), Float64Array.of(0), 2, 0.2)[0]).toBeCloseTo(want, 14);
    const d = grad.crossEntropyGrad(Float64Array.of(0, 1), Float64Array.of(0), Float64Array.of(2), 2, 0.2);
    expect(d[0]).toBeCloseTo(2 * (1 / (1 + Math.E) - 0.9), 14);
    expect(d[0]! + d[1]!).toBeCloseTo(0, 14);
  });

  it('dropout keeps exactly the elements the RNG keeps, scaled by 1/(1 − rate); per sample, whole samples', () => {
    const key = stepKey(11, 2);
    const x = new Float64Array(5 * 8).fill(1);
    const y = grad.dropout(x, [5, 8], { rate: 0.25, stream: 9, perSample: false }, key);
    y.forEach((v, i) => expect(v).toBe(keeps(0.25, key, 9, i) ? 1 / 0.75 : 0));
    const s = grad.dropout(x, [5, 8], { rate: 0.5, stream: 1, perSample: true }, key);
    for (let b = 0; b < 5; b++) {
      const row = [...s.slice(b * 8, b * 8 + 8)];
      expect(new Set(row).size).toBe(1);
      expect(row[0]).toBe(keeps(0.5, key, 1, b) ? 2 : 0);
    }
  });

  it('view_grad is the transpose of the view: ⟨view(x), y⟩ = ⟨x, view_grad(y)⟩ (pad, broadcast)', () => {
    for (const map of [maps.pad([2, 3], [1, 2]), maps.broadcast([2, 3, 4], [1])]) {
      const x = randomData(size(map.inShape), seed + 1);
      const y = randomData(size(map.outShape), seed + 2);
      const vx = interpret(viewGraph(map), { clip: x }, new Map()).features;
      const lhs = vx.reduce((s, v, i) => s + v * y[i]!, 0);
      const rhs = grad.viewGrad(y, map).reduce((s, v, i) => s + v * x[i]!, 0);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-12 * Math.max(1, Math.abs(lhs)));
    }
  });

  it('a training graph without labels, or with a label out of range, is a PST312 diagnostic', () => {
    const g = new GraphBuilder(tinyPst(), [1]);
    const logits = g.input('clip', [2, 3]);
    g.op({ kind: 'output', name: 'features' }, [logits], 'f');
    g.op({ kind: 'output', name: 'loss' }, [g.op({ kind: 'cross_entropy', smoothing: 0 }, [logits, g.input('labels', [2])], 'l')], 'loss');
    const graph = g.build();
    const code = (labels?: number[]): string | undefined => {
      try {
        interpret(graph, { clip: new Float64Array(6), ...(labels ? { labels } : {}) }, new Map());
      } catch (e) {
        return e instanceof DiagnosticError ? e.diagnostics[0]!.code : String(e);
      }
      return undefined;
    };
    expect(code()).toBe('PST312');
    expect(code([0])).toBe('PST312');
    expect(code([0, 3])).toBe('PST312');
    expect(code([0, 1.5])).toBe('PST312');
    expect(code([0, 2])).toBeUndefined();
  });
});

function viewGraph(map: ReturnType<typeof maps.pad>): Graph {
  const g = new GraphBuilder(tinyPst(), map.inShape);
  const x = g.input('clip', map.inShape);
  g.op({ kind: 'output', name: 'features' }, [g.view(x, map, 'v', 'v')], 'f');
  return g.build();
}
