// The report's opening paragraph: the answer a reader came for — which variants differ from the
// reference, by how much, how sure — written from the numbers (the verdicts of the paired
// differences), never from what the sweep was meant to show.
import type { PairedDifference } from '../stats.js';
import type { SweepPlan } from './record.js';
import type { Summary, VariantRow } from './summary.js';
import { COMPARED, type ComparedMetric } from './verdicts.js';

const points = (x: number) => (Math.abs(x) * 100).toFixed(1);
const signedPoints = (x: number) => `${x < 0 ? '−' : '+'}${points(x)}`;
const seeds = (n: number) => `${n} seed${n === 1 ? '' : 's'}`;

/** The metrics in the order the answer names them: order accuracy first where measured (the order-only sets' point), then top-1. */
function metricsOf(rows: readonly VariantRow[]): { key: ComparedMetric; words: string }[] {
  const present = COMPARED.filter(({ key }) => rows.some((v) => v[key]));
  return [...present].sort((a, b) => (a.key === 'orderAccuracy' ? -1 : b.key === 'orderAccuracy' ? 1 : 0));
}

export function openingParagraph(plan: SweepPlan, summary: Summary): string {
  const { rows } = summary;
  const done = rows.reduce((n, v) => n + v.done, 0);
  const failed = rows.reduce((n, v) => n + v.failed, 0);
  const failedNote = failed ? ` ${failed} run${failed === 1 ? '' : 's'} failed or did not check (below).` : '';
  if (done === 0) return `No run has finished yet: nothing to compare.${failedNote}`;
  const metrics = metricsOf(rows);
  if (metrics.length === 0) return costAnswer(summary) + failedNote;

  const groups = new Map<string, VariantRow[]>();
  for (const v of rows) {
    const ref = summary.references.get(v.sweep)?.variant;
    if (ref === undefined || v.reference || v.planned === 0) continue;
    groups.set(ref, [...(groups.get(ref) ?? []), v]);
  }
  const sentences: string[] = [];
  for (const [ref, others] of groups) sentences.push(...againstReference(ref, others, metrics));
  const chance = rows.flatMap((v) => v.atChance ?? []);
  if (chance.length) {
    sentences.push(
      `${chance.length} of ${done} runs never left chance (best validation top-1 within the binomial noise of 1/classes): budget too short? — a difference between such runs says nothing about the variants.`,
    );
  }
  return sentences.join(' ') + failedNote;
}

function againstReference(ref: string, others: readonly VariantRow[], metrics: readonly { key: ComparedMetric; words: string }[]): string[] {
  const compared = others.filter((v) => v.against && metrics.some(({ key }) => v.against![key]));
  const missing = others.filter((v) => !compared.includes(v)).map((v) => v.variant);
  const out: string[] = [];
  const intervals = compared.some((v) => metrics.some(({ key }) => (v.against![key]?.n ?? 0) > 1));
  if (!intervals && compared.length) {
    const diffs = compared.map((v) => `${v.variant} ${metrics.filter(({ key }) => v.against![key]).map(({ key, words }) => `${signedPoints(v.against![key]!.mean)} points of ${words}`).join(', ')}`);
    out.push(
      `With one seed per variant there is no interval, so these runs cannot say whether any variant differs from ${ref}: the single differences are ${diffs.join('; ')}. Run more seeds (--seeds 3 or more) to tell.`,
    );
  } else if (compared.length) {
    const undecided: VariantRow[] = [];
    for (const v of compared) {
      const decided = metrics.filter(({ key }) => v.against![key] && v.against![key]!.verdict !== 'cannot tell');
      if (decided.length === 0) {
        undecided.push(v);
        continue;
      }
      // "worse than R by 32.1 points of order accuracy (…) and by 20.0 points of top-1 (…)"
      const told = decided.map(({ key, words }, i) => {
        const d = v.against![key]!;
        const lead = i === 0 ? `${d.verdict} than ${ref} ` : d.verdict === v.against![decided[i - 1]!.key]!.verdict ? '' : `${d.verdict} `;
        return `${lead}by ${byHowMuch(d, words)}`;
      });
      const rest = metrics.filter(({ key }) => v.against![key] && v.against![key]!.verdict === 'cannot tell');
      const restText = rest.length ? `; on ${rest.map(({ words }) => words).join(' and ')} these runs cannot tell them apart (${rest.map(({ key }) => interval(v.against![key]!)).join('; ')})` : '';
      out.push(`${v.variant} is ${told.join(' and ')}${restText}.`);
    }
    if (undecided.length) {
      // How sure, per variant: the span of its intervals (a narrow one says "no difference larger than this").
      const spans = undecided.map((v) => {
        const ds = metrics.flatMap(({ key }) => (v.against![key] ? [v.against![key]!] : []));
        const low = Math.min(...ds.map((d) => d.low ?? d.mean));
        const high = Math.max(...ds.map((d) => d.high ?? d.mean));
        return { name: v.variant, text: `${v.variant}: within ${signedPoints(low)} to ${signedPoints(high)} points`, n: Math.max(...ds.map((d) => d.n)) };
      });
      const names = spans.map((x) => x.name);
      const who = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
      out.push(
        `These runs cannot tell ${who} apart from ${ref} on ${metrics.map((m) => m.words).join(' or ')}: every 95 % interval of the difference holds 0 (${spans.map((x) => x.text).join('; ')}; ${seeds(Math.max(...spans.map((x) => x.n)))}).`,
      );
    }
  }
  if (missing.length) out.push(`${missing.join(', ')}: no finished run to compare with ${ref}.`);
  return out;
}

/** `32.1 points of order accuracy (95 % interval 28.0–36.2, 3 seeds)`: magnitudes, so the interval reads in the verdict's direction. */
function byHowMuch(d: PairedDifference, words: string): string {
  const [a, b] = d.verdict === 'worse' ? [-d.high!, -d.low!] : [d.low!, d.high!];
  return `${points(d.mean)} points of ${words} (95 % interval ${points(a)}–${points(b)}, ${seeds(d.n)})`;
}

function interval(d: PairedDifference): string {
  if (d.low === undefined || d.high === undefined) return `${signedPoints(d.mean)} points, one seed`;
  return `${signedPoints(d.mean)} points, interval ${signedPoints(d.low)} to ${signedPoints(d.high)}`;
}

/** A cost-only sweep: no accuracy to compare, so the answer is what each variant costs against the reference. */
function costAnswer(summary: Summary): string {
  const parts: string[] = [];
  for (const v of summary.rows) {
    const ref = summary.rows.find((r) => r.variant === summary.references.get(v.sweep)?.variant);
    if (!ref || v.reference || v.macs === undefined || ref.macs === undefined || !v.forwardClipsPerSecond || !ref.forwardClipsPerSecond) continue;
    parts.push(`${v.variant} ${(v.macs / ref.macs).toFixed(2)}× the MACs of ${ref.variant} and ${(v.forwardClipsPerSecond.mean / ref.forwardClipsPerSecond.mean).toFixed(2)}× its forward clips/s`);
  }
  return `Cost only (not trained): no accuracy to compare.${parts.length ? ` ${parts.join('; ')} (warm passes).` : ''}`;
}
