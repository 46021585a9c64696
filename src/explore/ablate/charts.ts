// The report's plots: Vega-Lite specifications compiled to Vega and rendered to SVG in Node
// (a headless View with renderer 'none' — no browser, no canvas). A chart is drawn only from
// what was measured: a cost-only sweep has no accuracy, so its page shows cost charts and says so.
import { compile, type TopLevelSpec } from 'vega-lite';
import { parse, View } from 'vega';
import type { RunRecord } from './record.js';
import type { Summary } from './summary.js';
import type { ComparedMetric } from './verdicts.js';

export interface Chart {
  /** Stable name (the page's data-chart attribute; the tests look for them). */
  name: string;
  title: string;
  svg: string;
}

export async function renderChart(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const WIDTH = 520;

/** Every chart the runs allow, in the page's order. */
export async function sweepCharts(summary: Summary, records: readonly RunRecord[]): Promise<Chart[]> {
  const { rows } = summary;
  const done = records.filter((r) => r.status === 'done');
  const trained = done.filter((r) => r.trained && r.metrics?.top1 !== undefined);
  const charts: { name: string; title: string; spec: TopLevelSpec }[] = [];
  const order = rows.map((r) => r.variant);
  if (trained.length) {
    const points = trained.map((r) => ({ variant: r.variant, seed: r.seed, top1: r.metrics!.top1!, order: r.metrics!.orderAccuracy }));
    const classes = new Set(trained.map((r) => r.metrics?.classes ?? r.config.head?.classes));
    const chance = classes.size === 1 && [...classes][0] ? 1 / [...classes][0]! : undefined;
    charts.push({
      name: 'accuracy',
      title: `Top-1 accuracy per variant: mean over seeds (bar) with its 95 % Student-t interval (error bar; none for one seed), each seed (dot)${chance !== undefined ? `; chance ${(chance * 100).toFixed(0)} % (dashed)` : ''}`,
      spec: seedBars(points, intervals(summary, 'top1'), 'top1', 'top-1', order, '#9ecae1', '#08519c', chance),
    });
    const orderPoints = points.filter((p) => p.order !== undefined);
    if (orderPoints.length) {
      charts.push({
        name: 'order-accuracy',
        title: 'Order-only accuracy (which of a motion and its reversal): mean (bar), 95 % t interval (error bar), each seed (dot); chance is 50 % (dashed)',
        spec: seedBars(orderPoints, intervals(summary, 'orderAccuracy'), 'order', 'order accuracy', order, '#fdae6b', '#a63603', 0.5),
      });
    }
    for (const [key, words] of [['top1', 'top-1'], ['orderAccuracy', 'order accuracy']] as const) {
      const diff = differences(summary, key);
      if (!diff.intervals.length) continue;
      charts.push({
        name: key === 'top1' ? 'top1-difference' : 'order-difference',
        title: `${words[0]!.toUpperCase()}${words.slice(1)} minus the reference (${diff.references.join(', ')}), paired by seed, in points: mean (diamond) with its 95 % t interval (error bar), each seed (dot); an interval clear of 0 (dashed) is a difference these runs tell`,
        spec: differenceChart(diff.intervals, diff.seeds, words, order),
      });
    }
    const curve = trained.flatMap((r) => (r.curves ?? []).map((p) => ({ ...p, variant: r.variant, run: `${r.variant} s${r.seed}` })));
    const loss = curve.filter((p) => p.split === 'train' && p.loss !== undefined);
    if (loss.length) {
      charts.push({
        name: 'loss-curves',
        title: 'Training loss per step (one line per run)',
        spec: lineChart(loss, 'loss', 'training loss', order),
      });
    }
    const acc = curve.filter((p) => p.split === 'val' && p.top1 !== undefined);
    if (acc.length) {
      charts.push({ name: 'accuracy-curves', title: 'Validation top-1 per step', spec: lineChart(acc, 'top1', 'validation top-1', order, '.0%') });
    }
    const cost = rows.filter((v) => v.top1 && v.macs !== undefined).map((v) => ({ variant: v.variant, macs: v.macs, latency: v.forwardLatencyMs?.mean, top1: v.top1!.mean }));
    charts.push({ name: 'accuracy-vs-macs', title: 'Accuracy against cost: MACs per clip', spec: scatter(cost, 'macs', 'MACs per clip', 'top1', 'top-1 (mean over seeds)', '.0%') });
    charts.push({ name: 'accuracy-vs-latency', title: 'Accuracy against cost: forward latency', spec: scatter(cost, 'latency', 'forward latency (ms, median)', 'top1', 'top-1 (mean over seeds)', '.0%') });
  }
  const costRows = rows.filter((v) => v.forwardClipsPerSecond).map((v) => ({ variant: v.variant, clips: v.forwardClipsPerSecond!.mean, latency: v.forwardLatencyMs?.mean, macs: v.macs }));
  if (costRows.length) {
    charts.push({
      name: 'throughput',
      title: 'Forward throughput per variant (clips/s on warm passes, mean over seeds)',
      spec: {
        width: WIDTH,
        height: { step: 22 },
        data: { values: costRows },
        mark: 'bar',
        encoding: { y: { field: 'variant', type: 'nominal', sort: order, title: null }, x: { field: 'clips', type: 'quantitative', title: 'clips/s' }, color: { value: '#74c476' } },
      } as TopLevelSpec,
    });
    if (!trained.length) {
      charts.push({ name: 'latency-vs-macs', title: 'Cost: forward latency against MACs per clip', spec: scatter(costRows, 'macs', 'MACs per clip', 'latency', 'forward latency (ms, median)') });
    }
  }
  const out: Chart[] = [];
  for (const c of charts) out.push({ name: c.name, title: c.title, svg: await renderChart(c.spec) });
  return out;
}

/** Each variant's mean and 95 % t interval of a metric (the interval absent for one seed). */
function intervals(summary: Summary, key: ComparedMetric): { variant: string; mean: number; low?: number; high?: number }[] {
  return summary.rows.flatMap((v) => (v[key] ? [{ variant: v.variant, mean: v[key]!.mean, ...(v[key]!.low !== undefined ? { low: v[key]!.low, high: v[key]!.high } : {}) }] : []));
}

/** Each compared variant's paired difference from its reference (points), and each seed's. */
function differences(summary: Summary, key: ComparedMetric) {
  const intervals: { variant: string; mean: number; low?: number; high?: number; verdict: string }[] = [];
  const seeds: { variant: string; seed: number; difference: number }[] = [];
  const references = new Set<string>();
  for (const v of summary.rows) {
    const d = v.against?.[key];
    if (!d) continue;
    references.add(v.against!.against);
    intervals.push({ variant: v.variant, mean: d.mean * 100, ...(d.low !== undefined ? { low: d.low * 100, high: d.high! * 100 } : {}), verdict: d.verdict });
    d.seeds.forEach((seed, i) => seeds.push({ variant: v.variant, seed, difference: d.differences[i]! * 100 }));
  }
  return { intervals, seeds, references: [...references] };
}

/**
 * A fraction per variant: the mean over seeds as a bar, its 95 % t interval as an error bar
 * (computed here, not by Vega-Lite's own bootstrap), each seed a dot; `chance` dashed.
 */
function seedBars(values: object[], means: object[], field: string, title: string, order: string[], bar: string, dot: string, chance?: number): TopLevelSpec {
  const y = { field: 'variant', type: 'nominal', sort: order, title: null };
  const withInterval = means.filter((m) => 'low' in m);
  return {
    width: WIDTH,
    height: { step: 22 },
    layer: [
      { data: { values: means }, mark: 'bar', encoding: { y, x: { field: 'mean', type: 'quantitative', title, axis: { format: '.0%' }, scale: { domain: [0, 1], clamp: true } }, color: { value: bar }, tooltip: [{ field: 'mean', title: 'mean', format: '.3f' }] } },
      ...(withInterval.length
        ? [{ data: { values: withInterval }, mark: { type: 'errorbar', ticks: true, color: '#333' }, encoding: { y, x: { field: 'low', type: 'quantitative', title }, x2: { field: 'high' } } }]
        : []),
      { data: { values }, mark: { type: 'point', filled: true, color: dot, opacity: 0.85 }, encoding: { y, x: { field, type: 'quantitative', title }, tooltip: [{ field: 'seed' }, { field, format: '.3f' }] } },
      ...(chance !== undefined ? [{ data: { values: [{}] }, mark: { type: 'rule', color: '#c00', strokeDash: [4, 3] }, encoding: { x: { datum: chance } } }] : []),
    ],
  } as TopLevelSpec;
}

/** Differences from the reference in points: interval error bars, the mean a diamond, seeds as dots, 0 dashed. */
function differenceChart(intervals: object[], seeds: object[], title: string, order: string[]): TopLevelSpec {
  const y = { field: 'variant', type: 'nominal', sort: order, title: null };
  const withInterval = intervals.filter((m) => 'low' in m);
  const x = { type: 'quantitative', title: `${title} minus the reference (points)` };
  return {
    width: WIDTH,
    height: { step: 26 },
    layer: [
      { data: { values: [{}] }, mark: { type: 'rule', color: '#777', strokeDash: [4, 3] }, encoding: { x: { datum: 0 } } },
      ...(withInterval.length ? [{ data: { values: withInterval }, mark: { type: 'errorbar', ticks: true, color: '#333' }, encoding: { y, x: { field: 'low', ...x }, x2: { field: 'high' } } }] : []),
      {
        data: { values: intervals },
        mark: { type: 'point', shape: 'diamond', filled: true, size: 90 },
        encoding: {
          y,
          x: { field: 'mean', ...x },
          color: { field: 'verdict', type: 'nominal', scale: { domain: ['better', 'worse', 'cannot tell'], range: ['#1a9850', '#d73027', '#636363'] }, title: 'verdict' },
          tooltip: [{ field: 'mean', format: '.1f' }, { field: 'low', format: '.1f' }, { field: 'high', format: '.1f' }, { field: 'verdict' }],
        },
      },
      { data: { values: seeds }, mark: { type: 'point', filled: true, color: '#08519c', opacity: 0.6, size: 30 }, encoding: { y, x: { field: 'difference', ...x }, tooltip: [{ field: 'seed' }, { field: 'difference', format: '.1f' }] } },
    ],
  } as TopLevelSpec;
}

function lineChart(values: object[], field: string, title: string, order: string[], format?: string): TopLevelSpec {
  return {
    width: WIDTH,
    height: 260,
    data: { values },
    mark: { type: 'line', point: values.length < 200 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field, type: 'quantitative', title, ...(format ? { axis: { format } } : {}) },
      color: { field: 'variant', type: 'nominal', sort: order, title: 'variant' },
      detail: { field: 'run', type: 'nominal' },
    },
  } as TopLevelSpec;
}

function scatter(values: object[], x: string, xTitle: string, y: string, yTitle: string, yFormat?: string): TopLevelSpec {
  // MACs run to billions: SI prefixes (4.82M), not 4,817,472.000000.
  const xAxis = x === 'macs' ? { axis: { format: '.3s' } } : {};
  return {
    width: WIDTH,
    height: 280,
    data: { values },
    layer: [
      {
        mark: { type: 'point', filled: true, size: 80 },
        encoding: {
          x: { field: x, type: 'quantitative', title: xTitle, scale: { zero: false }, ...xAxis },
          y: { field: y, type: 'quantitative', title: yTitle, scale: { zero: false }, ...(yFormat ? { axis: { format: yFormat } } : {}) },
          color: { field: 'variant', type: 'nominal', legend: null },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 7, fontSize: 10 },
        encoding: { x: { field: x, type: 'quantitative' }, y: { field: y, type: 'quantitative' }, text: { field: 'variant' } },
      },
    ],
  } as TopLevelSpec;
}
