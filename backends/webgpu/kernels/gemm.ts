// The GEMM of a Linear layer, C[m, n] = Σ_k A[m, k]·B[n, k] (B is the weight, stored [out, in]),
// with index maps folded into the A and B loads and the C store, and a fused epilogue
// (+ bias[n], exact GELU, ·GELU'(x[m, n]), + residual). In training graphs both operands may be
// read through maps: dX = dY·W reads the weight transposed, dW = dYᵀ·X reads two activations
// transposed. Tiling:
//   - each workgroup computes a TILE_M × TILE_N block of C;
//   - K is walked in steps of TILE_K: the workgroup stages A[TILE_M × TILE_K] and
//     B[TILE_N × TILE_K] in workgroup memory (transposed, so the inner loop reads rows);
//   - each thread accumulates a THREAD_M × THREAD_N block of C in registers (register blocking:
//     THREAD_M + THREAD_N workgroup reads per THREAD_M·THREAD_N multiply-adds);
//   - plain row-major A and B with K a multiple of 4 are staged with vec4 reads.
// CPU adapters (llvmpipe) get the barrier-free variant instead (GemmDirect), which on adapters
// with fixed-size subgroups reads A once per subgroup and shares it by subgroup broadcasts.
// Every read and write is bounds-checked, so M, N, K need not be multiples of the tiles, and a
// caller's load_a is only ever called with 0 ≤ m < M, 0 ≤ k < K.
import { F32_BYTES } from '../../../src/ir/graph.js';
import {
  ERF_WGSL,
  GELU_GRAD_WGSL,
  entryPrologue,
  MIN_LIMITS,
  NO_ROW_WGSL,
  checkFits,
  headerComment,
  requireFunction,
  storageDecl,
  wgslInt,
  workgroupGrid,
  type Kernel,
  type KernelBinding,
  type KernelLimits,
  type WgslFunction,
} from './common.js';

export interface GemmTile {
  tileM: number;
  tileN: number;
  tileK: number;
  threadM: number;
  threadN: number;
}

/** Candidate tiles, largest first; the emitter takes the first that the device limits allow. */
export const GEMM_TILES: readonly GemmTile[] = [
  { tileM: 64, tileN: 64, tileK: 16, threadM: 4, threadN: 4 }, // 256 threads, 8 KiB
  { tileM: 32, tileN: 32, tileK: 16, threadM: 4, threadN: 4 }, // 64 threads, 4 KiB
  { tileM: 16, tileN: 16, tileK: 8, threadM: 2, threadN: 2 }, // 64 threads, 1 KiB
];

/**
 * The barrier-free variant: no workgroup memory; each thread reads A and B straight from storage
 * (the CPU caches do the staging) and accumulates THREAD_M rows × THREAD_N columns. The threads
 * of a workgroup share its THREAD_M rows and take neighbouring columns (n = n0 + t + j·THREADS),
 * so the B reads and C writes of neighbouring threads are neighbours.
 *
 * What limits it on llvmpipe (Mesa 25.0, 8-lane subgroups; CPU time per dispatch of a
 * 784×576×192 GEMM, the min of 7 interleaved runs, load average 8–9): the reads, not the
 * multiply-adds. Every storage read inside a loop is a per-lane gather there, even one whose
 * address is the same in all lanes (A's): 8×4 block 62 ms, without B reads 55 ms, without A
 * reads 38 ms, without either 20 ms. Reading A and B as vec4s along K changed nothing (62 vs
 * 58 ms: a vec4 gather is four gathers), nor did unrolling the block into named registers.
 * What does help is `subgroup`: see GEMM_DIRECT_SUBGROUP.
 */
export interface GemmDirect {
  threads: number;
  threadM: number;
  threadN: number;
  /**
   * The adapter's (fixed) subgroup size, to read A once per subgroup: lane l reads A[m, k + l]
   * for the next `subgroup` k's and subgroupBroadcast hands each step's value to every lane
   * (one gather per row and `subgroup` k's instead of one per k). Undefined: every thread reads
   * each A value itself. Needs whole subgroups per workgroup (threads a multiple of it).
   */
  subgroup?: number;
}

/** Without subgroups: 8 rows × 4 columns per thread. */
export const GEMM_DIRECT: GemmDirect = { threads: 16, threadM: 8, threadN: 4 };

/**
 * With subgroups A is cheap and B's gathers are the cost, so the block takes more rows and fewer
 * columns: FMAs per B read = THREAD_M. Choosing it (CPU ms per dispatch, min / median of 5–7
 * interleaved runs, load average 9–11; GEMM_DIRECT without subgroups → this, unrolled steps):
 *   3136×288×96  68 / 91 → 45 / 52;   3136×96×384  100 / 135 → 51 / 75;
 *   196×1536×384  85 / 133 → 79 / 82;   64×3072×768  132 / 177 → 75 / 99.
 * 16×2 measured about the same (12×2 ahead on three of four), 8×4 and 16×4 with subgroups only
 * 0–15 % ahead of GEMM_DIRECT, 8×8 and 32×1 behind it; 16×2 without subgroups 20–70 % behind.
 * With the step loop (before the steps were written out, see directBody), against GEMM_DIRECT: 784×576×192 62 → 37 ms,
 * 3136×96×384 96 → 50, 64×3072×768 90 → 73; pst-tiny's narrow ones 4096×16×64 8.1 → 2.3,
 * 1024×128×32 4.6 → 2.0, 5184×16×48 8.0 → 2.4, a transposed dW 96×32×2304 7.8 → 2.3.
 */
export const GEMM_DIRECT_SUBGROUP: GemmDirect = { threads: 16, threadM: 12, threadN: 2 };

/**
 * The barrier-free block for N columns on an adapter with this subgroup size (undefined: none):
 * GEMM_DIRECT_SUBGROUP or GEMM_DIRECT, with as few columns per thread as cover N (a 64-column
 * block over N = 16 computed four times the work it stored: pst-tiny's narrow GEMMs, its dX and
 * dW among them; measured: the batch-16 training step ~790 → ~670 ms on llvmpipe).
 */
export function chooseGemmDirect(N: number, subgroupSize?: number): GemmDirect {
  const shared = subgroupSize !== undefined && GEMM_DIRECT_SUBGROUP.threads % subgroupSize === 0;
  const block = shared ? { ...GEMM_DIRECT_SUBGROUP, subgroup: subgroupSize } : GEMM_DIRECT;
  return { ...block, threadN: Math.min(block.threadN, Math.ceil(N / block.threads)) };
}

export type GemmVariant = { kind: 'tiled'; tile: GemmTile } | { kind: 'direct'; direct: GemmDirect };

export interface GemmOptions {
  M: number;
  N: number;
  K: number;
  label?: string;
  limits?: KernelLimits;
  /** Force a tile (tests, tuning); default: the largest of GEMM_TILES the limits allow. */
  tile?: GemmTile;
  /** Force the barrier-free variant (see GemmDirect); overrides `tile`. */
  direct?: GemmDirect;
  /**
   * `fn load_a(m: i32, k: i32) -> f32` reading binding `a` (array<f32>) through an index map;
   * constants M, N, K are in scope. Default: row-major `a[m*K + k]`.
   */
  loadA?: WgslFunction;
  /**
   * With loadA: `fn a_base(m: i32, k: i32) -> i32`, where load_a(m, k) = a[a_base(m, k0) + k] for
   * every k of the aligned run k0 ≤ k < k0 + run holding it (or 0.0 where it returns NO_ROW):
   * codegen.ts rowBaseLoad. The barrier-free variant then evaluates the map once per row and
   * run instead of once per element. Without it, that variant calls load_a per element.
   */
  aBase?: { fn: WgslFunction; run: number };
  /** Elements of binding `a` when loadA reads a tensor of another shape. Default M·K. */
  aElements?: number;
  /**
   * A LayerNorm applied to A as it is loaded (fuse.ts LayerNormPrologue): bindings `a_stats`
   * ([rows, 2]: mean, 1/σ), `a_gamma` and `a_beta` ([channels]); the value at flat offset s of
   * binding `a` becomes (a[s] − mean[r])·rstd[r]·γ[c] + β[c] with r = s / channels, c = s mod
   * channels. Each row of A must be one whole source row, A(m, k) its channel k (fuse.ts keepsRows; K = channels).
   * Needs loadA, which must apply `normalize_a(at, value)` itself (codegen.ts mappedLoad's
   * transform) for the paths that read through it; the barrier-free row-base path instead reads
   * a run's row statistics once and γ[k], β[k] once per k (per lane with subgroups).
   */
  normalizeA?: { channels: number; rows: number };
  /**
   * `fn load_b(n: i32, k: i32) -> f32` reading binding `b` through an index map (a transposed
   * weight, an activation). Default: row-major `b[n*K + k]`.
   */
  loadB?: WgslFunction;
  /** Elements of binding `b` when loadB reads a tensor of another shape. Default N·K. */
  bElements?: number;
  /** `fn store_c(m: i32, n: i32, value: f32)` writing binding `c`. Default: `c[m*N + n] = value`. */
  storeC?: WgslFunction;
  /** Elements of binding `c` when storeC writes a tensor of another shape. Default M·N. */
  cElements?: number;
  /** Add bias[n] (binding `bias`, N elements). */
  bias?: boolean;
  /** Apply the exact GELU after the bias. */
  gelu?: boolean;
  /**
   * Multiply by GELU'(x[m, n]) after the bias (the backward of GELU: dH = dY·GELU'(H)), x read
   * from binding `gelu_x` by `fn load_gelu_x(m: i32, n: i32) -> f32`.
   */
  geluGrad?: WgslFunction;
  /** Elements of binding `gelu_x`. */
  geluGradElements?: number;
  /**
   * Add a residual after GELU, read from binding `residual`: true for row-major
   * `residual[m*N + n]`, or `fn load_residual(m: i32, n: i32) -> f32` through an index map.
   */
  residual?: boolean | WgslFunction;
  /** Elements of binding `residual` when its mapping reads another shape. Default M·N. */
  residualElements?: number;
  /** The IR nodes this kernel implements, for its header comment. */
  fuses?: readonly string[];
}

export function chooseGemmTile(limits: KernelLimits): GemmTile {
  const tile = GEMM_TILES.find((t) => tileFits(t, limits));
  if (!tile) throw new Error('gemm: no tile fits the device limits');
  return tile;
}

function threadsOf(t: GemmTile): number {
  return (t.tileM / t.threadM) * (t.tileN / t.threadN);
}

function workgroupBytes(t: GemmTile): number {
  return (t.tileK * t.tileM + t.tileK * t.tileN) * F32_BYTES;
}

function tileFits(t: GemmTile, limits: KernelLimits): boolean {
  const threads = threadsOf(t);
  return (
    threads <= limits.maxComputeInvocationsPerWorkgroup &&
    threads <= limits.maxComputeWorkgroupSizeX &&
    workgroupBytes(t) <= limits.maxComputeWorkgroupStorageSize
  );
}

/** A forced variant (direct, then tile), else the one the limits name for the adapter. */
export function chooseGemmVariant(o: Pick<GemmOptions, 'direct' | 'tile' | 'N'>, limits: KernelLimits): GemmVariant {
  if (o.direct) return { kind: 'direct', direct: o.direct };
  if (o.tile || limits.style !== 'direct') return { kind: 'tiled', tile: o.tile ?? chooseGemmTile(limits) };
  return { kind: 'direct', direct: chooseGemmDirect(o.N, limits.subgroupSize) };
}

export function emitGemm(o: GemmOptions): Kernel {
  const { M, N, K } = o;
  for (const [name, v] of Object.entries({ M, N, K })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`internal error: gemm ${name} = ${v}`);
  }
  const limits = o.limits ?? MIN_LIMITS;
  const label = o.label ?? `gemm_${M}x${N}x${K}`;
  const variant = chooseGemmVariant(o, limits);
  const aBase = o.loadA ? o.aBase : { fn: { source: 'fn a_base(m: i32, k: i32) -> i32 {\n  return m * K;\n}', describes: 'row-major' }, run: K };
  if (aBase && (!Number.isInteger(aBase.run) || aBase.run < 1 || K % aBase.run)) {
    throw new Error(`internal error: ${label}: a_base run ${aBase.run} does not divide K = ${K}`);
  }
  // With subgroups, a run that is not whole subgroups of k's (the channel shift's groups of 4) is
  // read per lane through load_a instead: one map evaluation and one read per row and subgroup of
  // k's, shared by broadcasts, rather than every lane reading every element of its short runs
  // (PST-T's channel-shifted qkv GEMMs; 3136×288×96 at 8×112², CPU ms per dispatch, min of 7 interleaved
  // runs: 117 → 45, where a plain row-major A takes 40).
  const S = variant.kind === 'direct' ? (variant.direct.subgroup ?? 0) : 0;
  const runsShared = !aBase || !S || aBase.run % S === 0 || K < S;
  const directA = aBase && runsShared ? { source: requireFunction(aBase.fn, 'a_base', label), run: aBase.run } : undefined;
  if (o.normalizeA && !o.loadA) throw new Error(`internal error: ${label}: a LayerNorm prologue needs loadA (applying normalize_a)`);
  if (o.normalizeA && !o.loadA!.source.includes('normalize_a(')) throw new Error(`internal error: ${label}: load_a does not apply normalize_a`);
  // The tiled variant stages plain row-major A and B with vec4 reads where K allows (see tiledBody).
  const vectorK = variant.kind === 'tiled' && !o.loadA && !o.loadB && K % 4 === 0 && variant.tile.tileK % 4 === 0;
  const body =
    variant.kind === 'tiled'
      ? tiledBody(label, M, N, variant.tile, limits, vectorK)
      : directBody(label, M, N, K, variant.direct, limits, directA, !o.loadB, o.normalizeA !== undefined);

  const bindings: KernelBinding[] = [];
  const bind = (name: string, kind: KernelBinding['kind'], elements: number | undefined, description: string) =>
    bindings.push({ binding: bindings.length, name, kind, type: 'f32', elements, description });
  // With vec4 staging A and B are read four elements at a time (the buffers are the same).
  const declare = (b: KernelBinding) => (vectorK && (b.name === 'a' || b.name === 'b') ? storageDecl(b).replace(`array<${b.type}>`, `array<vec4<${b.type}>>`) : storageDecl(b));
  bind('a', 'read-only-storage', o.loadA ? o.aElements : M * K, o.loadA ? `A via ${o.loadA.describes}` : `A [${M}, ${K}]`);
  bind('b', 'read-only-storage', o.loadB ? o.bElements : N * K, o.loadB ? `B via ${o.loadB.describes}` : `weight [${N}, ${K}]`);
  bind('c', 'storage', o.storeC ? o.cElements : M * N, o.storeC ? `C via ${o.storeC.describes}` : `C [${M}, ${N}]`);
  if (o.bias) bind('bias', 'read-only-storage', N, `bias [${N}]`);
  if (o.geluGrad) bind('gelu_x', 'read-only-storage', o.geluGradElements, `GELU input via ${o.geluGrad.describes}`);
  const residualMap = typeof o.residual === 'object' ? o.residual : undefined;
  if (o.residual) {
    bind(
      'residual',
      'read-only-storage',
      residualMap ? o.residualElements : M * N,
      residualMap ? `residual via ${residualMap.describes}` : `residual [${M}, ${N}]`,
    );
  }
  const ln = o.normalizeA;
  if (ln) {
    bind('a_stats', 'read-only-storage', 2 * ln.rows, `LayerNorm (mean, 1/σ) of A's rows [${ln.rows}, 2]`);
    bind('a_gamma', 'read-only-storage', ln.channels, `LayerNorm weight [${ln.channels}]`);
    bind('a_beta', 'read-only-storage', ln.channels, `LayerNorm bias [${ln.channels}]`);
  }
  // Row r = at / LN_C of the LayerNorm's input, channel at mod LN_C (LN_C is a constant, so the
  // division is a multiply and shift).
  const normalizeA = ln
    ? `const LN_C: i32 = ${wgslInt(ln.channels)};

fn normalize_a(at: i32, value: f32) -> f32 {
  let r = at / LN_C;
  let ch = at - r * LN_C;
  return (value - a_stats[2 * r]) * a_stats[2 * r + 1] * a_gamma[ch] + a_beta[ch];
}
`
    : '';

  // vec4 staging reads neither through load_a nor load_b (which would not type-check against
  // vec4 arrays).
  const loadA = vectorK
    ? ''
    : o.loadA
    ? requireFunction(o.loadA, 'load_a', label)
    : `fn load_a(m: i32, k: i32) -> f32 {\n  return a[m * K + k];\n}`;
  const loadB = vectorK
    ? ''
    : o.loadB
    ? requireFunction(o.loadB, 'load_b', label)
    : `fn load_b(n: i32, k: i32) -> f32 {\n  return b[n * K + k];\n}`;
  const loadGeluX = o.geluGrad ? requireFunction(o.geluGrad, 'load_gelu_x', label) : '';
  const storeC = o.storeC
    ? requireFunction(o.storeC, 'store_c', label)
    : `fn store_c(m: i32, n: i32, value: f32) {\n  c[m * N + n] = value;\n}`;
  const loadResidual = residualMap
    ? requireFunction(residualMap, 'load_residual', label)
    : `fn load_residual(m: i32, n: i32) -> f32 {\n  return residual[m * N + n];\n}`;

  const epilogue = [
    o.bias ? '  v = v + bias[n];' : '',
    o.gelu ? '  v = gelu(v);' : '',
    o.geluGrad ? '  v = v * gelu_derivative(load_gelu_x(m, n));' : '',
    o.residual ? '  v = v + load_residual(m, n);' : '',
  ].filter(Boolean);
  const epilogueNames = [o.bias && '+ bias[n]', o.gelu && 'exact GELU', o.geluGrad && "·GELU'(x)", o.residual && '+ residual'].filter(Boolean);

  const header = headerComment([
    `${label}: C[m, n] = Σ_k A[m, k]·B[n, k] for M=${M}, N=${N}, K=${K}` +
      (epilogueNames.length ? `, then ${epilogueNames.join(', ')}` : ''),
    `fuses: ${o.fuses?.length ? o.fuses.join(', ') : '(a single Linear)'}`,
    `A read through: ${o.loadA ? o.loadA.describes : 'row-major [M, K]'}`,
    ...(ln ? [`A normalised as it is loaded (LayerNorm prologue: row statistics from a_stats, γ, β over ${ln.channels} channels)`] : []),
    `B read through: ${o.loadB ? o.loadB.describes : 'row-major [N, K]'}`,
    ...(o.geluGrad ? [`GELU input read through: ${o.geluGrad.describes}`] : []),
    `C written through: ${o.storeC ? o.storeC.describes : 'row-major [M, N]'}`,
    ...(residualMap ? [`residual read through: ${residualMap.describes}`] : []),
    body.describes,
  ]);

  const wgsl = `${body.subgroupLane ? 'enable subgroups;\n' : ''}${header}

const M: i32 = ${wgslInt(M)};
const N: i32 = ${wgslInt(N)};
const K: i32 = ${wgslInt(K)};
${body.constants}

${bindings.map(declare).join('\n')}
${body.declarations}${normalizeA ? `\n${normalizeA}` : ''}
${loadA}

${loadB}

${storeC}
${o.residual ? `\n${loadResidual}\n` : ''}${o.geluGrad ? `\n${loadGeluX}\n` : ''}${o.gelu || o.geluGrad ? `\n${ERF_WGSL}\n` : ''}${o.geluGrad ? `\n${GELU_GRAD_WGSL}\n` : ''}
fn epilogue(m: i32, n: i32, acc: f32) -> f32 {
  var v = acc;
${epilogue.join('\n')}
  return v;
}

${entryPrologue({ threads: body.threads, index: 'tile', count: 'TILE_COUNT', per: 'workgroup', subgroupLane: body.subgroupLane })}
${body.main}
}
`;
  return {
    label,
    wgsl,
    entryPoint: 'main',
    workgroupSize: [body.threads, 1, 1],
    dispatch: workgroupGrid(body.workgroups, limits),
    bindings,
  };
}

/** What a variant contributes to the kernel: its constants, workgroup arrays and main body. */
interface GemmBody {
  threads: number;
  workgroups: number;
  describes: string;
  constants: string;
  declarations: string;
  /** main takes `sg_lane` (and the kernel enables subgroups). */
  subgroupLane?: boolean;
  /** The body of main after the prologue (which defines `tile` and `lid`). */
  main: string;
}

/**
 * vec4: A and B are plain row-major, declared as vec4 arrays (K and TILE_K multiples of 4), and
 * staged a vec4 at a time: a quarter of the global reads, each 16 bytes (the width GPUs' memory
 * paths reward). Not timed on a GPU yet; llvmpipe runs the barrier-free variant instead.
 */
function tiledBody(label: string, M: number, N: number, tile: GemmTile, limits: KernelLimits, vec4: boolean): GemmBody {
  if (tile.tileM % tile.threadM || tile.tileN % tile.threadN) {
    throw new Error(`internal error: ${label}: thread block must divide the tile`);
  }
  const threads = threadsOf(tile);
  checkFits(label, 'invocations per workgroup', threads, limits.maxComputeInvocationsPerWorkgroup);
  checkFits(label, 'invocations along x', threads, limits.maxComputeWorkgroupSizeX);
  checkFits(label, 'bytes of workgroup memory', workgroupBytes(tile), limits.maxComputeWorkgroupStorageSize);
  const tilesM = Math.ceil(M / tile.tileM);
  const tilesN = Math.ceil(N / tile.tileN);
  if (vec4 && tile.tileK % 4) throw new Error(`internal error: ${label}: vec4 staging needs TILE_K a multiple of 4`);
  // Both operands are staged alike: `rows` of them from `first`, transposed into `${x}_tile`.
  // Out-of-range elements are zeros, so they add nothing.
  const operands = [
    { x: 'a', rows: 'M', first: 'm0', tileRows: 'TILE_M' },
    { x: 'b', rows: 'N', first: 'n0', tileRows: 'TILE_N' },
  ] as const;
  const stageScalar = operands
    .map(
      ({ x, rows, first, tileRows }) => `    for (var e = t; e < ${tileRows} * TILE_K; e += THREADS) {
      let rr = e / TILE_K;
      let kk = e % TILE_K;
      var v = 0.0;
      if (${first} + rr < ${rows} && k0 + kk < K) {
        v = load_${x}(${first} + rr, k0 + kk);
      }
      ${x}_tile[kk * ${tileRows} + rr] = v;
    }`,
    )
    .join('\n');
  // Staged a vec4 at a time: K is a multiple of 4, so a vec4 is wholly inside K or wholly past it.
  const stageVec4 = operands
    .map(
      ({ x, rows, first, tileRows }) => `    for (var e = t; e < ${tileRows} * (TILE_K / 4); e += THREADS) {
      let rr = e / (TILE_K / 4);
      let kk = (e % (TILE_K / 4)) * 4;
      var v = vec4<f32>(0.0);
      if (${first} + rr < ${rows} && k0 + kk < K) {
        v = ${x}[((${first} + rr) * K + k0 + kk) / 4];
      }
${[0, 1, 2, 3].map((c) => `      ${x}_tile[(kk + ${c}) * ${tileRows} + rr] = v[${c}];`).join('\n')}
    }`,
    )
    .join('\n');
  return {
    threads,
    workgroups: tilesM * tilesN,
    describes: `tile ${tile.tileM}×${tile.tileN}, K step ${tile.tileK}, ${tile.threadM}×${tile.threadN} per thread, ${threads} threads` + (vec4 ? '; A and B staged as vec4' : ''),
    constants: `const TILE_M: i32 = ${tile.tileM};
const TILE_N: i32 = ${tile.tileN};
const TILE_K: i32 = ${tile.tileK};
const THREAD_M: i32 = ${tile.threadM};
const THREAD_N: i32 = ${tile.threadN};
const THREADS_ALONG_N: i32 = ${tile.tileN / tile.threadN};
const THREADS: i32 = ${threads};
const TILES_N: i32 = ${tilesN};
const TILE_COUNT: i32 = ${wgslInt(tilesM * tilesN)};`,
    declarations: `
// Staged operands, transposed: a_tile[kk][mm], b_tile[kk][nn].
var<workgroup> a_tile: array<f32, ${tile.tileK * tile.tileM}>;
var<workgroup> b_tile: array<f32, ${tile.tileK * tile.tileN}>;
`,
    main: `  let m0 = (tile / TILES_N) * TILE_M;
  let n0 = (tile % TILES_N) * TILE_N;
  let t = i32(lid);
  // This thread's THREAD_M × THREAD_N block inside the tile.
  let tm = (t / THREADS_ALONG_N) * THREAD_M;
  let tn = (t % THREADS_ALONG_N) * THREAD_N;
  var acc: array<f32, ${tile.threadM * tile.threadN}>;
  var a_reg: array<f32, ${tile.threadM}>;
  var b_reg: array<f32, ${tile.threadN}>;

  for (var k0 = 0; k0 < K; k0 += TILE_K) {
${vec4 ? stageVec4 : stageScalar}
    workgroupBarrier();
    // A runtime trip count (the last step may be short): it also keeps the shader compiler from
    // unrolling TILE_K × THREAD_M × THREAD_N multiply-adds, which makes JIT compilers (llvmpipe)
    // take seconds per pipeline.
    let k_steps = min(TILE_K, K - k0);
    for (var kk = 0; kk < k_steps; kk++) {
      for (var i = 0; i < THREAD_M; i++) {
        a_reg[i] = a_tile[kk * TILE_M + tm + i];
      }
      for (var j = 0; j < THREAD_N; j++) {
        b_reg[j] = b_tile[kk * TILE_N + tn + j];
      }
      for (var i = 0; i < THREAD_M; i++) {
        for (var j = 0; j < THREAD_N; j++) {
          acc[i * THREAD_N + j] = fma(a_reg[i], b_reg[j], acc[i * THREAD_N + j]);
        }
      }
    }
    // Nobody may overwrite the staged tiles while others still read them.
    workgroupBarrier();
  }

  for (var i = 0; i < THREAD_M; i++) {
    for (var j = 0; j < THREAD_N; j++) {
      let m = m0 + tm + i;
      let n = n0 + tn + j;
      if (m < M && n < N) {
        store_c(m, n, epilogue(m, n, acc[i * THREAD_N + j]));
      }
    }
  }`,
  };
}

/**
 * The barrier-free block. aBase: the row-base function's source and run (A read at a[base + k]),
 * or undefined (load_a per element). plainB: B is row-major [N, K] (a weight), read at b[n·K + k]
 * without load_b. The block is written out unrolled in named scalars (acc_i_j, a_i, b_j): the
 * subgroup steps need constant lane numbers, and it keeps the JIT from having to find registers
 * for arrays. Writing the subgroup steps out costs compile time with a cold shader cache (see
 * `shared` below).
 */
function directBody(
  label: string,
  M: number,
  N: number,
  K: number,
  d: GemmDirect,
  limits: KernelLimits,
  aBase: { source: string; run: number } | undefined,
  plainB: boolean,
  normalizeA: boolean,
): GemmBody {
  checkFits(label, 'invocations per workgroup', d.threads, limits.maxComputeInvocationsPerWorkgroup);
  checkFits(label, 'invocations along x', d.threads, limits.maxComputeWorkgroupSizeX);
  if (d.subgroup !== undefined && (!Number.isInteger(d.subgroup) || d.subgroup < 1 || d.threads % d.subgroup)) {
    throw new Error(`internal error: ${label}: ${d.threads} threads are not whole subgroups of ${d.subgroup}`);
  }
  const S = d.subgroup ?? 0;
  // The LayerNorm prologue on the row-base path: statistics per row and run, γ and β per k.
  const rowStats = normalizeA && aBase !== undefined;
  const setupK = (indent: string, k: string) => (rowStats ? `${indent}let ln_gamma = a_gamma[${k}];\n${indent}let ln_beta = a_beta[${k}];\n` : '');
  const tileN = d.threads * d.threadN;
  const tilesM = Math.ceil(M / d.threadM);
  const tilesN = Math.ceil(N / tileN);
  const I = range(d.threadM);
  const J = range(d.threadN);
  const lines = (indent: string, f: (x: number) => string, xs: readonly number[]) => xs.map((x) => indent + f(x)).join('\n');
  // One k step given its A values a_i: B's values, then the outer product.
  const step = (indent: string, k: string) =>
    `${lines(indent, (j) => (plainB ? `let b_${j} = b[b_at_${j} + ${k}];` : `let b_${j} = load_b(col_${j}, ${k});`), J)}\n` +
    I.flatMap((i) => J.map((j) => `${indent}acc_${i}_${j} = fma(a_${i}, b_${j}, acc_${i}_${j});`)).join('\n');
  // S steps from one read per row: lane l reads A at k = q + l; step s takes lane s's value. The
  // S steps are written out with constant lane numbers (S always divides the shared k's): against
  // a loop over s, CPU ms per dispatch on llvmpipe (min of 7–9 interleaved runs, under load)
  // 784×576×192 37–43 → 33–36, 3136×96×384 50–52 → 42–43, 64×3072×768 73–76 → 61–66; the cost
  // is compile time, ~0.5 s more per GEMM pipeline when Mesa's shader cache is cold (a loop
  // unrolled by 2 or 4 gained a third of it or nothing).
  const shared = (indent: string, laneRead: (i: number) => string) =>
    `${setupK(indent, 'q + i32(sg_lane)')}${lines(indent, (i) => `let a_lane_${i} = ${laneRead(i)};`, I)}\n` +
    range(S)
      .map((s) => `${indent}{\n${lines(`${indent}  `, (i) => `let a_${i} = subgroupBroadcast(a_lane_${i}, ${s}u);`, I)}\n${step(`${indent}  `, `q + ${s}`)}\n${indent}}`)
      .join('\n');
  const perThread = (indent: string, read: (i: number) => string, k: string) => `${setupK(indent, k)}${lines(indent, (i) => `let a_${i} = ${read(i)};`, I)}\n${step(indent, k)}`;
  // The k's of one run [start, start + run): whole subgroups of them shared, the rest (run mod S)
  // read by each thread itself.
  const run = aBase ? aBase.run : K;
  const sharedK = S ? Math.floor(run / S) * S : 0;
  const walk = (indent: string, start: string, laneRead: (i: number) => string, read: (i: number) => string) =>
    [
      sharedK
        ? `${indent}for (var q = ${start}; q < ${start} + ${sharedK}; q += ${S}) {\n${shared(`${indent}  `, laneRead)}\n${indent}}`
        : '',
      sharedK < run
        ? `${indent}for (var k = ${start} + ${sharedK}; k < ${start} + ${run}; k++) {\n${perThread(`${indent}  `, read, 'k')}\n${indent}}`
        : '',
    ]
      .filter(Boolean)
      .join('\n');
  // A's value at a flat offset in row i's run: with the LayerNorm prologue normalised by the
  // run's row statistics (read once per row and run) and γ, β of this k (read once per k).
  const aAt = (i: number, at: string) => (rowStats ? `(a[${at}] - mean_${i}) * rstd_${i} * ln_gamma + ln_beta` : `a[${at}]`);
  const kLoop = aBase
    ? `  for (var k0 = 0; k0 < K; k0 += ${run}) {
    // The map once per row and run of ${run} elements.
${lines('    ', (i) => `let base_${i} = a_base(row_${i}, k0);`, I)}
${lines('    ', (i) => `let live_${i} = base_${i} != NO_ROW;`, I)}
${lines('    ', (i) => `let a_at_${i} = select(0, base_${i}, live_${i});`, I)}${
      rowStats
        ? `\n    // A run reads channels k0… of one source row: its LayerNorm statistics once.\n` +
          lines('    ', (i) => `let ln_row_${i} = a_at_${i} / LN_C;`, I) + '\n' +
          lines('    ', (i) => `let mean_${i} = a_stats[2 * ln_row_${i}];`, I) + '\n' +
          lines('    ', (i) => `let rstd_${i} = a_stats[2 * ln_row_${i} + 1];`, I)
        : ''
    }
${walk('    ', 'k0', (i) => `select(0.0, ${aAt(i, `a_at_${i} + q + i32(sg_lane)`)}, live_${i})`, (i) => `select(0.0, ${aAt(i, `a_at_${i} + k`)}, live_${i})`)}
  }`
    : walk('  ', '0', (i) => `load_a(row_${i}, q + i32(sg_lane))`, (i) => `load_a(row_${i}, k)`);
  return {
    threads: d.threads,
    workgroups: tilesM * tilesN,
    subgroupLane: sharedK > 0,
    describes:
      `no workgroup memory: ${d.threads} threads share ${d.threadM} rows, each thread ${d.threadN} columns (${d.threadM}×${tileN} per workgroup); ` +
      (aBase ? `A row base once per row and run of ${aBase.run}` : 'A through load_a per element') +
      (sharedK ? `; A read once per subgroup of ${S} k's (subgroupBroadcast)` : ''),
    constants: `const THREAD_M: i32 = ${d.threadM};
const THREAD_N: i32 = ${d.threadN};
const THREADS: i32 = ${d.threads};
const TILES_N: i32 = ${tilesN};
const TILE_COUNT: i32 = ${wgslInt(tilesM * tilesN)};${aBase ? `\n${NO_ROW_WGSL}` : ''}`,
    declarations: aBase ? `\n${aBase.source}\n` : '',
    main: `  let m0 = (tile / TILES_N) * THREAD_M;
  let n0 = (tile % TILES_N) * (THREADS * THREAD_N) + i32(lid);
  // Rows and columns past the end are clamped to the last one (read, computed, never stored), so
  // the inner loop needs no bounds checks (and every lane of a subgroup takes part in it).
${lines('  ', (i) => `let row_${i} = min(m0 + ${i}, M - 1);`, I)}
${lines('  ', (j) => `let col_${j} = min(n0 + ${j * d.threads}, N - 1);`, J)}
${plainB ? lines('  ', (j) => `let b_at_${j} = col_${j} * K;`, J) + '\n' : ''}${I.flatMap((i) => J.map((j) => `  var acc_${i}_${j} = 0.0;`)).join('\n')}
${kLoop}

  var acc = array<f32, ${d.threadM * d.threadN}>(${I.flatMap((i) => J.map((j) => `acc_${i}_${j}`)).join(', ')});
  for (var i = 0; i < THREAD_M; i++) {
    for (var j = 0; j < THREAD_N; j++) {
      let m = m0 + i;
      let n = n0 + j * THREADS;
      if (m < M && n < N) {
        store_c(m, n, epilogue(m, n, acc[i * THREAD_N + j]));
      }
    }
  }`,
  };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
