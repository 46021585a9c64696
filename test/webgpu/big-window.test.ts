// A tiny Video Swin whose 3×10×10 window (300 tokens) is larger than one workgroup (256 threads): the WebGPU
// forward (query tiles, keys streamed with an online softmax) against the float64 interpreter,
// with window shift (1, 5, 5), padding and its mask, on fresh random weights and clip.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { interpret } from '../../backends/reference/interpreter.js';
import { openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { compileModel } from '../../backends/webgpu/runtime.js';
import { foldViews } from '../../src/ir/fold.js';
import { lowerModel } from '../../src/ir/lower.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { freshSeed, maxNormError, randomClip, randomWeights } from '../passes/helpers.js';

let device: PstcDevice;
beforeAll(async () => {
  device = await openDevice();
});
afterAll(() => {
  device?.destroy();
});

const source = `
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

it('a Video Swin with 300-token windows runs on the device and matches the interpreter within 1e-4', async () => {
  const { model } = loadModel('big.pst', undefined, (f) => (f === 'big.pst' ? source : undefined));
  const input = { batch: 1, frames: model.input.frames, size: model.input.size };
  const graph = foldViews(lowerModel(model, input));
  const attention = graph.nodes.find((n) => n.op.kind === 'window_attention')!;
  expect(attention.shape).toEqual([8, 300, 8]); // 2·2·2 windows of 3·10·10 tokens (padded from 4×12×12)
  const seed = freshSeed();
  const weights = randomWeights(model, seed);
  const clip = randomClip(graph, seed);
  const want = interpret(graph, { clip }, weights);
  const compiled = await compileModel(device, model, input, weights);
  try {
    const got = await compiled.forward(Float32Array.from(clip));
    const features = maxNormError(got.features, want.features);
    const logits = maxNormError(got.logits!, want.logits!);
    console.log(`video swin, 300-token windows: features ${features.toExponential(2)}, logits ${logits.toExponential(2)} (seed ${seed})`);
    expect(features, `seed ${seed}`).toBeLessThanOrEqual(1e-4);
    expect(logits, `seed ${seed}`).toBeLessThanOrEqual(1e-4);
  } finally {
    compiled.destroy();
  }
}, 120_000);
