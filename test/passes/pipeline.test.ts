// The declared pipeline: its order, stopping after any pass and continuing, a pass added in one
// line, and the verifier naming the pass after which an invariant broke.
import { describe, expect, it } from 'vitest';
import type { Graph } from '../../src/ir/graph.js';
import { foldViews } from '../../src/passes/fold.js';
import { fuse } from '../../src/passes/fuse.js';
import { BARE_GRAPH_PASSES, graphPass, PASSES, PASS_NAMES, runBareGraph, runPipeline, startProgram, type Pass, type Program } from '../../src/passes/pipeline.js';
import { programToText } from '../../src/passes/print.js';
import { graphAfter, programAfter, tinyModel, TINY_FAMILIES } from './helpers.js';

const model = tinyModel('pst-tiny');
const input = { batch: 1, frames: model.input.frames, size: model.input.size };

const pass = (name: string): Pass => PASSES.find((p) => p.name === name)!;

/** The pipeline with `broken` in place of the pass of the same name. */
function withPass(broken: Pass): Pass[] {
  return PASSES.map((p) => (p.name === broken.name ? broken : p));
}

/** A graph pass applying `edit` to a copy of the graph's nodes. */
function editGraph(name: string, edit: (g: Graph) => void): Pass {
  return graphPass(name, 'test', (graph) => {
    const g = { ...graph, nodes: graph.nodes.map((n) => ({ ...n, inputs: [...n.inputs], shape: [...n.shape] })) };
    edit(g);
    return g;
  });
}

describe('the pipeline', () => {
  it('is lower → autodiff → recompute → fold → commute → fuse → plan-memory', () => {
    expect(PASS_NAMES).toEqual(['lower', 'autodiff', 'recompute', 'fold', 'commute', 'fuse', 'plan-memory']);
  });

  for (const family of TINY_FAMILIES) {
    it(`${family}: runs every pass, verified, and records them`, () => {
      const p = programAfter(tinyModel(family), 'plan-memory', 1);
      expect(p.passes).toEqual(PASS_NAMES);
      expect(p.fused!.graph).toBe(p.graph);
      expect(p.memory!.activationBytes).toBeGreaterThan(0);
    });
  }

  it('stops after a pass, and continues from there to the same program', () => {
    const lowered = runPipeline(startProgram(model, input), { until: 'lower' });
    expect(lowered.passes).toEqual(['lower']);
    expect(lowered.fused).toBeUndefined();
    const fused = runPipeline(lowered, { until: 'fuse' });
    expect(fused.passes).toEqual(['lower', 'autodiff', 'recompute', 'fold', 'commute', 'fuse']);
    expect(fused.memory).toBeUndefined();
    const rest = runPipeline(fused);
    expect(programToText(rest)).toBe(programToText(runPipeline(startProgram(model, input))));
    // A program past the pass asked for is a caller's bug, not a silent no-op.
    expect(() => runPipeline(rest, { until: 'fold' })).toThrow(/past 'fold'/);
  });

  it('takes a new pass as one more entry', () => {
    const seen: string[] = [];
    const probe = graphPass('probe', 'records the graph it sees', (g) => {
      seen.push(`${g.nodes.length}`);
      return g;
    });
    const passes = [PASSES[0], probe, ...PASSES.slice(1)];
    const p = runPipeline(startProgram(model, input), { passes });
    expect(p.passes).toEqual(['lower', 'probe', 'autodiff', 'recompute', 'fold', 'commute', 'fuse', 'plan-memory']);
    expect(seen).toHaveLength(1);
  });

  it('takes a bare graph through fold and fuse, the passes of the list and nothing else', () => {
    expect(BARE_GRAPH_PASSES).toEqual(['fold', 'fuse']);
    const lowered = graphAfter(model, 'lower', 1);
    const bare = runBareGraph(lowered);
    expect(bare.passes).toEqual(['fold', 'fuse']);
    expect(bare.fused!.graph).toBe(bare.graph);
    expect(bare.memory).toBeUndefined();
    // The same kernels as the pass functions called by hand (the graph executor's old path).
    expect(bare.fused).toEqual(fuse(foldViews(lowered)));
  });
});

describe('the verifier', () => {
  const run = (passes: Pass[]): Program => runPipeline(startProgram(model, input), { passes });

  it('names a pass that stores a wrong shape', () => {
    const bad = editGraph('fold', (g) => {
      const ln = g.nodes.find((n) => n.op.kind === 'layernorm')!;
      ln.shape = [...ln.shape.slice(0, -1), ln.shape.at(-1)! + 1];
    });
    expect(() => run(withPass(bad))).toThrow(/after pass 'fold'[\s\S]*layernorm[\s\S]*holds shape/);
  });

  it('names a pass that breaks topological order or reads an undefined node', () => {
    const late = editGraph('commute', (g) => {
      const add = g.nodes.find((n) => n.op.kind === 'add')!;
      add.inputs[0] = g.nodes.length + 3;
    });
    expect(() => run(withPass(late))).toThrow(/after pass 'commute'[\s\S]*not an earlier node/);
  });

  it('names a pass that leaves a view reading a view after folding', () => {
    const unfold = graphPass('commute', 'test', (g) => g, { folded: true });
    // `fold` already ran: handing the lowered (unfolded) graph to a later pass is caught.
    let lowered: Graph | undefined;
    const keep: Pass = {
      ...PASSES[0],
      run: (p) => {
        const q = PASSES[0].run(p);
        lowered = q.graph;
        return q;
      },
    };
    const regress = graphPass('commute', 'test', () => lowered!);
    expect(() => run([keep, pass('autodiff'), pass('fold'), regress, pass('fuse'), pass('plan-memory')])).toThrow(/after pass 'commute'[\s\S]*reads view/);
    expect(() => run([keep, pass('autodiff'), pass('fold'), unfold, pass('fuse'), pass('plan-memory')])).not.toThrow();
  });

  it('names a fusion that leaves a node uncomputed, or reads before a write', () => {
    const drop: Pass = {
      ...pass('fuse'),
      run: (p) => {
        const q = pass('fuse').run(p);
        return { ...q, fused: { ...q.fused!, kernels: q.fused!.kernels.filter((k) => k.kind !== 'layernorm' || k.out < 10) } };
      },
    };
    expect(() => run(withPass(drop))).toThrow(/after pass 'fuse'[\s\S]*(computed by no kernel|no earlier kernel wrote)/);
    const reorder: Pass = {
      ...pass('fuse'),
      run: (p) => {
        const q = pass('fuse').run(p);
        return { ...q, fused: { ...q.fused!, kernels: [...q.fused!.kernels].reverse() } };
      },
    };
    expect(() => run(withPass(reorder))).toThrow(/no earlier kernel wrote/);
  });

  it('names a memory plan that puts two live tensors in one buffer', () => {
    const squash: Pass = {
      ...pass('plan-memory'),
      run: (p) => {
        const q = pass('plan-memory').run(p);
        const memory = q.memory!;
        const largest = Math.max(...memory.buffers);
        const slot = new Map([...memory.slot].map(([id]) => [id, 0]));
        return { ...q, memory: { ...memory, slot, buffers: [largest], activationBytes: largest } };
      },
    };
    expect(() => run(withPass(squash))).toThrow(/after pass 'plan-memory'[\s\S]*buffer 0 holds %\d+ and %\d+ while both are alive/);
  });
});
