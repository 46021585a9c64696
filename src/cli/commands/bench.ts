// `pstc bench MODEL.pst`: forward latency on the WebGPU device (or in ONNX Runtime: --backend;
// without it src/cli/backend.ts chooses) with random weights and a random clip — warm-up, then
// median and spread over --iters timed passes — with what the plan says
// (dispatches, kernels, peak memory) beside what was measured. `--baseline OTHER.pst` times a
// second model in the same run, alternating passes (A, B, A, B, …) so that drift of the machine
// (clock, heat, other load) falls on both alike, and prints the ratio of medians A/B
// (model over baseline: 1.03 means the model takes 3% longer). `--data SPEC` first times the
// loader alone (decoding, augmentation; `--workers N` threads) in clips/s, printed beside the
// device's clips/s, so a user sees whether the device would wait for the CPU. `--precision f16`
// stores weights and activations as half floats (backends/webgpu/precision.ts) and reports the
// logits' error against the float64 interpreter; `--baseline-precision` times the baseline at
// another precision (f16 against f32 on one model: --baseline the same file). The adapter's
// capabilities (shader-f16, subgroups, subgroup matrices and their configurations) are printed.
import type { Command } from 'commander';
import { closeData, dataInputOf, Loader, openData } from '../../data/index.js';
import { dataError } from '../../data/errors.js';
import { describeCapabilities, type AdapterCapabilities, type PstcDevice } from '../../../backends/webgpu/device.js';
import type { Precision } from '../../../backends/webgpu/precision.js';
import { errorAgainstReference, type ReferenceError } from '../../../backends/reference/error.js';
import { compileModel, type ModelInput } from '../../../backends/webgpu/runtime.js';
import type { ModelConfig } from '../../lang/model.js';
import { clipShape } from '../../lang/facts.js';
import { initWeights, type WeightMap } from '../../weights/index.js';
import { backendOf, checkBackendPrecision, chooseBackend, exportProvenance, ONNX_THREADS, withBackendOption, type Backend } from '../backend.js';
import { DEFAULT_OPTIMIZER } from '../../train/optimizer.js';
import { TrainingStep } from '../../train/step.js';
import { UsageError } from '../errors.js';
import { randomClip } from '../clips.js';
import { withDevice } from '../device.js';
import type { CommandRegistrar } from '../registrar.js';
import { inputFrom, MAX_PASSES, nonNegativeInt, positiveInt, precisionOf, withInputOptions, withLoaderOptions, withMemoryOptions, withModelArgument, withPrecisionOption } from '../options.js';
import { trainingRecompute } from '../training-memory.js';
import { formatBytes, renderTable } from '../table.js';
import { loadCommandModel } from '../model.js';
import { cachedPeak } from '../peak-cache.js';
import { buildProfile, renderProfile, type Profile } from '../profile-report.js';
import { ratioOfMedians, spread, type Spread } from '../spread.js';
import { timeDispatches, timingMethodOf, type ProfiledDispatch, type TimingMethod } from '../../../backends/webgpu/profile.js';

export { spread, type Spread };

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
  train?: boolean;
  recompute?: boolean;
  memoryBudget?: number;
  profile?: boolean;
  profileMethod?: TimingMethod;
  data?: string;
  workers: number;
  skipBad?: boolean;
  precision: Precision;
  baselinePrecision?: Precision;
  /** Not given: chooseBackend picks (WebGPU whenever --train, --profile or f16 is asked for). */
  backend?: Backend;
  baselineBackend?: Backend;
}

/** The loader alone: batches of the training split read as training reads them. */
export interface LoaderBench {
  data: string;
  workers: number;
  batch: number;
  /** Batches timed (after the warm-up batches, which include starting the workers). */
  batches: number;
  seconds: number;
  clipsPerSecond: number;
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
  /**
   * Milliseconds from the model to a runnable pass: kernels emitted, pipelines compiled, weights
   * uploaded. On lavapipe most of it is the driver compiling shaders, which Mesa caches on disk
   * across processes ($XDG_CACHE_HOME/mesa_shader_cache*): a second run of the same model is faster.
   */
  buildMs: number;
  /** Training steps: whether each block's activations were recomputed in the backward. */
  recompute?: boolean;
  /** With --profile: time per kernel, by kind and by block, against the adapter's peak. */
  profile?: Profile;
  /** How weights and activations were stored (f16: half floats, f32 arithmetic). */
  precision: Precision;
  /** f16: the forward's error against the float64 interpreter (max-norm relative). */
  errorAgainstFloat64?: ReferenceError;
  /** What ran the passes: 'webgpu', or ONNX Runtime's description (--backend onnxruntime). */
  backend: string;
}

export interface BenchReport {
  adapter: { vendor: string; architecture: string; device: string; description: string; capabilities: AdapterCapabilities };
  /** forward: one inference pass; train: one training step (forward, backward, AdamW). */
  mode: BenchMode;
  warmup: number;
  iters: number;
  results: BenchResult[];
  /** Median latency of the model (results[0]) over that of the baseline (results[1]). */
  ratio?: number;
  /** The 95 % bootstrap interval of `ratio` over the alternating pairs of passes (spread.ts ratioOfMedians). */
  ratioInterval?: { low: number; high: number; pairs: number };
  loader?: LoaderBench;
}

/** Times `iters` batches of the loader on the training split of `spec`, after `warmup` batches. */
export async function benchLoader(spec: string, model: ModelConfig, input: ModelInput, options: { workers: number; warmup: number; iters: number; skipBad?: boolean; log?: (line: string) => void }): Promise<LoaderBench> {
  const data = await openData(spec, dataInputOf(model, { frames: input.frames, size: input.size }), { skipBad: options.skipBad ?? false, ...(options.log ? { log: options.log } : {}) });
  if (data.train.size === 0) {
    await closeData(data);
    throw dataError('PST618', `${data.train.name}: no clips to time the loader on`, { hint: 'the set is empty (or every line was skipped): check the list or spec given to --data' });
  }
  const loader = new Loader(data.train, { batchSize: input.batch, shuffle: true, seed: 0, workers: options.workers, ...(options.log ? { log: options.log } : {}) });
  try {
    const batches = loader.from();
    for (let i = 0; i < options.warmup; i++) await batches.next();
    const start = performance.now();
    let clips = 0;
    for (let i = 0; i < options.iters; i++) clips += ((await batches.next()).value as { labels: Int32Array }).labels.length;
    const seconds = (performance.now() - start) / 1000;
    await batches.return(undefined);
    return { data: data.train.name, workers: loader.workers, batch: input.batch, batches: options.iters, seconds, clipsPerSecond: clips / seconds };
  } finally {
    await loader.close();
    await closeData(data);
  }
}

interface Subject {
  file: string;
  model: ModelConfig;
  input: ModelInput;
  /** Training steps: activation recomputation per block. */
  recompute?: boolean;
  /** Forward passes: f32, or f16 storage (training steps are f32). */
  precision: Precision;
  /** Forward passes: pstc's WebGPU kernels, or the ONNX export in ONNX Runtime. */
  backend?: Backend;
}

/** What bench times: one forward, or one training step (forward, backward, optimizer). */
export type BenchMode = 'forward' | 'train';

/** A compiled subject that can be timed pass by pass. */
interface Timed {
  time(): Promise<number>;
  dispatches: number;
  kernels: number;
  microBatch: number;
  planned: { activations: number; weights: number; total: number };
  measured(): number;
  /** Every dispatch of one pass, in order, with its cost (after a pass has filled the buffers). */
  profiled(): ProfiledDispatch[];
  /** One forward's error against the float64 interpreter (f16 forwards). */
  referenceError?(): Promise<ReferenceError>;
  /** What runs the passes (bench's 'backend' row). */
  backend: string;
  destroy(): void;
}

async function timedForward(device: PstcDevice, s: Subject, clip: Float32Array): Promise<Timed> {
  const weights = initWeights(s.model, 1);
  if (s.backend === 'onnxruntime') return timedOnnxForward(s, clip, weights);
  const c = await compileModel(device, s.model, s.input, weights, { precision: s.precision });
  return {
    ...(s.precision === 'f16' ? { referenceError: async () => errorAgainstReference(s.model, s.input, weights, clip, await c.forward(clip)) } : {}),
    time: () => c.timeForward(clip),
    dispatches: c.dispatchesPerForward,
    kernels: c.kernels.length,
    microBatch: c.microBatch,
    planned: { ...c.plannedPeakBytes },
    measured: () => c.measuredPeakBytes(),
    profiled: () => c.profiledDispatches(),
    backend: 'webgpu',
    destroy: () => c.destroy(),
  };
}

/** A forward of the model's ONNX export in ONNX Runtime: 'dispatches' are the graph's nodes, the
 *  planned weights the file's bytes; ONNX Runtime's own memory is not measured. */
async function timedOnnxForward(s: Subject, clip: Float32Array, weights: WeightMap): Promise<Timed> {
  const { compileOnnxModel } = await import('../../../backends/onnx/session.js');
  const c = await compileOnnxModel(s.model, s.input, weights, exportProvenance(s.file), { threads: ONNX_THREADS });
  const bytes = c.exported.model.byteLength + (c.exported.external?.bytes ?? 0);
  return {
    time: () => c.timeForward(clip),
    dispatches: c.exported.nodes,
    kernels: c.exported.nodes,
    microBatch: s.input.batch,
    planned: { activations: 0, weights: bytes, total: bytes },
    measured: () => 0,
    profiled: () => {
      throw new UsageError('--profile: kernel profiles are of the WebGPU backend; drop --backend onnxruntime');
    },
    backend: c.describe(),
    destroy: () => void c.release(),
  };
}

/** One AdamW training step on random labels, timed from submission to the device's completion. */
async function timedTrainStep(device: PstcDevice, s: Subject, clip: Float32Array): Promise<Timed> {
  if (!s.model.head) throw new UsageError(`--train: ${s.model.name} has no classification head, so it has no loss to train`);
  const classes = s.model.head.classes;
  const step = await TrainingStep.create(
    device,
    { model: s.model, microBatch: s.input.batch, accumulate: 1, frames: s.input.frames, size: s.input.size, optimizer: DEFAULT_OPTIMIZER.adamw, labelSmoothing: 0.1, seed: 1, recompute: s.recompute ?? false },
    initWeights(s.model, 1),
  );
  const labels = Int32Array.from({ length: s.input.batch }, (_, i) => i % classes);
  let n = 0;
  const m = step.program.memory;
  return {
    async time() {
      const start = performance.now();
      step.submit(n++, [{ clips: clip, labels }], DEFAULT_OPTIMIZER.adamw.lr);
      await device.device.queue.onSubmittedWorkDone();
      return performance.now() - start;
    },
    dispatches: step.dispatchesPerStep,
    kernels: step.dispatchesPerStep,
    microBatch: step.microBatch,
    planned: { activations: m.activationBytes, weights: step.plannedBytes() - m.activationBytes, total: step.plannedBytes() },
    measured: () => step.allocatedBytes(),
    profiled: () => step.profiledDispatches(),
    backend: 'webgpu',
    destroy: () => step.destroy(),
  };
}

/** How to profile: the timing method (the adapter's best when not given) and the peak cache file. */
export interface ProfileOptions {
  method?: TimingMethod;
  peakCachePath?: string;
}

/**
 * Time every subject on one device, interleaving their passes; destroys what it compiled. With
 * `profile`, each subject's dispatches are then timed one by one, `iters` runs.
 */
export async function benchModels(
  device: PstcDevice,
  subjects: readonly Subject[],
  warmup: number,
  iters: number,
  mode: BenchMode = 'forward',
  profile?: ProfileOptions,
): Promise<BenchReport> {
  const compiled: Timed[] = [];
  try {
    const clips = subjects.map((s, i) =>
      randomClip(clipShape(s.model, s.input), i + 1),
    );
    const buildMs: number[] = [];
    for (const [k, s] of subjects.entries()) {
      const start = performance.now();
      compiled.push(await (mode === 'train' ? timedTrainStep : timedForward)(device, s, clips[k]!));
      buildMs.push(performance.now() - start);
    }
    for (let i = 0; i < warmup; i++) for (const c of compiled) await c.time();
    const samples: number[][] = subjects.map(() => []);
    for (let i = 0; i < iters; i++) for (const [k, c] of compiled.entries()) samples[k]!.push(await c.time());

    const results = subjects.map((s, k): BenchResult => {
      const c = compiled[k]!;
      const latency = spread(samples[k]!);
      return {
        model: s.model.name,
        file: s.file,
        input: { ...s.input, shape: clipShape(s.model, s.input) },
        latencyMs: { ...latency, samples: samples[k]! },
        clipsPerSecond: s.input.batch / (latency.median / 1000),
        dispatchesPerForward: c.dispatches,
        kernels: c.kernels,
        microBatch: c.microBatch,
        plannedPeakBytes: c.planned,
        measuredPeakBytes: c.measured(),
        buildMs: buildMs[k]!,
        ...(mode === 'train' ? { recompute: s.recompute ?? false } : {}),
        precision: s.precision,
        backend: c.backend,
      };
    });
    // After the timing, so that the interpreter's CPU work does not fall on any timed pass.
    for (const [k, c] of compiled.entries()) if (c.referenceError) results[k]!.errorAgainstFloat64 = await c.referenceError();
    if (profile) {
      const method = profile.method ?? timingMethodOf(device);
      const peak = await cachedPeak(device, profile.peakCachePath);
      for (const [k, c] of compiled.entries()) {
        const dispatches = c.profiled();
        const runs: number[][] = [];
        for (let i = 0; i < iters; i++) runs.push(await timeDispatches(device, dispatches.map((d) => d.dispatch), method));
        const peakInfo = { flopsPerSecond: peak.peak.flopsPerSecond, bytesPerSecond: peak.peak.bytesPerSecond, source: peak.source, path: peak.path, measuredAt: peak.peak.measuredAt, load: peak.peak.load };
        results[k]!.profile = buildProfile(
          dispatches.map((d) => ({ label: d.dispatch.label, cost: d.cost })),
          runs,
          method,
          peakInfo,
          results[k]!.latencyMs.median,
        );
      }
    }
    const paired = results.length > 1 ? ratioOfMedians(samples[0]!, samples[1]!) : undefined;
    return {
      adapter: { ...device.info, capabilities: device.capabilities() },
      mode,
      warmup,
      iters,
      results,
      ...(paired ? { ratio: paired.ratio, ratioInterval: { low: paired.low, high: paired.high, pairs: paired.pairs } } : {}),
    };
  } finally {
    for (const c of compiled) c.destroy();
  }
}

export function renderBench(report: BenchReport): string {
  const { results } = report;
  const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1);
  const rows: [string, (r: BenchResult) => string][] = [
    ['input (N C T H W)', (r) => r.input.shape.join('×')],
    [report.mode === 'train' ? 'step median' : 'latency median', (r) => `${ms(r.latencyMs.median)} ms`],
    ['latency min … max', (r) => `${ms(r.latencyMs.min)} … ${ms(r.latencyMs.max)} ms`],
    ['clips/s', (r) => r.clipsPerSecond.toFixed(r.clipsPerSecond < 10 ? 2 : 1)],
    [report.mode === 'train' ? 'dispatches per step' : 'dispatches per forward', (r) => String(r.dispatchesPerForward)],
    ...(report.mode === 'train' ? [] : ([['kernels', (r: BenchResult) => String(r.kernels)]] as [string, (r: BenchResult) => string][])),
    ['micro-batch', (r) => String(r.microBatch)],
    ['build (pipelines, upload)', (r) => `${(r.buildMs / 1000).toFixed(2)} s`],
    ['precision', (r) => (r.precision === 'f16' ? 'f16 storage, f32 arithmetic' : 'f32')],
    ...(results.some((r) => r.backend !== 'webgpu') ? ([['backend', (r: BenchResult) => r.backend]] as [string, (r: BenchResult) => string][]) : []),
    ...(results.some((r) => r.errorAgainstFloat64)
      ? ([
          ['error vs float64: logits', (r: BenchResult) => (r.errorAgainstFloat64?.logits !== undefined ? r.errorAgainstFloat64.logits.toExponential(2) : '–')],
          ['error vs float64: features', (r: BenchResult) => (r.errorAgainstFloat64 ? r.errorAgainstFloat64.features.toExponential(2) : '–')],
        ] as [string, (r: BenchResult) => string][])
      : []),
    ...(report.mode === 'train' ? ([['recompute', (r: BenchResult) => (r.recompute ? 'per block' : 'no')]] as [string, (r: BenchResult) => string][]) : []),
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
    ...describeCapabilities(report.adapter.capabilities).map((l) => `  ${l}`),
    `${report.mode === 'train' ? 'training steps (forward, backward, AdamW; one submission each)' : 'forward passes'}: ${report.warmup} warm-up, then ${report.iters} timed; random weights and clip${results.length > 1 ? '; passes alternate between the models' : ''}`,
  ];
  for (const r of results) {
    if (r.errorAgainstFloat64) lines.push(`error vs float64 of ${r.model} (${r.precision}): max-norm relative, the float64 interpreter on the same clip and weights (${r.errorAgainstFloat64.referenceSeconds.toFixed(1)} s)`);
  }
  if (report.ratio !== undefined) {
    const ci = report.ratioInterval;
    lines.push(
      `ratio of medians ${results[0]!.model} / ${results[1]!.model}: ${report.ratio.toFixed(3)}` +
        (ci ? ` (95 % interval ${ci.low.toFixed(3)}–${ci.high.toFixed(3)} over ${ci.pairs} alternating pairs${ci.low <= 1 && ci.high >= 1 ? ': these passes do not tell the two apart' : ''})` : ''),
    );
  }
  for (const r of results) {
    if (!r.profile) continue;
    lines.push('', `profile of ${r.model} (${report.mode === 'train' ? 'one training step' : 'one forward'}, ${r.input.shape.join('×')}):`, renderProfile(r.profile));
  }
  if (report.loader) {
    const l = report.loader;
    const device = results[0]!.clipsPerSecond;
    const what = report.mode === 'train' ? 'training step' : 'forward pass';
    const threads = l.workers === 0 ? 'on the main thread' : `${l.workers} worker thread${l.workers === 1 ? '' : 's'}`;
    lines.push(
      `loader alone: ${l.clipsPerSecond.toFixed(1)} clips/s (${l.data}, ${threads}, ${l.batches} batches of ${l.batch}); the ${what}: ${device.toFixed(1)} clips/s — ` +
        (l.clipsPerSecond >= device ? 'the loader keeps up' : `the device would wait for the loader (${(device / l.clipsPerSecond).toFixed(1)}× faster than it)`),
    );
  }
  return lines.join('\n');
}

function profileMethod(value: string): TimingMethod {
  if (value === 'timestamp-query' || value === 'submission') return value;
  throw new UsageError(`--profile-method: '${value}' is not a method; use timestamp-query or submission`);
}

export const registerBench: CommandRegistrar = (program: Command, io) => {
  withBackendOption(withPrecisionOption(withLoaderOptions(withMemoryOptions(withInputOptions(withModelArgument(program.command('bench')))))))
    .description('forward latency on the WebGPU device or in ONNX Runtime (--backend) (random weights and clip): median and spread, clips/s, dispatches, planned and measured peak memory')
    .option('--warmup <N>', 'untimed passes first', nonNegativeInt('--warmup', MAX_PASSES), 3)
    .option('--iters <N>', 'timed passes', positiveInt('--iters', MAX_PASSES), 10)
    .option('--baseline <other.pst>', 'also time this model, alternating passes with the first, and print the ratio of medians')
    .option('--baseline-model <name>', 'which model of the --baseline file (default: its last model)')
    .option('--baseline-precision <type>', "the --baseline model's precision, f32 or f16 (default: --precision's), e.g. f16 against f32 on one model", precisionOf('--baseline-precision'))
    .option('--baseline-backend <name>', "the --baseline model's backend, webgpu or onnxruntime (default: --backend's), e.g. ONNX Runtime against WebGPU on one model", backendOf('--baseline-backend'))
    .option('--json', 'print the report as JSON')
    .option('--train', 'time training steps (forward, backward, AdamW) instead of forward passes')
    .option('--profile', "then time every kernel (--iters runs), by kind and by block, with achieved GFLOP/s and GB/s against the adapter's measured peak (cached)")
    .option('--profile-method <method>', "how --profile times kernels: timestamp-query (the default where the adapter offers it) or submission (one submission per kernel)", profileMethod)
    .option('--data <spec>', 'also time the loader alone on this data (its training split, batches of --batch), next to the device')
    .action(async (file: string, opts: BenchOptions) => {
      if (!opts.train && (opts.recompute || opts.memoryBudget !== undefined)) throw new UsageError(`${opts.recompute ? '--recompute' : '--memory-budget'}: only with --train`);
      if (opts.baselinePrecision !== undefined && opts.baseline === undefined) throw new UsageError('--baseline-precision is for --baseline: add --baseline');
      if (opts.baselineBackend !== undefined && opts.baseline === undefined) throw new UsageError('--baseline-backend is for --baseline: add --baseline');
      // Backends as given; a missing --backend is chosen below, WebGPU whenever a WebGPU-only flag is given.
      const given = [opts.backend, opts.baselineBackend ?? opts.backend];
      if (given.includes('onnxruntime') && (opts.train || opts.profile)) {
        throw new UsageError(`--backend onnxruntime: ${opts.train ? 'training steps' : 'kernel profiles'} run on WebGPU; drop ${opts.train ? '--train' : '--profile'} or use --backend webgpu`);
      }
      if (given[0] !== undefined) checkBackendPrecision(given[0], opts.precision);
      if (given[1] !== undefined) checkBackendPrecision(given[1], opts.baselinePrecision ?? opts.precision, opts.baselinePrecision !== undefined ? '--baseline-precision' : '--precision');
      const subject = (path: string, name: string | undefined, precision: Precision, set: string[] = []): Subject => {
        const { model } = loadCommandModel(path, { ...(name !== undefined ? { model: name } : {}), set });
        const input: ModelInput = inputFrom(model, opts);
        if (!opts.train) return { file: path, model, input, precision };
        return { file: path, model, input, precision, recompute: trainingRecompute(model, input, opts, (note) => io.err(`${model.name}: ${note}`)) };
      };
      const subjects = [subject(file, opts.model, opts.precision, opts.set)];
      if (opts.baseline !== undefined) subjects.push(subject(opts.baseline, opts.baselineModel, opts.baselinePrecision ?? opts.precision));
      if (opts.train && subjects.some((s) => s.precision !== 'f32')) {
        throw new UsageError('--precision f16: training steps run in f32 (f16 storage is for forward passes); drop --precision or --train');
      }

      if (opts.profileMethod !== undefined && !opts.profile) throw new UsageError('--profile-method is for --profile: add --profile');
      const webgpuOnly = opts.train ? '--train' : opts.profile ? '--profile' : subjects.some((s) => s.precision !== 'f32') ? '--precision f16' : undefined;
      const backend = await chooseBackend(opts.backend, (line) => io.err(line), webgpuOnly);
      if (!opts.train) subjects.forEach((s, k) => (s.backend = k === 0 ? backend : (opts.baselineBackend ?? backend)));
      // The loader first, before the device is busy: the two would compete for the CPU.
      const loader =
        opts.data !== undefined
          ? await benchLoader(opts.data, subjects[0]!.model, subjects[0]!.input, { workers: opts.workers, warmup: Math.max(1, opts.warmup), iters: opts.iters, ...(opts.skipBad ? { skipBad: true } : {}), log: (line) => io.err(line) })
          : undefined;
      const measured = await withDevice((device) => {
        if (opts.profileMethod === 'timestamp-query' && !device.features.has('timestamp-query')) {
          throw new UsageError(`--profile-method timestamp-query: the adapter (${device.describe()}) does not offer timestamp queries; use --profile-method submission`);
        }
        return benchModels(device, subjects, opts.warmup, opts.iters, opts.train ? 'train' : 'forward', opts.profile ? { ...(opts.profileMethod ? { method: opts.profileMethod } : {}) } : undefined);
      }, subjects.some((s) => s.precision === 'f16') ? 'f16' : 'f32');
      const report: BenchReport = { ...measured, ...(loader ? { loader } : {}) };
      io.out(opts.json ? JSON.stringify(report, null, 2) : renderBench(report));
    });
};
