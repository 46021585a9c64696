// What `pstc bench --profile` reports, as data (the --json output) and as text: each kernel's
// time (the median over the profiled runs), grouped by family and by block, with its achieved
// GFLOP/s and GB/s (kernel-cost.ts's FLOPs and bytes over its time) and their fraction of the
// adapter's measured peak. Pure: the timing is done before (backends/webgpu/profile.ts).
import type { KernelCost } from '../passes/kernel-cost.js';
import type { TimingMethod } from '../../backends/webgpu/profile.js';
import { spread } from './spread.js';
import { renderTable } from './table.js';

export interface ProfilePeak {
  flopsPerSecond: number;
  bytesPerSecond: number;
  /** 'cached', 'measured' or 'unwritable' (measured now, the cache file could not be written). */
  source: string;
  path: string;
  measuredAt: string;
  /** Load average per core when the peak was measured (peak-cache.ts), where known. */
  load?: number;
}

/** Time and work of a kernel or a group of kernels, and the rates they give. */
export interface ProfiledCost {
  ms: number;
  /** Fraction of the sum of all kernels' times. */
  share: number;
  flops: number;
  bytes: number;
  gflopsPerSecond: number;
  gbytesPerSecond: number;
}

export interface ProfiledKernel extends ProfiledCost {
  label: string;
  family: string;
  block: string;
  /** Dispatches of this kernel per pass (a micro-batched forward dispatches each kernel per chunk). */
  dispatches: number;
  /** Achieved over the adapter's measured peak. */
  peakFlopsFraction: number;
  peakBandwidthFraction: number;
}

export interface ProfileGroup extends ProfiledCost {
  name: string;
  kernels: number;
}

export interface Profile {
  method: TimingMethod;
  /** Runs of every dispatch; each kernel's time is its median over them. */
  runs: number;
  peak: ProfilePeak;
  kernels: ProfiledKernel[];
  families: ProfileGroup[];
  blocks: ProfileGroup[];
  /** Σ of the kernels' times, and the whole pass's median time as bench measured it. */
  kernelSumMs: number;
  wholePassMs: number;
}

/** `runs[r][i]`: milliseconds of dispatch i in run r. */
export function buildProfile(
  dispatches: readonly { label: string; cost: KernelCost }[],
  runs: readonly (readonly number[])[],
  method: TimingMethod,
  peak: ProfilePeak,
  wholePassMs: number,
): Profile {
  const byLabel = new Map<string, { label: string; cost: KernelCost; dispatches: number; ms: number }>();
  dispatches.forEach((d, i) => {
    const ms = spread(runs.map((r) => r[i]!)).median;
    const k = byLabel.get(d.label);
    if (k) {
      k.dispatches++;
      k.ms += ms;
    } else byLabel.set(d.label, { label: d.label, cost: d.cost, dispatches: 1, ms });
  });
  const kernelSumMs = [...byLabel.values()].reduce((s, k) => s + k.ms, 0);
  const rate = (amount: number, ms: number) => (ms > 0 ? amount / (ms / 1000) : 0);
  const kernels: ProfiledKernel[] = [...byLabel.values()]
    .map((k) => {
      const flops = k.cost.flops * k.dispatches;
      const bytes = k.cost.bytes * k.dispatches;
      return {
        label: k.label,
        family: k.cost.family,
        block: k.cost.block,
        dispatches: k.dispatches,
        ms: k.ms,
        share: kernelSumMs > 0 ? k.ms / kernelSumMs : 0,
        flops,
        bytes,
        gflopsPerSecond: rate(flops, k.ms) / 1e9,
        gbytesPerSecond: rate(bytes, k.ms) / 1e9,
        peakFlopsFraction: rate(flops, k.ms) / peak.flopsPerSecond,
        peakBandwidthFraction: rate(bytes, k.ms) / peak.bytesPerSecond,
      };
    })
    .sort((a, b) => b.ms - a.ms);
  const group = (keyOf: (k: ProfiledKernel) => string): ProfileGroup[] => {
    const groups = new Map<string, ProfileGroup>();
    for (const k of kernels) {
      const name = keyOf(k);
      const g = groups.get(name) ?? { name, kernels: 0, ms: 0, share: 0, flops: 0, bytes: 0, gflopsPerSecond: 0, gbytesPerSecond: 0 };
      g.kernels++;
      g.ms += k.ms;
      g.flops += k.flops;
      g.bytes += k.bytes;
      groups.set(name, g);
    }
    return [...groups.values()]
      .map((g) => ({ ...g, share: kernelSumMs > 0 ? g.ms / kernelSumMs : 0, gflopsPerSecond: rate(g.flops, g.ms) / 1e9, gbytesPerSecond: rate(g.bytes, g.ms) / 1e9 }))
      .sort((a, b) => b.ms - a.ms);
  };
  return { method, runs: runs.length, peak, kernels, families: group((k) => k.family), blocks: group((k) => k.block), kernelSumMs, wholePassMs };
}

const ms = (x: number) => x.toFixed(x < 1 ? 3 : x < 100 ? 2 : 1);
const pct = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`;
const rate = (x: number) => (x === 0 ? '—' : x.toFixed(x < 10 ? 2 : 1));

/** The profile as text; `top` kernels listed (all of them in --json), the rest summed in one row. */
export function renderProfile(p: Profile, top = 25): string {
  const shown = p.kernels.slice(0, top);
  const rest = p.kernels.slice(top);
  const rows = shown.map((k) => [
    k.label,
    k.family,
    k.block,
    ms(k.ms),
    pct(k.share),
    rate(k.gflopsPerSecond),
    k.flops ? pct(k.peakFlopsFraction) : '—',
    rate(k.gbytesPerSecond),
    pct(k.peakBandwidthFraction),
  ]);
  if (rest.length) rows.push([`… ${rest.length} more kernels`, '', '', ms(rest.reduce((s, k) => s + k.ms, 0)), pct(rest.reduce((s, k) => s + k.share, 0)), '', '', '', '']);
  rows.push(['total', '', '', ms(p.kernelSumMs), '100%', '', '', '', '']);
  const numeric = [false, false, false, true, true, true, true, true, true];
  const kernelTable = renderTable(['kernel', 'kind', 'block', 'ms', 'time', 'GFLOP/s', 'of peak', 'GB/s', 'of peak'], rows, numeric);
  const groupTable = (title: string, groups: ProfileGroup[]) =>
    renderTable(
      [title, 'kernels', 'ms', 'time', 'GFLOP/s', 'GB/s'],
      [
        ...groups.map((g) => [g.name, String(g.kernels), ms(g.ms), pct(g.share), rate(g.gflopsPerSecond), rate(g.gbytesPerSecond)]),
        ['total', String(p.kernels.length), ms(p.kernelSumMs), '100%', '', ''],
      ],
      [false, true, true, true, true, true],
    );
  const method =
    p.method === 'timestamp-query'
      ? 'timestamp queries (each kernel in its own compute pass, one submission)'
      : 'one submission per kernel, timed on the host (each time includes a submission and a wait)';
  const comparison =
    p.method === 'submission'
      ? 'the sum is expected larger than a whole pass: every kernel pays a submission of its own'
      : 'the sum may differ from a whole pass: one compute pass per kernel, and the whole pass includes submission';
  const lines = [
    `per-kernel times (median of ${p.runs} run${p.runs === 1 ? '' : 's'}): ${method}`,
    kernelTable,
    '',
    groupTable('kind', p.families),
    '',
    groupTable('block', p.blocks),
    '',
    `sum of kernel times ${ms(p.kernelSumMs)} ms; whole pass ${ms(p.wholePassMs)} ms (median) — ${comparison}`,
    `peak (${p.peak.source === 'cached' ? `cached ${p.peak.measuredAt}` : p.peak.source === 'measured' ? 'measured now' : 'measured now, cache not written'}` +
      `${p.peak.load !== undefined ? `, at load ${p.peak.load.toFixed(2)} per core` : ''}, ${p.peak.path}): ` +
      `${(p.peak.flopsPerSecond / 1e9).toFixed(1)} GFLOP/s (vec4 FMA chains), ${(p.peak.bytesPerSecond / 1e9).toFixed(2)} GB/s (vec4 copy)`,
    'FLOPs: 2 × the MACs of matrix products (elementwise work counts none: —); bytes: every tensor read or written once (a lower bound)',
  ];
  return lines.join('\n');
}
