// The interpreter's own checks: a clip or weights that do not fit the graph are the user's
// mistake and come back as diagnostics, not crashes.
import { describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { size } from '../../src/ir/graph.js';
import { lowerModel } from '../../src/passes/lower.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { initWeights } from '../../src/weights/index.js';
import { tinyPst } from './fixtures.js';

const model = tinyPst();
const g = lowerModel(model, { batch: 1, frames: 8, size: 40 });

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof DiagnosticError) return `${e.diagnostics[0]!.code} ${e.diagnostics[0]!.flag}`;
    throw e;
  }
  return undefined;
}

describe('interpret', () => {
  it('rejects a clip of the wrong size (PST305)', () => {
    expect(codeOf(() => interpret(g, { clip: new Float64Array(10) }, initWeights(model, 0)))).toBe('PST305 --input');
  });

  it('rejects a missing or misshapen weight (PST306)', () => {
    const clip = new Float64Array(size(g.inputShape));
    const missing = initWeights(model, 0);
    missing.delete('layers.1.blocks.0.attn.qkv.weight');
    expect(codeOf(() => interpret(g, { clip }, missing))).toBe('PST306 --weights');
    const wrong = initWeights(model, 0);
    wrong.set('norm.weight', { shape: [7], data: new Float32Array(7) });
    expect(codeOf(() => interpret(g, { clip }, wrong))).toBe('PST306 --weights');
  });

  it('returns kept intermediate values and frees the rest', () => {
    const clip = new Float64Array(size(g.inputShape)).fill(0.5);
    const r = interpret(g, { clip }, initWeights(model, 0), { keep: (n) => n.op.kind === 'layernorm' });
    const norms = g.nodes.filter((n) => n.op.kind === 'layernorm');
    expect(r.values.size).toBe(norms.length + 2); // + features and logits
    for (const n of norms) expect(r.values.get(n.id)!.length).toBe(size(n.shape));
  });
});
