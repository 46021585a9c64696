// `pstc bench MODEL.pst`: forward latency on the WebGPU device with random weights and a random
// clip — warm-up, then median and spread over --iters timed passes — with what the plan says
// (dispatches, kernels, peak memory) beside what was measured. `--baseline OTHER.pst` times a
// second model in the same run, alternating passes (A, B, A, B, …) so that drift of the machine
// (clock, heat, other load) falls on both alike, and prints the ratio of medians A/B
// (model over baseline: 1.03 means the model takes 3% longer).
import type { Command } from 'commander';
import type { PstcDevice } from '../../../backends/webgpu/device.js';
import { compileModel, type CompiledModel, type ModelInput } from '../../../backends/webgpu/runtime.js';
import type { ModelConfig } from '../../lang/model.js';
import { initWeights } from '../../weights/index.js';
import { randomClip } from '../clips.js';
import { withDevice } from '../device.js';
import type { CommandRegistrar } from '../registrar.js';
import { inputFrom, MAX_PASSES, nonNegativeInt, positiveInt, withInputOptions, withModelArgument } from '../options.js';
import { formatBytes, renderTable } from '../table.js';
import { loadCommandModel } from '../model.js';

interface BenchOptions {
  model?: string;
  set?: string[];
  batch?: number;
  frames?: number;
  size?: number;
  warmup: number;
  iters: number;
  json?: boolean;
  baseline?: string;
  baselineModel?: string;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** One model's figures: what the plan says and what was measured. Latencies in milliseconds. */
export interface BenchResult {
  model: string;
  file: string;
  input: ModelInput & { shape: number[] };
  latencyMs: Spread & { samples: number[] };
  clipsPerSecond: number;
  dispatchesPerForward: number;
  kernels: number;
  microBatch: number;
  plannedPeakBytes: { activations: number; weights: number; total: number };
  measuredPeakBytes: number;
}

export interface BenchReport {
  adapter: { vendor: string; architecture: string; device: string; description: string };
  warmup: number;
  iters: number;
  results: BenchResult[];
  /** Median latency of the model (results[0]) over that of the baseline (results[1]). */
  ratio?: number;
}

export function spread(samples: readonly number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

interface Subject {
  file: string;
  model: ModelConfig;
  input: ModelInput;
}

/** Time every subject on one device, interleaving their passes; destroys what it compiled. */
export async function benchModels(device: PstcDevice, subjects: readonly Subject[], warmup: number, iters: number): Promise<BenchReport> {
  const compiled: CompiledModel[] = [];
  try {
    for (const s of subjects) compiled.push(await compileModel(device, s.model, s.input, initWeights(s.model, 1)));
    const clips = subjects.map((s, i) =>
      randomClip([s.input.batch, s.model.embed.inChannels, s.input.frames, s.input.size, s.input.size], i + 1),
    );
    for (let i = 0; i < warmup; i++) for (const [k, c] of compiled.entries()) await c.timeForward(clips[k]!);
    const samples: number[][] = subjects.map(() => []);
    for (let i = 0; i < iters; i++) for (const [k, c] of compiled.entries()) samples[k]!.push(await c.timeForward(clips[k]!));

    const results = subjects.map((s, k): BenchResult => {
      const c = compiled[k]!;
      const latency = spread(samples[k]!);
      return {
        model: s.model.name,
        file: s.file,
        input: { ...s.input, shape: [s.input.batch, s.model.embed.inChannels, s.input.frames, s.input.size, s.input.size] },
        latencyMs: { ...latency, samples: samples[k]! },
        clipsPerSecond: s.input.batch / (latency.median / 1000),
        dispatchesPerForward: c.dispatchesPerForward,
        kernels: c.kernels.length,
        microBatch: c.microBatch,
        plannedPeakBytes: { ...c.plannedPeakBytes },
        measuredPeakBytes: c.measuredPeakBytes(),
      };
    });
    const ratio = results.length > 1 ? results[0]!.latencyMs.median / results[1]!.latencyMs.median : undefined;
    return { adapter: { ...device.info }, warmup, iters, results, ...(ratio !== undefined ? { ratio } : {}) };
  } finally {
    for (const c of compiled) c.destroy();
  }
}

export function renderBench(report: BenchReport): string {
  const { results } = report;
  const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1);
  const rows: [string, (r: BenchResult) => string][] = [
    ['input (N C T H W)', (r) => r.input.shape.join('×')],
    ['latency median', (r) => `${ms(r.latencyMs.median)} ms`],
    ['latency min … max', (r) => `${ms(r.latencyMs.min)} … ${ms(r.latencyMs.max)} ms`],
    ['clips/s', (r) => r.clipsPerSecond.toFixed(r.clipsPerSecond < 10 ? 2 : 1)],
    ['dispatches per forward', (r) => String(r.dispatchesPerForward)],
    ['kernels', (r) => String(r.kernels)],
    ['micro-batch', (r) => String(r.microBatch)],
    ['planned peak: activations', (r) => formatBytes(r.plannedPeakBytes.activations)],
    ['planned peak: weights', (r) => formatBytes(r.plannedPeakBytes.weights)],
    ['planned peak: total', (r) => formatBytes(r.plannedPeakBytes.total)],
    ['measured peak', (r) => formatBytes(r.measuredPeakBytes)],
  ];
  const table = renderTable(
    ['', ...results.map((r) => r.model)],
    rows.map(([name, cell]) => [name, ...results.map(cell)]),
    [false, ...results.map(() => true)],
  );
  const { vendor, architecture, description } = report.adapter;
  const lines = [
    table,
    '',
    `adapter: ${[vendor, architecture, description].filter(Boolean).join(' / ')}`,
    `${report.warmup} warm-up pass(es), then ${report.iters} timed; random weights and clip${results.length > 1 ? '; passes alternate between the models' : ''}`,
  ];
  if (report.ratio !== undefined) {
    lines.push(`ratio of medians ${results[0]!.model} / ${results[1]!.model}: ${report.ratio.toFixed(3)}`);
  }
  return lines.join('\n');
}

export const registerBench: CommandRegistrar = (program: Command, io) => {
  withInputOptions(withModelArgument(program.command('bench')))
    .description('forward latency on the WebGPU device (random weights and clip): median and spread, clips/s, dispatches, planned and measured peak memory')
    .option('--warmup <N>', 'untimed passes first', nonNegativeInt('--warmup', MAX_PASSES), 3)
    .option('--iters <N>', 'timed passes', positiveInt('--iters', MAX_PASSES), 10)
    .option('--baseline <other.pst>', 'also time this model, alternating passes with the first, and print the ratio of medians')
    .option('--baseline-model <name>', 'which model of the --baseline file (default: its last model)')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: BenchOptions) => {
      const subject = (path: string, name: string | undefined, set: string[] = []): Subject => {
        const { model } = loadCommandModel(path, { ...(name !== undefined ? { model: name } : {}), set });
        const input: ModelInput = inputFrom(model, opts);
        return { file: path, model, input };
      };
      const subjects = [subject(file, opts.model, opts.set)];
      if (opts.baseline !== undefined) subjects.push(subject(opts.baseline, opts.baselineModel));

      const report = await withDevice((device) => benchModels(device, subjects, opts.warmup, opts.iters));
      io.out(opts.json ? JSON.stringify(report, null, 2) : renderBench(report));
    });
};
