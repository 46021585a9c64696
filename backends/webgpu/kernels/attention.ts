// Window attention, one workgroup per (window, head, tile of queries): with Q, K, V the head's
// slices of the qkv buffer [windows, N, 3C] (q at channels h·c…, k at C + h·c…, v at 2C + h·c…),
//   S = (Q·scale)·Kᵀ + biasTable[biasIndex[g][i][j]·heads + h] + mask[w mod M][i][j]
//   O = softmax_rows(S)·V        written to [windows, N, C] at channels h·c… (or through store_o)
// where g = (w / windowsPerGroup) mod G picks the bias index of the window's group (its frame,
// for PST's frame-dependent index). Each thread owns one query row. Windows of any size work:
// the queries are split into tiles of one workgroup, and the keys and values stream through
// workgroup memory in tiles of KEY_TILE tokens with an online softmax (flash attention's running
// max and sum: after each key tile the row's output accumulator is rescaled by exp(m_old − m_new)),
// so neither the thread count nor workgroup memory bounds N (Video Swin's 8×7×7 = 392 tokens).
// For PST's 7×7 windows one query tile and one key tile hold the whole window.
// The loops over tokens and head channels take their trip counts from a uniform, not the
// constants N and HEAD_DIM: with constants,
// llvmpipe (Mesa's CPU driver) unrolls them fully and takes 15–35 s to compile one pipeline
// instead of about one. The direct style (no workgroup memory or barriers: every thread reads
// the keys and values itself) is for CPU adapters; there the head-channel loops take the constant
// HEAD_DIM, so q and acc stay in registers (measured on llvmpipe: 25–40 % less CPU time per
// kernel, for about 0.5 s more compile time), and a workgroup holds DIRECT_THREADS consecutive
// query rows of any (window, head) pairs rather than one pair's window (see DIRECT_THREADS).
import { F32_BYTES } from '../../../src/ir/graph.js';
import { MAX_HEAD_DIM } from '../../../src/lang/facts.js';
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
  /**
   * Force the style (tests); default the one the limits name for the adapter. 'direct': no
   * workgroup memory or barriers, every thread reads the keys and values itself (the same
   * addresses in all threads of a workgroup at once, which a CPU adapter loads once).
   */
  style?: KernelStyle;
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
  // The checker refuses wider heads (PST309), so this is a bug if it fires.
  checkFits(label, 'channels per head', headDim, MAX_HEAD_DIM);
  const scale = o.scale ?? headDim ** -0.5;
  const direct = (o.style ?? limits.style) === 'direct';
  const { threads, queryTiles, keyTile } = attentionTiling(N, headDim, limits, direct);
  const unrolled = direct && unrolledKeyTiles(N);
  if (!direct) checkFits(label, 'bytes of workgroup memory', 2 * keyTile * headDim * F32_BYTES, limits.maxComputeWorkgroupStorageSize);

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
    description: `loop trip counts (tokens = ${N}, head dim = ${headDim}, key tile = ${keyTile})`,
    constant: Int32Array.of(N, headDim, keyTile, 0),
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
    (direct
      ? `one thread per query row, ${threads} consecutive rows of (window, head) pairs per workgroup; K, V read by every thread, no workgroup memory, in ${unrolled ? `unrolled tiles of ${keyTile} tokens` : `one tile of ${keyTile} tokens`}`
      : `one workgroup of ${threads} threads per (window, head${queryTiles > 1 ? `, tile of ${threads} queries: ${queryTiles} tiles` : ''}); K, V through workgroup memory in tiles of ${keyTile} tokens`) +
      ', online softmax',
  ]);

  const wgsl = `${header}

const WINDOWS: i32 = ${wgslInt(windows)};
const N: i32 = ${wgslInt(N)};
const C: i32 = ${wgslInt(C)};
const HEADS: i32 = ${wgslInt(heads)};
const HEAD_DIM: i32 = ${wgslInt(headDim)};
const SCALE: f32 = ${wgslFloat(scale)};
${o.bias ? `const GROUPS: i32 = ${wgslInt(o.bias.groups)};\nconst WINDOWS_PER_GROUP: i32 = ${wgslInt(o.bias.windowsPerGroup)};\n` : ''}${o.mask ? `const MASKS: i32 = ${wgslInt(o.mask.masks)};\n` : ''}const THREADS: i32 = ${threads};
const QUERY_TILES: i32 = ${queryTiles};
const KEY_TILE: i32 = ${keyTile};

${bindings.filter((b) => b.kind !== 'uniform').map(storageDecl).join('\n')}
struct TripCounts {
  // = N, HEAD_DIM and KEY_TILE, but opaque to the shader compiler, so that it does not unroll
  tokens: i32,
  head_dim: i32,
  key_tile: i32,
}
@group(0) @binding(${bindings.length - 1}) var<uniform> trip: TripCounts;

${
    direct
      ? ''
      : `// One tile of the head's keys and values, [KEY_TILE][HEAD_DIM] each.
var<workgroup> k_tile: array<f32, ${keyTile * headDim}>;
var<workgroup> v_tile: array<f32, ${keyTile * headDim}>;
`
  }
${loadQkv}

${storeO}

${biasFn}

${maskFn}

${
    direct
      ? `${entryPrologue({ threads, index: 'row', count: 'WINDOWS * HEADS * N', per: 'thread' })}
  // This thread's query row: row = (w·HEADS + h)·N + i, consecutive rows in consecutive threads.
  let i = row % N;
  let pair = row / N;
  let w = pair / HEADS;
  let h = pair % HEADS;
  // Threads past the last row returned above; the rest all have a query.
  let has_query = true;
  let tokens = trip.tokens;
  let head_dim = HEAD_DIM;
  let key_tile = trip.key_tile;
  // The query row, scaled first, and the unnormalised output (as in the tiled style below).
  var q: array<f32, ${headDim}>;
  var acc: array<f32, ${headDim}>;
  for (var d = 0; d < head_dim; d++) {
    q[d] = load_qkv(w, i, h * HEAD_DIM + d) * SCALE;
    acc[d] = 0.0;
  }`
      : `${entryPrologue({ threads, index: 'item', count: 'WINDOWS * HEADS * QUERY_TILES', per: 'workgroup' })}
  let pair = item / QUERY_TILES;
  let w = pair / HEADS;
  let h = pair % HEADS;
  let t = i32(lid);
  // Query row i of this thread; threads past the window's end only help load keys and values.
  let i = (item % QUERY_TILES) * THREADS + t;
  let has_query = i < N;
  let tokens = trip.tokens;
  let head_dim = trip.head_dim;
  let key_tile = trip.key_tile;
  // The query row, scaled first (as the reference implementation does), and the unnormalised
  // output: Σ_j exp(s_j − row_max)·v_j over the keys seen so far, with sum Σ_j exp(s_j − row_max).
  var q: array<f32, ${headDim}>;
  var acc: array<f32, ${headDim}>;
  for (var d = 0; d < head_dim; d++) {
    q[d] = select(0.0, load_qkv(w, min(i, N - 1), h * HEAD_DIM + d) * SCALE, has_query);
    acc[d] = 0.0;
  }`
  }
  var row_max = -3.0e38;
  var total = 0.0;
  for (var j0 = 0; j0 < tokens; j0 += key_tile) {
    let kt = min(key_tile, tokens - j0);
${
  direct
    ? ''
    : `    // Everyone is done with the previous tile before it is overwritten.
    workgroupBarrier();
    for (var e = t; e < kt * HEAD_DIM; e += THREADS) {
      let j = j0 + e / HEAD_DIM;
      let d = e % HEAD_DIM;
      k_tile[e] = load_qkv(w, j, C + h * HEAD_DIM + d);
      v_tile[e] = load_qkv(w, j, 2 * C + h * HEAD_DIM + d);
    }
    workgroupBarrier();
`
}    if (has_query) {
      var s: array<f32, ${keyTile}>;
      var tile_max = -3.0e38;
${
  unrolled
    ? `      // KEY_TILE is a constant here: the loop unrolls and s stays in registers. Keys past the
      // window's end (the last tile may be short) re-read the last key and score −3e38 (weight 0).
      for (var jj = 0; jj < KEY_TILE; jj++) {
        let j = min(j0 + jj, N - 1);
        var dot = 0.0;
        for (var d = 0; d < head_dim; d++) {
          dot = fma(q[d], load_qkv(w, j, C + h * HEAD_DIM + d), dot);
        }
        s[jj] = select(-3.0e38, dot + score_bias(w, h, i, j) + score_mask(w, i, j), j0 + jj < N);
        tile_max = max(tile_max, s[jj]);
      }`
    : `      for (var jj = 0; jj < kt; jj++) {
        var dot = 0.0;
        for (var d = 0; d < head_dim; d++) {
          dot = fma(q[d], ${direct ? 'load_qkv(w, j0 + jj, C + h * HEAD_DIM + d)' : 'k_tile[jj * HEAD_DIM + d]'}, dot);
        }
        s[jj] = dot + score_bias(w, h, i, j0 + jj) + score_mask(w, i, j0 + jj);
        tile_max = max(tile_max, s[jj]);
      }`
}
      let new_max = max(row_max, tile_max);
      let rescale = exp(row_max - new_max);
      total *= rescale;
      for (var jj = 0; jj < ${unrolled ? 'KEY_TILE' : 'kt'}; jj++) {
        s[jj] = exp(s[jj] - new_max);
        total += s[jj];
      }
${
  direct && !unrolled
    ? `      // Keys outer, head channels inner: acc stays in registers (the channel loop is constant) and
      // s[jj] is read once per key, not once per channel (the key loop is not unrolled here).
      // Measured on llvmpipe (CPU time, medians of 15 alternating): pst-tiny's 576 windows × 2
      // heads 8.1 → 3.4 ms. With unrolled key tiles the channel-outer order below is faster
      // (N = 49, heads of 32: 136 vs 180 ms), s and o being registers there either way.
      for (var d = 0; d < head_dim; d++) {
        acc[d] *= rescale;
      }
      for (var jj = 0; jj < kt; jj++) {
        for (var d = 0; d < head_dim; d++) {
          acc[d] = fma(s[jj], load_qkv(w, j0 + jj, 2 * C + h * HEAD_DIM + d), acc[d]);
        }
      }`
    : `      for (var d = 0; d < head_dim; d++) {
        var o = acc[d] * rescale;
        for (var jj = 0; jj < ${unrolled ? 'KEY_TILE' : 'kt'}; jj++) {
          o = fma(s[jj], ${unrolled ? 'load_qkv(w, min(j0 + jj, N - 1), 2 * C + h * HEAD_DIM + d)' : 'v_tile[jj * HEAD_DIM + d]'}, o);
        }
        acc[d] = o;
      }`
}
      row_max = new_max;
    }
  }
  if (has_query) {
    let inv_total = 1.0 / total;
    for (var d = 0; d < head_dim; d++) {
      store_o(w, i, h * HEAD_DIM + d, acc[d] * inv_total);
    }
  }
}
`;
  return {
    label,
    wgsl,
    entryPoint: 'main',
    workgroupSize: [threads, 1, 1],
    dispatch: workgroupGrid(direct ? Math.ceil((windows * heads * N) / threads) : windows * heads * queryTiles, limits),
    bindings,
  };
}

/**
 * Threads per workgroup in the direct style, which packs query rows of consecutive (window, head)
 * pairs into a workgroup: llvmpipe pays a fixed cost per workgroup, and a workgroup per pair (as
 * the tiled style has) ran pst-tiny's 9-token windows in 16-thread workgroups, 7 of them idle:
 * 6.4 → 4.2 ms for 576 windows × 2 heads (wall clock, fastest of 15 on a loaded machine). 32…256 measured alike
 * within the noise; 64 keeps a 7×7 window's rows within two workgroups.
 */
const DIRECT_THREADS = 64;

/**
 * Direct style: windows of more than ONE_TILE_TOKENS tokens take their keys in tiles of a
 * constant size ≤ DIRECT_KEY_TILE (the window split evenly: 49 = 7 × 7, 392 = 49 × 8), a loop the
 * shader compiler unrolls, keeping the scores in registers; smaller windows take all their keys
 * in one tile whose loop reads its trip count from the uniform. Measured on llvmpipe (CPU time per
 * dispatch, medians of 15 alternating with the other variant, load 9): 128 windows × 3 heads of 32,
 * N = 49: 240–320 → 186–240 ms (1.3×) with tiles of 7, 8 or 25 keys; pst-tiny's N = 9 ran
 * 0.7–1.0× as fast with a constant tile (of 5 or 9 keys), so it keeps the uniform loop.
 */
const DIRECT_KEY_TILE = 8;
const ONE_TILE_TOKENS = 16;

/** Tiled style: most keys a thread scores before folding them into its output (its private score array). */
const MAX_KEY_TILE = 64;

/** Whether the direct style takes the keys in unrolled tiles of a constant size (see DIRECT_KEY_TILE). */
function unrolledKeyTiles(tokens: number): boolean {
  return tokens > ONE_TILE_TOKENS;
}

/** The direct style's key tile: all the keys of a small window, else an even split in tiles ≤ DIRECT_KEY_TILE. */
function directKeyTile(tokens: number): number {
  return unrolledKeyTiles(tokens) ? Math.ceil(tokens / Math.ceil(tokens / DIRECT_KEY_TILE)) : tokens;
}

/**
 * Threads per workgroup (one query each: a power of two ≥ 32 that the device allows; for the
 * direct style, DIRECT_THREADS query rows of any windows and heads, since no thread helps load),
 * how many workgroups share a window's queries (direct: rows are not tiled by window, so 1), and
 * how many keys and values fit workgroup memory at once (direct: the private score array alone
 * bounds the key tile).
 */
export function attentionTiling(
  tokens: number,
  headDim: number,
  limits: KernelLimits,
  direct = false,
): { threads: number; queryTiles: number; keyTile: number } {
  let cap = Math.min(256, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  while (cap & (cap - 1)) cap &= cap - 1;
  const threads = direct ? Math.min(cap, DIRECT_THREADS) : Math.min(cap, Math.max(32, nextPowerOfTwo(tokens)));
  if (direct) return { threads, queryTiles: 1, keyTile: directKeyTile(tokens) };
  const fits = Math.floor(limits.maxComputeWorkgroupStorageSize / (2 * headDim * F32_BYTES));
  const keyTile = Math.max(1, Math.min(tokens, MAX_KEY_TILE, fits));
  return { threads, queryTiles: direct ? 1 : Math.ceil(tokens / threads), keyTile };
}
