// The training loop: data → steps on the device → logs, checkpoints and evaluation, in a run
// directory. Everything a step depends on is a function of (settings, seed, step): the batch
// order (the loader's (seed, epoch) shuffle and position), dropout masks (the counter RNG keyed by
// (seed, step)), the learning rate (the schedule at step), so a run stopped at any checkpoint and
// resumed ends with the same weights, bit for bit, as one that never stopped.
//   RUN/settings.json        the resolved settings (a resume must match them)
//   RUN/log.jsonl            one JSON record per logged step and per evaluation
//   RUN/checkpoints/…        see checkpoint.ts; RUN/latest.json points to the newest
//   RUN/summary.json         the final metrics, written atomically at the end
import { existsSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PstcDevice } from '../../backends/webgpu/gpu-device.js';
import { closeData, dataInputOf, formatDataSpec, labelsOfPairs, Loader, openData, type Batch, type DataSource, type Dataset, type DataSpec } from '../data/index.js';
import { DiagnosticError } from '../lang/diagnostics.js';
import type { ModelConfig } from '../lang/model.js';
import { writeFileAtomic } from '../weights/atomic.js';
import type { WeightMap } from '../weights/tensor.js';
import { loadLatestCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import { lockRunDirectory, type RunLock } from './run-lock.js';
import { evaluate, type Evaluation } from './evaluate.js';
import { learningRate, type OptimizerConfig } from './optimizer.js';
import { fitTrainingPlan } from './plan.js';
import { TrainingStep, type StepMetrics } from './step.js';
import { type Communicator } from './distributed.js';
import { GradientReducer, sumMetrics, type ReduceTiming } from './distributed-reduce.js';
import { shareFromRoot } from './distributed-sync.js';

export interface TrainSettings {
  /** The data spec (`--data`), e.g. `synthetic:motion` or `npy:clips.npy,labels.npy`, or a parsed
   *  one (a model's data section, src/data/section-spec.ts). */
  data: string | DataSpec;
  /** Optimizer steps, or epochs of the training set (one of them). */
  steps?: number;
  epochs?: number;
  /** Clips per optimizer step, and micro-batches they are split into (gradient accumulation). */
  batch: number;
  accumulate: number;
  optimizer: OptimizerConfig;
  warmupSteps: number;
  minLr: number;
  labelSmoothing: number;
  seed: number;
  shuffle: boolean;
  logEvery: number;
  checkpointEvery: number;
  /** Evaluate on the validation set every N steps (0: only at the end). */
  evalEvery: number;
  /** Worker threads that decode clips ahead of the device (0: on the main thread). */
  workers: number;
  /** Activation recomputation per block (`--recompute`). */
  recompute?: boolean;
  /** Plan each step within this many bytes of device memory (`--memory-budget`): recompute is
   *  turned on when the plan exceeds it, PST708 when even that does not fit. */
  memoryBudget?: number;
  /** Log and skip bad samples (missing or corrupt frames, undecodable videos, bad list lines). */
  skipBad?: boolean;
  /** Where each training setting came from, by train-section key (`lr: 'model'`, `batch: 'flag'`,
   *  `warmup: 'default'`): recorded in settings.json; a resume compares the values, not this. */
  sources?: Record<string, string>;
}

/** One line of progress, for a live line on a terminal or a plain log line. */
export interface TrainProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  accuracy: number;
  pairAccuracy?: number;
  lr: number;
  gradNorm: number;
  clipsPerSecond: number;
  elapsedSeconds: number;
  etaSeconds: number;
}

export interface TrainRun {
  model: ModelConfig;
  /** Where the starting weights come from (when not resuming): a map, already checked against the model. */
  initialWeights: WeightMap;
  /** A description of the initial weights, for settings.json (a path, or `random seed N`). */
  initialWeightsFrom: string;
  settings: TrainSettings;
  out: string;
  /** Continue the run in `out` from its latest checkpoint (refused if the settings differ). */
  resume: boolean;
  device: PstcDevice;
  onProgress?: (p: TrainProgress) => void;
  onMessage?: (line: string) => void;
  /** Aborting stops after the current step, writes a checkpoint, and returns. */
  signal?: AbortSignal;
  /** Data-parallel training (`--distributed mpi`): this process is one rank of `comm`. Rank 0
   *  writes the run folder; every rank reads its shard of each batch (see `train`). */
  distributed?: DataParallel;
}

export interface DataParallel {
  comm: Communicator;
  /** Bytes per gradient bucket (train/distributed-reduce.ts). */
  bucketBytes: number;
  /** Overlap each bucket's all-reduce with the next one's read-back (off: to measure what it buys). */
  overlap: boolean;
}

export interface TrainResult {
  steps: number;
  stopped: 'done' | 'interrupted';
  lastCheckpoint: string | null;
  final?: Evaluation;
  seconds: number;
  clipsPerSecond: number;
  dispatchesPerStep: number;
  plannedBytes: number;
  /** Seconds building the training step before its first step: planning, compiling pipelines, uploading. */
  buildSeconds?: number;
  /**
   * This session's first step, from its submission to its end on the device. Beyond a warm step it
   * is the pipelines' first use: a driver may compile a shader only at its first dispatch (Mesa's
   * llvmpipe does, unless its shader cache holds it), which buildSeconds cannot see.
   */
  firstStepSeconds?: number;
  /**
   * Warm steps only, comparable between runs whatever compiling cost: timed from the end of this
   * session's first step to its last logged step, evaluations and checkpoints left out; absent
   * when the session ran too few steps to time one.
   */
  warm?: { steps: number; seconds: number; clipsPerSecond: number };
  /** Classes the data's labels range over: chance top-1 is 1/dataClasses. */
  dataClasses?: number;
  /** Data-parallel: ranks, bytes summed per step, and the mean per-step reduction times (ms). */
  allreduce?: { ranks: number; bytes: number; buckets: number; overlap: boolean; steps: number } & ReduceTiming;
}

function trainError(code: string, message: string, hint: string, flag = '--data'): DiagnosticError {
  return new DiagnosticError([{ code, severity: 'error', message, flag, hint }]);
}

/** What must match for a resume: everything but the step counts' bookkeeping. */
function settingsRecord(run: TrainRun, totalSteps: number): Record<string, unknown> {
  // The data as `--data` text either way: a run started from a data section resumes with the same
  // `--data` spelled out, and settings.json says what was read.
  const data = typeof run.settings.data === 'string' ? run.settings.data : formatDataSpec(run.settings.data);
  return { model: run.model.name, weights: run.initialWeightsFrom, totalSteps, ...run.settings, data, evalEvery: undefined, logEvery: undefined, workers: undefined, checkpointEvery: undefined, memoryBudget: undefined };
}

export async function train(run: TrainRun): Promise<TrainResult> {
  const { model, settings: s, device } = run;
  const say = run.onMessage ?? (() => undefined);
  if (!model.head) throw trainError('PST707', `${model.name} has no classification head, so it has no loss to train`, 'give it `head { classes = N }` or --set head.classes=N', '--model');
  if (s.batch % s.accumulate !== 0) {
    throw trainError('PST702', `--batch ${s.batch} does not split into ${s.accumulate} micro-batches`, 'make --batch a multiple of --accumulate', '--accumulate');
  }
  const microBatch = s.batch / s.accumulate;
  // Data-parallel: rank r reads the r-th of `ranks` equal slices of every micro-batch, so the
  // ranks together read exactly the clips, in the order, of one process's run of the same batch.
  const dp = run.distributed;
  const ranks = dp?.comm.size ?? 1;
  if (microBatch % ranks !== 0) {
    throw trainError('PST712', `--batch ${s.batch} (${s.accumulate} micro-batch${s.accumulate > 1 ? 'es' : ''} of ${microBatch}) does not split evenly over ${ranks} ranks`, `make --batch a multiple of ${ranks * s.accumulate} (ranks × --accumulate): it is the global batch, each of the ${ranks} ranks reads 1/${ranks} of it`, '--batch');
  }
  const writer = !dp || dp.comm.rank === 0;
  const input = dataInputOf(model);
  const data: DataSource = await openData(s.data, input, { skipBad: s.skipBad ?? false, log: say });
  let loader: Loader | undefined;
  // This process's hold on run.out (the writer's only: rank 0 decides where to start).
  let lock: RunLock | undefined;
  try {
    loader = new Loader(data.train, { batchSize: microBatch, shuffle: s.shuffle, seed: s.seed, dropLast: true, concurrency: 4, workers: s.workers, log: say, ...(dp ? { shard: { index: dp.comm.rank, count: ranks } } : {}) });
    const stepsPerEpoch = Math.floor(loader.batchesPerEpoch / s.accumulate);
    if (stepsPerEpoch < 1) {
      throw trainError('PST703', `${data.train.name} has ${data.train.size} clips, fewer than one batch of ${s.batch}`, 'use a smaller --batch or more data');
    }
    const totalSteps = s.steps ?? (s.epochs ?? 1) * stepsPerEpoch;
    const settings = settingsRecord(run, totalSteps);
    const logPath = join(run.out, 'log.jsonl');
    // Where to start: a fresh run, or the latest checkpoint of this one (data-parallel: rank 0's, sent to every rank).
    const decideStart = (): { state: TrainState; weights: WeightMap; optimizerState: WeightMap | undefined } => {
      mkdirSync(run.out, { recursive: true });
      lock = lockRunDirectory(run.out);
      let weights = run.initialWeights;
      let optimizerState: WeightMap | undefined;
      let state: TrainState = { step: 0, epoch: 0, batchInEpoch: 0, seed: s.seed, settings };
      const existing = loadLatestCheckpoint(run.out);
      if (existing && !run.resume) {
        throw trainError('PST704', `${run.out} already holds a run (checkpoint at step ${existing.state.step})`, 'add --resume to continue it, or give another --out', '--out');
      }
      if (existing) {
        const mismatch = Object.keys({ ...settings, ...existing.state.settings }).filter(
          (k) => k !== 'sources' && JSON.stringify(settings[k]) !== JSON.stringify(existing.state.settings[k]),
        );
        if (mismatch.length) {
          throw trainError('PST705', `--resume: the run in ${run.out} was started with other settings (${mismatch.join(', ')})`, 'resume with the same model, data and flags, or start a new --out', '--resume');
        }
        ({ state } = existing);
        weights = existing.weights;
        optimizerState = existing.optimizer;
        say(`resuming ${run.out} at step ${state.step} of ${totalSteps}`);
      } else if (run.resume) {
        say(`--resume: ${run.out} has no checkpoint yet; starting at step 0`);
      }
      writeFileAtomic(join(run.out, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
      trimLog(logPath, state.step);
      return { state, weights, optimizerState };
    };
    let start: ReturnType<typeof decideStart>;
    if (dp) {
      const shared = await shareFromRoot(dp.comm, () => {
        const d = decideStart();
        const tensors: WeightMap = new Map([...d.weights].map(([k, v]) => [`w.${k}`, v]));
        for (const [k, v] of d.optimizerState ?? []) tensors.set(`o.${k}`, v);
        return { json: { state: d.state, optimizer: d.optimizerState !== undefined }, tensors };
      });
      const part = (prefix: string): WeightMap => new Map([...shared.tensors].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
      start = { state: shared.json.state, weights: part('w.'), optimizerState: shared.json.optimizer ? part('o.') : undefined };
    } else {
      start = decideStart();
    }
    const { state, weights, optimizerState } = start;

    const partners = orderPartners(data.train, model.head.classes);
    // Only a budget needs the plan before the step is built (planning PST-T takes seconds).
    let recompute = s.recompute ?? false;
    if (s.memoryBudget !== undefined) {
      const micro = { batch: microBatch / ranks, frames: input.frames, size: input.size };
      const fitted = fitTrainingPlan(model, micro, { optimizer: s.optimizer, limits: { ...device.kernelLimits(), ...device.limits }, recompute, budgetBytes: s.memoryBudget });
      if (fitted.note) say(fitted.note);
      recompute = fitted.plan.recompute;
    }
    const buildStart = performance.now();
    const step = await TrainingStep.create(
      device,
      {
        model,
        microBatch,
        accumulate: s.accumulate,
        frames: input.frames,
        size: input.size,
        optimizer: s.optimizer,
        labelSmoothing: s.labelSmoothing,
        seed: s.seed,
        recompute,
        ...(partners ? { partners } : {}),
        ...(dp ? { microBatch: microBatch / ranks, dataParallel: { ranks, rank: dp.comm.rank, bucketBytes: dp.bucketBytes } } : {}),
      },
      weights,
      optimizerState,
    );
    if (step.planned.reason) say(`each batch runs as ${step.microBatches} micro-batches of ${step.microBatch} (gradients accumulated): ${step.planned.reason}`);
    const built = { buildSeconds: (performance.now() - buildStart) / 1000, dataClasses: data.train.classes };
    const reducer = dp ? new GradientReducer(device, dp.comm, step.gradientBuckets, dp.overlap) : undefined;
    try {
      return await loop(run, step, loader, data, state, totalSteps, logPath, partners, built, reducer && dp ? { reducer, comm: dp.comm, writer } : undefined);
    } finally {
      reducer?.destroy();
      step.destroy();
    }
  } finally {
    lock?.release();
    await loader?.close();
    await closeData(data);
  }
}

async function loop(
  run: TrainRun,
  step: TrainingStep,
  loader: Loader,
  data: DataSource,
  start: TrainState,
  totalSteps: number,
  logPath: string,
  partners: number[] | undefined,
  built: Pick<TrainResult, 'buildSeconds' | 'dataClasses'> = {},
  parallel?: { reducer: GradientReducer; comm: Communicator; writer: boolean },
): Promise<TrainResult> {
  const s = run.settings;
  // Data-parallel: only rank 0 writes the run folder (checkpoints, log, summary) and evaluates.
  const writer = parallel?.writer ?? true;
  const ranks = parallel?.comm.size ?? 1;
  const reduced = { steps: 0, waitMs: 0, allreduceMs: 0, reduceMs: 0 };
  const say = run.onMessage ?? (() => undefined);
  const schedule = { totalSteps, warmupSteps: s.warmupSteps, minLr: s.minLr };
  const startTime = performance.now();
  let windowStart = startTime;
  let windowClips = 0;
  let clipsDone = 0;
  let position = { epoch: start.epoch, batch: start.batchInEpoch };
  let lastCheckpoint: string | null = null;
  let lastCheckpointStep: number | null = null;
  let current = start.step;
  const batches = loader.from(position);
  // Warm-step timing (TrainResult.warm): starts once this session's first step has finished on the
  // device (its pipelines' first use stays out), read at logged steps (synced anyway); the time
  // evaluations and checkpoints take is left out.
  const warm = { on: false, from: 0, clipsFrom: 0, stepsFrom: 0, paused: 0, seconds: 0, clips: 0, steps: 0 };
  const firstStep = { from: 0, seconds: undefined as number | undefined };
  const untimed = async (work: () => Promise<unknown>): Promise<void> => {
    if (!warm.on) return void (await work());
    await step.readMetrics(); // the steps submitted so far finish inside the timed span
    const t = performance.now();
    await work();
    warm.paused += performance.now() - t;
  };

  const checkpoint = async (): Promise<void> => {
    if (!writer) return;
    const state: TrainState = { step: current, epoch: position.epoch, batchInEpoch: position.batch, seed: s.seed, settings: start.settings };
    lastCheckpoint = saveCheckpoint(run.out, state, await step.weights(), await step.optimizerState());
    lastCheckpointStep = current;
  };
  const log = (record: Record<string, unknown>) => writer && appendFileSync(logPath, `${JSON.stringify(record)}\n`);
  const evaluation = async (): Promise<Evaluation | undefined> => {
    const set: Dataset | undefined = data.val;
    if (!set || !writer) return undefined;
    const result = await evaluate(run.device, run.model, await step.weights(), set, { batch: s.batch, partners, workers: s.workers, log: say });
    log({ kind: 'eval', step: current, ...result });
    say(`step ${current}: validation top-1 ${pct(result.top1)}, top-5 ${pct(result.top5)}${result.pairAccuracy !== undefined ? `, order pairs ${pct(result.pairAccuracy)}` : ''} (${result.clips} clips)`);
    return result;
  };

  step.resetMetrics();
  try {
    while (current < totalSteps) {
      // Data-parallel runs stop on a signal without a step of their own (the CLI ends the job):
      // a rank that left the loop alone would leave the others waiting in a collective.
      if (run.signal?.aborted && !parallel) break;
      const micro: Batch[] = [];
      for (let i = 0; i < s.accumulate; i++) {
        const next = await batches.next();
        micro.push(next.value as Batch);
        position = loader.next({ epoch: (next.value as Batch).epoch, batch: (next.value as Batch).batch });
      }
      const lr = learningRate(current, s.optimizer.lr, schedule);
      if (current === start.step) firstStep.from = performance.now();
      step.submit(current, micro, lr);
      if (parallel) {
        // Backward submitted: sum the gradients across ranks, then every rank applies the same update.
        const t = await parallel.reducer.reduce();
        step.submitUpdate();
        reduced.steps++;
        reduced.waitMs += t.waitMs;
        reduced.allreduceMs += t.allreduceMs;
        reduced.reduceMs += t.reduceMs;
      }
      current++;
      windowClips += s.batch;
      clipsDone += s.batch;
      if (!warm.on && current === start.step + 1 && current < totalSteps) {
        await step.readMetrics(); // waits for the first step
        Object.assign(warm, { on: true, from: performance.now(), clipsFrom: clipsDone, stepsFrom: current });
        firstStep.seconds = (warm.from - firstStep.from) / 1000;
      }

      const logNow = current % s.logEvery === 0 || current === totalSteps;
      if (logNow) {
        const m = parallel ? await sumMetrics(parallel.comm, await step.readMetrics()) : await step.readMetrics();
        if (m.nonFiniteStep > 0) {
          const bad = m.nonFiniteStep - 1;
          // The checkpoint before the failure: one written in this session, or the one resumed from.
          const kept = lastCheckpointStep ?? (start.step > 0 ? start.step : null);
          throw trainError(
            'PST706',
            `the loss or the gradient became NaN or infinite at step ${bad + 1} (of ${totalSteps}); training stopped${kept !== null ? `, the last good checkpoint (step ${kept}) stays the run's latest` : ''}`,
            'lower --lr, add --clip-grad, or check the data for extreme values',
            '--lr',
          );
        }
        const now = performance.now();
        if (warm.on) Object.assign(warm, { seconds: (now - warm.from - warm.paused) / 1000, clips: clipsDone - warm.clipsFrom, steps: current - warm.stepsFrom });
        const at = { step: current, total: totalSteps, epoch: position.epoch, lr, microBatch: s.batch / s.accumulate / ranks, pairs: partners !== undefined };
        const record = progressOf(m, at, windowClips / ((now - windowStart) / 1000), (now - startTime) / 1000, current - start.step);
        step.resetMetrics();
        windowStart = now;
        windowClips = 0;
        log({ kind: 'train', ...record });
        run.onProgress?.(record);
      }
      if (current % s.checkpointEvery === 0 && current < totalSteps) await untimed(checkpoint);
      if (s.evalEvery > 0 && current % s.evalEvery === 0 && current < totalSteps) await untimed(evaluation);
    }
  } finally {
    await batches.return(undefined);
  }
  const stopped = current < totalSteps ? 'interrupted' : 'done';
  await checkpoint();
  const final = stopped === 'done' ? await evaluation() : undefined;
  const seconds = (performance.now() - startTime) / 1000;
  const result: TrainResult = {
    steps: current,
    stopped,
    lastCheckpoint,
    ...(final ? { final } : {}),
    seconds,
    clipsPerSecond: clipsDone / seconds,
    dispatchesPerStep: step.dispatchesPerStep,
    plannedBytes: step.plannedBytes(),
    ...built,
    ...(warm.steps > 0 && warm.seconds > 0 ? { warm: { steps: warm.steps, seconds: warm.seconds, clipsPerSecond: warm.clips / warm.seconds } } : {}),
    ...(firstStep.seconds !== undefined ? { firstStepSeconds: firstStep.seconds } : {}),
    ...(parallel && reduced.steps > 0
      ? {
          allreduce: {
            ranks,
            bytes: parallel.reducer.bytes,
            buckets: step.gradientBuckets.length,
            overlap: run.distributed!.overlap,
            steps: reduced.steps,
            waitMs: reduced.waitMs / reduced.steps,
            allreduceMs: reduced.allreduceMs / reduced.steps,
            reduceMs: reduced.reduceMs / reduced.steps,
          },
        }
      : {}),
  };
  if (stopped === 'done' && writer) writeFileAtomic(join(run.out, 'summary.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

function progressOf(
  m: StepMetrics,
  at: { step: number; total: number; epoch: number; lr: number; microBatch: number; pairs: boolean },
  clipsPerSecond: number,
  elapsed: number,
  stepsThisSession: number,
): TrainProgress {
  const clips = Math.max(1, m.samples);
  // The metrics kernel adds one batch-mean loss per micro-batch.
  const microBatches = Math.max(1, m.samples / at.microBatch);
  return {
    step: at.step,
    totalSteps: at.total,
    epoch: at.epoch,
    loss: m.loss / microBatches,
    accuracy: m.top1 / clips,
    ...(at.pairs ? { pairAccuracy: m.pairHits / clips } : {}),
    lr: at.lr,
    gradNorm: m.gradNorm,
    clipsPerSecond,
    elapsedSeconds: elapsed,
    etaSeconds: ((at.total - at.step) * elapsed) / Math.max(1, stepsThisSession),
  };
}

/** On resume, drop log records past the checkpoint's step (they will be written again). */
function trimLog(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        return (JSON.parse(line) as { step?: number }).step! <= step;
      } catch {
        return false;
      }
    });
  writeFileSync(path, kept.length ? `${kept.join('\n')}\n` : '');
}

/**
 * For the order-pair metric: each of the head's classes' reversed partner when the data's classes
 * pair 2k ↔ 2k+1 as a clip and its reversal (Dataset.orderPairs), −1 for classes beyond the
 * data's; else none.
 */
export function orderPartners(dataset: Dataset, classes: number): number[] | undefined {
  if (!dataset.orderPairs) return undefined;
  const pairs = labelsOfPairs(dataset.classes);
  return Array.from({ length: classes }, (_, k) => (k < pairs.length ? pairs[k]! : -1));
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
