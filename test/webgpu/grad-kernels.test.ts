// The training kernels against float64 loops written here from the IR contract (src/ir/graph.ts):
// each case builds a small graph IR with the op, runs it through fold → fuse → lower → memory plan
// on the device (graph-executor.ts), and compares with fresh random inputs (max-norm relative
// error ≤ 1e-4). Also: the WGSL RNG equals src/ir/rng.ts bit for bit, dropout's mask is the
// reference's, and a run gives the same bits twice (no atomics anywhere).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { erf } from '../../backends/reference/erf.js';
import { openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { compileGraph, planGraph } from '../../backends/webgpu/graph-executor.js';
import { KERNEL_STYLES, MIN_LIMITS, type Kernel, type KernelLimits } from '../../backends/webgpu/kernels/common.js';
import { RNG_WGSL } from '../../backends/webgpu/kernels/rng.js';
import { GraphBuilder, size, type Graph, type NodeId, type WindowAttentionOp } from '../../src/ir/graph.js';
import { evaluate, type IndexMap } from '../../src/ir/indexmap.js';
import * as maps from '../../src/ir/maps.js';
import { hashU32, keeps, stepKey } from '../../src/ir/rng.js';
import { graphAfter, tinyModel } from '../passes/helpers.js';
import { freshSeed, maxNormRelativeError, randomArray, rng, runKernel } from './util.js';

let device: PstcDevice;
beforeAll(async () => {
  device = await openDevice();
});
afterAll(() => {
  device?.destroy();
});

const TOLERANCE = 1e-4;
const model = tinyModel('pst-tiny');
type F64 = Float64Array;

interface Case {
  graph: Graph;
  inputs: Record<string, Float32Array>;
  params: Map<string, { shape: number[]; data: Float32Array }>;
  /** Checked values: the labels of the nodes (kept readable by the plan). */
  outputs: string[];
}

/** A graph builder with random inputs and params registered as they are declared. */
function builder(seed: number) {
  const random = rng(seed);
  const g = new GraphBuilder(model, [1]);
  const inputs: Record<string, Float32Array> = {};
  const params = new Map<string, { shape: number[]; data: Float32Array }>();
  return {
    g,
    random,
    input(name: string, shape: number[], lo = -1, hi = 1, data?: Float32Array): [NodeId, Float32Array] {
      inputs[name] = data ?? randomArray(random, size(shape), lo, hi);
      return [g.input(name, shape), inputs[name]!];
    },
    param(name: string, shape: number[]): [NodeId, Float32Array] {
      const data = randomArray(random, size(shape));
      params.set(name, { shape, data });
      return [g.param(name, shape), data];
    },
    /** Nodes are checked under their names (each node's label must be unique). */
    build(outputs: Record<string, NodeId>): Case {
      g.op({ kind: 'output', name: 'features' }, [Object.values(outputs)[0]!], 'features');
      for (const [name, id] of Object.entries(outputs)) expect(g.shape(id).length, name).toBeGreaterThan(0);
      const graph = g.build();
      const labels = Object.entries(outputs).map(([name, id]) => {
        graph.nodes[id]!.label = name;
        return name;
      });
      return { graph, inputs, params, outputs: labels };
    },
  };
}

async function run(c: Case, limits: KernelLimits = device.kernelLimits(), key: [number, number] = [1, 2]) {
  const program = planGraph(c.graph, { limits, keep: (n) => c.outputs.includes(n.label) });
  const compiled = await compileGraph(device, program, c.params);
  try {
    await compiled.run(c.inputs, key);
    const values: Record<string, Float32Array> = {};
    for (const name of c.outputs) values[name] = await compiled.value(name);
    return { values, program };
  } finally {
    compiled.destroy();
  }
}

function check(name: string, seed: number, actual: Float32Array, expected: F64, tolerance = TOLERANCE): number {
  const error = maxNormRelativeError(actual, expected);
  console.log(`${name}: error ${error.toExponential(2)} (seed ${seed})`);
  expect(error, `${name}, seed ${seed}`).toBeLessThanOrEqual(tolerance);
  return error;
}

const kinds = (p: ReturnType<typeof planGraph>) => p.fused.kernels.map((k) => k.kind);
const geluDerivative = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
const transpose2d = (rows: number, cols: number) => maps.permute([rows, cols], [1, 0]);

describe('GEMM with mapped operands (training)', () => {
  it('dX = dY·W: the weight read through a transpose map', async () => {
    const seed = freshSeed();
    const b = builder(seed);
    const [R, O, I] = [30, 19, 37];
    const [dy, dyv] = b.input('dy', [2, 15, O]);
    const [w, wv] = b.param('w', [O, I]);
    const wt = b.g.view(w, transpose2d(O, I), 'transpose', 'w');
    const dx = b.g.op({ kind: 'linear', bias: false }, [dy, wt], 'dx');
    const c = b.build({ dx });
    const { values, program } = await run(c);
    expect(kinds(program)).toEqual(['gemm']);
    const want = new Float64Array(R * I);
    for (let r = 0; r < R; r++) for (let i = 0; i < I; i++) for (let o = 0; o < O; o++) want[r * I + i] += dyv[r * O + o]! * wv[o * I + i]!;
    check('gemm dX (W transposed)', seed, values.dx!, want);
  });

  it('dW = dYᵀ·X: both operands activations read through reshape + transpose', async () => {
    const seed = freshSeed();
    const b = builder(seed);
    const [R, O, I] = [30, 19, 37];
    const [dy, dyv] = b.input('dy', [2, 15, O]);
    const [x, xv] = b.input('x', [2, 15, I]);
    const dyT = b.g.view(b.g.view(dy, maps.reshape([2, 15, O], [R, O]), 'reshape', 'dy'), transpose2d(R, O), 'transpose', 'dy');
    const xT = b.g.view(b.g.view(x, maps.reshape([2, 15, I], [R, I]), 'reshape', 'x'), transpose2d(R, I), 'transpose', 'x');
    const dw = b.g.op({ kind: 'linear', bias: false }, [dyT, xT], 'dw');
    const { values, program } = await run(b.build({ dw }));
    expect(kinds(program)).toEqual(['gemm']);
    const want = new Float64Array(O * I);
    for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let r = 0; r < R; r++) want[o * I + i] += dyv[r * O + o]! * xv[r * I + i]!;
    check('gemm dW (both transposed)', seed, values.dw!, want);
  });

  it("gelu_grad and the gradient accumulation fold into the GEMM's epilogue", async () => {
    const seed = freshSeed();
    const b = builder(seed);
    const [R, O, H] = [30, 19, 37];
    const [h, hv] = b.input('h', [R, H], -3, 3);
    const [dy, dyv] = b.input('dy', [R, O]);
    const [other, ov] = b.input('other', [R, H]);
    const [w, wv] = b.param('w', [O, H]);
    const mm = b.g.op({ kind: 'linear', bias: false }, [dy, b.g.view(w, transpose2d(O, H), 'transpose', 'w')], 'fc2.dx');
    const dh = b.g.op({ kind: 'gelu_grad' }, [h, mm], 'act.grad');
    const acc = b.g.op({ kind: 'add' }, [other, dh], 'accumulate');
    const { values, program } = await run(b.build({ acc }));
    expect(kinds(program)).toEqual(['gemm']);
    const want = new Float64Array(R * H);
    for (let r = 0; r < R; r++) {
      for (let j = 0; j < H; j++) {
        let s = 0;
        for (let o = 0; o < O; o++) s += dyv[r * O + o]! * wv[o * H + j]!;
        want[r * H + j] = s * geluDerivative(hv[r * H + j]!) + ov[r * H + j]!;
      }
    }
    check("gemm ·GELU'(h) + accumulate", seed, values.acc!, want);
  });
});

describe('elementwise and reductions', () => {
  it('scale, mul, gelu_grad read through views', async () => {
    const seed = freshSeed();
    const b = builder(seed);
    const shape = [3, 5, 7];
    const [x, xv] = b.input('x', shape, -4, 4);
    const [y, yv] = b.input('y', shape);
    const rolled = maps.roll(shape, [0, 2, -3]);
    const xr = b.g.view(x, rolled, 'roll', 'x');
    const scaled = b.g.op({ kind: 'scale', factor: 0.37 }, [xr], 'scale');
    const prod = b.g.op({ kind: 'mul' }, [xr, y], 'mul');
    const gg = b.g.op({ kind: 'gelu_grad' }, [xr, y], 'gelu_grad');
    const { values } = await run(b.build({ scaled, prod, gg }));
    const n = size(shape);
    const xAt = (e: number) => xv[flatIn(rolled, e)]!;
    check('scale', seed, values.scaled!, Float64Array.from({ length: n }, (_, e) => 0.37 * xAt(e)));
    check('mul', seed, values.prod!, Float64Array.from({ length: n }, (_, e) => xAt(e) * yv[e]!));
    check('gelu_grad', seed, values.gg!, Float64Array.from({ length: n }, (_, e) => yv[e]! * geluDerivative(xAt(e))));
  });

  it('sum over rows, over an inner axis, and Σ dy·x̂ with the product and x̂ fused', async () => {
    const seed = freshSeed();
    const b = builder(seed);
    const [A, B, C] = [4, 33, 20];
    const [x, xv] = b.input('x', [A, B, C], -2, 3);
    const [dy, dyv] = b.input('dy', [A, B, C]);
    const rows = b.g.op({ kind: 'sum', axes: [0, 1] }, [dy], 'db');
    const inner = b.g.op({ kind: 'sum', axes: [2] }, [dy], 'inner');
    const xhat = b.g.op({ kind: 'layernorm_normalized', eps: 1e-5 }, [x], 'xhat');
    const dgamma = b.g.op({ kind: 'sum', axes: [0, 1] }, [b.g.op({ kind: 'mul' }, [dy, xhat], 'dy·xhat')], 'dgamma');
    const { values, program } = await run(b.build({ rows, inner, dgamma, xhat }));
    expect(kinds(program).filter((k) => k === 'mul')).toEqual([]);
    const xh = layerNormalized64(xv, C, 1e-5);
    const wantRows = new Float64Array(C);
    const wantInner = new Float64Array(A * B);
    const wantGamma = new Float64Array(C);
    for (let r = 0; r < A * B; r++) {
      for (let c = 0; c < C; c++) {
        wantRows[c] += dyv[r * C + c]!;
        wantInner[r] += dyv[r * C + c]!;
        wantGamma[c] += dyv[r * C + c]! * xh[r * C + c]!;
      }
    }
    check('sum over rows', seed, values.rows!, wantRows);
    check('sum over the last axis', seed, values.inner!, wantInner);
    check('layernorm_normalized', seed, values.xhat!, xh);
    check('Σ dy·x̂ (mul fused into the sum)', seed, values.dgamma!, wantGamma);
  });

  // Both variants (a workgroup per row on 'tiled' adapters for C > 32; one thread per row on
  // 'direct' ones and for narrow rows), with the row cached in private arrays (C ≤ 128) or not.
  // The last case is a residual stream's row: a mean large against the spread, which the one-thread
  // variant sums relative to the row's first value, in the gradient as in the forward (measured
  // 2.7e-6 against 1.6e-5 when the gradient summed the raw values: hence its tighter bound).
  for (const [style, C, offset] of [['tiled', 70, 0], ['direct', 70, 0], ['tiled', 16, 0], ['direct', 200, 0], ['direct', 70, 1000]] as const) it(`layernorm_grad, dy read through a view (${style}, C = ${C}${offset ? `, x around ${offset}` : ''})`, async () => {
    const seed = freshSeed();
    const b = builder(seed);
    const R = 37;
    const [x, xv] = b.input('x', [R, C], offset - 2, offset + 3);
    const [dyIn, dyv] = b.input('dy', [C, R]);
    const [gamma, gv] = b.param('gamma', [C]);
    const dy = b.g.view(dyIn, transpose2d(C, R), 'transpose', 'dy');
    const dx = b.g.op({ kind: 'layernorm_grad', eps: 1e-5 }, [x, gamma, dy], 'dx');
    const { values } = await run(b.build({ dx }), { ...device.kernelLimits(), style });
    const want = new Float64Array(R * C);
    const xh = layerNormalized64(xv, C, 1e-5);
    for (let r = 0; r < R; r++) {
      let mean = 0;
      for (let c = 0; c < C; c++) mean += xv[r * C + c]!;
      mean /= C;
      let variance = 0;
      for (let c = 0; c < C; c++) variance += (xv[r * C + c]! - mean) ** 2;
      const inv = 1 / Math.sqrt(variance / C + 1e-5);
      const g = (c: number) => gv[c]! * dyv[c * R + r]!;
      let gMean = 0;
      let gxMean = 0;
      for (let c = 0; c < C; c++) {
        gMean += g(c) / C;
        gxMean += (g(c) * xh[r * C + c]!) / C;
      }
      for (let c = 0; c < C; c++) want[r * C + c] = inv * (g(c) - gMean - xh[r * C + c]! * gxMean);
    }
    check('layernorm_grad', seed, values.dx!, want, offset ? 8e-6 : TOLERANCE);
  });
});

function layerNormalized64(x: Float32Array, C: number, eps: number): F64 {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length; r += C) {
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[r + c]!;
    mean /= C;
    let variance = 0;
    for (let c = 0; c < C; c++) variance += (x[r + c]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / C + eps);
    for (let c = 0; c < C; c++) out[r + c] = (x[r + c]! - mean) * inv;
  }
  return out;
}

/** The flat source offset a map reads for flat output e (−1: a zero). */
function flatIn(map: IndexMap, e: number): number {
  const idx: number[] = [];
  let rest = e;
  for (let a = map.outShape.length - 1; a >= 0; a--) {
    idx[a] = rest % map.outShape[a]!;
    rest = Math.floor(rest / map.outShape[a]!);
  }
  const at = evaluate(map, idx);
  if (!at) return -1;
  return at.reduce((f, v, a) => f * map.inShape[a]! + v, 0);
}

// ---------------------------------------------------------------------------------------------
// Attention

/** The op of a real block: pst-tiny's layers.0.blocks.1 (TPS bias index per frame, shifted-window mask). */
function tinyTpsAttention(): WindowAttentionOp {
  const graph = graphAfter(model, 'fold', 1);
  const node = graph.nodes.find((n) => n.op.kind === 'window_attention' && n.label === 'layers.0.blocks.1.attn')!;
  const op = node.op as WindowAttentionOp;
  return op;
}

interface AttentionProblem {
  op: WindowAttentionOp;
  windows: number;
  tokens: number;
  channels: number;
  rows: number;
}

/** dS, dqkv and the bias table's gradient in float64, straight from the IR contract. */
function attentionGrad64(p: AttentionProblem, qkv: Float32Array, table: Float32Array, dout: (w: number, i: number, ch: number) => number) {
  const { op, windows: W, tokens: N, channels: C } = p;
  const H = op.heads;
  const hd = C / H;
  const ds = new Float64Array(W * H * N * N);
  const dqkv = new Float64Array(W * N * 3 * C);
  const dtable = new Float64Array(p.rows * H);
  const q = (w: number, i: number, ch: number) => qkv[(w * N + i) * 3 * C + ch]!;
  for (let w = 0; w < W; w++) {
    const g = Math.floor(w / op.windowsPerGroup) % op.biasGroups;
    for (let h = 0; h < H; h++) {
      const P = new Float64Array(N * N);
      for (let i = 0; i < N; i++) {
        const s = new Float64Array(N);
        for (let j = 0; j < N; j++) {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q(w, i, h * hd + d) * q(w, j, C + h * hd + d);
          s[j] = dot * op.scale + table[op.biasIndex[(g * N + i) * N + j]! * H + h]!;
          if (op.mask) s[j] += op.mask[((w % op.maskWindows) * N + i) * N + j]!;
        }
        const max = Math.max(...s);
        let total = 0;
        for (let j = 0; j < N; j++) total += Math.exp(s[j]! - max);
        for (let j = 0; j < N; j++) P[i * N + j] = Math.exp(s[j]! - max) / total;
        const dP = new Float64Array(N);
        let rowDot = 0;
        for (let j = 0; j < N; j++) {
          for (let d = 0; d < hd; d++) dP[j] += dout(w, i, h * hd + d) * q(w, j, 2 * C + h * hd + d);
          rowDot += P[i * N + j]! * dP[j]!;
        }
        for (let j = 0; j < N; j++) {
          const v = P[i * N + j]! * (dP[j]! - rowDot);
          ds[((w * H + h) * N + i) * N + j] = v;
          dtable[op.biasIndex[(g * N + i) * N + j]! * H + h] += v;
        }
      }
      for (let i = 0; i < N; i++) {
        for (let j = 0; j < N; j++) {
          const v = ds[((w * H + h) * N + i) * N + j]!;
          for (let d = 0; d < hd; d++) {
            dqkv[(w * N + i) * 3 * C + h * hd + d] += op.scale * v * q(w, j, C + h * hd + d);
            dqkv[(w * N + j) * 3 * C + C + h * hd + d] += op.scale * v * q(w, i, h * hd + d);
            dqkv[(w * N + j) * 3 * C + 2 * C + h * hd + d] += P[i * N + j]! * dout(w, i, h * hd + d);
          }
        }
      }
    }
  }
  return { ds, dqkv, dtable };
}

async function attentionCase(p: AttentionProblem, seed: number, name: string, limits?: KernelLimits) {
  const b = builder(seed);
  const { windows: W, tokens: N, channels: C } = p;
  const [qkv, qv] = b.input('qkv', [W, N, 3 * C], -2, 2);
  const [table, tv] = b.param('table', [p.rows, p.op.heads]);
  // dout is read through a roll over windows (a view folded into the kernels' loads).
  const [doutIn, dv] = b.input('dout', [W, N, C]);
  const roll = maps.roll([W, N, C], [1, 0, 0]);
  const dout = b.g.view(doutIn, roll, 'roll', 'dout');
  const ds = b.g.op({ kind: 'attention_grad_scores', attention: p.op }, [qkv, table, dout], 'scores');
  const dqkv = b.g.op({ kind: 'attention_grad_qkv', attention: p.op }, [qkv, table, dout, ds], 'qkv');
  const dtable = b.g.op({ kind: 'bias_table_grad', attention: p.op, rows: p.rows }, [ds], 'table');
  const c = b.build({ ds, dqkv, dtable });
  const { values } = await run(c, limits);
  const want = attentionGrad64(p, qv, tv, (w, i, ch) => dv[flatIn(roll, (w * N + i) * C + ch)]!);
  check(`${name} attention_grad_scores`, seed, values.ds!, want.ds);
  check(`${name} attention_grad_qkv`, seed, values.dqkv!, want.dqkv);
  check(`${name} bias_table_grad`, seed, values.dtable!, want.dtable);
  return c;
}

describe('window attention backward', () => {
  // Both styles, forced: 'tiled' stages k, v / q, k in workgroup memory, 'direct' reads them
  // through load_qkv with constant head loops; both pack several 9-token (window, head) pairs per
  // workgroup, the last workgroup partly empty.
  for (const style of KERNEL_STYLES) it(`pst-tiny TPS block: frame-dependent bias index and shifted-window mask (${style})`, async () => {
    const op = tinyTpsAttention();
    expect(op.mask).not.toBeNull();
    expect(op.biasGroups).toBeGreaterThan(1);
    const N = Math.round(Math.sqrt(op.biasIndex.length / op.biasGroups));
    const windows = op.biasGroups * op.windowsPerGroup;
    const rows = Math.max(...op.biasIndex) + 1;
    const limits = { ...device.kernelLimits(), style };
    // 9 tokens: 7 pairs per workgroup of 64 threads, and the pairs do not fill the last one.
    expect(N).toBe(9);
    expect((windows * op.heads) % 7).not.toBe(0);
    const c = await attentionCase({ op, windows, tokens: N, channels: 16, rows }, freshSeed(), `tps ${style}`, limits);
    const wgsl = planGraph(c.graph, { limits }).steps.find((s) => s.fused.kind === 'attention_grad_qkv')!.kernel.wgsl;
    expect(wgsl).toContain('7 (window, head) pairs per workgroup of 64 threads, 9 threads each');
    expect(wgsl.includes('k_at_tile')).toBe(style === 'tiled');
    // The probabilities of 7 windows (2268 bytes) fit: the column pass reads them, not a recomputed softmax.
    expect(wgsl).toContain('; P in workgroup memory');
    expect(wgsl).not.toContain('row_inv');
  });

  for (const style of KERNEL_STYLES) it(`a 49-token window with more rows than threads and nothing staged in workgroup memory (${style})`, async () => {
    const seed = freshSeed();
    const random = rng(seed ^ 0x5a5a);
    const N = 49;
    const rows = 30;
    const groups = 2;
    const masks = 3;
    const op: WindowAttentionOp = {
      kind: 'window_attention',
      heads: 2,
      scale: 0.35,
      biasIndex: Int32Array.from({ length: groups * N * N }, () => Math.floor(random() * rows)),
      biasGroups: groups,
      windowsPerGroup: 2,
      mask: Float32Array.from({ length: masks * N * N }, () => (random() < 0.2 ? -100 : 0)),
      maskWindows: masks,
    };
    const limits: KernelLimits = { ...MIN_LIMITS, maxComputeInvocationsPerWorkgroup: 32, maxComputeWorkgroupSizeX: 32, maxComputeWorkgroupStorageSize: 1024, style };
    const c = await attentionCase({ op, windows: 6, tokens: N, channels: 12, rows }, seed, `N=49 unstaged ${style}`, limits);
    const program = planGraph(c.graph, { limits });
    const wgsl = program.steps.find((s) => s.fused.kind === 'attention_grad_qkv')!.kernel.wgsl;
    expect(wgsl).toContain('read through load_qkv');
    // 49×49 probabilities do not fit 1 KiB: the row statistics do, and the column pass recomputes each score.
    expect(wgsl).toContain('; softmax row max and 1/Σ in workgroup memory');
    expect(wgsl).not.toContain('p_tile');
  });

  it('gives the same bits on every run', async () => {
    const op = tinyTpsAttention();
    const N = Math.round(Math.sqrt(op.biasIndex.length / op.biasGroups));
    const seed = freshSeed();
    const b = builder(seed);
    const windows = op.biasGroups * op.windowsPerGroup;
    const [qkv] = b.input('qkv', [windows, N, 48]);
    const [table] = b.param('table', [Math.max(...op.biasIndex) + 1, op.heads]);
    const [dout] = b.input('dout', [windows, N, 16]);
    const ds = b.g.op({ kind: 'attention_grad_scores', attention: op }, [qkv, table, dout], 'scores');
    const dqkv = b.g.op({ kind: 'attention_grad_qkv', attention: op }, [qkv, table, dout, ds], 'qkv');
    const c = b.build({ dqkv, dtable: b.g.op({ kind: 'bias_table_grad', attention: op, rows: Math.max(...op.biasIndex) + 1 }, [ds], 't') });
    const first = await run(c);
    const second = await run(c);
    for (const name of ['dqkv', 'dtable']) expect(Buffer.from(second.values[name]!.buffer).equals(Buffer.from(first.values[name]!.buffer))).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// view_grad: the exact transpose of non-bijective maps

/** out[j] = Σ_{i: map(i) = j} dy[i], in float64 from `evaluate`. */
function transpose64(map: IndexMap, dy: (i: number) => number): F64 {
  const out = new Float64Array(size(map.inShape));
  for (let i = 0; i < size(map.outShape); i++) {
    const j = flatIn(map, i);
    if (j >= 0) out[j] += dy(i);
  }
  return out;
}

describe('view_grad (exact transpose through an inverse-gather table)', () => {
  const frames = { frames: 4, windowsPerFrame: 2 };
  const cases: [string, () => IndexMap][] = [
    ['TCS keep', () => maps.channelShift([8, 9, 16], { heads: 2, foldChannels: 1, ...frames, boundary: 'keep' } as never)],
    ['pad', () => maps.pad([2, 3, 5, 5, 4], [0, 0, 1, 1, 0])],
    ['patch merge (odd H, W)', () => maps.patchMergeGather([2, 2, 5, 3, 4])],
    ['patch embed (padded T, H)', () => maps.patchEmbedGather([1, 3, 5, 9, 8], [2, 4, 4])],
  ];
  for (const [name, make] of cases) {
    it(name, async () => {
      const seed = freshSeed();
      const map = make();
      const b = builder(seed);
      const [dy, dyv] = b.input('dy', map.outShape);
      const dx = b.g.op({ kind: 'view_grad', map, what: name }, [dy], 'dx');
      const { values, program } = await run(b.build({ dx }));
      expect(program.steps[0]!.kernel.wgsl).toContain('inverse gather');
      check(`view_grad ${name}`, seed, values.dx!, transpose64(map, (i) => dyv[i]!));
    });
  }

  it('TPS zeros with dy read through a transposing view', async () => {
    const seed = freshSeed();
    const map = maps.patchShift([8, 9, 16], {
      heads: 2,
      shiftedHeads: 1,
      grid: [
        [-1, 0, 1],
        [1, 0, -1],
        [0, 1, 0],
      ],
      windowH: 3,
      windowW: 3,
      ...frames,
      boundary: 'zeros',
    } as never);
    const b = builder(seed);
    const [dyIn, dyv] = b.input('dy', [8, 16, 9]);
    const view = maps.permute([8, 16, 9], [0, 2, 1]);
    const dx = b.g.op({ kind: 'view_grad', map, what: 'tps zeros' }, [b.g.view(dyIn, view, 'permute', 'dy')], 'dx');
    const { values } = await run(b.build({ dx }));
    check('view_grad TPS zeros through a view', seed, values.dx!, transpose64(map, (i) => dyv[flatIn(view, i)]!));
  });
});

// ---------------------------------------------------------------------------------------------
// Dropout and its RNG; cross-entropy

describe('dropout', () => {
  it('WGSL hash_u32 equals src/ir/rng.ts hashU32 on many inputs', async () => {
    const count = 4096;
    const seed = freshSeed();
    const random = rng(seed);
    const words = Uint32Array.from({ length: 4 * count }, () => Math.floor(random() * 2 ** 32));
    for (let i = 0; i < 16; i++) words[4 * i + 3] = i; // small counters and edge words too
    words.set([0, 0, 0, 0, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], 64);
    const kernel: Kernel = {
      label: 'rng_check',
      wgsl: `@group(0) @binding(0) var<storage, read> words: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
${RNG_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i < ${count}u) {
    out[i] = hash_u32(words[4u * i], words[4u * i + 1u], words[4u * i + 2u], words[4u * i + 3u]);
  }
}`,
      entryPoint: 'main',
      workgroupSize: [64, 1, 1],
      dispatch: [count / 64, 1, 1],
      bindings: [
        { binding: 0, name: 'words', kind: 'read-only-storage', type: 'u32', elements: 4 * count, description: 'inputs' },
        { binding: 1, name: 'out', kind: 'storage', type: 'u32', elements: count, description: 'hashes' },
      ],
    };
    const got = new Uint32Array((await runKernel(device, kernel, { words: new Int32Array(words.buffer) }, 'out')).buffer);
    const want = Uint32Array.from({ length: count }, (_, i) => hashU32([words[4 * i]!, words[4 * i + 1]!], words[4 * i + 2]!, words[4 * i + 3]!));
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  for (const perSample of [false, true]) {
    it(`keeps exactly the reference's elements${perSample ? ' (per sample: drop_path)' : ''}`, async () => {
      const seed = freshSeed();
      const key = stepKey(seed, 7);
      const rate = perSample ? 0.5 : 0.3;
      const stream = 11;
      const b = builder(seed);
      const shape = perSample ? [64, 3, 5] : [40, 50];
      const [x, xv] = b.input('x', shape, 0.5, 1.5);
      const y = b.g.op({ kind: 'dropout', rate, stream, perSample }, [x], 'dropout');
      const { values } = await run(b.build({ y }), device.kernelLimits(), key);
      const per = perSample ? size(shape) / shape[0]! : 1;
      const want = Float64Array.from(xv, (v, e) => (keeps(rate, key, stream, Math.floor(e / per)) ? v / (1 - rate) : 0));
      const mask = (a: ArrayLike<number>) => Array.from(a, (v) => v !== 0);
      expect(mask(values.y!)).toEqual(mask(want));
      const kept = mask(want).filter(Boolean).length / want.length;
      console.log(`dropout rate ${rate}${perSample ? ' per sample' : ''}: kept ${kept.toFixed(3)} (seed ${seed})`);
      check('dropout values', seed, values.y!, want);
    });
  }
});

describe('cross-entropy', () => {
  it('loss and its gradient, with label smoothing', async () => {
    const seed = freshSeed();
    const b = builder(seed);
    const [B, K, eps] = [5, 7, 0.1];
    const [logits, lv] = b.input('logits', [B, K], -3, 3);
    const labelsData = Float32Array.from({ length: B }, () => Math.floor(b.random() * K));
    const [labels] = b.input('labels', [B], 0, 0, labelsData);
    const [dloss] = b.input('dloss', [1], 0, 0, Float32Array.of(0.7));
    const loss = b.g.op({ kind: 'cross_entropy', smoothing: eps }, [logits, labels], 'loss');
    const dlogits = b.g.op({ kind: 'cross_entropy_grad', smoothing: eps }, [logits, labels, dloss], 'dlogits');
    const { values } = await run(b.build({ loss, dlogits }));
    let total = 0;
    const grad = new Float64Array(B * K);
    for (let s = 0; s < B; s++) {
      const row = Array.from(lv.subarray(s * K, (s + 1) * K));
      const m = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
      for (let k = 0; k < K; k++) {
        const target = (k === labelsData[s] ? 1 - eps : 0) + eps / K;
        total += -target * (row[k]! - m - Math.log(z));
        grad[s * K + k] = (0.7 * (Math.exp(row[k]! - m) / z - target)) / B;
      }
    }
    check('cross_entropy', seed, values.loss!, Float64Array.of(total / B));
    check('cross_entropy_grad', seed, values.dlogits!, grad);
  });
});
