// The training graph and the autodiff pass: what training lowering adds, which view adjoints are
// inverse views and which are view_grad, every view kind PST uses against central differences,
// and whole tiny models' gradients against central differences (float64 reference interpreter).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { foldViews } from '../../src/passes/fold.js';
import { mapToString, type IndexMap } from '../../src/ir/indexmap.js';
import type { Graph, Node } from '../../src/ir/graph.js';
import { lowerModel } from '../../src/passes/lower.js';
import { stepKey } from '../../src/ir/rng.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { differentiate } from '../../src/passes/autodiff.js';
import { compileProgram } from '../../src/passes/pipeline.js';
import { gradCheck, probedGraph } from './gradcheck.js';
import { freshSeed, maxNormRelativeError as maxNormError } from '../webgpu/util.js';
import { randomClip, randomWeights, regularisedTinyModel, tinyModel } from './helpers.js';

const seed = freshSeed();
const figures: string[] = [];
afterAll(() => console.log(`seed ${seed}\n${figures.join('\n')}`));

const golden = (name: string): ModelConfig => JSON.parse(readFileSync(join(import.meta.dirname, '..', 'golden', name, 'config.json'), 'utf8')) as ModelConfig;
const dropouts = (g: Graph): Node[] => g.nodes.filter((n) => n.op.kind === 'dropout');

describe('training lowering', () => {
  const model = regularisedTinyModel('pst-tiny'); // drop_path 0.1 over 4 blocks, head dropout 0.5
  const g = lowerModel(model, { batch: 2, frames: 8, size: 32 }, { mode: 'train', labelSmoothing: 0.1 });

  it('stochastic depth rises as torch.linspace(0, drop_path, Σ depths); rate 0 emits nothing', () => {
    const rates = model.stages.flatMap((s) => s.blocks.map((b) => b.dropPath));
    [0, 0.1 / 3, 0.2 / 3, 0.1].forEach((r, k) => expect(rates[k]).toBeCloseTo(r, 15));
    const paths = dropouts(g).filter((n) => n.label.endsWith('.drop_path'));
    // Block 0 (rate 0) has none; blocks 1–3 one on each of their two residual branches.
    expect(paths.map((n) => n.label)).toEqual(['layers.0.blocks.1.drop_path', 'layers.0.blocks.1.drop_path', 'layers.1.blocks.0.drop_path', 'layers.1.blocks.0.drop_path', 'layers.1.blocks.1.drop_path', 'layers.1.blocks.1.drop_path']);
    for (const n of paths) expect(n.op).toMatchObject({ perSample: true, rate: rates[n.label.startsWith('layers.0') ? 1 : 2 + Number(n.label[16])] });
  });

  it('head dropout before the head linear, labels input, smoothed cross-entropy as the loss output; unique streams', () => {
    const head = dropouts(g).find((n) => n.label === 'cls_head.dropout')!;
    expect(head.op).toMatchObject({ rate: 0.5, perSample: false });
    expect(g.nodes.find((n) => n.label === 'cls_head.fc_cls' && n.op.kind === 'linear')!.inputs[0]).toBe(head.id);
    const labels = g.nodes.find((n) => n.op.kind === 'input' && n.op.name === 'labels')!;
    expect(labels.shape).toEqual([2]);
    const loss = g.nodes[g.outputs.loss!]!;
    const ce = g.nodes[loss.inputs[0]!]!;
    expect(ce.op).toEqual({ kind: 'cross_entropy', smoothing: 0.1 });
    expect(ce.inputs).toEqual([g.outputs.logits !== undefined ? g.nodes[g.outputs.logits]!.inputs[0] : -1, labels.id]);
    const streams = dropouts(g).map((n) => (n.op as { stream: number }).stream);
    expect(new Set(streams).size).toBe(streams.length);
  });

  it('with every rate 0 the loss is the smoothed cross-entropy of the inference logits', () => {
    const quiet: ModelConfig = { ...model, head: { ...model.head!, dropout: 0 }, stages: model.stages.map((s) => ({ ...s, blocks: s.blocks.map((b) => ({ ...b, dropPath: 0 })) })) };
    const train = lowerModel(quiet, { batch: 2, frames: 8, size: 32 }, { mode: 'train', labelSmoothing: 0.1 });
    expect(dropouts(train)).toHaveLength(0);
    const infer = lowerModel(quiet, { batch: 2, frames: 8, size: 32 });
    const weights = randomWeights(quiet, seed);
    const clip = randomClip(infer, seed);
    const logits = interpret(foldViews(infer), { clip }, weights).logits!;
    const loss = interpret(foldViews(train), { clip, labels: [3, 9] }, weights).loss!;
    let want = 0;
    for (const [b, label] of [3, 9].entries()) {
      const row = [...logits.slice(b * 10, b * 10 + 10)];
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      row.forEach((v, c) => (want -= (0.01 + (c === label ? 0.9 : 0)) * (v - lse)));
    }
    expect(loss).toBeCloseTo(want / 2, 12);
  });

  it('refuses what training cannot express (PST311): no head, attention dropout', () => {
    const code = (m: ModelConfig): string | undefined => {
      try {
        lowerModel(m, { batch: 1, frames: 8, size: 32 }, { mode: 'train' });
      } catch (e) {
        if (e instanceof DiagnosticError) return e.diagnostics[0]!.code;
        throw e;
      }
      return undefined;
    };
    expect(code({ ...model, head: null })).toBe('PST311');
    expect(code({ ...model, stages: model.stages.map((s) => ({ ...s, attnDropout: 0.1 })) })).toBe('PST311');
    expect(code(model)).toBeUndefined();
  });
});

describe('autodiff pass', () => {
  const model = tinyModel('pst-tiny');
  const forward = lowerModel(model, { batch: 1, frames: 8, size: 32 }, { mode: 'train', labelSmoothing: 0.1 });
  const { graph, views } = differentiate(forward);

  it('keeps the forward graph and gives every param a gradient of its shape', () => {
    expect(graph.nodes.slice(0, forward.nodes.length).map((n) => n.op.kind)).toEqual(forward.nodes.map((n) => n.op.kind));
    const params = forward.params.map((id) => forward.nodes[id]!);
    expect(graph.grads!.map((g) => g.param)).toEqual(params.map((p) => (p.op as { name: string }).name));
    for (const [k, g] of graph.grads!.entries()) expect(graph.nodes[g.node]!.shape).toEqual(params[k]!.shape);
    // The patch embedding kernel's gradient comes back through its reshape view.
    const kernel = graph.grads!.find((g) => g.param === 'patch_embed.proj.weight')!;
    expect(graph.nodes[kernel.node]!.op.kind).toBe('view');
  });

  it('inverts bijective views (roll, partition/reverse, cyclic TPS and its shift back, even patch merge, reshape) and transposes the rest (pad, crop, TCS keep)', () => {
    const by = new Map<string, Set<string>>();
    for (const v of views) by.set(v.what, new Set([...(by.get(v.what) ?? []), v.adjoint]));
    const only = (what: string): string => [...by.get(what)!].join('|');
    for (const what of ['roll', 'roll_back', 'window_partition', 'window_reverse', 'tps', 'tps_back', 'patch_merge', 'reshape']) expect(only(what), what).toBe('inverse_view');
    for (const what of ['pad', 'crop', 'tcs']) expect(only(what), what).toBe('view_grad');
    // TCS keep reads an edge frame twice: its transpose accumulates. Padding and crop do not.
    const injective = (what: string): (boolean | null)[] => [...new Set(views.filter((v) => v.what === what).map((v) => v.injective))];
    expect(injective('tcs')).toEqual([false]);
    expect(injective('pad')).toEqual([true]);
    expect(injective('crop')).toEqual([true]);
    // The clip's gather has no adjoint: nothing upstream of it is trained.
    expect(by.has('patch_embed')).toBe(false);
  });

  it('folds: after foldViews no view reads a view, in backward as in forward', () => {
    const folded = foldViews(graph);
    for (const n of folded.nodes) if (n.op.kind === 'view') expect(folded.nodes[n.inputs[0]!]!.op.kind).not.toBe('view');
    expect(folded.grads).toHaveLength(graph.grads!.length);
    expect(folded.nodes.length).toBeLessThan(graph.nodes.length);
  });
});

/** Every distinct view of these lowered graphs (by its kind and map). */
function viewsOf(models: [ModelConfig, { batch: number; frames: number; size: number }][]): { what: string; map: IndexMap }[] {
  const seen = new Map<string, { what: string; map: IndexMap }>();
  for (const [m, input] of models) {
    for (const n of lowerModel(m, input).nodes) {
      if (n.op.kind === 'view') seen.set(`${n.op.what} ${mapToString(n.op.map)}`, { what: n.op.what, map: n.op.map });
    }
  }
  return [...seen.values()];
}

describe('view adjoints against central differences', () => {
  const cases = viewsOf([
    [tinyModel('pst-tiny'), { batch: 1, frames: 8, size: 32 }], // TPS cyclic + back, TCS keep, pad, roll, partition, merge, crop
    [golden('pst_tiny_ratio'), { batch: 1, frames: 8, size: 32 }], // TPS ratio ½ zeros, TCS zeros
    [golden('pst_keep_noback'), { batch: 1, frames: 8, size: 32 }], // TPS keep
    [golden('swin2d_tiny'), { batch: 1, frames: 4, size: 40 }], // merging an odd 5×5 map (padded)
    [golden('pst_shrink_pad'), { batch: 1, frames: 7, size: 14 }], // patch embedding gather with padding
  ]);

  it('covers every kind of view PST lowers to', () => {
    const kinds = new Set(cases.map((c) => c.what));
    for (const k of ['reshape', 'patch_embed', 'pad', 'roll', 'window_partition', 'tcs', 'tps', 'tps_back', 'window_reverse', 'roll_back', 'crop', 'patch_merge', 'permute']) expect(kinds, k).toContain(k);
  });

  it('every view’s adjoint (inverse view or view_grad) matches central differences', () => {
    const rows = new Map<string, { inverse: number; transpose: number; error: number }>();
    for (const [k, { what, map }] of cases.entries()) {
      const { graph, weights } = probedGraph((g, p) => g.view(p('x', map.inShape), map, what, what), seed + k);
      const kind = differentiate(graph).views[0]!.adjoint;
      const r = gradCheck(graph, weights, { clip: new Float64Array(1) }, { entries: 12, seed: seed + k, params: ['x'] });
      expect(r.max, `${what} ${mapToString(map)}`).toBeLessThanOrEqual(1e-6);
      const row = rows.get(what) ?? { inverse: 0, transpose: 0, error: 0 };
      row[kind === 'inverse_view' ? 'inverse' : 'transpose']++;
      row.error = Math.max(row.error, r.max);
      rows.set(what, row);
    }
    figures.push('view adjoints (maps: inverse views / view_grad, max rel. error):', ...[...rows].map(([w, r]) => `  ${w}: ${r.inverse} / ${r.transpose}, ${r.error.toExponential(1)}`));
  });
});

describe('whole tiny models: gradients against central differences', () => {
  // Step 1e-4: a bias table's gradient is ~1e-5 of the loss (few scores read each row), so at
  // 1e-5 the loss's rounding (1e-16·L/h) is already 1e-6 of it; the h² term stays below 1e-7.
  const check = (name: string, model: ModelConfig, input: { batch: number; frames: number; size: number }, params: string[]): void => {
    const forward = lowerModel(model, input, { mode: 'train', labelSmoothing: 0.1 });
    const weights = randomWeights(model, seed);
    const labels = Array.from({ length: input.batch }, (_, b) => (seed + 3 * b) % model.head!.classes);
    const r = gradCheck(forward, weights, { clip: randomClip(forward, seed), labels }, { rngKey: stepKey(seed, 1), entries: 1, params, seed, step: 1e-4 });
    figures.push(`${name}: loss ${r.loss.toFixed(4)}, max rel. error ${r.max.toExponential(1)} over ${params.length} entries`);
    expect(r.max, [...r.errors].map(([p, e]) => `${p} ${e.toExponential(1)}`).join('\n')).toBeLessThanOrEqual(1e-6);
  };
  const common = ['patch_embed.proj.weight', 'patch_embed.norm.bias', 'layers.0.blocks.0.attn.qkv.weight', 'layers.0.blocks.1.attn.relative_position_bias_table', 'layers.0.blocks.1.mlp.fc1.bias', 'layers.1.blocks.0.norm1.weight', 'norm.weight', 'cls_head.fc_cls.weight'];

  it('pst-tiny (TPS cyclic, TCS keep, padding, window shift; drop_path 0.1 and head dropout 0.5 with a fixed key; batch 2)', () => {
    check('pst-tiny', regularisedTinyModel('pst-tiny'), { batch: 2, frames: 8, size: 32 }, [...common, 'layers.0.downsample.reduction.weight']);
  });
  it('swin2d-tiny (no shifts, 2-D bias table)', () => {
    check('swin2d-tiny', tinyModel('swin2d-tiny'), { batch: 1, frames: 8, size: 32 }, common);
  });
  it('pst_shrink_pad golden config (embedding padding, shrunk windows, TCS keep)', () => {
    check('pst_shrink_pad', golden('pst_shrink_pad'), { batch: 1, frames: 7, size: 14 }, common.filter((p) => !p.includes('downsample')));
  });
});

describe('autodiff in the pipeline', () => {
  it('a training program is differentiated after lower, verified through fold and commute, and gives the same gradients', () => {
    const model = tinyModel('swin2d-tiny');
    const input = { batch: 1, frames: 8, size: 32 };
    const program = compileProgram(model, input, { training: { labelSmoothing: 0.1 }, until: 'commute' });
    expect(program.passes).toEqual(['lower', 'autodiff', 'recompute', 'fold', 'commute']);
    const graph = program.graph!;
    expect(graph.grads!.length).toBe(graph.params.length);
    const direct = foldViews(differentiate(lowerModel(model, input, { mode: 'train', labelSmoothing: 0.1 })).graph);
    const weights = randomWeights(model, seed);
    const inputs = { clip: randomClip(graph, seed), labels: [seed % 10] };
    const key = { rngKey: stepKey(seed, 0) };
    const a = interpret(graph, inputs, weights, key);
    const b = interpret(direct, inputs, weights, key);
    expect(a.loss).toBe(b.loss);
    for (const [name, g] of b.grads!) expect(maxNormError(a.grads!.get(name)!, g), name).toBeLessThan(1e-12);
  });

  it('leaves an inference program as lowering made it', () => {
    const model = tinyModel('pst-tiny');
    const p = compileProgram(model, { batch: 1, frames: 8, size: 32 }, { until: 'autodiff' });
    expect(p.graph!.grads).toBeUndefined();
    expect(p.graph!.nodes.length).toBe(lowerModel(model, { batch: 1, frames: 8, size: 32 }).nodes.length);
  });
});
