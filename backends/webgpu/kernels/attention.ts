// Window attention, one workgroup per (window, head): with Q, K, V the head's slices of the qkv
// buffer [windows, N, 3C] (q at channels h·c…, k at C + h·c…, v at 2C + h·c…),
//   S = (Q·scale)·Kᵀ + biasTable[biasIndex[g][i][j]·heads + h] + mask[w mod M][i][j]
//   O = softmax_rows(S)·V        written to [windows, N, C] at channels h·c… (or through store_o)
// where g = (w / windowsPerGroup) mod G picks the bias index of the window's group (its frame,
// for PST's frame-dependent index). K and V of the head sit in workgroup memory (2·N·c floats);
// each of the first N threads owns one query row, keeps its N scores in registers and does a
// max-subtracted softmax. N is small (49 for 7×7 windows), so one row per thread is enough.
// The loops over tokens and head channels take their trip counts from a uniform, not the
// constants N and HEAD_DIM: with constants,
// llvmpipe (Mesa's CPU driver) unrolls them fully and takes 15–35 s to compile one pipeline
// instead of about one.
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
  type WgslFunction,
} from './common.js';

export interface AttentionOptions {
  /** Windows in the batch (Bw): rows of the qkv buffer are windows·N. */
  windows: number;
  /** Tokens per window. */
  tokens: number;
  /** Channels C (all heads). */
  channels: number;
  heads: number;
  /** Default head_dim^-0.5. */
  scale?: number;
  /** Relative position bias: table [tableRows, heads], index [groups, N, N] (i32). */
  bias?: { tableRows: number; groups: number; windowsPerGroup: number };
  /** Additive mask [masks, N, N], window w uses mask w mod masks. */
  mask?: { masks: number };
  label?: string;
  limits?: KernelLimits;
  /** `fn load_qkv(w: i32, i: i32, ch: i32) -> f32` reading binding `qkv`, ch < 3C. */
  loadQkv?: WgslFunction;
  qkvElements?: number;
  /** `fn store_o(w: i32, i: i32, ch: i32, value: f32)` writing binding `out` (e.g. TPS shift-back). */
  storeO?: WgslFunction;
  outElements?: number;
  fuses?: readonly string[];
}

export function emitWindowAttention(o: AttentionOptions): Kernel {
  const { windows, tokens: N, channels: C, heads } = o;
  const limits = o.limits ?? MIN_LIMITS;
  const label = o.label ?? `window_attention_${windows}x${N}x${C}h${heads}`;
  for (const [name, v] of Object.entries({ windows, tokens: N, channels: C, heads })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`internal error: ${label}: ${name} = ${v}`);
  }
  if (C % heads) throw new Error(`internal error: ${label}: ${C} channels do not split into ${heads} heads`);
  const headDim = C / heads;
  const scale = o.scale ?? headDim ** -0.5;
  const threads = Math.max(32, nextPowerOfTwo(N));
  checkFits(label, 'tokens per window (one thread each)', threads, Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX));
  checkFits(label, 'bytes of workgroup memory', 2 * N * headDim * 4, limits.maxComputeWorkgroupStorageSize);

  const bindings: KernelBinding[] = [];
  const bind = (name: string, kind: KernelBinding['kind'], type: 'f32' | 'i32', elements: number | undefined, description: string) =>
    bindings.push({ binding: bindings.length, name, kind, type, elements, description });
  bind('qkv', 'read-only-storage', 'f32', o.loadQkv ? o.qkvElements : windows * N * 3 * C, o.loadQkv ? `qkv via ${o.loadQkv.describes}` : `qkv [${windows}, ${N}, ${3 * C}]`);
  bind('out', 'storage', 'f32', o.storeO ? o.outElements : windows * N * C, o.storeO ? `out via ${o.storeO.describes}` : `out [${windows}, ${N}, ${C}]`);
  if (o.bias) {
    bind('bias_table', 'read-only-storage', 'f32', o.bias.tableRows * heads, `bias table [${o.bias.tableRows}, ${heads}]`);
    bind('bias_index', 'read-only-storage', 'i32', o.bias.groups * N * N, `bias index [${o.bias.groups}, ${N}, ${N}]`);
  }
  if (o.mask) bind('mask', 'read-only-storage', 'f32', o.mask.masks * N * N, `mask [${o.mask.masks}, ${N}, ${N}]`);
  bindings.push({
    binding: bindings.length,
    name: 'trip',
    kind: 'uniform',
    type: 'i32',
    elements: 4,
    description: `loop trip counts (tokens = ${N}, head dim = ${headDim})`,
    constant: Int32Array.of(N, headDim, 0, 0),
  });

  const loadQkv = o.loadQkv
    ? requireFunction(o.loadQkv, 'load_qkv', label)
    : `fn load_qkv(w: i32, i: i32, ch: i32) -> f32 {\n  return qkv[(w * N + i) * (3 * C) + ch];\n}`;
  const storeO = o.storeO
    ? requireFunction(o.storeO, 'store_o', label)
    : `fn store_o(w: i32, i: i32, ch: i32, value: f32) {\n  out[(w * N + i) * C + ch] = value;\n}`;
  // Each term of S beyond the scaled product, as a WGSL function of (window, head, i, j).
  const biasFn = o.bias
    ? `fn score_bias(w: i32, h: i32, i: i32, j: i32) -> f32 {
  let g = (w / WINDOWS_PER_GROUP) % GROUPS;
  let row = bias_index[(g * N + i) * N + j];
  return bias_table[row * HEADS + h];
}`
    : `fn score_bias(w: i32, h: i32, i: i32, j: i32) -> f32 {\n  return 0.0;\n}`;
  const maskFn = o.mask
    ? `fn score_mask(w: i32, i: i32, j: i32) -> f32 {\n  return mask[((w % MASKS) * N + i) * N + j];\n}`
    : `fn score_mask(w: i32, i: i32, j: i32) -> f32 {\n  return 0.0;\n}`;

  const header = headerComment([
    `${label}: window attention, ${windows} windows × ${heads} heads, N=${N} tokens, C=${C} (head dim ${headDim}), scale ${scale}`,
    `S = Q·Kᵀ·scale${o.bias ? ' + relative position bias (index per group of ' + o.bias.windowsPerGroup + ' windows, ' + o.bias.groups + ' groups)' : ''}${o.mask ? ` + mask[w mod ${o.mask.masks}]` : ''}; O = softmax(S)·V`,
    `fuses: ${o.fuses?.length ? o.fuses.join(', ') : 'QKᵀ, bias, mask, softmax, ·V, head merge'}`,
    `qkv read through: ${o.loadQkv ? o.loadQkv.describes : 'row-major [windows, N, 3C]'}`,
    `out written through: ${o.storeO ? o.storeO.describes : 'row-major [windows, N, C]'}`,
    `one workgroup of ${threads} threads per (window, head); K, V of the head in workgroup memory`,
  ]);

  const wgsl = `${header}

const WINDOWS: i32 = ${wgslInt(windows)};
const N: i32 = ${wgslInt(N)};
const C: i32 = ${wgslInt(C)};
const HEADS: i32 = ${wgslInt(heads)};
const HEAD_DIM: i32 = ${wgslInt(headDim)};
const SCALE: f32 = ${wgslFloat(scale)};
${o.bias ? `const GROUPS: i32 = ${wgslInt(o.bias.groups)};\nconst WINDOWS_PER_GROUP: i32 = ${wgslInt(o.bias.windowsPerGroup)};\n` : ''}${o.mask ? `const MASKS: i32 = ${wgslInt(o.mask.masks)};\n` : ''}const THREADS: i32 = ${threads};

${bindings.filter((b) => b.kind !== 'uniform').map(storageDecl).join('\n')}
struct TripCounts {
  // = N and HEAD_DIM, but opaque to the shader compiler, so that it does not unroll
  tokens: i32,
  head_dim: i32,
}
@group(0) @binding(${bindings.length - 1}) var<uniform> trip: TripCounts;

// The head's keys and values, [N][HEAD_DIM] each.
var<workgroup> k_tile: array<f32, ${N * headDim}>;
var<workgroup> v_tile: array<f32, ${N * headDim}>;

${loadQkv}

${storeO}

${biasFn}

${maskFn}

${entryPrologue({ threads, index: 'pair', count: 'WINDOWS * HEADS', per: 'workgroup' })}
  let w = pair / HEADS;
  let h = pair % HEADS;
  let t = i32(lid);
  for (var e = t; e < N * HEAD_DIM; e += THREADS) {
    let j = e / HEAD_DIM;
    let d = e % HEAD_DIM;
    k_tile[e] = load_qkv(w, j, C + h * HEAD_DIM + d);
    v_tile[e] = load_qkv(w, j, 2 * C + h * HEAD_DIM + d);
  }
  workgroupBarrier();
  if (t >= N) {
    return;
  }
  let i = t;
  // Query row i, scaled first (as the reference implementation does).
  let tokens = trip.tokens;
  let head_dim = trip.head_dim;
  var q: array<f32, ${headDim}>;
  for (var d = 0; d < head_dim; d++) {
    q[d] = load_qkv(w, i, h * HEAD_DIM + d) * SCALE;
  }
  var s: array<f32, ${N}>;
  var row_max = -3.0e38;
  for (var j = 0; j < tokens; j++) {
    var dot = 0.0;
    for (var d = 0; d < head_dim; d++) {
      dot = fma(q[d], k_tile[j * HEAD_DIM + d], dot);
    }
    s[j] = dot + score_bias(w, h, i, j) + score_mask(w, i, j);
    row_max = max(row_max, s[j]);
  }
  var total = 0.0;
  for (var j = 0; j < tokens; j++) {
    s[j] = exp(s[j] - row_max);
    total += s[j];
  }
  let inv_total = 1.0 / total;
  for (var d = 0; d < head_dim; d++) {
    var o = 0.0;
    for (var j = 0; j < tokens; j++) {
      o = fma(s[j], v_tile[j * HEAD_DIM + d], o);
    }
    store_o(w, i, h * HEAD_DIM + d, o * inv_total);
  }
}
`;
  return {
    label,
    wgsl,
    entryPoint: 'main',
    workgroupSize: [threads, 1, 1],
    dispatch: workgroupGrid(windows * heads, limits),
    bindings,
  };
}
