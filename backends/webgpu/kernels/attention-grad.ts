// The backward of window attention, in two kernels (autodiff's attention_grad_scores and
// attention_grad_qkv), each one workgroup per (window, head) like the forward kernel, and each
// recomputing the probabilities P = softmax(q·kᵀ·scale + bias + mask) from qkv, the bias table and
// the mask instead of storing them (training memory stays that of the activations):
//   scores: dS[w, h, i, j] = P_ij·(dP_ij − Σ_j' P_ij'·dP_ij'), dP_ij = dout_i·v_j;
//   qkv:    dq_i = scale·Σ_j dS_ij·k_j,  dk_j = scale·Σ_i dS_ij·q_i,  dv_j = Σ_i P_ij·dout_i,
//           written in qkv's channel layout [windows, N, 3C] (each element by exactly one thread).
// Windows of any size: threads loop over rows (and columns) in strides of the pair's threads, and
// the head's staged operands live in workgroup memory only when they fit (else they are read
// through the load function). Small windows pack several (window, head) pairs into a workgroup, N
// threads each (a pair per workgroup left 23 of 32 threads idle for pst-tiny's 9-token windows; on
// llvmpipe this measured no faster, idle lanes cost little there, but a GPU runs them all). The
// direct style (CPU adapters) stages nothing and takes the constant HEAD_DIM for the head loops, as
// the forward kernel does (measured on llvmpipe, pst-tiny batch 16: scores 14 → 8 ms, qkv 31 → 23
// ms per kernel). Every sum runs in a fixed order, so results are the same bits every run.
// attention_grad_qkv forms each row's softmax once: a row pass (thread per query row) computes
// the scores, the row's P and dq, and leaves P in workgroup memory for the column pass (thread per
// key: dk, dv) when the pair's N×N floats fit (a 7×7 window: 9.6 KB); before, it formed the
// scores twice (row statistics, then again per column) and re-read q, k and dS inside the head
// loops. The FLOPs are now the 4·N²·c that kernel-cost counts, not 5·N²·c. Measured on llvmpipe
// (CPU time per dispatch, medians, alternating with the old kernel, same output bits): pst-tiny
// stage 2 (256 windows × 4 heads, N = 9) 21 → 12 ms, 128 windows × 3 heads of 32 with N = 49
// 1200 → 625 ms. What remains there: one workgroup barrier between the passes (removing it, which
// is wrong, saved 28 % at N = 49: llvmpipe runs a barrier by switching coroutines).
// Loops read their trip counts from a uniform, as in the forward kernel (llvmpipe unrolls
// constant loops and compiles for tens of seconds).
import { F32_BYTES } from '../../../src/ir/graph.js';
import {
  entryPrologue,
  MIN_LIMITS,
  checkFits,
  headerComment,
  nextPowerOfTwo,
  requireFunction,
  storageDecl,
  wgslFloat,
  wgslInt,
  workgroupGrid,
  type Kernel,
  type KernelBinding,
  type KernelLimits,
  type KernelStyle,
  type WgslFunction,
} from './common.js';

export interface AttentionGradOptions {
  windows: number;
  tokens: number;
  channels: number;
  heads: number;
  scale: number;
  bias: { tableRows: number; groups: number; windowsPerGroup: number };
  mask?: { masks: number };
  label?: string;
  limits?: KernelLimits;
  /** `fn load_qkv(w: i32, i: i32, ch: i32) -> f32` (binding `qkv`, ch < 3C). Default row-major. */
  loadQkv?: WgslFunction;
  qkvElements?: number;
  /** `fn load_dout(w: i32, i: i32, ch: i32) -> f32` (binding `dout`, ch < C). Default row-major. */
  loadDout?: WgslFunction;
  doutElements?: number;
  fuses?: readonly string[];
  /**
   * Force the style (tests); default the one the limits name for the adapter. 'direct' (CPU
   * adapters): nothing staged in workgroup memory, and the head-channel loops take the constant
   * HEAD_DIM so that the shader compiler keeps q, dk, dv in registers, as the forward kernel does.
   */
  style?: KernelStyle;
}

interface Setup {
  label: string;
  N: number;
  C: number;
  headDim: number;
  direct: boolean;
  threads: number;
  /** (window, head) pairs per workgroup, THREADS_PER_PAIR threads each. */
  pairsPerGroup: number;
  bindings: KernelBinding[];
  bind: (name: string, kind: KernelBinding['kind'], type: 'f32' | 'i32', elements: number | undefined, description: string) => void;
  /** Constants, loads and the score terms, shared by both kernels. */
  common: string;
  headerLines: string[];
}

function setup(o: AttentionGradOptions, what: string): Setup {
  const { windows, tokens: N, channels: C, heads } = o;
  const limits = o.limits ?? MIN_LIMITS;
  const label = o.label ?? `${what}_${windows}x${N}x${C}h${heads}`;
  for (const [name, v] of Object.entries({ windows, tokens: N, channels: C, heads })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`internal error: ${label}: ${name} = ${v}`);
  }
  if (C % heads) throw new Error(`internal error: ${label}: ${C} channels do not split into ${heads} heads`);
  const headDim = C / heads;
  const cap = Math.min(256, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  let threads = Math.min(cap, Math.max(64, nextPowerOfTwo(N)));
  while (threads & (threads - 1)) threads &= threads - 1;
  const pairsPerGroup = 2 * N <= threads ? Math.floor(threads / N) : 1;
  const threadsPerPair = pairsPerGroup > 1 ? N : threads;
  const bindings: KernelBinding[] = [];
  const bind: Setup['bind'] = (name, kind, type, elements, description) =>
    bindings.push({ binding: bindings.length, name, kind, type, elements, description });
  bind('qkv', 'read-only-storage', 'f32', o.loadQkv ? o.qkvElements : windows * N * 3 * C, o.loadQkv ? `qkv via ${o.loadQkv.describes}` : `qkv [${windows}, ${N}, ${3 * C}]`);
  bind('dout', 'read-only-storage', 'f32', o.loadDout ? o.doutElements : windows * N * C, o.loadDout ? `dout via ${o.loadDout.describes}` : `dout [${windows}, ${N}, ${C}]`);
  bind('bias_table', 'read-only-storage', 'f32', o.bias.tableRows * heads, `bias table [${o.bias.tableRows}, ${heads}]`);
  bind('bias_index', 'read-only-storage', 'i32', o.bias.groups * N * N, `bias index [${o.bias.groups}, ${N}, ${N}]`);
  if (o.mask) bind('mask', 'read-only-storage', 'f32', o.mask.masks * N * N, `mask [${o.mask.masks}, ${N}, ${N}]`);
  const loadQkv = o.loadQkv
    ? requireFunction(o.loadQkv, 'load_qkv', label)
    : `fn load_qkv(w: i32, i: i32, ch: i32) -> f32 {\n  return qkv[(w * N + i) * (3 * C) + ch];\n}`;
  const loadDout = o.loadDout
    ? requireFunction(o.loadDout, 'load_dout', label)
    : `fn load_dout(w: i32, i: i32, ch: i32) -> f32 {\n  return dout[(w * N + i) * C + ch];\n}`;
  const common = `const WINDOWS: i32 = ${wgslInt(windows)};
const N: i32 = ${wgslInt(N)};
const C: i32 = ${wgslInt(C)};
const HEADS: i32 = ${wgslInt(heads)};
const HEAD_DIM: i32 = ${wgslInt(headDim)};
const SCALE: f32 = ${wgslFloat(o.scale)};
const GROUPS: i32 = ${wgslInt(o.bias.groups)};
const WINDOWS_PER_GROUP: i32 = ${wgslInt(o.bias.windowsPerGroup)};
${o.mask ? `const MASKS: i32 = ${wgslInt(o.mask.masks)};\n` : ''}const THREADS: i32 = ${threads};
const THREADS_PER_PAIR: i32 = ${threadsPerPair};
const PAIRS_PER_GROUP: i32 = ${pairsPerGroup};
const GROUP_COUNT: i32 = ${wgslInt(Math.ceil((windows * heads) / pairsPerGroup))};
// This thread's pair within the workgroup (indexes the workgroup arrays).
var<private> slot: i32;

${loadQkv}

${loadDout}

fn score_terms(w: i32, h: i32, i: i32, j: i32) -> f32 {
  let g = (w / WINDOWS_PER_GROUP) % GROUPS;
  let row = bias_index[(g * N + i) * N + j];
  return bias_table[row * HEADS + h]${o.mask ? ' + mask[((w % MASKS) * N + i) * N + j]' : ''};
}`;
  const headerLines = [
    `S = (q·scale)·kᵀ + relative position bias (index per group of ${o.bias.windowsPerGroup} windows, ${o.bias.groups} groups)${o.mask ? ` + mask[w mod ${o.mask.masks}]` : ''}; P = softmax(S) recomputed here`,
    `fuses: ${o.fuses?.length ? o.fuses.join(', ') : `(a single ${what})`}`,
    `qkv read through: ${o.loadQkv ? o.loadQkv.describes : 'row-major [windows, N, 3C]'}`,
    `dout read through: ${o.loadDout ? o.loadDout.describes : 'row-major [windows, N, C]'}`,
  ];
  return { label, N, C, headDim, direct: (o.style ?? limits.style) === 'direct', threads, pairsPerGroup, bindings, bind, common, headerLines };
}

function tripUniform(s: Setup): string {
  s.bindings.push({
    binding: s.bindings.length,
    name: 'trip',
    kind: 'uniform',
    type: 'i32',
    elements: 4,
    description: `loop trip counts (tokens = ${s.N}, head dim = ${s.headDim})`,
    constant: Int32Array.of(s.N, s.headDim, 0, 0),
  });
  return `struct TripCounts {
  // = N and HEAD_DIM, but opaque to the shader compiler, so that it does not unroll
  tokens: i32,
  head_dim: i32,
}
@group(0) @binding(${s.bindings.length - 1}) var<uniform> trip: TripCounts;`;
}

/**
 * Two staged [N][HEAD_DIM] operands of the head (channel offsets `offA`, `offB` in qkv) when they
 * fit in workgroup memory, as `fn <a>(j, d)` / `fn <b>(j, d)` readers; else the readers load.
 */
function staged(s: Setup, limits: KernelLimits, reserved: number, names: [string, string], offsets: [string, string]) {
  const bytes = 2 * s.pairsPerGroup * s.N * s.headDim * F32_BYTES;
  const fits = !s.direct && bytes + reserved <= limits.maxComputeWorkgroupStorageSize;
  const reader = (name: string, off: string) =>
    fits
      ? `fn ${name}(w: i32, h: i32, j: i32, d: i32) -> f32 {\n  return ${name}_tile[(slot * N + j) * HEAD_DIM + d];\n}`
      : `fn ${name}(w: i32, h: i32, j: i32, d: i32) -> f32 {\n  return load_qkv(w, j, ${off} + h * HEAD_DIM + d);\n}`;
  const decls = fits ? names.map((n) => `var<workgroup> ${n}_tile: array<f32, ${s.pairsPerGroup * s.N * s.headDim}>;`).join('\n') : '';
  const fill = fits
    ? `  for (var e = t; e < tokens * HEAD_DIM; e += THREADS_PER_PAIR) {
    let j = e / HEAD_DIM;
    let d = e % HEAD_DIM;
    ${names[0]}_tile[slot * N * HEAD_DIM + e] = load_qkv(w, j, ${offsets[0]} + h * HEAD_DIM + d);
    ${names[1]}_tile[slot * N * HEAD_DIM + e] = load_qkv(w, j, ${offsets[1]} + h * HEAD_DIM + d);
  }
  workgroupBarrier();`
    : '';
  return {
    fits,
    source: [decls, reader(names[0], offsets[0]), reader(names[1], offsets[1])].filter(Boolean).join('\n\n'),
    fill,
    note: fits
      ? `${names.join(', ')} of the head staged in workgroup memory`
      : `${names.join(', ')} read through load_qkv (${s.direct ? 'direct style: nothing staged, head loops constant' : 'the window is too large to stage'})`,
  };
}

/**
 * The entry point: PAIRS_PER_GROUP (window, head) pairs per workgroup, THREADS_PER_PAIR threads
 * each. A thread without a pair (past the last pair, or left over) runs every loop zero times
 * (tokens = 0) and still reaches every barrier.
 */
function mainHead(s: Setup): string {
  return `${entryPrologue({ threads: s.threads, index: 'group', count: 'GROUP_COUNT', per: 'workgroup' })}
  slot = i32(lid) / THREADS_PER_PAIR;
  let t = i32(lid) % THREADS_PER_PAIR;
  let unclamped = group * PAIRS_PER_GROUP + slot;
  let has_pair = slot < PAIRS_PER_GROUP && unclamped < WINDOWS * HEADS;
  slot = min(slot, PAIRS_PER_GROUP - 1);
  let pair = min(unclamped, WINDOWS * HEADS - 1);
  let w = pair / HEADS;
  let h = pair % HEADS;
  let tokens = select(0, trip.tokens, has_pair);
  let head_dim = ${s.direct ? 'HEAD_DIM' : 'trip.head_dim'};`;
}

/** The header line for the thread layout. */
function layoutNote(s: Setup): string {
  return s.pairsPerGroup > 1
    ? `${s.pairsPerGroup} (window, head) pairs per workgroup of ${s.threads} threads, ${s.N} threads each`
    : `one workgroup of ${s.threads} threads per (window, head)`;
}

/**
 * `dot` = Σ_d q_d·k_jd in the forward kernel's order (one fma per channel, the query scaled
 * first), with `q` the WGSL for the scaled query's channel d: the one text every recomputed score
 * of the backward is formed by (softmaxRow, and the qkv kernel's per-element `score`).
 */
function scoreDot(q: string, indent: string): string {
  return [`var dot = 0.0;`, `for (var d = 0; d < head_dim; d++) {`, `  dot = fma(${q}, k_at(w, h, j, d), dot);`, `}`].map((l) => indent + l).join('\n');
}

/**
 * The softmax of query row i, recomputed as the forward kernel forms it (q[d] holds the query
 * already scaled, k_at reads the key): leaves exp(S_ij − m) in `<scores>[j]` for j < tokens, the
 * row max in `m` and 1/Σ_j in `inv_total`. Both backward kernels recompute P with this one text
 * (the scores kernel normalises it in place, the qkv kernel stores it or its statistics), so the
 * two agree bit for bit on every P they use.
 */
function softmaxRow(N: number, scores: string): string {
  return `    var ${scores}: array<f32, ${N}>;
    var m = -3.0e38;
    for (var j = 0; j < tokens; j++) {
${scoreDot('q[d]', '      ')}
      ${scores}[j] = dot + score_terms(w, h, i, j);
      m = max(m, ${scores}[j]);
    }
    var total = 0.0;
    for (var j = 0; j < tokens; j++) {
      ${scores}[j] = exp(${scores}[j] - m);
      total += ${scores}[j];
    }
    let inv_total = 1.0 / total;`;
}

/** dS [windows, heads, N, N] from qkv, the bias table (+ mask) and dout. */
export function emitAttentionGradScores(o: AttentionGradOptions): Kernel {
  const limits = o.limits ?? MIN_LIMITS;
  const s = setup(o, 'attention_grad_scores');
  const { N, headDim, threads } = s;
  s.bind('ds', 'storage', 'f32', o.windows * o.heads * N * N, `dS [${o.windows}, ${o.heads}, ${N}, ${N}]`);
  const uniform = tripUniform(s);
  const kv = staged(s, limits, 0, ['k_at', 'v_at'], ['C', '2 * C']);
  const header = headerComment([
    `${s.label}: window attention backward to the scores, ${o.windows} windows × ${o.heads} heads, N=${N}, C=${o.channels} (head dim ${headDim}), scale ${o.scale}`,
    'dS_ij = P_ij·(dP_ij − Σ_j P_ij·dP_ij), dP_ij = dout_i·v_j',
    ...s.headerLines,
    `${layoutNote(s)}, query rows strided over a pair's threads; ${kv.note}`,
  ]);
  const wgsl = `${header}

${s.common}

${s.bindings.filter((b) => b.kind !== 'uniform').map(storageDecl).join('\n')}
${uniform}

${kv.source}

${mainHead(s)}
${kv.fill}
  for (var i = t; i < tokens; i += THREADS_PER_PAIR) {
    var q: array<f32, ${headDim}>;
    var g: array<f32, ${headDim}>;
    for (var d = 0; d < head_dim; d++) {
      q[d] = load_qkv(w, i, h * HEAD_DIM + d) * SCALE;
      g[d] = load_dout(w, i, h * HEAD_DIM + d);
    }
${softmaxRow(N, 'p')}
    var dp: array<f32, ${N}>;
    var row_dot = 0.0;
    for (var j = 0; j < tokens; j++) {
      p[j] *= inv_total;
      var dot = 0.0;
      for (var d = 0; d < head_dim; d++) {
        dot = fma(g[d], v_at(w, h, j, d), dot);
      }
      dp[j] = dot;
      row_dot = fma(p[j], dot, row_dot);
    }
    let base = ((w * HEADS + h) * N + i) * N;
    for (var j = 0; j < tokens; j++) {
      ds[base + j] = p[j] * (dp[j] - row_dot);
    }
  }
}
`;
  return { label: s.label, wgsl, entryPoint: 'main', workgroupSize: [threads, 1, 1], dispatch: workgroupGrid(Math.ceil((o.windows * o.heads) / s.pairsPerGroup), limits), bindings: s.bindings };
}

/** dqkv [windows, N, 3C] from qkv, the bias table (+ mask), dout and dS. */
export function emitAttentionGradQkv(o: AttentionGradOptions & { loadDs?: WgslFunction; dsElements?: number }): Kernel {
  const limits = o.limits ?? MIN_LIMITS;
  const s = setup(o, 'attention_grad_qkv');
  const { N, C, headDim, threads } = s;
  s.bind('ds', 'read-only-storage', 'f32', o.loadDs ? o.dsElements : o.windows * o.heads * N * N, o.loadDs ? `dS via ${o.loadDs.describes}` : `dS [${o.windows}, ${o.heads}, ${N}, ${N}]`);
  s.bind('dqkv', 'storage', 'f32', o.windows * N * 3 * C, `dqkv [${o.windows}, ${N}, ${3 * C}]`);
  const uniform = tripUniform(s);
  // The probabilities P of the pair's window, kept in workgroup memory between the row pass (which
  // forms them) and the column pass (dv = Pᵀ·dout), when they fit; else only the softmax row
  // statistics are kept and the column pass recomputes each score.
  const probabilityBytes = s.pairsPerGroup * N * N * F32_BYTES;
  const keepP = probabilityBytes <= limits.maxComputeWorkgroupStorageSize;
  const reserved = keepP ? probabilityBytes : 2 * s.pairsPerGroup * N * F32_BYTES;
  checkFits(s.label, 'bytes of workgroup memory (row statistics)', reserved, limits.maxComputeWorkgroupStorageSize);
  const qk = staged(s, limits, reserved, ['q_at', 'k_at'], ['0', 'C']);
  const loadDs = o.loadDs
    ? requireFunction(o.loadDs, 'load_ds', s.label)
    : `fn load_ds(w: i32, h: i32, i: i32, j: i32) -> f32 {\n  return ds[((w * HEADS + h) * N + i) * N + j];\n}`;
  const header = headerComment([
    `${s.label}: window attention backward to qkv, ${o.windows} windows × ${o.heads} heads, N=${N}, C=${C} (head dim ${headDim}), scale ${o.scale}`,
    'dq_i = scale·Σ_j dS_ij·k_j (thread per row), dk_j = scale·Σ_i dS_ij·q_i and dv_j = Σ_i P_ij·dout_i (thread per column)',
    ...s.headerLines,
    `dS read through: ${o.loadDs ? o.loadDs.describes : 'row-major [windows, heads, N, N]'}`,
    `${layoutNote(s)}; ${keepP ? 'P' : 'softmax row max and 1/Σ'} in workgroup memory; ${qk.note}`,
  ]);
  const wgsl = `${header}

${s.common}

${s.bindings.filter((b) => b.kind !== 'uniform').map(storageDecl).join('\n')}
${uniform}

${qk.source}

${loadDs}

${
    keepP
      ? `var<workgroup> p_tile: array<f32, ${s.pairsPerGroup * N * N}>;`
      : `var<workgroup> row_max: array<f32, ${s.pairsPerGroup * N}>;
var<workgroup> row_inv: array<f32, ${s.pairsPerGroup * N}>;

// S_ij as the forward kernel forms it: the query scaled first.
fn score(w: i32, h: i32, i: i32, j: i32, head_dim: i32) -> f32 {
${scoreDot('q_at(w, h, i, d) * SCALE', '  ')}
  return dot + score_terms(w, h, i, j);
}`
  }

${mainHead(s)}
${qk.fill}
  // Rows: the softmax of each row (scores formed as the forward kernel forms them: the query
  // scaled first), then dq. The row's query and its dq live in registers, read and written once.
  for (var i = t; i < tokens; i += THREADS_PER_PAIR) {
    var q: array<f32, ${headDim}>;
    var dq: array<f32, ${headDim}>;
    for (var d = 0; d < head_dim; d++) {
      q[d] = q_at(w, h, i, d) * SCALE;
      dq[d] = 0.0;
    }
${softmaxRow(N, 's')}
${
    keepP
      ? `    for (var j = 0; j < tokens; j++) {
      p_tile[(slot * N + i) * N + j] = s[j] * inv_total;
    }`
      : `    row_max[slot * N + i] = m;
    row_inv[slot * N + i] = inv_total;`
  }
    for (var j = 0; j < tokens; j++) {
      let g = load_ds(w, h, i, j);
      for (var d = 0; d < head_dim; d++) {
        dq[d] = fma(g, k_at(w, h, j, d), dq[d]);
      }
    }
    let base = (w * N + i) * (3 * C) + h * HEAD_DIM;
    for (var d = 0; d < head_dim; d++) {
      dqkv[base + d] = dq[d] * SCALE;
    }
  }
  workgroupBarrier();
  // dk, dv: one thread per key column.
  for (var j = t; j < tokens; j += THREADS_PER_PAIR) {
    // Zeroed explicitly: a declaration inside a loop is not re-zeroed by every compiler.
    var dk: array<f32, ${headDim}>;
    var dv: array<f32, ${headDim}>;
    for (var d = 0; d < head_dim; d++) {
      dk[d] = 0.0;
      dv[d] = 0.0;
    }
    for (var i = 0; i < tokens; i++) {
      let p = ${keepP ? 'p_tile[(slot * N + i) * N + j]' : 'exp(score(w, h, i, j, head_dim) - row_max[slot * N + i]) * row_inv[slot * N + i]'};
      let g = load_ds(w, h, i, j);
      for (var d = 0; d < head_dim; d++) {
        dk[d] = fma(g, q_at(w, h, i, d), dk[d]);
        dv[d] = fma(p, load_dout(w, i, h * HEAD_DIM + d), dv[d]);
      }
    }
    let base = (w * N + j) * (3 * C) + h * HEAD_DIM;
    for (var d = 0; d < head_dim; d++) {
      dqkv[base + C + d] = dk[d] * SCALE;
      dqkv[base + 2 * C + d] = dv[d];
    }
  }
}
`;
  return { label: s.label, wgsl, entryPoint: 'main', workgroupSize: [threads, 1, 1], dispatch: workgroupGrid(Math.ceil((o.windows * o.heads) / s.pairsPerGroup), limits), bindings: s.bindings };
}
