// The training ops of the IR (src/ir/graph.ts, TrainingOp) in float64: dropout, the loss, and
// the adjoints autodiff emits. Plain loops, written to be read against the formulas in the op
// comments; test/reference/grad-ops.test.ts checks each against central differences.
import type { WindowAttentionOp } from '../../src/ir/graph.js';
import type { IndexMap } from '../../src/ir/indexmap.js';
import { keeps } from '../../src/ir/rng.js';
import { erf } from './erf.js';
import { gatherTable } from './gather.js';
import { attentionProbabilities, biasRow, normalizeRows } from './ops.js';

export function scale(x: Float64Array, factor: number): Float64Array {
  return x.map((v) => v * factor);
}

export function mul(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v * b[i]!);
}

/** dy·GELU'(x) for the exact GELU x·Φ(x): GELU'(x) = Φ(x) + x·φ(x). */
export function geluGrad(x: Float64Array, dy: Float64Array): Float64Array {
  return x.map((v, i) => {
    const cdf = 0.5 * (1 + erf(v / Math.SQRT2));
    const pdf = Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
    return dy[i]! * (cdf + v * pdf);
  });
}

export function layernormNormalized(x: Float64Array, dim: number, eps: number): Float64Array {
  return normalizeRows(x, dim, eps).xhat;
}

/** dx = inv/N·(N·g − Σg − x̂·Σ(g·x̂)) per row, with g = γ·dy. */
export function layernormGrad(x: Float64Array, gamma: Float64Array, dy: Float64Array, dim: number, eps: number): Float64Array {
  const { xhat, inv } = normalizeRows(x, dim, eps);
  const dx = new Float64Array(x.length);
  for (let r = 0; r < x.length; r += dim) {
    let sumG = 0;
    let sumGx = 0;
    for (let i = 0; i < dim; i++) {
      const gi = gamma[i]! * dy[r + i]!;
      sumG += gi;
      sumGx += gi * xhat[r + i]!;
    }
    const s = inv[r / dim]! / dim;
    for (let i = 0; i < dim; i++) dx[r + i] = s * (dim * gamma[i]! * dy[r + i]! - sumG - xhat[r + i]! * sumGx);
  }
  return dx;
}

/** dS = P ∘ (dP − rowsum(dP ∘ P)), dP = dout_h·v_hᵀ, per window and head: [Bw, heads, N, N]. */
export function attentionGradScores(qkv: Float64Array, table: Float64Array, dout: Float64Array, shape: readonly number[], op: WindowAttentionOp): Float64Array {
  const [windows, n, c3] = shape as [number, number, number];
  const channels = c3 / 3;
  const headDim = channels / op.heads;
  const dS = new Float64Array(windows * op.heads * n * n);
  for (let w = 0; w < windows; w++) {
    for (let h = 0; h < op.heads; h++) {
      const p = attentionProbabilities(qkv, table, shape, op, w, h);
      const v0 = w * n * c3 + 2 * channels + h * headDim;
      const out = (w * op.heads + h) * n * n;
      for (let i = 0; i < n; i++) {
        const o = (w * n + i) * channels + h * headDim;
        const dP = new Float64Array(n);
        let dot = 0;
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < headDim; k++) s += dout[o + k]! * qkv[v0 + j * c3 + k]!;
          dP[j] = s;
          dot += s * p[i * n + j]!;
        }
        for (let j = 0; j < n; j++) dS[out + i * n + j] = p[i * n + j]! * (dP[j]! - dot);
      }
    }
  }
  return dS;
}

/** dq = dS·k·scale, dk = dSᵀ·q·scale, dv = Pᵀ·dout, written in qkv's channel layout. */
export function attentionGradQkv(
  qkv: Float64Array,
  table: Float64Array,
  dout: Float64Array,
  dS: Float64Array,
  shape: readonly number[],
  op: WindowAttentionOp,
): Float64Array {
  const [windows, n, c3] = shape as [number, number, number];
  const channels = c3 / 3;
  const headDim = channels / op.heads;
  const dqkv = new Float64Array(qkv.length);
  for (let w = 0; w < windows; w++) {
    const base = w * n * c3;
    for (let h = 0; h < op.heads; h++) {
      const p = attentionProbabilities(qkv, table, shape, op, w, h);
      const [q0, k0, v0] = [0, 1, 2].map((part) => base + part * channels + h * headDim) as [number, number, number];
      const ds = (w * op.heads + h) * n * n;
      for (let i = 0; i < n; i++) {
        const o = (w * n + i) * channels + h * headDim;
        for (let j = 0; j < n; j++) {
          const g = dS[ds + i * n + j]! * op.scale;
          const a = p[i * n + j]!;
          for (let k = 0; k < headDim; k++) {
            dqkv[q0 + i * c3 + k]! += g * qkv[k0 + j * c3 + k]!;
            dqkv[k0 + j * c3 + k]! += g * qkv[q0 + i * c3 + k]!;
            dqkv[v0 + j * c3 + k]! += a * dout[o + k]!;
          }
        }
      }
    }
  }
  return dqkv;
}

/** out[r, h] = Σ of dS[w, h, i, j] over the (w, i, j) whose bias index is r. */
export function biasTableGrad(dS: Float64Array, shape: readonly number[], op: WindowAttentionOp, rows: number): Float64Array {
  const [windows, heads, n] = shape as [number, number, number, number];
  const out = new Float64Array(rows * heads);
  for (let w = 0; w < windows; w++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) out[biasRow(op, n, w, i, j) * heads + h]! += dS[((w * heads + h) * n + i) * n + j]!;
      }
    }
  }
  return out;
}

/** The transpose of a view: out[j] = Σ over output elements i reading j of dy[i] (a scatter-add). */
export function viewGrad(dy: Float64Array, map: IndexMap): Float64Array {
  const table = gatherTable(map);
  const out = new Float64Array(map.inShape.reduce((a, b) => a * b, 1));
  for (let o = 0; o < table.length; o++) {
    const i = table[o]!;
    if (i >= 0) out[i]! += dy[o]!;
  }
  return out;
}

/** y = x·keep/(1 − rate); the counter is the flat index, or the axis-0 index when per sample. */
export function dropout(
  x: Float64Array,
  shape: readonly number[],
  op: { rate: number; stream: number; perSample: boolean },
  key: readonly [number, number],
): Float64Array {
  const perSample = x.length / shape[0]!;
  const kept = 1 / (1 - op.rate);
  return x.map((v, i) => (keeps(op.rate, key, op.stream, op.perSample ? Math.floor(i / perSample) : i) ? v * kept : 0));
}

/** Per row: log-softmax of the logits and the smoothed target (1 − ε)·onehot + ε/K. */
function rowTerms(logits: Float64Array, k: number, label: number, smoothing: number, row: number): { logp: Float64Array; target: Float64Array } {
  let max = -Infinity;
  for (let c = 0; c < k; c++) max = Math.max(max, logits[row * k + c]!);
  let total = 0;
  for (let c = 0; c < k; c++) total += Math.exp(logits[row * k + c]! - max);
  const lse = max + Math.log(total);
  const logp = new Float64Array(k);
  const target = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    logp[c] = logits[row * k + c]! - lse;
    target[c] = smoothing / k + (c === label ? 1 - smoothing : 0);
  }
  return { logp, target };
}

/** The mean over the batch of −Σ_c target_c·log softmax(logits)_c. */
export function crossEntropy(logits: Float64Array, labels: Float64Array, k: number, smoothing: number): Float64Array {
  const batch = labels.length;
  let loss = 0;
  for (let b = 0; b < batch; b++) {
    const { logp, target } = rowTerms(logits, k, labels[b]!, smoothing, b);
    for (let c = 0; c < k; c++) loss -= target[c]! * logp[c]!;
  }
  return Float64Array.of(loss / batch);
}

/** dlogits = dloss·(softmax(logits) − target)/B. */
export function crossEntropyGrad(logits: Float64Array, labels: Float64Array, dloss: Float64Array, k: number, smoothing: number): Float64Array {
  const batch = labels.length;
  const out = new Float64Array(logits.length);
  for (let b = 0; b < batch; b++) {
    const { logp, target } = rowTerms(logits, k, labels[b]!, smoothing, b);
    for (let c = 0; c < k; c++) out[b * k + c] = (dloss[0]! * (Math.exp(logp[c]!) - target[c]!)) / batch;
  }
  return out;
}
