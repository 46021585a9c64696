// The GEMM of a Linear layer, C[m, n] = Σ_k A[m, k]·B[n, k] (B is the weight, stored [out, in]),
// with index maps folded into the A and B loads and the C store, and a fused epilogue
// (+ bias[n], exact GELU, ·GELU'(x[m, n]), + residual). In training graphs both operands may be
// read through maps: dX = dY·W reads the weight transposed, dW = dYᵀ·X reads two activations
// transposed. Tiling:
//   - each workgroup computes a TILE_M × TILE_N block of C;
//   - K is walked in steps of TILE_K: the workgroup stages A[TILE_M × TILE_K] and
//     B[TILE_N × TILE_K] in workgroup memory (transposed, so the inner loop reads rows);
//   - each thread accumulates a THREAD_M × THREAD_N block of C in registers (register blocking:
//     THREAD_M + THREAD_N workgroup reads per THREAD_M·THREAD_N multiply-adds).
// Every read and write is bounds-checked, so M, N, K need not be multiples of the tiles, and a
// caller's load_a is only ever called with 0 ≤ m < M, 0 ≤ k < K.
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
 * so every A read has the same address in all threads of the workgroup (llvmpipe loads it once
 * and broadcasts it) and the B reads and C writes of neighbouring threads are neighbours.
 */
export interface GemmDirect {
  threads: number;
  threadM: number;
  threadN: number;
}

export const GEMM_DIRECT: GemmDirect = { threads: 16, threadM: 8, threadN: 4 };

/**
 * The barrier-free block for N columns: GEMM_DIRECT's, with as few columns per thread as cover N
 * (a 64-column block over N = 16 computed four times the work it stored: pst-tiny's narrow GEMMs,
 * its dX and dW among them; measured: the batch-16 training step ~790 → ~670 ms on llvmpipe).
 * Twice the rows for one column per thread measured the same, so the rows stay.
 */
export function chooseGemmDirect(N: number): GemmDirect {
  return { ...GEMM_DIRECT, threadN: Math.min(GEMM_DIRECT.threadN, Math.ceil(N / GEMM_DIRECT.threads)) };
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
  return (t.tileK * t.tileM + t.tileK * t.tileN) * 4;
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
  return { kind: 'direct', direct: chooseGemmDirect(o.N) };
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
  const body =
    variant.kind === 'tiled'
      ? tiledBody(label, M, N, variant.tile, limits)
      : directBody(label, M, N, variant.direct, limits, aBase && { source: requireFunction(aBase.fn, 'a_base', label), run: aBase.run }, !o.loadB);

  const bindings: KernelBinding[] = [];
  const bind = (name: string, kind: KernelBinding['kind'], elements: number | undefined, description: string) =>
    bindings.push({ binding: bindings.length, name, kind, type: 'f32', elements, description });
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

  const loadA = o.loadA
    ? requireFunction(o.loadA, 'load_a', label)
    : `fn load_a(m: i32, k: i32) -> f32 {\n  return a[m * K + k];\n}`;
  const loadB = o.loadB
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
    `B read through: ${o.loadB ? o.loadB.describes : 'row-major [N, K]'}`,
    ...(o.geluGrad ? [`GELU input read through: ${o.geluGrad.describes}`] : []),
    `C written through: ${o.storeC ? o.storeC.describes : 'row-major [M, N]'}`,
    ...(residualMap ? [`residual read through: ${residualMap.describes}`] : []),
    body.describes,
  ]);

  const wgsl = `${header}

const M: i32 = ${wgslInt(M)};
const N: i32 = ${wgslInt(N)};
const K: i32 = ${wgslInt(K)};
${body.constants}

${bindings.map(storageDecl).join('\n')}
${body.declarations}
${loadA}

${loadB}

${storeC}
${o.residual ? `\n${loadResidual}\n` : ''}${o.geluGrad ? `\n${loadGeluX}\n` : ''}${o.gelu || o.geluGrad ? `\n${ERF_WGSL}\n` : ''}${o.geluGrad ? `\n${GELU_GRAD_WGSL}\n` : ''}
fn epilogue(m: i32, n: i32, acc: f32) -> f32 {
  var v = acc;
${epilogue.join('\n')}
  return v;
}

${entryPrologue({ threads: body.threads, index: 'tile', count: 'TILE_COUNT', per: 'workgroup' })}
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
  /** The body of main after the prologue (which defines `tile` and `lid`). */
  main: string;
}

function tiledBody(label: string, M: number, N: number, tile: GemmTile, limits: KernelLimits): GemmBody {
  if (tile.tileM % tile.threadM || tile.tileN % tile.threadN) {
    throw new Error(`internal error: ${label}: thread block must divide the tile`);
  }
  const threads = threadsOf(tile);
  checkFits(label, 'invocations per workgroup', threads, limits.maxComputeInvocationsPerWorkgroup);
  checkFits(label, 'invocations along x', threads, limits.maxComputeWorkgroupSizeX);
  checkFits(label, 'bytes of workgroup memory', workgroupBytes(tile), limits.maxComputeWorkgroupStorageSize);
  const tilesM = Math.ceil(M / tile.tileM);
  const tilesN = Math.ceil(N / tile.tileN);
  return {
    threads,
    workgroups: tilesM * tilesN,
    describes: `tile ${tile.tileM}×${tile.tileN}, K step ${tile.tileK}, ${tile.threadM}×${tile.threadN} per thread, ${threads} threads`,
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
    // Stage A and B; out-of-range elements are zeros, so they add nothing.
    for (var e = t; e < TILE_M * TILE_K; e += THREADS) {
      let mm = e / TILE_K;
      let kk = e % TILE_K;
      var v = 0.0;
      if (m0 + mm < M && k0 + kk < K) {
        v = load_a(m0 + mm, k0 + kk);
      }
      a_tile[kk * TILE_M + mm] = v;
    }
    for (var e = t; e < TILE_N * TILE_K; e += THREADS) {
      let nn = e / TILE_K;
      let kk = e % TILE_K;
      var v = 0.0;
      if (n0 + nn < N && k0 + kk < K) {
        v = load_b(n0 + nn, k0 + kk);
      }
      b_tile[kk * TILE_N + nn] = v;
    }
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
 * aBase: the row-base function's source and run (A read at a[base + k]), or undefined (load_a
 * per element). plainB: B is row-major [N, K] (a weight), read at b[n·K + k] without load_b.
 */
function directBody(
  label: string,
  M: number,
  N: number,
  d: GemmDirect,
  limits: KernelLimits,
  aBase: { source: string; run: number } | undefined,
  plainB: boolean,
): GemmBody {
  checkFits(label, 'invocations per workgroup', d.threads, limits.maxComputeInvocationsPerWorkgroup);
  checkFits(label, 'invocations along x', d.threads, limits.maxComputeWorkgroupSizeX);
  const tileN = d.threads * d.threadN;
  const tilesM = Math.ceil(M / d.threadM);
  const tilesN = Math.ceil(N / tileN);
  return {
    threads: d.threads,
    workgroups: tilesM * tilesN,
    describes:
      `no workgroup memory: ${d.threads} threads share ${d.threadM} rows, each thread ${d.threadN} columns (${d.threadM}×${tileN} per workgroup); ` +
      (aBase ? `A row base once per row and run of ${aBase.run}` : 'A through load_a per element'),
    constants: `const THREAD_M: i32 = ${d.threadM};
const THREAD_N: i32 = ${d.threadN};
const THREADS: i32 = ${d.threads};
const TILES_N: i32 = ${tilesN};
const TILE_COUNT: i32 = ${wgslInt(tilesM * tilesN)};${aBase ? `\nconst A_RUN: i32 = ${wgslInt(aBase.run)};\n${NO_ROW_WGSL}` : ''}`,
    declarations: aBase ? `\n${aBase.source}\n` : '',
    main: `  let m0 = (tile / TILES_N) * THREAD_M;
  let n0 = (tile % TILES_N) * (THREADS * THREAD_N) + i32(lid);
  // Rows and columns past the end are clamped to the last one (read, computed, never stored), so
  // the inner loop needs no bounds checks.
  var rows: array<i32, ${d.threadM}>;
  var cols: array<i32, ${d.threadN}>;
  for (var i = 0; i < THREAD_M; i++) {
    rows[i] = min(m0 + i, M - 1);
  }
  for (var j = 0; j < THREAD_N; j++) {
    cols[j] = min(n0 + j * THREADS, N - 1);
  }
  var acc: array<f32, ${d.threadM * d.threadN}>;
  var a_reg: array<f32, ${d.threadM}>;
  var b_reg: array<f32, ${d.threadN}>;
${plainB ? `  var b_rows: array<i32, ${d.threadN}>;
  for (var j = 0; j < THREAD_N; j++) {
    b_rows[j] = cols[j] * K;
  }
` : ''}${aBase ? `  var a_rows: array<i32, ${d.threadM}>;
  for (var k0 = 0; k0 < K; k0 += A_RUN) {
    // The map once per row and run of A_RUN elements.
    for (var i = 0; i < THREAD_M; i++) {
      a_rows[i] = a_base(rows[i], k0);
    }
    for (var k = k0; k < k0 + A_RUN; k++) {
      for (var i = 0; i < THREAD_M; i++) {
        a_reg[i] = select(0.0, a[a_rows[i] + k], a_rows[i] != NO_ROW);
      }
${multiplyAdd('      ', plainB)}
    }
  }` : `  for (var k = 0; k < K; k++) {
    for (var i = 0; i < THREAD_M; i++) {
      a_reg[i] = load_a(rows[i], k);
    }
${multiplyAdd('    ', plainB)}
  }`}

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

/** The inner step of the barrier-free variant: load this k's B values, then the outer product. */
function multiplyAdd(indent: string, plainB: boolean): string {
  const lines = [
    'for (var j = 0; j < THREAD_N; j++) {',
    plainB ? '  b_reg[j] = b[b_rows[j] + k];' : '  b_reg[j] = load_b(cols[j], k);',
    '}',
    'for (var i = 0; i < THREAD_M; i++) {',
    '  for (var j = 0; j < THREAD_N; j++) {',
    '    acc[i * THREAD_N + j] = fma(a_reg[i], b_reg[j], acc[i * THREAD_N + j]);',
    '  }',
    '}',
  ];
  return lines.map((l) => indent + l).join('\n');
}
