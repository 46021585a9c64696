// erf in float64, accurate to a few ulps: the exact GELU needs it, and JavaScript has none.
// For |x| < 6 the series erf(x) = 2/√π·e^{−x²}·Σ_n 2^n·x^{2n+1}/(1·3·…·(2n+1)) has only positive
// terms (no cancellation); beyond 6, 1 − |erf(x)| < 2e−17, below a double's resolution near 1.
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  const twoX2 = 2 * a * a;
  let term = a;
  let sum = a;
  for (let n = 1; n < 200; n++) {
    term *= twoX2 / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * Math.min(1, TWO_OVER_SQRT_PI * Math.exp(-a * a) * sum);
}

/** The exact GELU of PyTorch's nn.GELU(): x·Φ(x). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}
