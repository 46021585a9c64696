// Whole models against the golden files of test/golden/ (an independent float64 PyTorch rendering
// of pst-reference.md): features, logits and every block's output, relative error ≤ 1e-6 in the
// max-norm sense. Intermediates are compared first so that a mismatch names the first module off.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import type { Graph, NodeId } from '../../src/ir/graph.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { compileProgram, need } from '../../src/passes/pipeline.js';
import { readNpy, readSafetensors } from '../../src/weights/index.js';

const root = join(import.meta.dirname, '..', 'golden');
const cases = existsSync(root) ? readdirSync(root).filter((d) => existsSync(join(root, d, 'config.json'))).sort() : [];

/** |a − b|∞ / |b|∞ */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

/** The node computing each intermediate the goldens store ('embed', 'layers.s.blocks.j', 'layers.s.downsample'). */
function moduleOutputs(g: Graph): Map<string, NodeId> {
  const out = new Map<string, NodeId>();
  for (const n of g.nodes) {
    if (n.op.kind === 'view' || n.op.kind === 'param' || n.op.kind === 'output') continue;
    if (n.label.startsWith('patch_embed.')) out.set('embed', n.id); // the last of proj / norm
    else if (/^layers\.\d+\.blocks\.\d+$/.test(n.label) && n.op.kind === 'add') out.set(n.label, n.id); // the second residual
    else if (/^layers\.\d+\.downsample\.reduction$/.test(n.label)) out.set(n.label.replace(/\.reduction$/, ''), n.id);
  }
  return out;
}

describe('golden models', () => {
  it('has golden cases to compare against', () => {
    // No silent skip: without goldens the reference interpreter is untested end to end.
    expect(cases.length).toBeGreaterThan(0);
  });

  for (const name of cases) {
    it(`${name}: features, logits and intermediates within 1e-6`, () => {
      const dir = join(root, name);
      const model = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as ModelConfig;
      const clip = readNpy(readFileSync(join(dir, 'input.npy')));
      const [batch, , frames, size, width] = clip.shape as [number, number, number, number, number];
      expect(width).toBe(size);
      const weights = readSafetensors(readFileSync(join(dir, 'weights.safetensors')));
      // The graph the device runs: the declared pipeline's last graph pass.
      const graph = need(compileProgram(model, { batch, frames, size }, { until: 'commute' }), 'graph', 'golden');
      const modules = moduleOutputs(graph);
      const keep = new Set(modules.values());
      const result = interpret(graph, { clip: Float64Array.from(clip.data) }, weights, { keep: (n) => keep.has(n.id) });

      const intermediates = readSafetensors(readFileSync(join(dir, 'intermediates.safetensors')));
      expect(intermediates.size).toBeGreaterThan(0);
      const rows: { key: string; id: NodeId; error: number }[] = [];
      for (const [key, want] of intermediates) {
        const id = modules.get(key);
        expect(id, `no node computes intermediate '${key}'`).toBeDefined();
        expect(graph.nodes[id!]!.shape, key).toEqual(want.shape);
        rows.push({ key, id: id!, error: relativeError(result.values.get(id!)!, want.data) });
      }
      // In graph order, so that the first module off is the one to look at.
      rows.sort((a, b) => a.id - b.id);
      const report = rows.map((r) => `${r.key}: ${r.error.toExponential(2)}`).join('\n');
      expect(rows.find((r) => !(r.error <= 1e-6))?.key, `relative errors:\n${report}`).toBeUndefined();

      const features = readNpy(readFileSync(join(dir, 'features.npy')));
      expect(graph.nodes[graph.outputs.features]!.shape).toEqual(features.shape);
      expect(relativeError(result.features, features.data), 'features').toBeLessThanOrEqual(1e-6);

      const logitsFile = join(dir, 'logits.npy');
      expect(result.logits !== undefined, 'logits present iff the model has a head').toBe(existsSync(logitsFile));
      if (existsSync(logitsFile)) {
        const logits = readNpy(readFileSync(logitsFile));
        expect(relativeError(result.logits!, logits.data), 'logits').toBeLessThanOrEqual(1e-6);
      }
    });
  }
});
