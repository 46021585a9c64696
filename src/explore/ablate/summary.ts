// The finished runs of a sweep, one row per variant: seeds pooled (mean and spread of each
// figure), and the files that carry them — results.json (every record whole), results.csv (one
// line per run) and results.md (the table a person reads).
import type { PlannedRun, RunRecord, SweepPlan } from './record.js';
import { planTrainingText } from './train-defaults.js';
import { describeChanges } from '../config-diff.js';
import { formatBytes, formatMacs } from '../format.js';

export interface Stat {
  mean: number;
  /** Sample standard deviation over seeds (0 for one seed). */
  sd: number;
  min: number;
  max: number;
  n: number;
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
  trainClipsPerSecond?: Stat;
  forwardLatencyMs?: Stat;
  peakBytes?: number;
  seconds?: Stat;
}

export function stat(values: readonly number[]): Stat | undefined {
  if (values.length === 0) return undefined;
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, min: Math.min(...values), max: Math.max(...values), n };
}

export function variantRows(plan: SweepPlan, records: readonly RunRecord[]): VariantRow[] {
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
      ...(first?.memory ? { peakBytes: first.memory.plannedTrainBytes ?? first.memory.plannedForwardBytes } : {}),
      seconds: pick((r) => r.seconds),
    };
  });
  return [...ran, ...invalid];
}

const CSV_COLUMNS: [string, (r: RunRecord) => unknown][] = [
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
  ['forward_clips_per_s', (r) => r.throughput?.forwardClipsPerSecond],
  ['train_clips_per_s', (r) => r.throughput?.trainClipsPerSecond],
  ['forward_latency_ms', (r) => r.throughput?.forwardLatencyMs],
  ['planned_forward_bytes', (r) => r.memory?.plannedForwardBytes],
  ['planned_train_bytes', (r) => r.memory?.plannedTrainBytes],
  ['measured_forward_bytes', (r) => r.memory?.measuredForwardBytes],
  ['seconds', (r) => r.seconds],
  ['host', (r) => r.host],
  ['adapter', (r) => r.adapter],
  ['diagnostic', (r) => r.diagnostic?.split('\n').find((l) => l.trim())],
];

export function resultsCsv(records: readonly RunRecord[]): string {
  const cell = (v: unknown) => {
    if (v === undefined || v === null) return '';
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [CSV_COLUMNS.map(([h]) => h).join(','), ...records.map((r) => CSV_COLUMNS.map(([, f]) => cell(f(r))).join(','))].join('\n') + '\n';
}

export function percent(s: Stat | undefined): string {
  if (!s) return '—';
  const pm = s.n > 1 ? ` ± ${(s.sd * 100).toFixed(1)}` : '';
  return `${(s.mean * 100).toFixed(1)}%${pm}${s.n > 1 ? ` (${s.n} seeds)` : ''}`;
}

/** The table of the report, as cells (Markdown and HTML render the same cells). */
export function tableCells(rows: readonly VariantRow[]): { header: string[]; rows: string[][] } {
  const header = ['variant', 'what differs', 'params', 'MACs', 'top-1', 'order acc.', 'clips/s (fwd)', 'clips/s (train)', 'peak memory', 'time/run', 'runs'];
  return {
    header,
    rows: rows.map((v) => [
      v.variant + (v.sameAs.length ? ` (= ${v.sameAs.join(', ')})` : ''),
      v.changes,
      v.params === undefined ? '—' : formatMacs(v.params),
      v.macs === undefined ? '—' : formatMacs(v.macs),
      percent(v.top1),
      percent(v.orderAccuracy),
      v.forwardClipsPerSecond ? v.forwardClipsPerSecond.mean.toFixed(1) : '—',
      v.trainClipsPerSecond ? v.trainClipsPerSecond.mean.toFixed(1) : '—',
      v.peakBytes === undefined ? '—' : formatBytes(v.peakBytes),
      v.seconds ? `${v.seconds.mean.toFixed(1)} s` : '—',
      v.planned === 0 ? 'not run: invalid' : `${v.done}/${v.planned}${v.failed ? `, ${v.failed} failed` : ''}`,
    ]),
  };
}

export function resultsMarkdown(plan: SweepPlan, rows: readonly VariantRow[]): string {
  const { header, rows: cells } = tableCells(rows);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `# Ablation: ${plan.sweeps.join(', ')} (${plan.file})`,
    '',
    budgetLine(plan),
    '',
    `| ${header.join(' | ')} |`,
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
