// Whole tiny models on the device against the float64 interpreter (every family of models/tiny,
// fresh random weights and clip) and against the PyTorch goldens of test/golden; the
// micro-batching path under a forced small binding limit; the user's mistakes as diagnostics.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { DeviceLostError, openDevice } from '../../backends/webgpu/device.js';
import { compileModel, planModel } from '../../backends/webgpu/runtime.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { lowerModel } from '../../src/passes/lower.js';
import { loadModel } from '../../src/lang/elaborate.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { readNpy, readSafetensors, type WeightMap } from '../../src/weights/index.js';
import { TINY_FAMILIES, graphFor, randomClip, randomWeights, tinyModel } from '../passes/helpers.js';
import { freshSeed, maxNormRelativeError, useDevice } from './util.js';

const device = useDevice();

const TOLERANCE = 1e-4;

/** Compile, run, compare with the interpreter on the same float32 clip and weights. */
async function againstInterpreter(model: ModelConfig, batch: number, seed: number, limits?: { maxStorageBufferBindingSize: number }, style?: 'tiled' | 'direct') {
  const input = { batch, frames: model.input.frames, size: model.input.size };
  const weights = randomWeights(model, seed);
  const graph = graphFor(model, input, 'fold');
  const clip = randomClip(graph, seed);
  const want = interpret(graph, { clip }, weights);
  const compiled = await compileModel(device(), model, input, weights, { ...(limits ? { limits } : {}), ...(style ? { style } : {}) });
  try {
    const got = await compiled.forward(Float32Array.from(clip));
    expect(got.featuresShape).toEqual(graph.nodes[graph.outputs.features]!.shape);
    const features = maxNormRelativeError(got.features, want.features);
    const logits = want.logits ? maxNormRelativeError(got.logits!, want.logits) : 0;
    const ms = await compiled.timeForward(Float32Array.from(clip));
    return { features, logits, compiled, ms };
  } finally {
    compiled.destroy();
  }
}

describe('whole tiny models against the interpreter', () => {
  for (const family of TINY_FAMILIES) {
    it(`${family}: features and logits within 1e-4`, async () => {
      const seed = freshSeed();
      const model = tinyModel(family);
      const r = await againstInterpreter(model, 2, seed);
      console.log(
        `${family}: features ${r.features.toExponential(2)}, logits ${r.logits.toExponential(2)}, ` +
          `${r.compiled.dispatchesPerForward} dispatches, ${r.ms.toFixed(1)} ms/forward (batch 2) (seed ${seed})`,
      );
      expect(r.features, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
      expect(r.logits, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    }, 600_000);
  }
});

// The GPU kernels' style on this adapter: tiled GEMMs with the LayerNorms of norm1 (patch-shift
// blocks) and norm2 folded into their loads, workgroup attention.
it('pst-tiny in the tiled (GPU) kernel style, LayerNorms folded into GEMM loads: features and logits within 1e-4', async () => {
  const seed = freshSeed();
  const r = await againstInterpreter(tinyModel('pst-tiny'), 2, seed, undefined, 'tiled');
  console.log(`pst-tiny tiled: features ${r.features.toExponential(2)}, logits ${r.logits.toExponential(2)} (seed ${seed})`);
  expect(r.compiled.fused.kernels.some((k) => k.kind === 'layernorm_stats')).toBe(true);
  expect(r.features, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
  expect(r.logits, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
}, 600_000);

// Video Swin with a 3×10×10 window: 300 tokens, more than one workgroup of 256 threads, so the
// attention kernel splits the queries and streams keys with an online softmax; the window shift
// (1, 5, 5) pads the 4×12×12 map and masks.
const bigWindow = `
model video_swin_big_window {
  input { frames = 8  size = 48 }
  embed { patch = (2, 4, 4)  dim = 8 }
  attention     = window3d
  window        = (3, 10, 10)
  bias_frames   = 3
  shift_windows = alternate
  shifts        = none
  stage 1 { depth = 2  heads = 2 }
  head { classes = 4 }
}
`;

it('a Video Swin whose windows are larger than a workgroup (300 tokens) matches the interpreter within 1e-4', async () => {
  const { model } = loadModel('big.pst', undefined, (f) => (f === 'big.pst' ? bigWindow : undefined));
  const graph = lowerModel(model, { batch: 1, frames: model.input.frames, size: model.input.size });
  expect(graph.nodes.find((n) => n.op.kind === 'window_attention')!.shape).toEqual([8, 300, 8]);
  const seed = freshSeed();
  const r = await againstInterpreter(model, 1, seed);
  console.log(`video swin, 300-token windows: features ${r.features.toExponential(2)}, logits ${r.logits.toExponential(2)} (seed ${seed})`);
  expect(r.features, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
  expect(r.logits, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
}, 120_000);

const goldenRoot = join(import.meta.dirname, '..', 'golden');
const goldens = existsSync(goldenRoot) ? readdirSync(goldenRoot).filter((d) => existsSync(join(goldenRoot, d, 'config.json'))).sort() : [];

describe('golden cases', () => {
  it('has golden cases', () => expect(goldens.length).toBeGreaterThan(0));
  for (const name of goldens) {
    it(`${name}: the PyTorch rendering's features and logits within 1e-4`, async () => {
      const dir = join(goldenRoot, name);
      const model = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as ModelConfig;
      const clip = readNpy(readFileSync(join(dir, 'input.npy')));
      const [batch, , frames, size] = clip.shape as [number, number, number, number];
      const weights: WeightMap = readSafetensors(readFileSync(join(dir, 'weights.safetensors')));
      const compiled = await compileModel(device(), model, { batch, frames, size }, weights);
      try {
        const got = await compiled.forward(Float32Array.from(clip.data));
        const features = readNpy(readFileSync(join(dir, 'features.npy')));
        expect(got.featuresShape).toEqual(features.shape);
        const fe = maxNormRelativeError(got.features, features.data);
        let le = 0;
        const logitsFile = join(dir, 'logits.npy');
        expect(got.logits !== undefined).toBe(existsSync(logitsFile));
        if (existsSync(logitsFile)) le = maxNormRelativeError(got.logits!, readNpy(readFileSync(logitsFile)).data);
        console.log(`${name}: features ${fe.toExponential(2)}, logits ${le.toExponential(2)}`);
        expect(fe).toBeLessThanOrEqual(TOLERANCE);
        expect(le).toBeLessThanOrEqual(TOLERANCE);
      } finally {
        compiled.destroy();
      }
    }, 600_000);
  }
});

describe('micro-batching', () => {
  it('splits a batch of 3 into chunks of 2 under a small binding limit, with the same numbers', async () => {
    const seed = freshSeed();
    const model = tinyModel('pst-tiny');
    const input = { batch: 3, frames: model.input.frames, size: model.input.size };
    // Room for two clips of the largest tensor, not three.
    const largestPerClip = Math.max(...planModel(model, { ...input, batch: 1 }).memory.buffers);
    const limits = { maxStorageBufferBindingSize: 2 * largestPerClip };
    const plan = planModel(model, input, limits);
    expect(plan.microBatch).toBe(2);
    expect(plan.chunks).toBe(2);
    expect(plan.dispatchesPerForward).toBe(2 * plan.kernels.length);
    const r = await againstInterpreter(model, 3, seed, limits);
    console.log(`micro-batched 3 = 2 + 1: features ${r.features.toExponential(2)}, logits ${r.logits.toExponential(2)} (seed ${seed})`);
    expect(r.features, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
    expect(r.logits, `seed ${seed}`).toBeLessThanOrEqual(TOLERANCE);
  }, 600_000);

  it('reports a clip too large for one binding as PST307, naming the kernel and the size', () => {
    const model = tinyModel('pst-tiny');
    const error = (() => {
      try {
        planModel(model, { batch: 1, frames: 8, size: 32 }, { maxStorageBufferBindingSize: 1024 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DiagnosticError);
    const d = (error as DiagnosticError).diagnostics[0]!;
    expect(d.code).toBe('PST307');
    expect(d.message).toMatch(/kernel k\d+_\w+/);
    expect(d.message).toMatch(/MiB/);
  });
});

describe("the user's mistakes", () => {
  it('a clip of the wrong size is PST305; a missing or misshapen weight is PST306', async () => {
    const model = tinyModel('pst-tiny');
    const input = { batch: 1, frames: 8, size: 32 };
    const weights = randomWeights(model, 1);
    const compiled = await compileModel(device(), model, input, weights);
    try {
      const wrong = await compiled.forward(new Float32Array(10)).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(DiagnosticError);
      expect((wrong as DiagnosticError).diagnostics[0]!.code).toBe('PST305');
    } finally {
      compiled.destroy();
    }
    const broken: WeightMap = new Map(weights);
    broken.delete('norm.weight');
    broken.set('norm.bias', { shape: [3], data: new Float32Array(3) });
    const missing = await compileModel(device(), model, input, broken).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(DiagnosticError);
    const ds = (missing as DiagnosticError).diagnostics;
    expect(ds.map((d) => d.code)).toEqual(['PST306', 'PST306']);
    expect(ds.map((d) => d.message).join('\n')).toMatch(/norm\.weight' is missing[\s\S]*norm\.bias' has shape \[3\]/);
  }, 600_000);

  it('a forward on a lost device fails with DeviceLostError, not silence', async () => {
    const model = tinyModel('pst-tiny');
    const other = await openDevice();
    const compiled = await compileModel(other, model, { batch: 1, frames: 8, size: 32 }, randomWeights(model, 2));
    other.destroy();
    const error = await compiled.forward(new Float32Array(3 * 8 * 32 * 32)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceLostError);
    compiled.destroy();
  }, 600_000);
});
