// Activation recomputation per block (the `recompute` pass): the backward reads no block
// intermediate of the forward, only copies computed again from the block's input; the gradients
// are those of the graph without it (the float64 interpreter runs the same ops on the same
// values: equal bit for bit, drop_path masks included under a fixed step key); the planned
// memory is lower.
import { describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { foldViews } from '../../src/passes/fold.js';
import { stepKey } from '../../src/ir/rng.js';
import { weightNames } from '../../src/lang/facts.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { compileProgram, runPipeline } from '../../src/passes/pipeline.js';
import { RECOMPUTE_SUFFIX, recomputeBlocks } from '../../src/passes/recompute.js';
import { freshSeed } from '../webgpu/util.js';
import { randomClip, randomWeights, regularisedTinyModel, tinyModel } from './helpers.js';

const seed = freshSeed();

function training(model: ModelConfig, recompute: boolean, until: 'autodiff' | 'recompute' | 'plan-memory', batch = 2) {
  return compileProgram(model, { batch, frames: model.input.frames, size: model.input.size }, { training: { labelSmoothing: 0.1, recompute }, until });
}

describe('the recompute pass', () => {
  // Both with drop_path 0.1 rising over their 4 blocks and head dropout 0.5 (REGULARISED).
  for (const family of ['pst-tiny', 'swin2d-tiny']) {
    const model = regularisedTinyModel(family); // drop_path on: recomputed blocks keep their mask streams

    it(`${family}: the backward reads no block intermediate of the forward, only copies from the block input`, () => {
      const plain = training(model, false, 'autodiff').graph!;
      const { graph, blocks } = recomputeBlocks(plain);
      const blockCount = model.stages.reduce((n, s) => n + s.blocks.length, 0);
      expect(blocks).toHaveLength(blockCount);
      const loss = graph.outputs.loss!;
      const inBlock = (label: string) => /^layers\.\d+\.blocks\.\d+(\.|$)/.test(label);
      const copies = graph.nodes.filter((n) => n.label.endsWith(RECOMPUTE_SUFFIX));
      expect(copies.length).toBe(blocks.reduce((s, b) => s + b.nodes, 0));
      // The forward is unchanged: the same ops in the same order up to the loss.
      expect(graph.nodes.slice(0, loss + 1).map((n) => [n.op.kind, n.label])).toEqual(plain.nodes.slice(0, plain.outputs.loss! + 1).map((n) => [n.op.kind, n.label]));
      for (const n of graph.nodes.slice(loss + 1)) {
        for (const i of n.inputs) {
          const read = graph.nodes[i]!;
          if (i > loss || !inBlock(read.label) || read.op.kind === 'param') continue;
          // A forward block node the backward still reads is a block output (the next block's input).
          const readers = graph.nodes.filter((m) => m.id <= loss && m.inputs.includes(i));
          expect(readers.some((m) => !m.label.startsWith(read.label.split('.').slice(0, 4).join('.')))).toBe(true);
        }
      }
      // Each copy sits after the loss and before its first reader; the drop_path copies keep their stream.
      for (const c of copies) expect(c.id).toBeGreaterThan(loss);
      const streams = (nodes: typeof graph.nodes) => nodes.filter((n) => n.op.kind === 'dropout' && n.label.replace(RECOMPUTE_SUFFIX, '').endsWith('drop_path')).map((n) => (n.op as { stream: number }).stream);
      const forwardStreams = new Set(streams(graph.nodes.slice(0, loss + 1)));
      for (const s of streams(copies)) expect(forwardStreams.has(s)).toBe(true);
      if (family === 'pst-tiny') expect(streams(copies).length).toBeGreaterThan(0);
      // Block 0 of stage 0 is recomputed in full: LN1, qkv, attention, proj, LN2, fc1, GELU.
      const first = weightNames.block(0, 0);
      for (const label of [first.norm1, first.qkv, first.attn, first.proj, first.norm2, first.fc1, first.act]) {
        expect(copies.some((c) => c.label === `${label}${RECOMPUTE_SUFFIX}`), label).toBe(true);
      }
    });

    it(`${family}: the same gradients and loss bit for bit (float64 interpreter, fixed step key), less planned memory`, () => {
      const plain = training(model, false, 'autodiff').graph!;
      const recomputed = training(model, true, 'recompute').graph!;
      const weights = randomWeights(model, seed);
      const clip = randomClip(plain, seed);
      const classes = model.head!.classes;
      const labels = [seed % classes, (seed >> 8) % classes];
      const rngKey = stepKey(seed, 5);
      const want = interpret(foldViews(plain), { clip, labels }, weights, { rngKey });
      const got = interpret(foldViews(recomputed), { clip, labels }, weights, { rngKey });
      expect(got.loss, `seed ${seed}`).toBe(want.loss);
      expect([...got.grads!.keys()]).toEqual([...want.grads!.keys()]);
      for (const [param, g] of want.grads!) expect(Buffer.from(got.grads!.get(param)!.buffer).equals(Buffer.from(g.buffer)), `${param} (seed ${seed})`).toBe(true);

      const a = training(model, false, 'plan-memory', 8).memory!;
      const b = training(model, true, 'plan-memory', 8).memory!;
      expect(b.livePeakBytes).toBeLessThan(a.livePeakBytes);
      expect(b.activationBytes).toBeLessThan(a.activationBytes);
      // The copies' attention kernels bind their own static tables (bias index, mask): a few KiB more.
      expect(b.weightBytes).toBeGreaterThanOrEqual(a.weightBytes);
      expect(b.activationBytes + b.weightBytes).toBeLessThan(a.activationBytes + a.weightBytes);
    });
  }

  it('drop_path 0.5 on every block: the copies draw the forward\'s masks (same gradients bit for bit; the masks matter)', () => {
    const base = tinyModel('pst-tiny');
    const model: ModelConfig = { ...base, stages: base.stages.map((s) => ({ ...s, blocks: s.blocks.map((b) => ({ ...b, dropPath: 0.5 })) })) };
    const plain = foldViews(training(model, false, 'autodiff', 4).graph!);
    const recomputed = foldViews(training(model, true, 'recompute', 4).graph!);
    const weights = randomWeights(model, seed);
    const clip = randomClip(plain, seed);
    const labels = [1, 2, 3, 4];
    const run = (graph: typeof plain, step: number) => interpret(graph, { clip, labels }, weights, { rngKey: stepKey(seed, step) });
    const want = run(plain, 7);
    const got = run(recomputed, 7);
    expect(got.loss).toBe(want.loss);
    for (const [param, g] of want.grads!) expect(Buffer.from(got.grads!.get(param)!.buffer).equals(Buffer.from(g.buffer)), `${param} (seed ${seed})`).toBe(true);
    // Another step's key draws other masks: a copy that drew its own would not match.
    const other = [8, 9, 10].map((step) => run(recomputed, step).loss);
    expect(other.some((l) => l !== want.loss)).toBe(true);
  });

  it('leaves a graph without a loss (inference), and a training program without recompute, as they are', () => {
    const model = tinyModel('pst-tiny');
    const infer = compileProgram(model, { batch: 1, frames: 8, size: 32 }, { until: 'autodiff' }).graph!;
    expect(recomputeBlocks(infer).graph).toBe(infer);
    const p = training(model, false, 'autodiff');
    expect(runPipeline(p, { until: 'recompute' }).graph).toBe(p.graph);
  });
});
