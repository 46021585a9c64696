import { describe, expect, it } from 'vitest';
import { size, type NodeId } from '../../src/ir/graph.js';
import { kernelSources } from '../../src/passes/fuse.js';
import { planMemory } from '../../src/passes/plan-memory.js';
import { TINY_FAMILIES, programAfter, tinyModel } from './helpers.js';

describe('planMemory', () => {
  for (const family of TINY_FAMILIES) {
    it(`${family}: no two live tensors share a buffer; peak between the liveness bound and no reuse`, () => {
      const fused = programAfter(tinyModel(family), 'fuse').fused!;
      const plan = planMemory(fused);
      const { graph, kernels } = fused;

      // Live intervals [written, last read], re-derived here independently of the planner.
      const isParam = (id: NodeId) => graph.nodes[id]!.op.kind === 'param';
      const interval = new Map<NodeId, [number, number]>();
      for (const id of graph.inputs) interval.set(id, [-1, -1]);
      kernels.forEach((k, step) => {
        interval.set(k.out, [step, step]);
        for (const s of kernelSources(k)) if (!isParam(s)) interval.get(s)![1] = step;
      });
      for (const id of Object.values(fused.outputs)) interval.get(id)![1] = kernels.length;

      const tensors = [...interval.keys()];
      for (const id of tensors) {
        expect(plan.slot.has(id), `tensor %${id} has a buffer`).toBe(true);
        expect(plan.buffers[plan.slot.get(id)!]!).toBeGreaterThanOrEqual(size(graph.nodes[id]!.shape) * 4);
      }
      for (let i = 0; i < tensors.length; i++) {
        for (let j = i + 1; j < tensors.length; j++) {
          const [a, b] = [tensors[i]!, tensors[j]!];
          if (plan.slot.get(a) !== plan.slot.get(b)) continue;
          const [a0, a1] = interval.get(a)!;
          const [b0, b1] = interval.get(b)!;
          // Sharing is fine only when one is dead before the other is written (a kernel's output
          // never shares with its own inputs: written at step s, read at s means overlap).
          expect(a1 < b0 || b1 < a0, `%${a} [${a0}, ${a1}] and %${b} [${b0}, ${b1}] share buffer ${plan.slot.get(a)}`).toBe(true);
        }
      }

      const everything = tensors.reduce((s, id) => s + size(graph.nodes[id]!.shape) * 4, 0);
      console.log(`${family}: ${plan.buffers.length} buffers, ${plan.activationBytes} B planned, liveness bound ${plan.livePeakBytes} B, no reuse ${everything} B`);
      expect(plan.activationBytes).toBeGreaterThanOrEqual(plan.livePeakBytes);
      expect(plan.activationBytes).toBeLessThan(everything);
      const params = graph.params.reduce((s, id) => s + size(graph.nodes[id]!.shape) * 4, 0);
      expect(plan.weightBytes).toBeGreaterThanOrEqual(params);
    });
  }

  it('is deterministic', () => {
    const model = tinyModel('pst-tiny');
    const a = planMemory(programAfter(model, 'fuse').fused!);
    const b = planMemory(programAfter(model, 'fuse').fused!);
    expect(b.buffers).toEqual(a.buffers);
    expect([...b.slot]).toEqual([...a.slot]);
    expect(b.activationBytes).toBe(a.activationBytes);
    expect(b.weightBytes).toBe(a.weightBytes);
  });
});
