// The report's plots: Vega-Lite specifications compiled to Vega and rendered to SVG in Node
// (a headless View with renderer 'none' — no browser, no canvas). A chart is drawn only from
// what was measured: a cost-only sweep has no accuracy, so its page shows cost charts and says so.
import { compile, type TopLevelSpec } from 'vega-lite';
import { parse, View } from 'vega';
import type { RunRecord } from './record.js';
import type { VariantRow } from './summary.js';

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
export async function sweepCharts(rows: readonly VariantRow[], records: readonly RunRecord[]): Promise<Chart[]> {
  const done = records.filter((r) => r.status === 'done');
  const trained = done.filter((r) => r.trained && r.metrics?.top1 !== undefined);
  const charts: { name: string; title: string; spec: TopLevelSpec }[] = [];
  const order = rows.map((r) => r.variant);
  if (trained.length) {
    const points = trained.map((r) => ({ variant: r.variant, seed: r.seed, top1: r.metrics!.top1!, order: r.metrics!.orderAccuracy }));
    charts.push({
      name: 'accuracy',
      title: 'Top-1 accuracy per variant: mean over seeds (bar), each seed (dot), min–max (rule)',
      spec: seedBars(points, 'top1', 'top-1', order, '#9ecae1', '#08519c'),
    });
    const orderPoints = points.filter((p) => p.order !== undefined);
    if (orderPoints.length) {
      charts.push({
        name: 'order-accuracy',
        title: 'Order-only accuracy (which of a motion and its reversal): chance is 50% (dashed)',
        spec: seedBars(orderPoints, 'order', 'order accuracy', order, '#fdae6b', '#a63603', 0.5),
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
      title: 'Forward throughput per variant (clips/s, mean over seeds)',
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

/** A fraction per variant: the mean over seeds as a bar, each seed a dot, min–max a rule; `chance` dashed. */
function seedBars(values: object[], field: string, title: string, order: string[], bar: string, dot: string, chance?: number): TopLevelSpec {
  const y = { field: 'variant', type: 'nominal', sort: order, title: null };
  return {
    width: WIDTH,
    height: { step: 22 },
    data: { values },
    layer: [
      { mark: 'bar', encoding: { y, x: { aggregate: 'mean', field, type: 'quantitative', title, axis: { format: '.0%' }, scale: { domain: [0, 1] } }, color: { value: bar } } },
      { mark: { type: 'rule', color: '#333' }, encoding: { y, x: { aggregate: 'min', field }, x2: { aggregate: 'max', field } } },
      { mark: { type: 'point', filled: true, color: dot }, encoding: { y, x: { field, type: 'quantitative' }, tooltip: [{ field: 'seed' }, { field, format: '.3f' }] } },
      ...(chance !== undefined ? [{ mark: { type: 'rule', color: '#c00', strokeDash: [4, 3] }, encoding: { x: { datum: chance } } }] : []),
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
