// The IR's window attention (src/ir/graph.ts WindowAttentionOp) as ONNX: per window w and head h,
// softmax(q·kᵀ·scale + table[biasIndex[g(w)]] + mask[m(w)])·v, heads merged — the same formula as
// the reference (backends/reference/ops.ts windowAttention), in batched MatMuls.
// Window w uses bias group g = (w div windowsPerGroup) mod biasGroups and mask m = w mod
// maskWindows. When the window count is a multiple of the pattern's period, the scores are viewed
// as [repeats, period, …] and the bias (or mask) broadcasts over the repeats; otherwise a
// constant per-window index gathers it. Either way each window gets exactly its own rows.
import type { WindowAttentionOp } from '../../src/ir/graph.js';
import type { OnnxGraph } from './builder.js';

export function lowerWindowAttention(g: OnnxGraph, qkv: string, table: string, qkvShape: readonly number[], op: WindowAttentionOp, hint: string): string {
  const [windows, n, c3] = qkvShape as [number, number, number];
  const channels = c3 / 3;
  const heads = op.heads;
  const headDim = channels / heads;
  // [Bw, N, 3C] → [3, Bw, heads, N, c]: q, k and v of every head.
  const split = g.transpose(g.reshape(qkv, [windows, n, 3, heads, headDim], hint), [2, 0, 3, 1, 4], hint);
  const part = (k: number): string => g.node('Gather', [split, g.int64(`${hint}/qkv_${'qkv'[k]}`, [], BigInt64Array.of(BigInt(k)))], hint, { axis: { int: 0 } });
  const [q, k, v] = [part(0), part(1), part(2)];
  let scores = g.node('MatMul', [q, g.transpose(k, [0, 1, 3, 2], hint)], hint);
  scores = g.node('Mul', [scores, g.scalar(op.scale)], hint);

  // The relative position bias: table rows by the IR's index, [groups, heads, N, N].
  const index = g.int64(`${hint}/bias_index`, [op.biasGroups, n, n], BigInt64Array.from(op.biasIndex, (r) => BigInt(r)));
  const bias = g.transpose(g.node('Gather', [table, index], hint, { axis: { int: 0 } }), [0, 3, 1, 2], hint);
  const period = op.biasGroups * op.windowsPerGroup;
  if (windows % period === 0) {
    const viewed = g.reshape(scores, [windows / period, op.biasGroups, op.windowsPerGroup, heads, n, n], hint);
    const added = g.node('Add', [viewed, g.reshape(bias, [op.biasGroups, 1, heads, n, n], hint)], hint);
    scores = g.reshape(added, [windows, heads, n, n], hint);
  } else {
    const groupOf = BigInt64Array.from({ length: windows }, (_, w) => BigInt(Math.floor(w / op.windowsPerGroup) % op.biasGroups));
    const perWindow = g.node('Gather', [bias, g.int64(`${hint}/bias_group`, [windows], groupOf)], hint, { axis: { int: 0 } });
    scores = g.node('Add', [scores, perWindow], hint);
  }

  // The shifted-window mask, a constant.
  if (op.mask) {
    const m = op.maskWindows;
    if (windows % m === 0) {
      const mask = g.fresh(`${hint}/mask`);
      g.float(mask, [m, 1, n, n], op.mask);
      const viewed = g.reshape(scores, [windows / m, m, heads, n, n], hint);
      scores = g.reshape(g.node('Add', [viewed, mask], hint), [windows, heads, n, n], hint);
    } else {
      const full = new Float32Array(windows * n * n);
      for (let w = 0; w < windows; w++) full.set(op.mask.subarray((w % m) * n * n, ((w % m) + 1) * n * n), w * n * n);
      const mask = g.fresh(`${hint}/mask`);
      g.float(mask, [windows, 1, n, n], full);
      scores = g.node('Add', [scores, mask], hint);
    }
  }

  const probabilities = g.node('Softmax', [scores], hint, { axis: { int: -1 } });
  const out = g.node('MatMul', [probabilities, v], hint); // [Bw, heads, N, c]
  return g.reshape(g.transpose(out, [0, 2, 1, 3], hint), [windows, n, channels], hint);
}
