import { describe, expect, it } from 'vitest';
import { erf as erf64, gelu as gelu64 } from '../../backends/reference/erf.js';
import { ERF_WGSL, MIN_LIMITS } from '../../backends/webgpu/kernels/common.js';
import { GEMM_DIRECT, GEMM_TILES, chooseGemmDirect, chooseGemmVariant, emitGemm, type GemmOptions } from '../../backends/webgpu/kernels/gemm.js';
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
      const error = await gemmError(problem(seed, 70, 45, 33), { M: 70, N: 45, K: 33, bias: true, tile });
      console.log(`gemm tile ${tile.tileM}: error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

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
      const error = await gemmError(problem(seed, M, N, K), o);
      console.log(`gemm direct ${M}×${N}×${K}: error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('direct: reads A through a row base per run of k (a channel-group shift), and through load_a per element without one', async () => {
    // A is [2, M, K] (two frames); row m of the GEMM reads frame 1, except channels k mod 8 < 2,
    // which read frame 0: the base changes per channel group, runs of 2. With zeros, channels
    // k mod 8 = 2 also read zeros, which changes at 2 and 3: runs of 1.
    const [M, N, K] = [29, 21, 24];
    const frame = M * K;
    const at = (m: number, k: number, zeros: boolean): number | null =>
      zeros && k % 8 === 2 ? null : (k % 8 < 2 ? 0 : frame) + m * K + k;
    const zeroGuard = (zeros: boolean, value: string) => (zeros ? `if (k % 8 == 2) { return ${value}; } ` : '');
    const loadSource = (zeros: boolean) => `fn load_a(m: i32, k: i32) -> f32 {
  ${zeroGuard(zeros, '0.0')}return a[select(${frame}, 0, k % 8 < 2) + m * K + k];
}`;
    const baseSource = (zeros: boolean) => `fn a_base(m: i32, k: i32) -> i32 {
  ${zeroGuard(zeros, 'NO_ROW')}return select(${frame}, 0, k % 8 < 2) + m * K;
}`;
    for (const [zeros, run, withBase] of [[false, 2, true], [true, 1, true], [true, 1, false]] as const) {
      const seed = freshSeed();
      const random = rng(seed);
      const p = problem(seed, M, N, K, M * N);
      p.a = randomArray(random, 2 * frame);
      const loadA = { describes: 'channel-group shift', source: loadSource(zeros) };
      const aBase = { fn: { describes: 'channel-group shift', source: baseSource(zeros) }, run };
      const o: GemmOptions = { M, N, K, loadA, aElements: 2 * frame, bias: true, direct: GEMM_DIRECT, ...(withBase ? { aBase } : {}) };
      expect(emitGemm(o).wgsl).toContain(withBase ? `A row base once per row and run of ${run}` : 'A through load_a per element');
      const want = new Float64Array(M * N);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let acc = p.bias[n]!;
          for (let k = 0; k < K; k++) {
            const i = at(m, k, zeros);
            if (i !== null) acc += p.a[i]! * p.b[n * K + k]!;
          }
          want[m * N + n] = acc;
        }
      }
      const kernel = emitGemm({ ...o, limits: device().kernelLimits() });
      const got = await runKernel(device(), kernel, { a: p.a, b: p.b, bias: p.bias }, 'c');
      const error = maxNormRelativeError(got, want);
      console.log(`gemm direct channel-group shift (zeros ${zeros}, run ${run}, base ${withBase}): error ${error.toExponential(2)} (seed ${seed})`);
      expect(error, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('sizes the barrier-free block to N: as few columns per thread as cover it, at most GEMM_DIRECT\'s', () => {
    const direct = { ...MIN_LIMITS, style: 'direct' as const };
    expect(chooseGemmVariant({ N: 16 }, direct)).toEqual({ kind: 'direct', direct: { ...GEMM_DIRECT, threadN: 1 } });
    expect(chooseGemmVariant({ N: 48 }, direct)).toEqual({ kind: 'direct', direct: { ...GEMM_DIRECT, threadN: 3 } });
    expect(chooseGemmVariant({ N: 1000 }, direct)).toEqual({ kind: 'direct', direct: GEMM_DIRECT });
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
