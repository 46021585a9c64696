// The counter-based random numbers of training (dropout, drop_path): a pure function of
// (key, stream, counter), so any element's draw is computed where it is needed — in the forward
// kernel, again in the backward kernel, and in the float64 interpreter — with the same bits.
// Everything is u32 arithmetic (Math.imul, >>> 0), which WGSL reproduces exactly
// (backends/webgpu mirrors `hashU32`; a test keeps the two equal).

/** The key of one training step: two u32 words from the run's seed and the step number. */
export function stepKey(seed: number, step: number): [number, number] {
  const k0 = mix(seed >>> 0, 0x9e3779b9);
  const k1 = mix(step >>> 0, k0 ^ 0x85ebca6b);
  return [k0, k1];
}

/** One u32 from (key, stream, counter): murmur3-style finalisers chained over the four words. */
export function hashU32(key: readonly [number, number], stream: number, counter: number): number {
  let h = mix(key[0] >>> 0, stream >>> 0);
  h = mix(h ^ (key[1] >>> 0), counter >>> 0);
  return fmix(h);
}

/** A uniform draw in [0, 1) with 24 bits: (hash >> 8) / 2²⁴ (exact in float32 too). */
export function uniform(key: readonly [number, number], stream: number, counter: number): number {
  return (hashU32(key, stream, counter) >>> 8) / 16777216;
}

/** Whether dropout with `rate` keeps the element: uniform ≥ rate. */
export function keeps(rate: number, key: readonly [number, number], stream: number, counter: number): boolean {
  return uniform(key, stream, counter) >= rate;
}

function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0xcc9e2d51)) >>> 0;
  h = ((h << 13) | (h >>> 19)) >>> 0;
  return (Math.imul(h, 5) + 0xe6546b64) >>> 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}
