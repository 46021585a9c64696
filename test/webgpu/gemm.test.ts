import { describe, expect, it } from 'vitest';
import { erf as erf64, gelu as gelu64 } from '../../backends/reference/erf.js';
import { layernormFromStats, layernormStats } from '../../backends/reference/ops.js';
import { ERF_WGSL, MIN_LIMITS } from '../../backends/webgpu/kernels/common.js';
import { GEMM_DIRECT, GEMM_DIRECT_SUBGROUP, GEMM_TILES, chooseGemmDirect, chooseGemmVariant, emitGemm, type GemmDirect, type GemmOptions } from '../../backends/webgpu/kernels/gemm.js';
import { freshSeed, maxNormRelativeError, randomArray, rng, runKernel, useDevice } from './util.js';

const device = useDevice();

const TOLERANCE = 1e-4;

interface Problem {
  M: number;
  N: number;
  K: number;
  a: Float32Array; // as the kernel reads it (maybe not [M, K]: see loadA)
  b: Float32Array; // [N, K]
  bias: Float32Array; // [N]
  residual: Float32Array;
}

function problem(seed: number, M: number, N: number, K: number, residualElements = M * N): Problem {
  const random = rng(seed);
  return {
    M,
    N,
    K,
    a: randomArray(random, M * K),
    b: randomArray(random, N * K),
    bias: randomArray(random, N),
    residual: randomArray(random, residualElements),
  };
}

interface Reference {
  aAt?: (m: number, k: number) => number;
  storeAt?: (m: number, n: number) => number;
  residualAt?: (m: number, n: number) => number;
  outElements?: number;
}

/** The same computation in float64, reading and writing through the same index maps. */
function gemm64(p: Problem, o: GemmOptions, maps: Reference = {}): Float64Array {
  const { M, N, K } = p;
  const aAt = maps.aAt ?? ((m, k) => m * K + k);
  const storeAt = maps.storeAt ?? ((m, n) => m * N + n);
  const residualAt = maps.residualAt ?? ((m, n) => m * N + n);
  const out = new Float64Array(maps.outElements ?? M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let v = 0;
      for (let k = 0; k < K; k++) v += p.a[aAt(m, k)]! * p.b[n * K + k]!;
      if (o.bias) v += p.bias[n]!;
      if (o.gelu) v = gelu64(v);
      if (o.residual) v += p.residual[residualAt(m, n)]!;
      out[storeAt(m, n)] = v;
    }
  }
  return out;
}

async function gemmError(p: Problem, o: GemmOptions, maps: Reference = {}): Promise<number> {
  const kernel = emitGemm({ ...o, limits: o.limits ?? device().kernelLimits() });
  const inputs: Record<string, Float32Array> = { a: p.a, b: p.b };
  if (o.bias) inputs.bias = p.bias;
  if (o.residual) inputs.residual = p.residual;
  const actual = await runKernel(device(), kernel, inputs, 'c');
  return maxNormRelativeError(actual, gemm64(p, o, maps));
}

// Every shape with no epilogue and with all of it; every epilogue on the awkward middle shape.
// (Each distinct kernel costs a JIT compile on llvmpipe, so the cross product is not worth it.)
const ALL: Pick<GemmOptions, 'bias' | 'gelu' | 'residual'> = { bias: true, gelu: true, residual: true };
const CASES: [number, number, number, Pick<GemmOptions, 'bias' | 'gelu' | 'residual'>][] = [
  [1, 1, 1, {}],
  [1, 1, 1, ALL],
  [37, 19, 53, {}],
  [37, 19, 53, { bias: true }],
  [37, 19, 53, { bias: true, gelu: true }],
  [37, 19, 53, { gelu: true, residual: true }],
  [37, 19, 53, ALL],
  [130, 70, 96, {}],
  [130, 70, 96, ALL],
];

describe('emitGemm', () => {
  for (const [M, N, K, epilogue] of CASES) {
    const name = Object.keys(epilogue).join('+') || 'plain';
    it(`${M}×${N}×${K} ${name}`, async () => {
      const seed = freshSeed();
      const error = await gemmError(problem(seed, M, N, K), { M, N, K, ...epilogue });
      console.log(`gemm ${M}×${N}×${K} ${name}: error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  for (const tile of GEMM_TILES.slice(1)) {
    it(`tile ${tile.tileM}×${tile.tileN}×${tile.tileK} on 70×45×33 with bias`, async () => {
      const seed = freshSeed();
      const o: GemmOptions = { M: 70, N: 45, K: 33, bias: true, tile };
      expect(emitGemm(o).wgsl).not.toContain('staged as vec4');
      const error = await gemmError(problem(seed, 70, 45, 33), o);
      console.log(`gemm tile ${tile.tileM}: error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  // Staging plain A and B as vec4 (K a multiple of 4), every tile: M and N ragged, and K = 36
  // leaves a short last K step for the 16-deep tiles.
  for (const tile of GEMM_TILES) {
    it(`tile ${tile.tileM}×${tile.tileN}×${tile.tileK} staged as vec4 on 70×45×36 with everything`, async () => {
      const seed = freshSeed();
      const o: GemmOptions = { M: 70, N: 45, K: 36, ...ALL, tile };
      const wgsl = emitGemm(o).wgsl;
      expect(wgsl).toContain('A and B staged as vec4');
      expect(wgsl).toContain('array<vec4<f32>>');
      const error = await gemmError(problem(seed, 70, 45, 36), o);
      console.log(`gemm tile ${tile.tileM} vec4: error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('stages through load_a and load_b, not vec4, when A or B is read through a map', () => {
    const tile = GEMM_TILES[1]!;
    const loadA = { describes: 'transpose', source: 'fn load_a(m: i32, k: i32) -> f32 { return a[k * M + m]; }' };
    const loadB = { describes: 'transpose', source: 'fn load_b(n: i32, k: i32) -> f32 { return b[k * N + n]; }' };
    expect(emitGemm({ M: 8, N: 8, K: 8, tile, loadA, aElements: 64 }).wgsl).not.toContain('vec4');
    expect(emitGemm({ M: 8, N: 8, K: 8, tile, loadB, bElements: 64 }).wgsl).not.toContain('vec4');
  });

  // The barrier-free variant (forced: the device's own choice depends on the adapter), at its
  // default shape and at an odd one where no dimension divides the block.
  const ODD_DIRECT = { threads: 8, threadM: 3, threadN: 5 };
  const DIRECT_CASES: [number, number, number, Pick<GemmOptions, 'bias' | 'gelu' | 'residual'>, typeof GEMM_DIRECT][] = [
    [1, 1, 1, ALL, GEMM_DIRECT],
    [37, 19, 53, ALL, GEMM_DIRECT],
    [130, 70, 96, {}, GEMM_DIRECT],
    [70, 45, 33, { bias: true }, ODD_DIRECT],
    // The blocks chosen for narrow N (one, two and three columns per thread).
    [53, 16, 37, ALL, chooseGemmDirect(16)],
    [41, 30, 200, { bias: true }, chooseGemmDirect(30)],
    [29, 48, 16, { residual: true }, chooseGemmDirect(48)],
  ];
  for (const [M, N, K, epilogue, direct] of DIRECT_CASES) {
    it(`direct ${direct.threads} threads ${direct.threadM}×${direct.threadN}: ${M}×${N}×${K} ${Object.keys(epilogue).join('+') || 'plain'}`, async () => {
      const seed = freshSeed();
      const o: GemmOptions = { M, N, K, ...epilogue, direct };
      expect(emitGemm(o).wgsl).not.toContain('workgroupBarrier');
      expect(emitGemm(o).wgsl).not.toContain('enable subgroups');
      const error = await gemmError(problem(seed, M, N, K), o);
      console.log(`gemm direct ${M}×${N}×${K}: error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  // A read once per subgroup and shared (the adapter's subgroup size; skipped where it has none):
  // K a multiple of it, K with a remainder read per thread, K below it (nothing shared), M and N
  // ragged, the blocks chosen for narrow N, and an odd block.
  const SUBGROUP_CASES: [number, number, number, Pick<GemmOptions, 'bias' | 'gelu' | 'residual'>, (s: number) => GemmDirect][] = [
    [1, 1, 1, ALL, (s) => ({ ...GEMM_DIRECT_SUBGROUP, subgroup: s })],
    [37, 19, 53, ALL, (s) => ({ ...GEMM_DIRECT_SUBGROUP, subgroup: s })],
    [130, 70, 96, {}, (s) => ({ ...GEMM_DIRECT_SUBGROUP, subgroup: s })],
    [29, 48, 5, { residual: true }, (s) => chooseGemmDirect(48, s)],
    [53, 16, 37, ALL, (s) => chooseGemmDirect(16, s)],
    [70, 45, 33, { bias: true }, (s) => ({ threads: s, threadM: 3, threadN: 5, subgroup: s })],
  ];
  for (const [M, N, K, epilogue, direct] of SUBGROUP_CASES) {
    it(`direct, A shared across a subgroup: ${M}×${N}×${K} ${Object.keys(epilogue).join('+') || 'plain'}`, async (ctx) => {
      const subgroup = device().kernelLimits().subgroupSize;
      if (!subgroup) return ctx.skip();
      const seed = freshSeed();
      const o: GemmOptions = { M, N, K, ...epilogue, direct: direct(subgroup) };
      const wgsl = emitGemm(o).wgsl;
      expect(wgsl).not.toContain('workgroupBarrier');
      if (K >= subgroup) expect(wgsl).toContain(`A read once per subgroup of ${subgroup} k's`);
      else expect(wgsl).not.toContain('enable subgroups');
      const error = await gemmError(problem(seed, M, N, K), o);
      console.log(`gemm direct subgroup ${M}×${N}×${K}: error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  // A is [2, M, K] (two frames); row m of the GEMM reads frame 1, except channels k mod P < L,
  // which read frame 0: the base changes per channel group, runs of gcd(L, P). With zeros,
  // channels k mod P in [L, L + Z) read zeros: runs of gcd(L, Z, P).
  async function channelShiftError(shape: { M: number; N: number; K: number; P: number; L: number; Z: number }, zeros: boolean, run: number, withBase: boolean, direct: GemmDirect): Promise<number> {
    const { M, N, K, P, L, Z } = shape;
    const frame = M * K;
    const at = (m: number, k: number): number | null =>
      zeros && k % P >= L && k % P < L + Z ? null : (k % P < L ? 0 : frame) + m * K + k;
    const zeroGuard = (value: string) => (zeros ? `if (k % ${P} >= ${L} && k % ${P} < ${L + Z}) { return ${value}; } ` : '');
    const loadA = { describes: 'channel-group shift', source: `fn load_a(m: i32, k: i32) -> f32 {\n  ${zeroGuard('0.0')}return a[select(${frame}, 0, k % ${P} < ${L}) + m * K + k];\n}` };
    const aBase = { fn: { describes: 'channel-group shift', source: `fn a_base(m: i32, k: i32) -> i32 {\n  ${zeroGuard('NO_ROW')}return select(${frame}, 0, k % ${P} < ${L}) + m * K;\n}` }, run };
    const seed = freshSeed();
    const random = rng(seed);
    const p = problem(seed, M, N, K, M * N);
    p.a = randomArray(random, 2 * frame);
    const o: GemmOptions = { M, N, K, loadA, aElements: 2 * frame, bias: true, direct, ...(withBase ? { aBase } : {}) };
    // With subgroups, runs that are not whole subgroups are read per lane through load_a instead,
    // and shared like whole runs.
    const S = direct.subgroup;
    const usesBase = withBase && (!S || run % S === 0 || K < S);
    const wgsl = emitGemm(o).wgsl;
    expect(wgsl).toContain(usesBase ? `A row base once per row and run of ${run}` : 'A through load_a per element');
    if (S && K >= S) expect(wgsl).toContain(`A read once per subgroup of ${S} k's`);
    const want = new Float64Array(M * N);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = p.bias[n]!;
        for (let k = 0; k < K; k++) {
          const i = at(m, k);
          if (i !== null) acc += p.a[i]! * p.b[n * K + k]!;
        }
        want[m * N + n] = acc;
      }
    }
    const kernel = emitGemm({ ...o, limits: device().kernelLimits() });
    const got = await runKernel(device(), kernel, { a: p.a, b: p.b, bias: p.bias }, 'c');
    const error = maxNormRelativeError(got, want);
    console.log(`gemm direct channel-group shift P ${P} L ${L} (zeros ${zeros}, run ${run}, base ${withBase}, subgroup ${direct.subgroup ?? 'none'}): error ${error.toExponential(2)} (seed ${seed})`);
    return error;
  }

  it('direct: reads A through a row base per run of k (a channel-group shift), and through load_a per element without one', async () => {
    const shape = { M: 29, N: 21, K: 24, P: 8, L: 2, Z: 1 };
    for (const [zeros, run, withBase] of [[false, 2, true], [true, 1, true], [true, 1, false]] as const) {
      expect(await channelShiftError(shape, zeros, run, withBase, GEMM_DIRECT)).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('direct, A shared across a subgroup: a row base per run of whole subgroups; runs shorter than one and no base through load_a per lane', async (ctx) => {
    const subgroup = device().kernelLimits().subgroupSize;
    if (!subgroup) return ctx.skip();
    const direct = { ...GEMM_DIRECT_SUBGROUP, subgroup };
    // Groups of 2·subgroup channels (runs of whole subgroups; with zeros, runs of one subgroup),
    // then the short runs of the test above; K = 7·subgroup + 3 leaves a remainder without a base.
    const wide = { M: 29, N: 21, K: 6 * subgroup, P: 4 * subgroup, L: 2 * subgroup, Z: subgroup };
    const cases: [typeof wide, boolean, number, boolean][] = [
      [wide, false, 2 * subgroup, true],
      [wide, true, subgroup, true],
      [{ M: 29, N: 21, K: 24, P: 8, L: 2, Z: 1 }, true, 1, true],
      [{ ...wide, K: 7 * subgroup + 3 }, true, 1, false],
    ];
    for (const [shape, zeros, run, withBase] of cases) {
      expect(await channelShiftError(shape, zeros, run, withBase, direct)).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  // A LayerNorm folded into A's load (fuse.ts LayerNormPrologue): A's source is x [2·M rows, K]
  // (two frames of M rows), read through the channel-group shift above with zeros (padding must
  // stay 0, not β); every value read is normalised by its source row's statistics and its
  // channel's γ, β, whichever frame it came from.
  async function prologueError(variant: Pick<GemmOptions, 'tile' | 'direct'>, shape: { M: number; N: number; K: number; P: number; L: number; Z: number }, run: number | null): Promise<number> {
    const { M, N, K, P, L, Z } = shape;
    const frame = M * K;
    const at = (m: number, k: number): number | null => (k % P >= L && k % P < L + Z ? null : (k % P < L ? 0 : frame) + m * K + k);
    const zeroGuard = (value: string) => `if (k % ${P} >= ${L} && k % ${P} < ${L + Z}) { return ${value}; } `;
    const offset = `select(${frame}, 0, k % ${P} < ${L}) + m * K`;
    const loadA = { describes: 'channel-group shift', source: `fn load_a(m: i32, k: i32) -> f32 {\n  ${zeroGuard('0.0')}let at = ${offset} + k;\n  return normalize_a(at, a[at]);\n}` };
    const aBase = run === null ? {} : { aBase: { fn: { describes: 'channel-group shift', source: `fn a_base(m: i32, k: i32) -> i32 {\n  ${zeroGuard('NO_ROW')}return ${offset};\n}` }, run } };
    const seed = freshSeed();
    const random = rng(seed);
    const p = problem(seed, M, N, K, M * N);
    // Rows with a mean far from 0 against their spread: the prologue must subtract it exactly.
    const x = Float64Array.from(randomArray(random, 2 * frame), (v, i) => 3 + v + 0.5 * Math.floor(i / K));
    p.a = Float32Array.from(x);
    const gamma = randomArray(random, K);
    const beta = randomArray(random, K);
    const stats = layernormStats(Float64Array.from(p.a), K, 1e-5);
    const normalised = layernormFromStats(Float64Array.from(p.a), stats, Float64Array.from(gamma), Float64Array.from(beta), K);
    const o: GemmOptions = { M, N, K, loadA, aElements: 2 * frame, bias: true, normalizeA: { channels: K, rows: 2 * M }, ...aBase, ...variant };
    const want = new Float64Array(M * N);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = p.bias[n]!;
        for (let k = 0; k < K; k++) {
          const i = at(m, k);
          if (i !== null) acc += normalised[i]! * p.b[n * K + k]!;
        }
        want[m * N + n] = acc;
      }
    }
    const kernel = emitGemm({ ...o, limits: device().kernelLimits() });
    expect(kernel.wgsl).toContain('LayerNorm prologue');
    const got = await runKernel(device(), kernel, { a: p.a, b: p.b, bias: p.bias, a_stats: Float32Array.from(stats), a_gamma: gamma, a_beta: beta }, 'c');
    const error = maxNormRelativeError(got, want);
    console.log(`gemm LayerNorm prologue ${variant.tile ? 'tiled' : `direct${variant.direct?.subgroup ? ' subgroup' : ''}`} (run ${run ?? 'none'}): error ${error.toExponential(2)} (seed ${seed})`);
    return error;
  }

  it('applies a LayerNorm prologue to A as it loads it: tiled, direct, and shared across a subgroup, through a shift with zeros', async () => {
    const shape = { M: 29, N: 21, K: 24, P: 8, L: 2, Z: 1 };
    expect(await prologueError({ tile: GEMM_TILES.at(-1)! }, shape, null)).toBeLessThanOrEqual(TOLERANCE);
    expect(await prologueError({ direct: GEMM_DIRECT }, shape, 1)).toBeLessThanOrEqual(TOLERANCE);
    expect(await prologueError({ direct: GEMM_DIRECT }, shape, null)).toBeLessThanOrEqual(TOLERANCE);
    const subgroup = device().kernelLimits().subgroupSize;
    if (subgroup) {
      const direct = { ...GEMM_DIRECT_SUBGROUP, subgroup };
      const wide = { M: 29, N: 21, K: 6 * subgroup, P: 4 * subgroup, L: 2 * subgroup, Z: subgroup };
      expect(await prologueError({ direct }, wide, subgroup)).toBeLessThanOrEqual(TOLERANCE);
      expect(await prologueError({ direct }, shape, 1)).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('refuses a LayerNorm prologue whose load_a does not apply it', () => {
    expect(() => emitGemm({ M: 4, N: 4, K: 4, normalizeA: { channels: 4, rows: 4 } })).toThrow(/needs loadA/);
    const loadA = { describes: 'plain', source: 'fn load_a(m: i32, k: i32) -> f32 {\n  return a[m * K + k];\n}' };
    expect(() => emitGemm({ M: 4, N: 4, K: 4, loadA, normalizeA: { channels: 4, rows: 4 } })).toThrow(/does not apply normalize_a/);
  });

  it('sizes the barrier-free block to N: as few columns per thread as cover it, at most GEMM_DIRECT\'s', () => {
    const direct = { ...MIN_LIMITS, style: 'direct' as const };
    expect(chooseGemmVariant({ N: 16 }, direct)).toEqual({ kind: 'direct', direct: { ...GEMM_DIRECT, threadN: 1 } });
    expect(chooseGemmVariant({ N: 48 }, direct)).toEqual({ kind: 'direct', direct: { ...GEMM_DIRECT, threadN: 3 } });
    expect(chooseGemmVariant({ N: 1000 }, direct)).toEqual({ kind: 'direct', direct: GEMM_DIRECT });
    // With 8-lane subgroups: GEMM_DIRECT_SUBGROUP's rows, at most its 2 columns per thread.
    const subgroups = { ...direct, subgroupSize: 8 };
    expect(chooseGemmVariant({ N: 16 }, subgroups)).toEqual({ kind: 'direct', direct: { ...GEMM_DIRECT_SUBGROUP, threadN: 1, subgroup: 8 } });
    expect(chooseGemmVariant({ N: 1000 }, subgroups)).toEqual({ kind: 'direct', direct: { ...GEMM_DIRECT_SUBGROUP, subgroup: 8 } });
    // A subgroup wider than the block's threads: no sharing.
    expect(chooseGemmVariant({ N: 1000 }, { ...direct, subgroupSize: 32 })).toEqual({ kind: 'direct', direct: GEMM_DIRECT });
    expect(() => emitGemm({ M: 8, N: 8, K: 8, direct: { ...GEMM_DIRECT, subgroup: 32 } })).toThrow(/not whole subgroups of 32/);
  });

  it('takes the variant the limits name for the adapter unless one is forced', () => {
    const o = { M: 8, N: 8, K: 8 };
    expect(emitGemm({ ...o, limits: { ...MIN_LIMITS, style: 'direct' } }).wgsl).toContain('no workgroup memory');
    expect(emitGemm({ ...o, limits: { ...MIN_LIMITS, style: 'tiled' } }).wgsl).toContain('workgroupBarrier');
    expect(emitGemm({ ...o, limits: MIN_LIMITS }).wgsl).toContain('workgroupBarrier');
    expect(emitGemm({ ...o, tile: GEMM_TILES[2]!, limits: { ...MIN_LIMITS, style: 'direct' } }).wgsl).toContain('tile 16×16');
    expect(() => emitGemm({ ...o, loadA: { describes: 'x', source: 'fn load_a(m: i32, k: i32) -> f32 { return a[m * K + k]; }' }, aBase: { fn: { describes: 'x', source: 'fn a_base(m: i32, k: i32) -> i32 { return m * K; }' }, run: 3 }, direct: GEMM_DIRECT })).toThrow(/run 3 does not divide K = 8/);
  });

  it('folds a dispatch wider than one grid axis over x and y', async () => {
    const seed = freshSeed();
    const limits = { ...device().kernelLimits(), maxComputeWorkgroupsPerDimension: 4 };
    // The same kernel as the 32×32 tile case above (so no new compile): 3×2 = 6 tiles → a 3×2 grid.
    const o: GemmOptions = { M: 70, N: 45, K: 33, bias: true, tile: GEMM_TILES[1]!, limits };
    expect(emitGemm(o).dispatch).toEqual([3, 2, 1]);
    const error = await gemmError(problem(seed, 70, 45, 33), o);
    expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
  });

  it('reads A through a transposed load_a', async () => {
    const [M, N, K] = [37, 19, 53];
    const seed = freshSeed();
    const p = problem(seed, M, N, K); // a holds Aᵀ, [K, M]
    const loadA = { describes: 'transpose [K, M] → [M, K]', source: 'fn load_a(m: i32, k: i32) -> f32 { return a[k * M + m]; }' };
    const error = await gemmError(p, { M, N, K, loadA, aElements: M * K, bias: true }, { aAt: (m, k) => k * M + m });
    console.log(`gemm transposed load_a: error ${error.toExponential(2)} (seed ${seed})`);
    expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
  });

  it('folds roll + window partition into load_a, window reverse + roll back into store_c, and reads the residual unrolled', async () => {
    // A feature map [H, W, C] rolled by (−S, −S) and cut into WS×WS windows: GEMM row m is token
    // (window, position) of the partitioned map, exactly the attention input of a shifted block.
    const [H, W, WS, S, C, N] = [6, 9, 3, 1, 20, 13];
    const M = H * W;
    const sourcePixel = (m: number): number => {
      const windowsW = W / WS;
      const win = Math.floor(m / (WS * WS));
      const pos = m % (WS * WS);
      const h = Math.floor(win / windowsW) * WS + Math.floor(pos / WS);
      const w = (win % windowsW) * WS + (pos % WS);
      return (((h + S) % H) * W + ((w + S) % W)); // roll by −S: y[h] = x[h + S]
    };
    const mapWgsl = `fn source_pixel(m: i32) -> i32 {
  let win = m / ${WS * WS};
  let pos = m % ${WS * WS};
  let h = (win / ${W / WS}) * ${WS} + pos / ${WS};
  let w = (win % ${W / WS}) * ${WS} + pos % ${WS};
  return ((h + ${S}) % ${H}) * ${W} + (w + ${S}) % ${W};
}`;
    const loadA = { describes: `window partition ${WS}×${WS} ∘ roll (−${S}, −${S})`, source: `${mapWgsl}\nfn load_a(m: i32, k: i32) -> f32 { return a[source_pixel(m) * K + k]; }` };
    const storeC = { describes: `roll back (+${S}, +${S}) ∘ window reverse`, source: 'fn store_c(m: i32, n: i32, value: f32) { c[source_pixel(m) * N + n] = value; }' };
    const residual = { describes: 'the unrolled map', source: 'fn load_residual(m: i32, n: i32) -> f32 { return residual[source_pixel(m) * N + n]; }' };
    const seed = freshSeed();
    const p = problem(seed, M, N, C);
    const o: GemmOptions = { M, N, K: C, loadA, aElements: M * C, storeC, cElements: M * N, residual, residualElements: M * N, bias: true, gelu: true };
    const kernel = emitGemm({ ...o, limits: MIN_LIMITS });
    expect(kernel.wgsl).toContain(`A read through: window partition ${WS}×${WS}`);
    const error = await gemmError(p, o, {
      aAt: (m, k) => sourcePixel(m) * C + k,
      storeAt: (m, n) => sourcePixel(m) * N + n,
      residualAt: (m, n) => sourcePixel(m) * N + n,
    });
    console.log(`gemm window/roll maps: error ${error.toExponential(2)} (seed ${seed})`);
    expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
  });

  it('starts with a header saying what it computes, fuses and reads through', () => {
    const k = emitGemm({ M: 8, N: 8, K: 8, bias: true, gelu: true, fuses: ['fc1', 'GELU'] });
    expect(k.wgsl.split('\n')[0]).toMatch(/^\/\/ gemm_8x8x8: C\[m, n\] = Σ_k A\[m, k\]·B\[n, k\].*\+ bias\[n\], exact GELU/);
    expect(k.wgsl).toContain('// fuses: fc1, GELU');
    expect(k.wgsl).toContain('// A read through: row-major [M, K]');
    expect(k.bindings.map((b) => b.name)).toEqual(['a', 'b', 'c', 'bias']);
  });

  it('rejects a load_a mapping that does not declare load_a', () => {
    expect(() => emitGemm({ M: 2, N: 2, K: 2, loadA: { describes: 'x', source: 'fn other() {}' } })).toThrow(/load_a/);
  });
});

describe('erf and GELU in WGSL', () => {
  it('match float64 over a grid: erf to 2.5e-7 absolute (relative near 0), GELU to 1e-5 relative pointwise', async () => {
    const xs: number[] = [];
    for (let x = -6; x <= 6; x += 1 / 128) xs.push(x);
    for (let e = -8; e <= -1; e++) xs.push(10 ** e, -(10 ** e), 3 * 10 ** e);
    const x = Float32Array.from(xs);
    const wgsl = `${ERF_WGSL}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i < arrayLength(&x)) {
    y[2u * i] = erf_f32(x[i]);
    y[2u * i + 1u] = gelu(x[i]);
  }
}`;
    const pipeline = await device().createPipeline('erf_gelu_grid', wgsl, 'main');
    const input = device().createBuffer(x, 'x');
    const output = device().createEmptyBuffer(2 * x.length, 'y');
    await device().run('erf_gelu_grid', pipeline, [input, output], [Math.ceil(x.length / 64), 1, 1]);
    const y = await device().readFloat32(output);
    input.destroy();
    output.destroy();

    let erfAbs = 0;
    let erfRelSmall = 0;
    let geluRel = 0;
    x.forEach((xi, i) => {
      const e = erf64(xi);
      const g = gelu64(xi);
      erfAbs = Math.max(erfAbs, Math.abs(y[2 * i]! - e));
      if (Math.abs(xi) < 0.5 && e !== 0) erfRelSmall = Math.max(erfRelSmall, Math.abs(y[2 * i]! - e) / Math.abs(e));
      if (g !== 0) geluRel = Math.max(geluRel, Math.abs(y[2 * i + 1]! - g) / Math.abs(g));
    });
    console.log(`erf: abs ${erfAbs.toExponential(2)}, rel near 0 ${erfRelSmall.toExponential(2)}; GELU rel ${geluRel.toExponential(2)}`);
    expect(erfAbs).toBeLessThanOrEqual(2.5e-7);
    expect(erfRelSmall).toBeLessThanOrEqual(1e-6);
    expect(geluRel).toBeLessThanOrEqual(1e-5);
  });
});
