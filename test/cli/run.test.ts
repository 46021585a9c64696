// `pstc run`: the output of the WebGPU forward pass equals the float64 reference interpreter's on
// the tiny PST model (random weights through a .safetensors file, a random clip through .npy),
// and every flag mistake is one line naming the flag, exit 2, no stack trace. The reference test
// names --backend webgpu (a software adapter's default is ONNX Runtime); the rest run on either.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { lowerModel } from '../../src/passes/lower.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { initWeights, readNpy, writeNpy, writeSafetensors, type WeightMap } from '../../src/weights/index.js';
import { freshSeed, maxNormRelativeError, randomArray, rng } from '../webgpu/util.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { runCli as run } from './run-cli.js';

const MODEL = 'models/tiny/pst-tiny.pst';
const dir = mkdtempSync(join(tmpdir(), 'pstc-run-'));
const seed = freshSeed();
const shape = [2, 3, 8, 32, 32];
let weights: WeightMap;
let clip: Float32Array;
const ckpt = join(dir, 'tiny.safetensors');
const clipFile = join(dir, 'clip.npy');

beforeAll(() => {
  const { model } = loadModel(MODEL, undefined, readFromDisk);
  weights = initWeights(model, seed);
  writeFileSync(ckpt, writeSafetensors(weights));
  clip = randomArray(rng(seed), shape.reduce((a, b) => a * b, 1));
  writeFileSync(clipFile, writeNpy(shape, clip));
});

/** A float64 .npy: writeNpy's header with the dtype changed (same length), then the doubles. */
function float64Npy(s: number[], data: Float32Array): Uint8Array {
  const f32 = writeNpy(s, data);
  const headerEnd = f32.length - data.length * 4;
  const header = new TextDecoder('latin1').decode(f32.subarray(0, headerEnd)).replace("'<f4'", "'<f8'");
  const out = new Uint8Array(headerEnd + data.length * 8);
  for (let i = 0; i < headerEnd; i++) out[i] = header.charCodeAt(i);
  const view = new DataView(out.buffer);
  data.forEach((x, i) => view.setFloat64(headerEnd + i * 8, x, true));
  return out;
}

function reference() {
  const { model } = loadModel(MODEL, undefined, readFromDisk);
  const graph = lowerModel(model, { batch: 2, frames: 8, size: 32 });
  return interpret(graph, { clip: Float64Array.from(clip) }, weights);
}

describe('pstc run', () => {
  it('writes the logits and the features the reference interpreter computes', async () => {
    const expected = reference();
    const logitsFile = join(dir, 'logits.npy');
    const r = await run(['run', MODEL, '--weights', ckpt, '--input', clipFile, '--out', logitsFile, '--backend', 'webgpu']);
    expect(r.stderr).toMatch(/wrote .*logits\.npy: logits 2×10 \(float32\); forward [\d.]+ ms on \S/);
    expect(r.code).toBe(0);
    const logits = readNpy(readFileSync(logitsFile));
    expect(logits.shape).toEqual([2, 10]);
    const logitsError = maxNormRelativeError(logits.data, expected.logits!);
    expect(logitsError, `seed ${seed}`).toBeLessThan(1e-4);

    const featuresFile = join(dir, 'features.npy');
    const f = await run(['run', MODEL, '--weights', ckpt, '--input', clipFile, '--out', featuresFile, '--features', '--backend', 'webgpu']);
    expect(f.code).toBe(0);
    const features = readNpy(readFileSync(featuresFile));
    expect(features.shape).toEqual([2, 32, 4, 4, 4]);
    const featuresError = maxNormRelativeError(features.data, expected.features);
    expect(featuresError, `seed ${seed}`).toBeLessThan(1e-4);
    console.log(`pstc run, pst-tiny 2×3×8×32², seed ${seed}: relative error logits ${logitsError.toExponential(2)}, features ${featuresError.toExponential(2)}`);
  });

  it('runs with --random-weights and --random-input', async () => {
    const out = join(dir, 'random.npy');
    const r = await run(['run', MODEL, '--random-weights', '1', '--random-input', '2', '--out', out]);
    expect(r.code).toBe(0);
    expect(readNpy(readFileSync(out)).shape).toEqual([1, 10]);
  });

  it('reads a float64 clip as the same float32 values', async () => {
    const f32 = join(dir, 'logits32.npy');
    const f64 = join(dir, 'logits64.npy');
    const clip64 = join(dir, 'clip64.npy');
    writeFileSync(clip64, float64Npy(shape, clip));
    expect((await run(['run', MODEL, '--weights', ckpt, '--input', clipFile, '--out', f32])).code).toBe(0);
    expect((await run(['run', MODEL, '--weights', ckpt, '--input', clip64, '--out', f64])).code).toBe(0);
    expect(Array.from(readNpy(readFileSync(f64)).data)).toEqual(Array.from(readNpy(readFileSync(f32)).data));
  });
});

describe('pstc run: mistakes', () => {
  const oneLine = (r: { code: number; stderr: string; stdout: string }, flag: string) => {
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(flag);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };
  const out = () => join(dir, `never-${Math.random().toString(36).slice(2)}.npy`);

  it('missing --input', async () => {
    oneLine(await run(['run', MODEL, '--weights', ckpt, '--out', out()]), '--input');
  });

  it('both --weights and --random-weights, or neither', async () => {
    oneLine(await run(['run', MODEL, '--weights', ckpt, '--random-weights', '1', '--input', clipFile, '--out', out()]), '--random-weights');
    oneLine(await run(['run', MODEL, '--input', clipFile, '--out', out()]), '--weights');
  });

  it('missing --out', async () => {
    oneLine(await run(['run', MODEL, '--weights', ckpt, '--input', clipFile]), '--out');
  });

  it('an --input that is not there, or not a .npy', async () => {
    oneLine(await run(['run', MODEL, '--weights', ckpt, '--input', join(dir, 'nope.npy'), '--out', out()]), '--input');
    const bad = join(dir, 'bad.npy');
    writeFileSync(bad, 'this is not numpy');
    const r = await run(['run', MODEL, '--weights', ckpt, '--input', bad, '--out', out()]);
    oneLine(r, '--input');
    expect(r.stderr).toContain('not a .npy file');
  });

  it('a clip with the wrong channels, non-square frames or the wrong rank', async () => {
    const write = (name: string, s: number[]) => {
      const path = join(dir, name);
      writeFileSync(path, writeNpy(s, new Float32Array(s.reduce((a, b) => a * b, 1))));
      return path;
    };
    const channels = await run(['run', MODEL, '--weights', ckpt, '--input', write('c1.npy', [1, 1, 8, 32, 32]), '--out', out()]);
    oneLine(channels, '--input');
    expect(channels.stderr).toContain('1 channel(s)');
    const square = await run(['run', MODEL, '--weights', ckpt, '--input', write('hw.npy', [1, 3, 8, 32, 16]), '--out', out()]);
    oneLine(square, '--input');
    expect(square.stderr).toContain('32×16 frames');
    oneLine(await run(['run', MODEL, '--weights', ckpt, '--input', write('r4.npy', [3, 8, 32, 32]), '--out', out()]), '--input');
  });

  it('a bad seed', async () => {
    oneLine(await run(['run', MODEL, '--random-weights', 'x', '--input', clipFile, '--out', out()]), '--random-weights');
  });

  it('a missing checkpoint is a diagnostic naming --weights', async () => {
    const r = await run(['run', MODEL, '--weights', join(dir, 'none.safetensors'), '--input', clipFile, '--out', out()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--weights: error PST404');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
