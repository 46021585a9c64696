// f16 storage (--precision f16, backends/webgpu/precision.ts): the WGSL rewrite on its own, the
// half-float conversion, and whole tiny models on the device against the float64 interpreter
// within the f16 tolerance — with checks that fail if f16 were ignored (buffers of half the
// bytes, f16 arrays in the kernels, an error that f32 storage does not make).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { compileModel, planModel } from '../../backends/webgpu/runtime.js';
import { fromFloat16Bits, storageBytes, toFloat16Bits, withF16Storage } from '../../backends/webgpu/precision.js';
import type { Kernel } from '../../backends/webgpu/kernels/common.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { graphFor, randomClip, randomWeights, tinyModel } from '../passes/helpers.js';
import { freshSeed, maxNormRelativeError, useDevice } from './util.js';
import { outputElements } from '../../src/passes/fuse.js';

/** The stated tolerance of f16 storage with f32 arithmetic, against float64 (max-norm relative). */
const F16_TOLERANCE = 1e-2;

describe('half floats', () => {
  it('round to nearest even, keep subnormals, overflow to infinity', () => {
    const values = Float32Array.of(0, -0, 1, -2.5, 65504, 65520, 1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 0.1, Infinity, -Infinity);
    const back = Array.from(fromFloat16Bits(toFloat16Bits(values)));
    expect(back).toEqual([0, -0, 1, -2.5, 65504, Infinity, Infinity, 2 ** -24, 0, 2 ** -23, 1, 1 + 2 ** -9, 0.0999755859375, Infinity, -Infinity]);
    expect(Number.isNaN(fromFloat16Bits(toFloat16Bits(Float32Array.of(NaN)))[0])).toBe(true);
  });

  it('are within half an ulp (2^-11 relative) of random normal values', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 9) - 4));
    const back = fromFloat16Bits(toFloat16Bits(values));
    values.forEach((v, i) => expect(Math.abs(back[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25));
  });

  it('take half the bytes, rounded up to 4', () => {
    expect([storageBytes(10, 'f32'), storageBytes(10, 'f16'), storageBytes(11, 'f16'), storageBytes(1, 'f16')]).toEqual([40, 20, 24, 4]);
  });
});

describe('withF16Storage', () => {
  const kernel: Kernel = {
    label: 'k',
    wgsl: `// out[e] = x[e] + bias[e]: a comment, left alone
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
var<workgroup> x_tile: array<f32, 4>;
fn main() {
  let v = x[index[1]] + x_tile[0] * max_x[2];
  out[x_index(2)] = v + x [3];
  out[0] += select(0.0, x[out_index], true);
}`,
    entryPoint: 'main',
    workgroupSize: [1, 1, 1],
    dispatch: [1, 1, 1],
    bindings: [
      { binding: 0, name: 'x', kind: 'read-only-storage', type: 'f32', elements: 4, description: 'x' },
      { binding: 1, name: 'index', kind: 'read-only-storage', type: 'i32', elements: 4, description: 'index' },
      { binding: 2, name: 'out', kind: 'storage', type: 'f32', elements: 4, description: 'out' },
    ],
  };

  it('retypes the named arrays, converts every read and write, and leaves the rest alone', () => {
    const k = withF16Storage(kernel, new Set(['x', 'out']));
    expect(k.wgsl).toBe(`enable f16;
// out[e] = x[e] + bias[e]: a comment, left alone
@group(0) @binding(0) var<storage, read> x: array<f16>;
@group(0) @binding(1) var<storage, read> index: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f16>;
var<workgroup> x_tile: array<f32, 4>;
fn main() {
  let v = f32(x[index[1]]) + x_tile[0] * max_x[2];
  out[x_index(2)] = f16(v + f32(x[3]));
  out[0] = f16(f32(out[0]) + (select(0.0, f32(x[out_index]), true)));
}`);
    expect(k.bindings.map((b) => b.type)).toEqual(['f16', 'i32', 'f16']);
  });

  it('leaves a kernel with nothing to retype as it is, and refuses a name it does not declare as f32', () => {
    expect(withF16Storage(kernel, new Set())).toBe(kernel);
    expect(() => withF16Storage(kernel, new Set(['index']))).toThrow(/no float32 storage array 'index'/);
  });
});

const device = useDevice();

describe('f16 storage on the device', () => {
  let f16: PstcDevice | undefined;
  beforeAll(async () => {
    f16 = await openDevice({ requireFeatures: ['shader-f16'] }).catch(() => undefined);
  });
  afterAll(() => f16?.destroy());

  it('is refused with PST314 on a device without shader-f16, naming the flag', async () => {
    const model = tinyModel('pst-tiny');
    const call = compileModel(device(), model, model.input, randomWeights(model, 1), { precision: 'f16' });
    await expect(call).rejects.toBeInstanceOf(DiagnosticError);
    await expect(call).rejects.toMatchObject({ diagnostics: [{ code: 'PST314', flag: '--precision' }] });
  });

  // swin2d-tiny in the GPU kernels' style (tiled GEMMs, LayerNorms folded into their loads with
  // f32 statistics), pst-tiny in the adapter's own.
  for (const [family, style] of [['pst-tiny', undefined], ['swin2d-tiny', 'tiled']] as const) {
    it(`${family}: f16 logits and features within ${F16_TOLERANCE} of float64, in buffers of half the bytes${style ? ` (${style} kernels)` : ''}`, async (ctx) => {
      if (!f16) return ctx.skip();
      const seed = freshSeed();
      const model = tinyModel(family);
      const input = { batch: 2, frames: model.input.frames, size: model.input.size };
      const weights = randomWeights(model, seed);
      const graph = graphFor(model, input, 'fold');
      const clip = randomClip(graph, seed);
      const want = interpret(graph, { clip }, weights);
      const compiled = await compileModel(f16, model, input, weights, { precision: 'f16', ...(style ? { style } : {}) });
      try {
        const got = await compiled.forward(Float32Array.from(clip));
        const features = maxNormRelativeError(got.features, want.features);
        const logits = maxNormRelativeError(got.logits!, want.logits!);
        console.log(`${family} f16: features ${features.toExponential(2)}, logits ${logits.toExponential(2)} against float64 (seed ${seed})`);
        expect(features, `seed ${seed}`).toBeLessThanOrEqual(F16_TOLERANCE);
        expect(logits, `seed ${seed}`).toBeLessThanOrEqual(F16_TOLERANCE);
        // f16 really happened: f32 storage stays within 1e-4, f16 rounds every stored value to 11 bits.
        expect(Math.max(features, logits), `seed ${seed}`).toBeGreaterThan(1e-4);

        const f32 = planModel(model, input, { ...f16.limits, style: style ?? f16.kernelStyle });
        // Every tensor between kernels takes half the bytes; the clip, the outputs and the LayerNorm
        // row statistics (two per row) stay f32.
        const stats = compiled.fused.kernels.flatMap((k) => (k.kind === 'layernorm_stats' ? [k.out] : []));
        if (style === 'tiled') expect(stats.length).toBeGreaterThan(0);
        const float32 = new Set([...compiled.graph.inputs, ...Object.values(compiled.fused.outputs), ...stats]);
        const kernelOf = new Map(compiled.fused.kernels.map((k) => [k.out, k]));
        let halved = 0;
        for (const [id, bytes] of compiled.memory.bytes) {
          const n = compiled.graph.nodes[id]!;
          const k = kernelOf.get(id);
          const elements = k ? outputElements(compiled.graph, k) : n.shape.reduce((a, b) => a * b, 1);
          expect(bytes, n.label).toBe(storageBytes(elements, float32.has(id) ? 'f32' : 'f16'));
          if (bytes < elements * 4) halved++;
        }
        expect(halved).toBeGreaterThan(compiled.memory.bytes.size / 2);
        // Weights: params halve, the attention tables stay.
        const weightRatio = compiled.plannedPeakBytes.weights / f32.plannedPeakBytes.weights;
        const activationRatio = compiled.plannedPeakBytes.activations / f32.plannedPeakBytes.activations;
        console.log(`${family} f16/f32 planned bytes: activations ${activationRatio.toFixed(3)}, weights ${weightRatio.toFixed(3)}`);
        expect(weightRatio).toBeLessThan(0.7);
        expect(activationRatio).toBeLessThan(0.9);
        expect(compiled.measuredPeakBytes()).toBeLessThan(f32.plannedPeakBytes.total);
        expect(compiled.kernels.some((k) => /array<f16>/.test(k.wgsl))).toBe(true);
        expect(f32.kernels.some((k) => /f16/.test(k.wgsl))).toBe(false);
      } finally {
        compiled.destroy();
      }
    }, 600_000);
  }

  it('micro-batches by the f16 sizes (3 clips = 2 + 1), with the same tolerance', async (ctx) => {
    if (!f16) return ctx.skip();
    const seed = freshSeed();
    const model = tinyModel('pst-tiny');
    const input = { batch: 3, frames: model.input.frames, size: model.input.size };
    const largestPerClip = Math.max(...planModel(model, { ...input, batch: 1 }, { precision: 'f16' }).memory.bytes.values());
    const limits = { maxStorageBufferBindingSize: 2 * largestPerClip };
    const weights = randomWeights(model, seed);
    const graph = graphFor(model, input, 'fold');
    const clip = randomClip(graph, seed);
    const want = interpret(graph, { clip }, weights);
    const compiled = await compileModel(f16, model, input, weights, { precision: 'f16', limits });
    try {
      expect([compiled.microBatch, compiled.chunks]).toEqual([2, 2]);
      const got = await compiled.forward(Float32Array.from(clip));
      const logits = maxNormRelativeError(got.logits!, want.logits!);
      expect(logits, `seed ${seed}`).toBeLessThanOrEqual(F16_TOLERANCE);
      expect(maxNormRelativeError(got.features, want.features), `seed ${seed}`).toBeLessThanOrEqual(F16_TOLERANCE);
    } finally {
      compiled.destroy();
    }
  }, 600_000);
});
