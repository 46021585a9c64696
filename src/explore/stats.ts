// Statistics over a handful of runs (an ablation's seeds): the mean with Student's t interval,
// the difference of two variants paired by seed with its interval and a verdict in words, and
// whether an accuracy on n clips is above chance. One owner for these formulas: `pstc ablate`
// reports with them, and so may anything else that compares a few measurements.

/** The confidence of every interval here. */
export const CONFIDENCE = 0.95;

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Sample standard deviation (n − 1 in the denominator); 0 for one value. */
export function sampleSd(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (n - 1));
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// Lanczos approximation (g = 7, 9 terms): ln Γ(x) to ~1e-15 relative for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x); // reflection
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz). */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) otherwise.
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedBeta(1 - x, b, a);
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let f = d;
  for (let m = 1; m <= 500; m++) {
    const m2 = 2 * m;
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= d * c;
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return (front * f) / a;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * regularizedBeta(df / (df + t * t), df / 2, 0.5); // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with `df` degrees of freedom (closed forms for 1 and 2, else bisection of the CDF). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) throw new Error(`internal: studentTQuantile(${p}, ${df})`);
  if (df === 1) return Math.tan(Math.PI * (p - 0.5));
  if (df === 2) return (2 * p - 1) / Math.sqrt(2 * p * (1 - p));
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The mean of a few values with its Student's t interval (absent with one value: no spread to estimate). */
export interface MeanInterval {
  mean: number;
  /** Sample standard deviation (0 for one value). */
  sd: number;
  n: number;
  /** The CONFIDENCE interval of the mean, mean ± t(0.975, n−1) · sd / √n; absent for n = 1. */
  low?: number;
  high?: number;
}

export function tInterval(values: readonly number[]): MeanInterval {
  if (values.length === 0) throw new Error('internal: tInterval of no values');
  const n = values.length;
  const m = mean(values);
  const sd = sampleSd(values);
  if (n < 2) return { mean: m, sd, n };
  const half = (studentTQuantile(1 - (1 - CONFIDENCE) / 2, n - 1) * sd) / Math.sqrt(n);
  return { mean: m, sd, n, low: m - half, high: m + half };
}

/**
 * What an interval of a difference (a variant minus the reference, higher = better) says:
 * above 0 better, below 0 worse, holding 0 not told apart by these runs. One value (no interval)
 * cannot tell either.
 */
export type Verdict = 'better' | 'worse' | 'cannot tell';

export function verdictOf(d: MeanInterval): Verdict {
  if (d.low === undefined || d.high === undefined) return 'cannot tell';
  if (d.low > 0) return 'better';
  if (d.high < 0) return 'worse';
  return 'cannot tell';
}

/** The verdict as the report says it. */
export function verdictWords(v: Verdict): string {
  return v === 'cannot tell' ? 'these runs cannot tell them apart' : v;
}

/** The difference a − b over the seeds both have, paired by seed (a seed's data order and init are shared). */
export interface PairedDifference extends MeanInterval {
  /** The seeds both sides have, ascending, and each seed's difference. */
  seeds: number[];
  differences: number[];
  verdict: Verdict;
}

export function pairedDifference(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): PairedDifference | undefined {
  const seeds = [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y);
  if (seeds.length === 0) return undefined;
  const differences = seeds.map((s) => a.get(s)! - b.get(s)!);
  const interval = tInterval(differences);
  return { ...interval, seeds, differences, verdict: verdictOf(interval) };
}

/** P(X ≥ k) for X ~ Binomial(n, p), summed in log space (n up to millions). */
export function binomialUpperTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const lnChoose = (j: number) => logGamma(n + 1) - logGamma(j + 1) - logGamma(n - j + 1);
  let sum = 0;
  for (let j = k; j <= n; j++) {
    const term = Math.exp(lnChoose(j) + j * Math.log(p) + (n - j) * Math.log(1 - p));
    sum += term;
    if (term < sum * 1e-17 && j > n * p) break; // the rest is below float precision
  }
  return Math.min(1, sum);
}

/** The significance of "above chance": one-sided, 5 %. */
export const CHANCE_LEVEL = 0.05;

/**
 * Whether an accuracy measured on `samples` clips is within the noise of guessing: a guesser
 * that is right with probability `chance` scores at least this many hits with probability
 * ≥ CHANCE_LEVEL (an exact one-sided binomial test).
 */
export function withinChance(accuracy: number, samples: number, chance: number): boolean {
  const hits = Math.round(accuracy * samples);
  return binomialUpperTail(samples, hits, chance) >= CHANCE_LEVEL;
}

/** The fewest hits out of `samples` that a guesser reaches with probability < CHANCE_LEVEL: the accuracy that counts as above chance. */
export function aboveChanceFrom(samples: number, chance: number): number {
  let k = Math.floor(samples * chance);
  while (k <= samples && binomialUpperTail(samples, k, chance) >= CHANCE_LEVEL) k++;
  return k / samples;
}
