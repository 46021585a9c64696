// The arithmetic ops of the IR in float64, one plain loop nest each, written to be checked by
// reading against pst-reference.md rather than to be fast. Tensors are row-major Float64Arrays.
import type { WindowAttentionOp } from '../../src/ir/graph.js';
import { gelu as geluScalar } from './erf.js';

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** y[r, o] = Σ_i x[r, i]·w[o, i] + b[o], over all leading indices r. */
export function linear(x: Float64Array, w: Float64Array, b: Float64Array | null, inDim: number, outDim: number): Float64Array {
  const rows = x.length / inDim;
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    const xr = r * inDim;
    for (let o = 0; o < outDim; o++) {
      const wo = o * inDim;
      let s = b ? b[o]! : 0;
      for (let i = 0; i < inDim; i++) s += x[xr + i]! * w[wo + i]!;
      y[r * outDim + o] = s;
    }
  }
  return y;
}

/** PyTorch's LayerNorm over the last dim: biased variance, eps inside the square root. */
export function layernorm(x: Float64Array, gamma: Float64Array, beta: Float64Array, dim: number, eps: number): Float64Array {
  const { xhat } = normalizeRows(x, dim, eps);
  return xhat.map((v, k) => v * gamma[k % dim]! + beta[k % dim]!);
}

/**
 * Each row's (mean, 1/√(var + eps)), [rows, 2]: what a LayerNorm folded into its GEMMs' loads
 * stores (fuse.ts LayerNormPrologue).
 */
export function layernormStats(x: Float64Array, dim: number, eps: number): Float64Array {
  const stats = new Float64Array((2 * x.length) / dim);
  const { mean, inv } = normalizeRows(x, dim, eps);
  for (let r = 0; r < mean.length; r++) {
    stats[2 * r] = mean[r]!;
    stats[2 * r + 1] = inv[r]!;
  }
  return stats;
}

/** The LayerNorm of x from its row statistics (layernormStats): what a GEMM's prologue computes. */
export function layernormFromStats(x: Float64Array, stats: Float64Array, gamma: Float64Array, beta: Float64Array, dim: number): Float64Array {
  return x.map((v, k) => {
    const r = Math.floor(k / dim);
    return (v - stats[2 * r]!) * stats[2 * r + 1]! * gamma[k % dim]! + beta[k % dim]!;
  });
}

/** x̂ = (x − mean)/√(var + eps) per row of `dim` (biased variance), with each row's mean and 1/√(var + eps). */
export function normalizeRows(x: Float64Array, dim: number, eps: number): { xhat: Float64Array; mean: Float64Array; inv: Float64Array } {
  const xhat = new Float64Array(x.length);
  const means = new Float64Array(x.length / dim);
  const inv = new Float64Array(x.length / dim);
  for (let r = 0; r < x.length; r += dim) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r + i]!;
    mean /= dim;
    let variance = 0;
    for (let i = 0; i < dim; i++) variance += (x[r + i]! - mean) ** 2;
    variance /= dim;
    const s = 1 / Math.sqrt(variance + eps);
    means[r / dim] = mean;
    inv[r / dim] = s;
    for (let i = 0; i < dim; i++) xhat[r + i] = (x[r + i]! - mean) * s;
  }
  return { xhat, mean: means, inv };
}

export function gelu(x: Float64Array): Float64Array {
  return x.map(geluScalar);
}

export function add(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}

/** Σ over `axes` of a tensor of `shape`; the reduced dims are removed. */
export function sum(x: Float64Array, shape: readonly number[], axes: readonly number[]): Float64Array {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const y = new Float64Array(numel(kept.map((i) => shape[i]!)));
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < x.length; flat++) {
    let rest = flat;
    for (let a = shape.length - 1; a >= 0; a--) {
      idx[a] = rest % shape[a]!;
      rest = Math.floor(rest / shape[a]!);
    }
    let o = 0;
    for (const a of kept) o = o * shape[a]! + idx[a]!;
    y[o] += x[flat]!;
  }
  return y;
}

/** Mean over `axes` of a tensor of `shape`; the reduced dims are removed. */
export function mean(x: Float64Array, shape: readonly number[], axes: readonly number[]): Float64Array {
  const count = numel(axes.map((a) => shape[a]!));
  return sum(x, shape, axes).map((v) => v / count);
}

/**
 * Window attention (pst-reference.md, "Attention in a window"), per window w and head h:
 * q, k, v = the head's slices of qkv (channels 0·C, 1·C, 2·C + h·c …),
 * A = softmax(q·kᵀ·scale + table[biasIndex[g][i][j], h] + mask[m][i][j]), out = A·v,
 * written to channels h·c … of the output (heads merged, as PyTorch's transpose+reshape).
 */
export function windowAttention(qkv: Float64Array, table: Float64Array, shape: readonly number[], op: WindowAttentionOp): Float64Array {
  const [windows, n, c3] = shape as [number, number, number];
  const channels = c3 / 3;
  const headDim = channels / op.heads;
  const out = new Float64Array(windows * n * channels);
  for (let w = 0; w < windows; w++) {
    const base = w * n * c3;
    for (let h = 0; h < op.heads; h++) {
      const p = attentionProbabilities(qkv, table, shape, op, w, h);
      const v0 = 2 * channels + h * headDim;
      for (let i = 0; i < n; i++) {
        const o = (w * n + i) * channels + h * headDim;
        for (let j = 0; j < n; j++) {
          const a = p[i * n + j]!;
          for (let k = 0; k < headDim; k++) out[o + k]! += a * qkv[base + j * c3 + v0 + k]!;
        }
      }
    }
  }
  return out;
}

/** The bias table row of score (i, j) in window w: biasIndex[g][i][j], g = (w div windowsPerGroup) mod biasGroups. */
export function biasRow(op: WindowAttentionOp, n: number, w: number, i: number, j: number): number {
  const group = Math.floor(w / op.windowsPerGroup) % op.biasGroups;
  return op.biasIndex[(group * n + i) * n + j]!;
}

/** P = softmax over j of S[i, j] = q_i·k_j·scale + bias + mask, for window w and head h: [N, N]. */
export function attentionProbabilities(
  qkv: Float64Array,
  table: Float64Array,
  shape: readonly number[],
  op: WindowAttentionOp,
  w: number,
  h: number,
): Float64Array {
  const [, n, c3] = shape as [number, number, number];
  const channels = c3 / 3;
  const headDim = channels / op.heads;
  const maskBase = op.mask ? (w % op.maskWindows) * n * n : 0;
  const base = w * n * c3;
  const q0 = h * headDim;
  const k0 = channels + h * headDim;
  const p = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < headDim; k++) s += qkv[base + i * c3 + q0 + k]! * qkv[base + j * c3 + k0 + k]!;
      s = s * op.scale + table[biasRow(op, n, w, i, j) * op.heads + h]!;
      if (op.mask) s += op.mask[maskBase + i * n + j]!;
      p[i * n + j] = s;
      if (s > max) max = s;
    }
    let total = 0;
    for (let j = 0; j < n; j++) {
      p[i * n + j] = Math.exp(p[i * n + j]! - max);
      total += p[i * n + j]!;
    }
    for (let j = 0; j < n; j++) p[i * n + j]! /= total;
  }
  return p;
}
