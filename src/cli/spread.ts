// The median and extremes of timed samples (bench's latencies, a profile's per-kernel times), and
// how sure a ratio of two models' medians is (bench --baseline).
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(samples: readonly number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

/** A ratio of medians with its bootstrap interval. */
export interface RatioInterval {
  /** median(a) / median(b). */
  ratio: number;
  /** The central 95 % of the ratio over resamplings of the pairs. */
  low: number;
  high: number;
  pairs: number;
}

const RESAMPLES = 2000;

/**
 * median(a) / median(b) for passes timed in alternation (a[i] next to b[i]), with a 95 %
 * percentile-bootstrap interval: the pairs are resampled with replacement (a pair keeps what the
 * machine did to both of its passes) RESAMPLES times, deterministically (a fixed-seed generator),
 * and the ratio of medians taken each time. An interval that holds 1 says the two models'
 * difference is not told apart from the machine's noise by this many passes.
 */
export function ratioOfMedians(a: readonly number[], b: readonly number[]): RatioInterval {
  if (a.length !== b.length || a.length === 0) throw new Error(`internal: ratioOfMedians needs paired samples, got ${a.length} and ${b.length}`);
  const ratio = spread(a).median / spread(b).median;
  let state = 0x9e3779b9;
  const next = () => {
    // xorshift32: enough for picking indices, and the same interval on every run.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const n = a.length;
  const ratios: number[] = [];
  const ra = new Array<number>(n);
  const rb = new Array<number>(n);
  for (let r = 0; r < RESAMPLES; r++) {
    for (let i = 0; i < n; i++) {
      const k = Math.floor(next() * n);
      ra[i] = a[k]!;
      rb[i] = b[k]!;
    }
    ratios.push(spread(ra).median / spread(rb).median);
  }
  ratios.sort((x, y) => x - y);
  return { ratio, low: ratios[Math.floor(0.025 * RESAMPLES)]!, high: ratios[Math.ceil(0.975 * RESAMPLES) - 1]!, pairs: n };
}
