// What a sweep's runs say, with the statistics of src/explore/stats.ts: which variant each is
// compared with (its sweep's base, or `--against VARIANT`), the difference of each metric from
// that variant paired by seed with its 95 % interval and verdict, and runs whose validation
// accuracy never left chance (a budget too short to compare anything).
import { DiagnosticError } from '../../lang/diagnostics.js';
import { didYouMean } from '../../lang/values.js';
import { aboveChanceFrom, pairedDifference, withinChance, type PairedDifference } from '../stats.js';
import type { RunRecord, SweepPlan } from './record.js';

/** The metrics compared between variants: higher is better for each. */
export const COMPARED = [
  { key: 'top1', words: 'top-1' },
  { key: 'orderAccuracy', words: 'order accuracy' },
] as const;
export type ComparedMetric = (typeof COMPARED)[number]['key'];

export interface Reference {
  /** The variant every other of its sweep (all, with --against) is compared with. */
  variant: string;
  /** Why this one, as the report says it. */
  why: string;
}

/** A variant's differences from its reference, per metric, paired by seed (absent: no shared finished seeds, or the metric not measured). */
export interface Comparison {
  against: string;
  top1?: PairedDifference;
  orderAccuracy?: PairedDifference;
}

/** Every name a variant of the plan goes by (runs, folded, invalid), for `--against`. */
function variantNames(plan: SweepPlan): string[] {
  return [...new Set([...plan.runs.map((r) => r.variant), ...plan.folded.map((f) => f.variant), ...plan.invalid.map((v) => v.variant)])];
}

/**
 * The run variant `--against NAME` means: a variant's full name (`demo.pst`) or, when only one
 * variant has it, its name within the sweep (`pst`); a variant folded into another stands for the
 * one that runs. A name of no variant, or of one that does not check, is PST808.
 */
export function resolveAgainst(plan: SweepPlan, name: string): string {
  const names = variantNames(plan);
  const short = (n: string) => n.slice(n.indexOf('.') + 1);
  let found = names.filter((n) => n === name);
  if (found.length === 0) found = names.filter((n) => n.includes('.') && short(n) === name);
  const runnable = [...new Set(plan.runs.map((r) => r.variant))];
  if (found.length !== 1) {
    const why = found.length > 1 ? `\`${name}\` is the name of ${found.join(', ')}: give the full name` : `no variant of ${plan.sweeps.join(', ')} is called \`${name}\``;
    const hint = found.length > 1 ? undefined : didYouMean(name, names);
    throw new DiagnosticError([
      { code: 'PST808', severity: 'error', message: `--against: ${why}`, flag: '--against', hint: `${hint ? `${hint}; ` : ''}the variants: ${runnable.join(', ')}` },
    ]);
  }
  const variant = found[0]!;
  if (plan.invalid.some((v) => v.variant === variant)) {
    throw new DiagnosticError([
      { code: 'PST808', severity: 'error', message: `--against: ${variant} does not check, so it has no runs to compare with`, flag: '--against', hint: `one of ${runnable.join(', ')}` },
    ]);
  }
  return plan.folded.find((f) => f.variant === variant)?.runsAs ?? variant;
}

/**
 * Each sweep's reference: `against` for every sweep when given; else the sweep's variant that is
 * its base model unchanged (nothing differs), else its first variant.
 */
export function references(plan: SweepPlan, against?: string): Map<string, Reference> {
  const out = new Map<string, Reference>();
  const chosen = against !== undefined ? resolveAgainst(plan, against) : undefined;
  for (const sweep of plan.sweeps) {
    const runs = plan.runs.filter((r) => r.sweep === sweep);
    if (runs.length === 0) continue;
    if (chosen !== undefined) {
      out.set(sweep, { variant: chosen, why: '--against' });
      continue;
    }
    const hasBase = plan.bases.some((b) => b.sweep === sweep && b.config);
    const unchanged = hasBase ? runs.find((r) => r.changes.length === 0) : undefined;
    out.set(
      sweep,
      unchanged
        ? { variant: unchanged.variant, why: `the sweep's base, ${unchanged.base}` }
        : { variant: runs[0]!.variant, why: `the sweep's first variant (none is its base ${runs[0]!.base} unchanged)` },
    );
  }
  return out;
}

/** A metric of each finished run of a variant, by seed. */
export function bySeed(records: readonly RunRecord[], variant: string, metric: ComparedMetric): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of records) {
    const v = r.metrics?.[metric];
    if (r.variant === variant && r.status === 'done' && v !== undefined && Number.isFinite(v)) out.set(r.seed, v);
  }
  return out;
}

export function compare(records: readonly RunRecord[], variant: string, against: string): Comparison {
  const out: Comparison = { against };
  for (const { key } of COMPARED) {
    const d = pairedDifference(bySeed(records, variant, key), bySeed(records, against, key));
    if (d) out[key] = d;
  }
  return out;
}

/** A run whose validation top-1 never left chance: its best evaluation within the binomial noise of 1/classes. */
export interface AtChance {
  /** The best validation top-1 of the run (its evaluations on the way and the final one). */
  best: number;
  chance: number;
  samples: number;
  /** The accuracy that would count as above chance on this many clips (one-sided binomial test at 5 %). */
  threshold: number;
}

export function atChance(r: RunRecord): AtChance | undefined {
  const m = r.metrics;
  if (r.status !== 'done' || !r.trained || m?.top1 === undefined || !m.valSamples) return undefined;
  const classes = m.classes ?? r.config.head?.classes;
  if (!classes || classes < 2) return undefined;
  const chance = 1 / classes;
  const evaluated = [m.top1, ...(r.curves ?? []).filter((p) => p.split === 'val' && p.top1 !== undefined).map((p) => p.top1!)];
  const best = Math.max(...evaluated);
  if (!withinChance(best, m.valSamples, chance)) return undefined;
  return { best, chance, samples: m.valSamples, threshold: aboveChanceFrom(m.valSamples, chance) };
}
