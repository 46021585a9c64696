// The fused kernel list is executed in float64 with the reference's ops, reading each operand
// through its map exactly as a kernel would: the numbers must be the interpreter's.
import { describe, expect, it } from 'vitest';
import { gather } from '../../backends/reference/gather.js';
import { interpret } from '../../backends/reference/interpreter.js';
import * as ops from '../../backends/reference/ops.js';
import type { NodeId } from '../../src/ir/graph.js';
import { fuse, kernelSources, type FusedGraph, type TensorRead } from '../../src/passes/fuse.js';
import { compileProgram, need } from '../../src/passes/pipeline.js';
import type { WeightMap } from '../../src/weights/index.js';
import { freshSeed, maxNormRelativeError } from '../webgpu/util.js';
import { TINY_FAMILIES, graphAfter, randomClip, randomWeights, tinyModel } from './helpers.js';

function executeFused(fg: FusedGraph, clip: Float64Array, weights: WeightMap): { features: Float64Array; logits?: Float64Array } {
  const values = new Map<NodeId, Float64Array>();
  for (const id of fg.graph.inputs) values.set(id, clip);
  for (const id of fg.graph.params) {
    const n = fg.graph.nodes[id]!;
    if (n.op.kind === 'param') values.set(id, Float64Array.from(weights.get(n.op.name)!.data));
  }
  const value = (id: NodeId) => {
    const v = values.get(id);
    if (!v) throw new Error(`node ${id} read before a kernel wrote it`);
    return v;
  };
  const read = (r: TensorRead) => (r.map ? gather(value(r.source), r.map) : value(r.source));
  for (const k of fg.kernels) {
    let y: Float64Array;
    switch (k.kind) {
      case 'gemm': {
        // A LayerNorm prologue normalises the source before the map gathers it (padding stays 0).
        const ln = k.layerNorm;
        const source = ln ? ops.layernormFromStats(value(k.a.source), value(ln.stats), value(ln.gamma), value(ln.beta), ln.channels) : value(k.a.source);
        const a = k.a.map ? gather(source, k.a.map) : source;
        y = ops.linear(a, read(k.weight), k.bias !== null ? value(k.bias) : null, k.K, k.N);
        if (k.gelu) y = ops.gelu(y);
        if (k.residual) y = ops.add(y, read(k.residual));
        break;
      }
      case 'layernorm_stats':
        y = ops.layernormStats(read(k.x), k.channels, k.eps);
        break;
      case 'layernorm':
        y = ops.layernorm(read(k.x), value(k.gamma), value(k.beta), k.channels, k.eps);
        break;
      case 'attention':
        y = ops.windowAttention(read(k.qkv), value(k.table), [k.windows, k.tokens, 3 * k.channels], k.op);
        break;
      case 'gelu':
        y = ops.gelu(read(k.x));
        break;
      case 'add':
        y = ops.add(read(k.a), read(k.b));
        break;
      case 'mean':
        y = ops.mean(read(k.x), k.x.map ? k.x.map.outShape : fg.graph.nodes[k.x.source]!.shape, k.axes);
        break;
      case 'copy':
        y = read(k.x);
        break;
      default:
        throw new Error(`test: an inference graph has no ${k.kind} kernel`);
    }
    values.set(k.out, y);
  }
  const logits = fg.outputs.logits !== undefined ? value(fg.outputs.logits) : undefined;
  return { features: value(fg.outputs.features), ...(logits ? { logits } : {}) };
}

describe('fuse', () => {
  for (const family of TINY_FAMILIES) {
    it(`${family}: the fused kernels give the interpreter's numbers`, () => {
      const seed = freshSeed();
      const model = tinyModel(family);
      const graph = graphAfter(model, 'commute');
      const weights = randomWeights(model, seed);
      const clip = randomClip(graph, seed);
      const want = interpret(graph, { clip }, weights);
      const fused = fuse(graph);
      const got = executeFused(fused, clip, weights);
      const error = maxNormRelativeError(got.features, want.features);
      console.log(`${family}: ${fused.kernels.length} kernels, error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThan(1e-12);
      if (want.logits) expect(maxNormRelativeError(got.logits!, want.logits), `seed ${seed}`).toBeLessThan(1e-12);
    });
  }

  it('fuses GELU and both residuals into GEMM epilogues, and folds every view into a read', () => {
    const graph = graphAfter(tinyModel('pst-tiny'), 'commute');
    const fused = fuse(graph);
    const kinds = fused.kernels.map((k) => k.kind);
    // per block: LN1 statistics, qkv, attention, proj+residual, LN2 statistics, fc1+GELU, fc2+residual
    const blocks = graph.model.stages.reduce((n, s) => n + s.depth, 0);
    const gemms = fused.kernels.filter((k) => k.kind === 'gemm');
    expect(gemms.filter((k) => k.gelu)).toHaveLength(blocks);
    expect(gemms.filter((k) => k.residual)).toHaveLength(2 * blocks);
    expect(kinds).not.toContain('gelu');
    expect(kinds).not.toContain('add');
    expect(kinds.filter((k) => k === 'copy')).toHaveLength(1);
    // Every view is read by some kernel, none is a kernel's output (except the final layout copy).
    const views = graph.nodes.filter((n) => n.op.kind === 'view').map((n) => n.id);
    const folded = new Set(fused.kernels.flatMap((k) => k.nodes));
    for (const v of views) expect(folded.has(v), `view %${v} (${graph.nodes[v]!.label})`).toBe(true);
    for (const k of fused.kernels) expect(graph.nodes[k.out]!.op.kind).not.toBe('view');
    // Kernels run in order: everything a kernel reads is written before it.
    const written = new Set<NodeId>([...graph.inputs, ...graph.params]);
    for (const k of fused.kernels) {
      for (const s of kernelSources(k)) expect(written.has(s)).toBe(true);
      written.add(k.out);
    }
  });

  it('folds norm2, and norm1 where qkv reads whole rows (not through the channel shift), into the GEMMs that read them; other LayerNorms keep their kernel', () => {
    const model = tinyModel('pst-tiny');
    const graph = graphAfter(model, 'commute');
    const fused = fuse(graph);
    const blocks = graph.model.stages.reduce((n, s) => n + s.depth, 0);
    const stats = fused.kernels.filter((k) => k.kind === 'layernorm_stats');
    const labels = stats.map((s) => graph.nodes[s.out]!.label);
    expect(labels.filter((l) => l.endsWith('.norm2'))).toHaveLength(blocks);
    // pst-tiny alternates TCS and TPS blocks: the patch shift moves whole rows, the channel shift
    // takes channel groups from other frames (one row's statistics would not do).
    const tcsBlocks = graph.nodes.filter((n) => n.op.kind === 'view' && n.op.what.includes('tcs')).map((n) => n.label.replace(/\.attn$/, ''));
    expect(tcsBlocks.length).toBeGreaterThan(0);
    expect(labels.filter((l) => l.endsWith('.norm1')).sort()).toEqual(
      graph.nodes.filter((n) => n.op.kind === 'layernorm' && n.label.endsWith('.norm1') && !tcsBlocks.includes(n.label.replace(/\.norm1$/, ''))).map((n) => n.label).sort(),
    );
    expect(labels.filter((l) => l.endsWith('.norm1')).length).toBeGreaterThan(0);
    // Each is read by exactly one GEMM (qkv through the window maps, fc1 directly), as its prologue.
    const prologues = fused.kernels.filter((k) => k.kind === 'gemm' && k.layerNorm);
    expect(prologues.map((k) => (k.kind === 'gemm' ? k.layerNorm!.stats : -1)).sort((a, b) => a - b)).toEqual(stats.map((s) => s.out));
    for (const k of prologues) if (k.kind === 'gemm') expect(k.a.source).toBe(graph.nodes[k.layerNorm!.stats]!.inputs[0]);
    // The embedding's norm feeds the residual stream, the merges' read a gather, the final one the pool.
    const full = fused.kernels.filter((k) => k.kind === 'layernorm').map((k) => graph.nodes[k.out]!.label);
    expect(full).toContain('patch_embed.norm');
    expect(full).toContain('norm');
    expect(full.some((l) => l.endsWith('downsample.norm'))).toBe(true);
    // Training: the weight gradient reads each norm's output as its B operand, so none is folded.
    const train = need(compileProgram(model, { batch: 2, frames: model.input.frames, size: model.input.size }, { training: { labelSmoothing: 0.1 } }), 'fused', 'test');
    expect(train.kernels.filter((k) => k.kind === 'layernorm_stats')).toHaveLength(0);
  });
});
