// The optimizer kernels against the float32 host reference (src/train/optimizer.ts), which
// follows torch.optim.AdamW / SGD; several steps, so moments and momentum buffers carry over.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { emitAccumulate, emitAdamW, emitGradScale, emitSgd, emitSumSquares } from '../../backends/webgpu/kernels/optimizer.js';
import { DEFAULT_OPTIMIZER, adamwReference, hyperParameters, sgdReference } from '../../src/train/optimizer.js';
import { freshSeed, maxNormRelativeError, randomArray, rng, runKernel } from './util.js';

let device: PstcDevice;
beforeAll(async () => {
  device = await openDevice();
});
afterAll(() => device?.destroy());

const N = 1000;

describe('optimizer kernels', () => {
  for (const decay of [true, false]) {
    it(`AdamW, 3 steps, decay ${decay}, gradient scale 0.5`, async () => {
      const seed = freshSeed();
      const random = rng(seed);
      const o = { ...DEFAULT_OPTIMIZER.adamw, lr: 0.01, weightDecay: 0.1 };
      let p: Float32Array = randomArray(random, N);
      let m: Float32Array = new Float32Array(N);
      let v: Float32Array = new Float32Array(N);
      const pRef = p.slice();
      const mRef = m.slice();
      const vRef = v.slice();
      const kernel = emitAdamW({ elements: N, decay, limits: device.kernelLimits() });
      for (let step = 0; step < 3; step++) {
        const g = randomArray(random, N);
        const hyper = hyperParameters(o, step, o.lr);
        const scale = Float32Array.of(0.5, 0);
        // runKernel reads back one buffer: run thrice for p, m, v from the same inputs.
        const inputs = { param: p, grad: g, exp_avg: m, exp_avg_sq: v, hyper, scale };
        [p, m, v] = await Promise.all(['param', 'exp_avg', 'exp_avg_sq'].map((name) => runKernel(device, kernel, { ...inputs }, name)));
        adamwReference(pRef, g, mRef, vRef, hyper, 0.5, decay);
      }
      for (const [a, b] of [[p, pRef], [m, mRef], [v, vRef]] as const) {
        expect(maxNormRelativeError(a, b), `seed ${seed}`).toBeLessThanOrEqual(1e-6);
      }
    });
  }

  for (const [momentum, nesterov] of [[0, false], [0.9, false], [0.9, true]] as const) {
    it(`SGD, momentum ${momentum}${nesterov ? ' nesterov' : ''}, 3 steps`, async () => {
      const seed = freshSeed();
      const random = rng(seed);
      const o = { ...DEFAULT_OPTIMIZER.sgd, lr: 0.1, momentum, nesterov, weightDecay: 0.01 };
      let p: Float32Array = randomArray(random, N);
      let buf: Float32Array = new Float32Array(N);
      const pRef = p.slice();
      const bufRef = buf.slice();
      const kernel = emitSgd({ elements: N, decay: true, momentum: momentum > 0, limits: device.kernelLimits() });
      for (let step = 0; step < 3; step++) {
        const g = randomArray(random, N);
        const hyper = hyperParameters(o, step, o.lr);
        const inputs = { param: p, grad: g, momentum_buffer: buf, hyper, scale: Float32Array.of(1, 0) };
        // Without momentum the kernel keeps no buffer (as torch.optim.SGD).
        const outputs = momentum > 0 ? ['param', 'momentum_buffer'] : ['param'];
        [p, buf = buf] = await Promise.all(outputs.map((name) => runKernel(device, kernel, { ...inputs }, name)));
        sgdReference(pRef, g, momentum > 0 ? bufRef : null, hyper, 1, true);
      }
      expect(maxNormRelativeError(p, pRef), `seed ${seed}`).toBeLessThanOrEqual(1e-6);
    });
  }

  it('SGD with lr 1, no momentum, no decay is exactly p − g', async () => {
    const random = rng(freshSeed());
    const p = randomArray(random, N);
    const g = randomArray(random, N);
    const o = { ...DEFAULT_OPTIMIZER.sgd, lr: 1, momentum: 0, weightDecay: 0 };
    const kernel = emitSgd({ elements: N, decay: false, momentum: false, limits: device.kernelLimits() });
    const out = await runKernel(device, kernel, { param: p, grad: g, momentum_buffer: new Float32Array(N), hyper: hyperParameters(o, 0, 1), scale: Float32Array.of(1, 0) }, 'param');
    expect(Array.from(out)).toEqual(Array.from(p, (x, i) => Math.fround(x - g[i]!)));
  });

  it('sum of squares and the clip factor match the global norm', async () => {
    const seed = freshSeed();
    const random = rng(seed);
    const grads = [randomArray(random, 5000), randomArray(random, 7), randomArray(random, 300)];
    let norms: Float32Array = new Float32Array(grads.length);
    for (const [slot, g] of grads.entries()) {
      norms = await runKernel(device, emitSumSquares({ elements: g.length, slot, slots: grads.length }), { grad: g, norms }, 'norms');
    }
    const total = grads.flat().reduce((s, g) => s + Array.from(g).reduce((a, x) => a + x * x, 0), 0);
    const norm = Math.sqrt(total);
    for (const [maxNorm, accum] of [[0, 1], [1, 1], [1e6, 0.25], [2, 0.5]] as const) {
      const scale = await runKernel(device, emitGradScale({ slots: grads.length, maxNorm, accumScale: accum }), { norms, step: Float32Array.of(0) }, 'scale');
      const expectedNorm = norm * accum;
      const clip = maxNorm > 0 ? Math.min(1, maxNorm / (expectedNorm + 1e-6)) : 1;
      expect(Math.abs(scale[1]! - expectedNorm) / expectedNorm, `seed ${seed}`).toBeLessThan(1e-5);
      expect(Math.abs(scale[0]! - accum * clip) / (accum * clip), `seed ${seed}`).toBeLessThan(1e-5);
    }
  });

  it('a non-finite gradient norm records its step', async () => {
    const metrics = await runKernel(device, emitGradScale({ slots: 2, maxNorm: 0, accumScale: 1 }), { norms: Float32Array.of(1, Infinity), step: Float32Array.of(6) }, 'metrics');
    expect(metrics[5]).toBe(7);
  });

  it('accumulate: first copies, later adds', async () => {
    const random = rng(freshSeed());
    const g = randomArray(random, N);
    const acc = randomArray(random, N);
    expect(Array.from(await runKernel(device, emitAccumulate({ elements: N, first: true }), { grad: g, acc }, 'acc'))).toEqual(Array.from(g));
    const summed = await runKernel(device, emitAccumulate({ elements: N, first: false }), { grad: g, acc }, 'acc');
    expect(Array.from(summed)).toEqual(Array.from(acc, (a, i) => Math.fround(a + g[i]!)));
  });
});
