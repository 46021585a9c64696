// Lowering PST-T and the tiny model: shapes, the per-block structure, the user's mistakes.
import { describe, expect, it } from 'vitest';
import { foldViews } from '../../src/passes/fold.js';
import { size, type Graph, type Node } from '../../src/ir/graph.js';
import { lowerModel } from '../../src/passes/lower.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { pstT, tinyPst } from '../reference/fixtures.js';

const byLabel = (g: Graph, label: string, kind?: string): Node[] =>
  g.nodes.filter((n) => n.label === label && (kind === undefined || n.op.kind === kind));
/** The last node of a label: the output of that module. */
const last = (g: Graph, label: string, kind?: string): Node => byLabel(g, label, kind).at(-1)!;

function diagnosticOf(f: () => unknown): DiagnosticError {
  try {
    f();
  } catch (e) {
    if (e instanceof DiagnosticError) return e;
    throw e;
  }
  throw new Error('expected a DiagnosticError');
}

describe('lowering PST-T at 1×3×32×224²', () => {
  const g = lowerModel(pstT(), { batch: 1, frames: 32, size: 224 });

  it('has the shapes of pst-reference.md', () => {
    expect(g.inputShape).toEqual([1, 3, 32, 224, 224]);
    expect(last(g, 'patch_embed.norm').shape).toEqual([1, 16, 56, 56, 96]);
    expect(last(g, 'layers.0.blocks.1', 'add').shape).toEqual([1, 16, 56, 56, 96]);
    expect(last(g, 'layers.0.downsample.reduction').shape).toEqual([1, 16, 28, 28, 192]);
    expect(last(g, 'layers.1.blocks.1', 'add').shape).toEqual([1, 16, 28, 28, 192]);
    expect(last(g, 'layers.2.blocks.5', 'add').shape).toEqual([1, 16, 14, 14, 384]);
    expect(last(g, 'layers.3.blocks.1', 'add').shape).toEqual([1, 16, 7, 7, 768]);
    expect(g.nodes[g.outputs.features]!.shape).toEqual([1, 768, 16, 7, 7]);
    expect(g.nodes[g.outputs.logits!]!.shape).toEqual([1, 400]);
  });

  it('has the parameter count of the reference (28,223,622 in the backbone)', () => {
    const params = g.params.map((id) => g.nodes[id]!);
    const backbone = params.filter((n) => n.op.kind === 'param' && !n.op.name.startsWith('cls_head.'));
    expect(backbone.reduce((t, n) => t + size(n.shape), 0)).toBe(28_223_622);
    expect(new Set(params.map((n) => (n.op.kind === 'param' ? n.op.name : ''))).size).toBe(params.length);
  });

  it('shifts windows by 3 on odd blocks of stages 1–3, not in stage 4 (7×7 map)', () => {
    const rolls = (prefix: string) => g.nodes.filter((n) => n.label === prefix && n.op.kind === 'view' && n.op.what.startsWith('roll'));
    expect(rolls('layers.0.blocks.0')).toHaveLength(0);
    expect(rolls('layers.0.blocks.1')).toHaveLength(2);
    expect(rolls('layers.2.blocks.5')).toHaveLength(2);
    expect(rolls('layers.3.blocks.1')).toHaveLength(0);
    const attn = (label: string) => last(g, label, 'window_attention');
    const a01 = attn('layers.0.blocks.1.attn');
    if (a01.op.kind !== 'window_attention') throw new Error('unreachable');
    expect(a01.shape).toEqual([1024, 49, 96]);
    expect([a01.op.heads, a01.op.biasGroups, a01.op.windowsPerGroup, a01.op.maskWindows]).toEqual([3, 16, 64, 64]);
    expect(a01.op.mask).not.toBeNull();
    const a31 = attn('layers.3.blocks.1.attn');
    if (a31.op.kind !== 'window_attention') throw new Error('unreachable');
    expect(a31.op.mask).toBeNull();
    expect(a31.shape).toEqual([16, 49, 768]);
    expect(a31.op.scale).toBeCloseTo(32 ** -0.5, 15);
  });

  it('puts TCS on even blocks and TPS (with the shift back) on odd blocks', () => {
    const whats = (label: string) => g.nodes.filter((n) => n.label === label && n.op.kind === 'view').map((n) => (n.op.kind === 'view' ? n.op.what : ''));
    expect(whats('layers.1.blocks.0.attn')).toEqual(['tcs']);
    expect(whats('layers.1.blocks.1.attn')).toEqual(['tps', 'tps_back']);
  });
});

describe('foldViews', () => {
  it('leaves no view reading a view and keeps every output shape', () => {
    const g = lowerModel(tinyPst(), { batch: 1, frames: 8, size: 40 });
    const viewOfView = (h: Graph) => h.nodes.filter((n) => n.op.kind === 'view' && h.nodes[n.inputs[0]!]!.op.kind === 'view');
    expect(viewOfView(g).length).toBeGreaterThan(0);
    const f = foldViews(g);
    expect(viewOfView(f)).toHaveLength(0);
    expect(f.nodes.filter((n) => n.op.kind !== 'view').map((n) => n.shape)).toEqual(g.nodes.filter((n) => n.op.kind !== 'view').map((n) => n.shape));
  });
});

describe('the user\'s mistakes', () => {
  it('rejects more temporal tokens than the bias table covers (PST301, --frames)', () => {
    const e = diagnosticOf(() => lowerModel(pstT(), { batch: 1, frames: 34, size: 224 }));
    expect(e.diagnostics[0]).toMatchObject({ code: 'PST301', flag: '--frames' });
    expect(e.diagnostics[0]!.message).toContain('covers 16 frames but the input has 17 temporal tokens');
    expect(e.diagnostics[0]!.hint).toMatch(/fewer frames|bias_frames/);
  });

  it('rejects a non-positive batch, frames or size with the flag', () => {
    const e = diagnosticOf(() => lowerModel(pstT(), { batch: 0, frames: 32, size: 2.5 }));
    expect(e.diagnostics.map((d) => [d.code, d.flag])).toEqual([
      ['PST302', '--batch'],
      ['PST302', '--size'],
    ]);
  });

  it('refuses a hand-written config that check would refuse: heads that do not divide the dim (PST250), a dim that does not flow (PST303)', () => {
    const m = tinyPst();
    m.stages[1]!.heads = 3;
    expect(diagnosticOf(() => lowerModel(m, { batch: 1, frames: 8, size: 40 })).diagnostics.map((d) => d.code)).toEqual(['PST250']);
    const flow = tinyPst();
    flow.stages[0]!.merge = 'none';
    expect(diagnosticOf(() => lowerModel(flow, { batch: 1, frames: 8, size: 40 })).diagnostics.map((d) => d.code)).toEqual(['PST303']);
  });

  it('accepts fewer frames than the table and sizes that do not divide the patch', () => {
    const g = lowerModel(pstT(), { batch: 2, frames: 7, size: 230 });
    // T = 7 → ⌈7/2⌉ = 4; 230 → ⌈230/4⌉ = 58 → 29 → 15 → 8
    expect(g.nodes[g.outputs.features]!.shape).toEqual([2, 768, 4, 8, 8]);
  });
});
