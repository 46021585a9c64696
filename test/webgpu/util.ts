// Shared by the tests that check numbers: one device per test file, seeded random inputs (a fresh
// seed each run, printed on failure), the max-norm relative error, and a one-call "upload, run,
// read back" helper for one kernel.
import { afterAll, beforeAll } from 'vitest';
import type { PstcDevice } from '../../backends/webgpu/device.js';
import type { Kernel } from '../../backends/webgpu/kernels/common.js';

/**
 * One device for the test file: opened before its tests, destroyed after them. Call at the top
 * level of the file; the returned function gives the device inside tests.
 */
export function useDevice(): () => PstcDevice {
  let device: PstcDevice | undefined;
  beforeAll(async () => {
    // Imported here so that tests using only the seeds and error measure never load Dawn.
    const { openDevice } = await import('../../backends/webgpu/device.js');
    device = await openDevice();
  });
  afterAll(() => {
    device?.destroy();
  });
  return () => {
    if (!device) throw new Error('test: the device is not open (call useDevice() at the top level of the file)');
    return device;
  };
}

/** Seeds of the random test inputs. By default a fixed sequence (CI is repeatable: the n-th draw
 *  of a file is always the same); PSTC_SEED=random draws fresh ones to explore further, and
 *  PSTC_SEED=<n> pins every draw to reproduce a failure. Each draw is printed when its test fails
 *  (test/setup.ts). */
let draws = 0;
export function freshSeed(): number {
  const pinned = process.env.PSTC_SEED;
  const seed = pinned === 'random' ? Math.floor(Math.random() * 2 ** 31) : pinned ? Number(pinned) : (20261205 + 7919 * draws++) % 2 ** 31;
  ((globalThis as { __pstcSeeds?: number[] }).__pstcSeeds ??= []).push(seed);
  return seed;
}

/** mulberry32: small, fast, good enough for test inputs. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [lo, hi), as float32 (the float64 reference reads the same rounded values). */
export function randomArray(random: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * random();
  return out;
}

/** The project's error measure (backends/reference/error.ts). */
export { maxNormRelativeError } from '../../backends/reference/error.js';

/**
 * Compile `kernel`, upload `inputs` by binding name, create every other (non-constant) binding as
 * a zeroed buffer of its `elements`, run once, and read back the named output.
 */
export async function runKernel(
  device: PstcDevice,
  kernel: Kernel,
  inputs: Record<string, Float32Array | Int32Array>,
  output: string,
): Promise<Float32Array> {
  const compiled = await device.compile(kernel);
  const buffers: Record<string, GPUBuffer> = {};
  try {
    for (const b of kernel.bindings) {
      if (b.constant) continue; // uploaded by compile()
      const data = inputs[b.name];
      if (data) buffers[b.name] = device.createBuffer(data, b.name);
      else if (b.elements !== undefined) buffers[b.name] = device.createEmptyBuffer(b.elements, b.name);
      else throw new Error(`test: binding ${b.name} has no known size; pass it in inputs`);
    }
    await device.dispatch(compiled, buffers);
    return await device.readFloat32(buffers[output]!);
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}
