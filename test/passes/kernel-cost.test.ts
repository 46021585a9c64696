// What a profile divides by: a fused kernel's FLOPs (2 × the MACs of its matrix products, the
// convention explain prints) and bytes (each tensor once), and its family and block.
import { describe, expect, it } from 'vitest';
import { size } from '../../src/ir/graph.js';
import { blockOf, costReport, macsOf } from '../../src/ir/analysis.js';
import { compileProgram, need } from '../../src/passes/pipeline.js';
import { kernelCost } from '../../src/passes/kernel-cost.js';
import { kernelSources, outputElements } from '../../src/passes/fuse.js';
import { tinyModel } from './helpers.js';
import { tensorBytesAt } from '../../backends/webgpu/precision.js';

const model = tinyModel('pst-tiny');
const input = { batch: 2, frames: model.input.frames, size: model.input.size };

describe('kernelCost', () => {
  const fused = need(compileProgram(model, input), 'fused', 'test');
  const costs = fused.kernels.map((k) => ({ k, cost: kernelCost(fused.graph, k) }));

  it("a GEMM kernel's FLOPs are 2·M·N·K of its planned shape", () => {
    const gemms = costs.filter((c) => c.k.kind === 'gemm');
    expect(gemms.length).toBeGreaterThan(5);
    for (const { k, cost } of gemms) {
      if (k.kind !== 'gemm') continue;
      expect(cost.flops).toBe(2 * k.M * k.N * k.K);
      expect(cost.family).toBe('GEMM');
    }
  });

  it("the kernels' FLOPs sum to twice the MACs of the graph they compute (each node in one kernel)", () => {
    const total = costs.reduce((s, c) => s + c.cost.flops, 0);
    expect(total).toBe(2 * fused.graph.nodes.reduce((s, n) => s + macsOf(fused.graph, n), 0));
    // Before `commute` moved row views through linear layers, explain's count is of the same order.
    const lowered = need(compileProgram(model, input, { until: 'lower' }), 'graph', 'test');
    expect(total / (2 * costReport(lowered).total.macs)).toBeGreaterThan(0.9);
  });

  it('attention counts Q·Kᵀ and A·V; elementwise and norms count no FLOPs', () => {
    for (const { k, cost } of costs) {
      if (k.kind === 'attention') expect(cost.flops).toBe(2 * 2 * k.windows * k.tokens * k.tokens * k.channels);
      if (k.kind === 'layernorm' || k.kind === 'mean' || k.kind === 'copy') expect(cost.flops).toBe(0);
    }
  });

  it('bytes: the output written and every source read at most once', () => {
    for (const { k, cost } of costs) {
      const out = 4 * outputElements(fused.graph, k);
      expect(cost.bytes).toBeGreaterThan(out);
      if (k.kind === 'layernorm_stats') expect(out).toBe(4 * 2 * k.rows);
      if (k.kind === 'gemm') {
        // A [M, K] and the weight [N, K] (both at most their sources), the output [M, N], and the
        // bias; a LayerNorm prologue's row statistics [rows, 2], γ and β.
        const ln = k.layerNorm ? 2 * k.layerNorm.rows + 2 * k.layerNorm.channels : 0;
        expect(cost.bytes).toBeLessThanOrEqual(4 * (k.M * k.K + k.N * k.K + k.M * k.N + k.N + (k.residual ? k.M * k.N : 0) + ln));
      }
    }
  });

  it('bytes follow the storage: with --precision f16 a kernel between f16 tensors moves half', () => {
    const f16 = tensorBytesAt(fused, 'f16');
    const stats = fused.kernels.flatMap((k) => (k.kind === 'layernorm_stats' ? [k.out] : []));
    expect(stats.length).toBeGreaterThan(0);
    const f32Tensors = new Set([...fused.graph.inputs, ...Object.values(fused.outputs), ...stats]);
    let inner = 0;
    for (const { k, cost } of costs) {
      const half = kernelCost(fused.graph, k, f16);
      expect(half.flops).toBe(cost.flops);
      const touches = [k.out, ...k.nodes.flatMap((id) => fused.graph.nodes[id]!.inputs), ...kernelSources(k)];
      if (touches.some((id) => f32Tensors.has(id))) {
        expect(half.bytes).toBeLessThan(cost.bytes);
      } else {
        // Each tensor rounded up to whole 4-byte words.
        expect(half.bytes).toBeGreaterThanOrEqual(cost.bytes / 2);
        expect(half.bytes).toBeLessThanOrEqual(cost.bytes / 2 + 4 * 8);
        inner++;
      }
    }
    expect(inner).toBeGreaterThan(5);
  });

  it('names the block of the output: stage and block, the merge, embed and head', () => {
    expect(blockOf('layers.0.blocks.1.mlp.fc1')).toBe('stage 1 block 1');
    expect(blockOf('layers.2.blocks.3')).toBe('stage 3 block 3');
    expect(blockOf('layers.0.downsample.norm')).toBe('stage 1 merge');
    expect(blockOf('patch_embed.proj')).toBe('embed');
    expect(blockOf('head.fc')).toBe('head');
    expect(new Set(costs.map((c) => c.cost.block))).toEqual(new Set(['embed', 'stage 1 block 0', 'stage 1 block 1', 'stage 1 merge', 'stage 2 block 0', 'stage 2 block 1', 'head']));
  });

  it('training graphs: the backward GEMMs and attention gradients count their matrix products', () => {
    const train = compileProgram(model, input, { training: { labelSmoothing: 0.1 } });
    const f = need(train, 'fused', 'test');
    for (const k of f.kernels) {
      const cost = kernelCost(f.graph, k);
      if (k.kind === 'gemm') expect(cost.flops).toBe(2 * k.M * k.N * k.K);
      if (k.kind === 'attention_grad_scores' || k.kind === 'attention_grad_qkv') {
        const per = 2 * k.windows * k.tokens * k.tokens * k.channels;
        expect(cost.flops).toBe(k.kind === 'attention_grad_scores' ? 2 * per : 4 * per);
        expect(cost.family).toBe('attention');
      }
    }
    expect(f.kernels.some((k) => k.kind === 'attention_grad_qkv')).toBe(true);
    expect(macsOf(f.graph, f.graph.nodes[f.kernels.find((k) => k.kind === 'attention_grad_qkv')!.out]!)).toBeGreaterThan(0);
  });
});
