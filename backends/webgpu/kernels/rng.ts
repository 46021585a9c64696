// The counter-based RNG of src/ir/rng.ts in WGSL, for dropout and drop_path masks drawn where they
// are used (forward and backward kernels replay the same bits). u32 multiplication wraps in WGSL
// exactly as Math.imul(…) >>> 0 does in TypeScript, so the two agree bit for bit
// (test/webgpu/grad-kernels.test.ts checks them on many inputs).

/** `hash_u32(k0, k1, stream, counter)` = hashU32([k0, k1], stream, counter) of src/ir/rng.ts. */
export const RNG_WGSL = `fn rng_mix(a: u32, b: u32) -> u32 {
  var h = a ^ (b * 0xcc9e2d51u);
  h = (h << 13u) | (h >> 19u);
  return h * 5u + 0xe6546b64u;
}

fn rng_fmix(x: u32) -> u32 {
  var h = x;
  h ^= h >> 16u;
  h *= 0x85ebca6bu;
  h ^= h >> 13u;
  h *= 0xc2b2ae35u;
  h ^= h >> 16u;
  return h;
}

fn hash_u32(k0: u32, k1: u32, stream: u32, counter: u32) -> u32 {
  var h = rng_mix(k0, stream);
  h = rng_mix(h ^ k1, counter);
  return rng_fmix(h);
}`;

/**
 * The integer form of `keeps(rate, …)`: uniform = (hash >> 8)/2²⁴ ≥ rate ⟺ (hash >> 8) ≥
 * ⌈rate·2²⁴⌉ (rate·2²⁴ is exact in float64), so no float32 rounding of the rate can flip a draw.
 */
export function keepThreshold(rate: number): number {
  if (!(rate >= 0 && rate < 1)) throw new Error(`internal: dropout rate ${rate} outside [0, 1)`);
  return Math.ceil(rate * 16777216);
}
