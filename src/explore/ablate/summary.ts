// The finished runs of a sweep, one row per variant: seeds pooled (the mean of each figure with
// its 95 % Student-t interval), each variant's difference from its reference paired by seed with
// a verdict, runs that never left chance flagged — and the files that carry them: results.json
// (every record whole), results.csv (one line per run), variants.csv (one line per variant) and
// results.md (the answer in words, then the table a person reads).
import type { PlannedRun, RunRecord, SweepPlan } from './record.js';
import { planTrainingText } from './train-defaults.js';
import { describeChanges } from '../config-diff.js';
import { formatBytes, formatMacs } from '../format.js';
import { tInterval, verdictWords, type MeanInterval, type PairedDifference } from '../stats.js';
import { openingParagraph } from './answer.js';
import { FORWARD_WARMUP } from './measure.js';
import { atChance, compare, COMPARED, references, type AtChance, type Comparison, type Reference } from './verdicts.js';

/** A figure over seeds: mean, sample sd, the 95 % t interval of the mean (absent for one seed), extremes. */
export interface Stat extends MeanInterval {
  min: number;
  max: number;
}

export interface VariantRow {
  variant: string;
  sweep: string;
  sameAs: string[];
  changes: string;
  /** Runs of this variant in the plan, finished ones, failed ones. */
  planned: number;
  done: number;
  failed: number;
  /** The first failure's diagnostic. */
  diagnostic?: string;
  params?: number;
  macs?: number;
  top1?: Stat;
  orderAccuracy?: Stat;
  forwardClipsPerSecond?: Stat;
  /** Over warm training steps only. */
  trainClipsPerSecond?: Stat;
  forwardLatencyMs?: Stat;
  /** Building pipelines per run: the training step's and the forward's together. */
  compileSeconds?: Stat;
  peakBytes?: number;
  seconds?: Stat;
  /** True for the variant the others of its sweep are compared with. */
  reference?: boolean;
  /** The differences from the reference (absent on the reference itself). */
  against?: Comparison;
  /** Runs whose validation top-1 never left chance, by seed. */
  atChance?: { seed: number; detail: AtChance }[];
}

export function stat(values: readonly number[]): Stat | undefined {
  if (values.length === 0) return undefined;
  return { ...tInterval(values), min: Math.min(...values), max: Math.max(...values) };
}

export interface SummaryOptions {
  /** Compare every variant with this one (`--against`) instead of each sweep's base. */
  against?: string;
}

export interface Summary {
  rows: VariantRow[];
  references: Map<string, Reference>;
}

export function summarize(plan: SweepPlan, records: readonly RunRecord[], options: SummaryOptions = {}): Summary {
  const refs = references(plan, options.against);
  const byVariant = new Map<string, PlannedRun[]>();
  for (const r of plan.runs) byVariant.set(r.variant, [...(byVariant.get(r.variant) ?? []), r]);
  const invalid: VariantRow[] = plan.invalid.map((v) => ({
    variant: v.variant,
    sweep: v.variant.split(/[.[]/)[0]!,
    sameAs: [],
    changes: '(does not check)',
    planned: 0,
    done: 0,
    failed: 1,
    diagnostic: v.diagnostic,
  }));
  const ran = [...byVariant].map(([variant, runs]): VariantRow => {
    const mine = records.filter((r) => r.variant === variant);
    const done = mine.filter((r) => r.status === 'done');
    const pick = (f: (r: RunRecord) => number | undefined) => stat(done.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x)));
    const failed = mine.filter((r) => r.status === 'failed');
    const first = done[0];
    const ref = refs.get(runs[0]!.sweep)?.variant;
    const chance = done.flatMap((r) => {
      const detail = atChance(r);
      return detail ? [{ seed: r.seed, detail }] : [];
    });
    return {
      variant,
      sweep: runs[0]!.sweep,
      sameAs: runs[0]!.sameAs,
      changes: describeChanges(runs[0]!.changes),
      planned: runs.length,
      done: done.length,
      failed: failed.length,
      ...(failed[0]?.diagnostic ? { diagnostic: failed[0].diagnostic } : {}),
      ...(first?.params !== undefined ? { params: first.params, macs: first.macs } : {}),
      top1: pick((r) => r.metrics?.top1),
      orderAccuracy: pick((r) => r.metrics?.orderAccuracy),
      forwardClipsPerSecond: pick((r) => r.throughput?.forwardClipsPerSecond),
      trainClipsPerSecond: pick((r) => r.throughput?.trainClipsPerSecond),
      forwardLatencyMs: pick((r) => r.throughput?.forwardLatencyMs),
      compileSeconds: pick((r) => (r.compileSeconds ? (r.compileSeconds.train ?? 0) + r.compileSeconds.forward : undefined)),
      ...(first?.memory ? { peakBytes: first.memory.plannedTrainBytes ?? first.memory.plannedForwardBytes } : {}),
      seconds: pick((r) => r.seconds),
      ...(ref === variant ? { reference: true } : ref !== undefined && done.length ? { against: compare(records, variant, ref) } : {}),
      ...(chance.length ? { atChance: chance } : {}),
    };
  });
  return { rows: [...ran, ...invalid], references: refs };
}

/** The rows alone (see summarize). */
export function variantRows(plan: SweepPlan, records: readonly RunRecord[], options: SummaryOptions = {}): VariantRow[] {
  return summarize(plan, records, options).rows;
}

const csvCell = (v: unknown) => {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const csv = <T>(columns: [string, (x: T) => unknown][], items: readonly T[]) =>
  [columns.map(([h]) => h).join(','), ...items.map((x) => columns.map(([, f]) => csvCell(f(x))).join(','))].join('\n') + '\n';

/** One line per run; `minus_against` columns: this run's metric minus its reference's on the same seed. */
export function resultsCsv(records: readonly RunRecord[], summary?: Summary): string {
  const refOf = (r: RunRecord) => summary?.references.get(r.sweep)?.variant;
  const minus = (r: RunRecord, key: 'top1' | 'orderAccuracy') => {
    const ref = refOf(r);
    const mate = ref === undefined ? undefined : records.find((o) => o.variant === ref && o.seed === r.seed && o.status === 'done');
    const a = r.metrics?.[key];
    const b = mate?.metrics?.[key];
    return r.status === 'done' && a !== undefined && b !== undefined ? a - b : undefined;
  };
  const columns: [string, (r: RunRecord) => unknown][] = [
    ['id', (r) => r.id],
    ['sweep', (r) => r.sweep],
    ['variant', (r) => r.variant],
    ['same_as', (r) => r.sameAs.join(' ')],
    ['seed', (r) => r.seed],
    ['status', (r) => r.status],
    ['differs', (r) => describeChanges(r.changes)],
    ['params', (r) => r.params],
    ['macs', (r) => r.macs],
    ['trained', (r) => r.trained],
    ['top1', (r) => r.metrics?.top1],
    ['top5', (r) => r.metrics?.top5],
    ['order_accuracy', (r) => r.metrics?.orderAccuracy],
    ['final_loss', (r) => r.metrics?.finalLoss],
    ['val_samples', (r) => r.metrics?.valSamples],
    ['classes', (r) => r.metrics?.classes],
    ['at_chance', (r) => (r.status === 'done' && r.trained ? (atChance(r) ? 'yes' : 'no') : undefined)],
    ['against', (r) => refOf(r)],
    ['top1_minus_against', (r) => minus(r, 'top1')],
    ['order_accuracy_minus_against', (r) => minus(r, 'orderAccuracy')],
    ['forward_clips_per_s_warm', (r) => r.throughput?.forwardClipsPerSecond],
    ['train_clips_per_s_warm', (r) => r.throughput?.trainClipsPerSecond],
    ['train_warm_steps', (r) => r.throughput?.trainWarmSteps],
    ['forward_latency_ms', (r) => r.throughput?.forwardLatencyMs],
    ['compile_train_s', (r) => r.compileSeconds?.train],
    ['compile_forward_s', (r) => r.compileSeconds?.forward],
    ['planned_forward_bytes', (r) => r.memory?.plannedForwardBytes],
    ['planned_train_bytes', (r) => r.memory?.plannedTrainBytes],
    ['measured_forward_bytes', (r) => r.memory?.measuredForwardBytes],
    ['seconds', (r) => r.seconds],
    ['host', (r) => r.host],
    ['adapter', (r) => r.adapter],
    ['diagnostic', (r) => r.diagnostic?.split('\n').find((l) => l.trim())],
  ];
  return csv(columns, records);
}

/** One line per variant: means with their 95 % t intervals, differences from the reference with theirs, verdicts. */
export function variantsCsv(rows: readonly VariantRow[]): string {
  const columns: [string, (v: VariantRow) => unknown][] = [
    ['variant', (v) => v.variant],
    ['sweep', (v) => v.sweep],
    ['same_as', (v) => v.sameAs.join(' ')],
    ['runs_done', (v) => v.done],
    ['runs_failed', (v) => v.failed],
  ];
  for (const { key } of COMPARED) {
    const col = key === 'top1' ? 'top1' : 'order_accuracy';
    columns.push(
      [`${col}_mean`, (v) => v[key]?.mean],
      [`${col}_low95`, (v) => v[key]?.low],
      [`${col}_high95`, (v) => v[key]?.high],
      [`${col}_seeds`, (v) => v[key]?.n],
    );
  }
  columns.push(['against', (v) => (v.reference ? '(reference)' : v.against?.against)]);
  for (const { key } of COMPARED) {
    const col = key === 'top1' ? 'top1' : 'order_accuracy';
    columns.push(
      [`${col}_minus_against`, (v) => v.against?.[key]?.mean],
      [`${col}_minus_against_low95`, (v) => v.against?.[key]?.low],
      [`${col}_minus_against_high95`, (v) => v.against?.[key]?.high],
      [`${col}_pairs`, (v) => v.against?.[key]?.n],
      [`${col}_verdict`, (v) => v.against?.[key]?.verdict],
    );
  }
  columns.push(
    ['runs_at_chance', (v) => v.atChance?.map((c) => c.seed).join(' ')],
    ['forward_clips_per_s_warm', (v) => v.forwardClipsPerSecond?.mean],
    ['train_clips_per_s_warm', (v) => v.trainClipsPerSecond?.mean],
    ['compile_s', (v) => v.compileSeconds?.mean],
    ['params', (v) => v.params],
    ['macs', (v) => v.macs],
    ['diagnostic', (v) => v.diagnostic?.split('\n').find((l) => l.trim())],
  );
  return csv(columns, rows);
}

const pct = (x: number) => (x * 100).toFixed(1);

/** A fraction over seeds: `94.0 % [88.1, 99.9]`, or with one seed `94.0 % (one seed: no interval)`. */
export function percent(s: Stat | undefined): string {
  if (!s) return '—';
  if (s.low === undefined || s.high === undefined) return `${pct(s.mean)} % (one seed: no interval)`;
  return `${pct(s.mean)} % [${pct(s.low)}, ${pct(s.high)}]`;
}

const signed = (x: number) => `${x > 0 ? '+' : x < 0 ? '−' : '±'}${Math.abs(x * 100).toFixed(1)}`;
const signedPlain = (x: number) => `${x < 0 ? '−' : ''}${Math.abs(x * 100).toFixed(1)}`;

/** A difference in points with its interval and verdict: `−32.1 [−36.2, −28.0]: worse`. */
export function differenceCell(d: PairedDifference | undefined): string {
  if (!d) return '—';
  if (d.low === undefined || d.high === undefined) return `${signed(d.mean)} (one seed: no interval)`;
  return `${signed(d.mean)} [${signedPlain(d.low)}, ${signedPlain(d.high)}]: ${verdictWords(d.verdict)}`;
}

/** The note of a row: runs still at chance. */
function noteOf(v: VariantRow): string {
  if (!v.atChance?.length) return '';
  const c = v.atChance[0]!.detail;
  const seeds = v.atChance.map((x) => x.seed).join(', ');
  return (
    `still at chance: budget too short? (seed${v.atChance.length > 1 ? 's' : ''} ${seeds}: best top-1 ${pct(Math.max(...v.atChance.map((x) => x.detail.best)))} %; ` +
    `on ${c.samples} clips a guess at ${pct(c.chance)} % chance stays below ${pct(c.threshold)} % with 95 % probability)`
  );
}

/** The one reference every row is compared with, when there is one (one sweep, or --against). */
function soleReference(summary: Summary): string | undefined {
  const refs = new Set([...summary.references.values()].map((r) => r.variant));
  return refs.size === 1 ? [...refs][0] : undefined;
}

/** The table of the report, as cells (Markdown and HTML render the same cells). Columns without a value in any row are left out. */
export function tableCells(summary: Summary): { header: string[]; rows: string[][] } {
  const { rows } = summary;
  const ref = soleReference(summary) ?? 'its reference';
  const trained = rows.some((v) => v.top1);
  const order = rows.some((v) => v.orderAccuracy);
  const columns: [string, (v: VariantRow) => string][] = [
    ['variant', (v) => v.variant + (v.sameAs.length ? ` (= ${v.sameAs.join(', ')})` : '')],
    ['what differs', (v) => v.changes],
    ['params', (v) => (v.params === undefined ? '—' : formatMacs(v.params))],
    ['MACs', (v) => (v.macs === undefined ? '—' : formatMacs(v.macs))],
  ];
  const versus = (key: 'top1' | 'orderAccuracy') => (v: VariantRow) => (v.reference ? 'reference' : differenceCell(v.against?.[key]));
  if (trained) columns.push(['top-1: mean [95 % t interval]', (v) => percent(v.top1)], [`top-1 − ${ref} (points) [95 %]`, versus('top1')]);
  if (order) columns.push(['order acc.: mean [95 % t interval]', (v) => percent(v.orderAccuracy)], [`order acc. − ${ref} (points) [95 %]`, versus('orderAccuracy')]);
  columns.push(['clips/s fwd (warm passes)', (v) => (v.forwardClipsPerSecond ? v.forwardClipsPerSecond.mean.toFixed(1) : '—')]);
  if (rows.some((v) => v.trainClipsPerSecond)) columns.push(['clips/s train (warm steps)', (v) => (v.trainClipsPerSecond ? v.trainClipsPerSecond.mean.toFixed(1) : '—')]);
  columns.push(
    ['compile s', (v) => (v.compileSeconds ? v.compileSeconds.mean.toFixed(1) : '—')],
    ['peak memory', (v) => (v.peakBytes === undefined ? '—' : formatBytes(v.peakBytes))],
    ['time/run', (v) => (v.seconds ? `${v.seconds.mean.toFixed(1)} s` : '—')],
    ['runs', (v) => (v.planned === 0 ? 'not run: invalid' : `${v.done}/${v.planned}${v.failed ? `, ${v.failed} failed` : ''}`)],
  );
  if (rows.some((v) => v.atChance?.length)) columns.push(['note', noteOf]);
  return { header: columns.map(([h]) => h), rows: rows.map((v) => columns.map(([, f]) => f(v))) };
}

/** How to read the table: the statistics, the verdicts and the costs, said once. */
export function legend(plan: SweepPlan, summary: Summary): string {
  const trained = plan.budget.steps > 0;
  const refs = [...summary.references].map(([sweep, r]) => `${r.variant} (${r.why}${summary.references.size > 1 ? `, for ${sweep}` : ''})`);
  const parts = [];
  if (trained) {
    parts.push(
      `Means are over seeds with a 95 % Student-t interval (mean ± t₀.₉₇₅,ₙ₋₁ · sd / √n); one seed: no interval.`,
      `Differences are each variant minus ${refs.join('; ')}, in points, paired by seed (a seed fixes the initial weights and the data order), with the t interval of the paired differences: "better" or "worse" when it is clear of 0, else "these runs cannot tell them apart".`,
      `"Still at chance" marks a run whose best validation top-1 is within the binomial noise of 1/classes (exact one-sided test at 5 %).`,
    );
  }
  parts.push(
    `Throughput on warm work only: the forward after ${FORWARD_WARMUP} untimed passes (median of ${plan.budget.timingIters} timed passes)${trained ? ', training over the steps after the first, evaluations and checkpoints left out' : ''}; "compile s" is the time building pipelines plus the first use's excess over a warm pass, where a driver compiles shaders at first dispatch (${trained ? 'training step + forward' : 'forward'}), apart.`,
  );
  return parts.join(' ');
}

export function resultsMarkdown(plan: SweepPlan, summary: Summary): string {
  const { rows } = summary;
  const { header, rows: cells } = tableCells(summary);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `# Ablation: ${plan.sweeps.join(', ')} (${plan.file})`,
    '',
    `**Answer.** ${openingParagraph(plan, summary)}`,
    '',
    budgetLine(plan),
    '',
    legend(plan, summary),
    '',
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...cells.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
  const failures = rows.filter((v) => v.diagnostic);
  if (failures.length) {
    lines.push('', '## Failed runs', '');
    for (const v of failures) lines.push(`- **${v.variant}**: ${esc(v.diagnostic!.split('\n').find((l) => l.trim()) ?? '')}`);
  }
  if (plan.folded.length) {
    lines.push('', 'Variants equal to another after resolution (run once): ' + plan.folded.map((f) => `${f.variant} = ${f.runsAs}`).join('; ') + '.');
  }
  return lines.join('\n') + '\n';
}

export function budgetLine(plan: SweepPlan): string {
  const b = plan.budget;
  const train = b.steps > 0 ? `trained on \`${b.data}\`, ${planTrainingText(plan)}` : 'cost only (not trained: no accuracy)';
  return `Every run: ${train}; forward timed over ${b.timingIters} passes at batch ${b.batch}; seeds ${plan.seeds.join(', ')}. ` +
    'MACs per clip (multiply-accumulates of matrix products); peak memory is the WebGPU plan\'s (training step when trained, else forward).';
}
