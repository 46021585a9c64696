// The data of an ablation: the plan (the sweep expanded into runs, written once into DIR) and the
// record of one finished run (written by whichever process ran it). Everything else — executors,
// the status, the report — reads and writes these.
import type { ModelConfig } from '../../lang/model.js';
import { TRAIN_KEYS, type TrainValues } from '../../lang/train-config.js';
import type { DataParallel } from '../../train/trainer.js';
import type { ConfigChange } from '../config-diff.js';

/** The same budget for every run of a sweep: what makes their numbers comparable. */
export interface Budget {
  /** Train on this data (a `--data` spec); absent for a cost-only sweep. */
  data?: string;
  /** Optimizer steps per run; 0 = cost only (compile, forward throughput, params, MACs, memory). */
  steps: number;
  /** Clips per step, and per timed forward pass. */
  batch: number;
  /** Learning rate (absent: the trainer's default). */
  lr?: number;
  /** The training settings given as flags (steps, batch, lr, warmup, …): they win over each
   *  variant's `train { }` section, and `steps`/`batch` above are the fallback where neither says
   *  (train-defaults.ts). Absent in plans written before train sections. */
  train?: TrainValues;
  /** Timed forward passes per run (after warm-up passes). */
  timingIters: number;
}

/** One run: a variant with one seed. */
export interface PlannedRun {
  /** Position in the plan: the Slurm array task number. */
  index: number;
  /** File-safe and stable across reruns of the same sweep: `<variant slug>-<hash>-s<seed>`. */
  id: string;
  sweep: string;
  variant: string;
  /** Variants of the sweep equal to this one after resolution: run once, reported under each name. */
  sameAs: string[];
  seed: number;
  /** The resolved model (spans included; only the plan's own process reads them). */
  config: ModelConfig;
  base: string;
  /** What differs from the sweep's base model. */
  changes: ConfigChange[];
  /** Changes when the config, the budget or the seed change: a finished record with another key is stale. */
  key: string;
}

export interface SweepPlan {
  format: 'pstc-ablate-plan/1';
  /** The sweep file as given, and the sweeps of it in the plan. */
  file: string;
  sweeps: string[];
  budget: Budget;
  seeds: number[];
  runs: PlannedRun[];
  /** The sweep's base models, elaborated: the reference for "what differs" and the report. */
  bases: { sweep: string; base: string; config?: ModelConfig }[];
  /** Variants that fold into another run because they resolve to the same network. */
  folded: { variant: string; runsAs: string }[];
  /** Variants with errors (a bad pattern for the window, …): not runnable, failed with their diagnostics. */
  invalid: { variant: string; diagnostic: string }[];
  /** Warnings of the sweep file, rendered (e.g. a ratio that shifts no head of a stage). */
  warnings: string;
}

export interface CurvePoint {
  step: number;
  split: 'train' | 'val';
  loss?: number;
  top1?: number;
}

/** What one run measured. Fields a run did not measure are absent, never guessed. */
export interface RunMeasurements {
  /** Whether the model was trained (false for a cost-only run: no accuracy then). */
  trained: boolean;
  metrics: {
    top1?: number;
    top5?: number;
    /** Order-only accuracy on the synthetic motion set's pairs (labelsOfPairs/orderOnlyCorrect). */
    orderAccuracy?: number;
    finalLoss?: number;
    /** Validation samples the accuracies are over, and the classes the data's labels range over (chance top-1 is 1/classes). */
    valSamples?: number;
    classes?: number;
  };
  curves: CurvePoint[];
  params: number;
  macs: number;
  throughput: {
    /** Forward clips/s at the budget's batch (median of the timed passes). */
    forwardClipsPerSecond: number;
    forwardLatencyMs: number;
    /** Training-step clips/s over warm steps only (after the first step; evaluations and checkpoints left out); absent until a run trains. */
    trainClipsPerSecond?: number;
    /** The warm steps that figure is over. */
    trainWarmSteps?: number;
  };
  /** Seconds building pipelines (and uploading): the training step's (when trained) and the timed forward's. */
  compileSeconds?: { train?: number; forward: number };
  memory: {
    /** The WebGPU plan's peak for a forward (activations + weights), in bytes. */
    plannedForwardBytes: number;
    /** The plan's peak for a training step (absent until a run trains). */
    plannedTrainBytes?: number;
    /** Device buffers the forward allocated. */
    measuredForwardBytes: number;
  };
  adapter: string;
  /** A data-parallel run (`--gpus-per-run N` under Slurm, or `mpirun -np N … --task I --distributed mpi`):
   *  its ranks and the gradient all-reduce's cost per step. Absent for a one-process run. */
  distributed?: { ranks: number; allreduceMs: number; bytes: number };
}

export type RunStatus = 'done' | 'failed';

export interface RunRecord extends Partial<RunMeasurements> {
  format: 'pstc-ablate-run/1';
  id: string;
  index: number;
  key: string;
  sweep: string;
  variant: string;
  sameAs: string[];
  seed: number;
  base: string;
  changes: ConfigChange[];
  config: ModelConfig;
  status: RunStatus;
  /** Why it failed: a PSTnnn diagnostic rendered, or the error's message. */
  diagnostic?: string;
  /** Wall time of the run, seconds. */
  seconds: number;
  startedAt: string;
  finishedAt: string;
  host: string;
  /** Slurm's ids when the run was a task of an array job. */
  slurm?: { jobId: string; arrayJobId?: string; arrayTaskId?: string };
}

/** Tells a run's code what it is doing, for the progress line ("step 40/200 loss 1.21"). */
export type RunProgress = (what: string, fraction?: number) => void;

/**
 * The work of one run: compile, train, evaluate, measure. Throws on failure — a diagnostic
 * (DiagnosticError), a device error, non-finite numbers — and the task runner records it.
 * `workDir` is the run's own folder (training's checkpoints and log), kept across an
 * interruption so that a rerun continues the training where it stopped.
 */
export type RunOne = (run: PlannedRun, budget: Budget, progress: RunProgress, workDir: string, context?: RunContext) => Promise<RunMeasurements>;

/** How a run is executed: alone (the default), or as one rank of a data-parallel MPI job, where
 *  every rank trains its shard of each batch and rank 0 writes the run's folder and record. */
export interface RunContext {
  distributed?: DataParallel;
}

/**
 * A run id as the planner makes them (`<variant slug>-<hash>-s<seed>`): letters, digits, `_`, `-`,
 * `.`, not starting with `.` — so that `runs/<id>.json` and `train/<id>/` stay inside the
 * ablation directory whatever a plan file on disk says (a tampered `../../victim` is refused).
 */
export const RUN_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/** What is wrong with a value read from a plan, record or marker file, as `path: why`; undefined when it has the shape. */
type Check = (value: unknown, at: string) => string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str: Check = (v, at) => (typeof v === 'string' ? undefined : `${at} is not a string`);
const runId: Check = (v, at) => (typeof v === 'string' && RUN_ID.test(v) && !v.includes('..') ? undefined : `${at} \`${String(v).slice(0, 60)}\` is not a run id (letters, digits, _ - .)`);
const int = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (v, at) => (Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? undefined : `${at} is not a whole number ${min}…${max}`);
const finite: Check = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? undefined : `${at} is not a finite number`);
const optional = (c: Check): Check => (v, at) => (v === undefined ? undefined : c(v, at));
const object: Check = (v, at) => (isObject(v) ? undefined : `${at} is not an object`);
const array = (each: Check, max = 1_000_000): Check => (v, at) => {
  if (!Array.isArray(v)) return `${at} is not a list`;
  if (v.length > max) return `${at} has ${v.length} entries, at most ${max}`;
  for (let i = 0; i < v.length; i++) {
    const why = each(v[i], `${at}[${i}]`);
    if (why) return why;
  }
  return undefined;
};
const fields = (shape: Record<string, Check>): Check => (v, at) => {
  if (!isObject(v)) return `${at} is not an object`;
  for (const [key, check] of Object.entries(shape)) {
    const why = check(v[key], `${at}.${key}`);
    if (why) return why;
  }
  return undefined;
};
const oneOf = (...values: string[]): Check => (v, at) => (values.includes(v as string) ? undefined : `${at} is not one of ${values.join(', ')}`);

/** The most runs a plan may hold (variants × seeds): a plan of more is not one pstc wrote. */
export const MAX_PLAN_RUNS = 100_000;
/** Seeds per variant (`--seeds`). */
export const MAX_SEEDS = 1000;

/** Budget.train: the training flags a plan recorded, each within its key's range (TRAIN_KEYS). */
const trainShape = fields(
  Object.fromEntries(
    TRAIN_KEYS.map((k): [string, Check] => {
      const lo = k.range?.min ?? 0;
      const hi = k.range?.max ?? Number.MAX_VALUE;
      const number: Check = (v, at) => finite(v, at) ?? ((v as number) >= lo && (v as number) <= hi ? undefined : `${at} is outside ${lo}…${hi}`);
      return [k.field, optional(k.kind === 'word' ? oneOf(...k.words!) : k.kind === 'int' ? int(lo, hi) : number)];
    }),
  ),
);
const budgetShape = fields({ data: optional(str), steps: int(0), batch: int(1, 65536), lr: optional(finite), train: optional(trainShape), timingIters: int(1) });
const runShape = fields({ index: int(0), id: runId, sweep: str, variant: str, sameAs: array(str), seed: int(0), config: object, base: str, changes: array(object), key: str });

/** Why `value` (parsed from plan.json) is not a plan of this pstc; undefined when it is one. */
export function planProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'it is not a JSON object';
  if (value.format !== 'pstc-ablate-plan/1') return `it is not a plan of this pstc (format ${String(value.format).slice(0, 40)})`;
  const why = fields({
    file: str,
    sweeps: array(str),
    budget: budgetShape,
    seeds: array(int(0), MAX_SEEDS),
    runs: array(runShape, MAX_PLAN_RUNS),
    bases: array(fields({ sweep: str, base: str, config: optional(object) })),
    folded: array(fields({ variant: str, runsAs: str })),
    invalid: array(fields({ variant: str, diagnostic: str })),
    warnings: str,
  })(value, 'plan');
  if (why) return why;
  const runs = value.runs as PlannedRun[];
  const ids = new Set<string>();
  for (const [i, run] of runs.entries()) {
    if (run.index !== i) return `plan.runs[${i}].index is ${run.index}, not its position ${i}`;
    if (ids.has(run.id)) return `plan.runs[${i}].id \`${run.id}\` is given twice`;
    ids.add(run.id);
  }
  return undefined;
}

const measurementsShape = {
  trained: optional((v, at) => (typeof v === 'boolean' ? undefined : `${at} is not true or false`)),
  metrics: optional(fields({ top1: optional(finite), top5: optional(finite), orderAccuracy: optional(finite), finalLoss: optional(finite) })),
  curves: optional(array(fields({ step: int(0), split: oneOf('train', 'val'), loss: optional(finite), top1: optional(finite) }))),
  params: optional(finite),
  macs: optional(finite),
  throughput: optional(fields({ forwardClipsPerSecond: finite, forwardLatencyMs: finite, trainClipsPerSecond: optional(finite) })),
  memory: optional(fields({ plannedForwardBytes: finite, plannedTrainBytes: optional(finite), measuredForwardBytes: finite })),
  adapter: optional(str),
  distributed: optional(fields({ ranks: int(1), allreduceMs: finite, bytes: int(0) })),
};
const slurmShape = optional(fields({ jobId: str, arrayJobId: optional(str), arrayTaskId: optional(str) }));

/** Why `value` (parsed from runs/<id>.json) is not a run record of this pstc; undefined when it is one. */
export function recordProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'it is not a JSON object';
  if (value.format !== 'pstc-ablate-run/1') return `it is not a run record of this pstc (format ${String(value.format).slice(0, 40)})`;
  return fields({
    id: runId,
    index: int(0),
    key: str,
    sweep: str,
    variant: str,
    sameAs: array(str),
    seed: int(0),
    base: str,
    changes: array(object),
    config: object,
    status: oneOf('done', 'failed'),
    diagnostic: optional(str),
    seconds: finite,
    startedAt: str,
    finishedAt: str,
    host: str,
    slurm: slurmShape,
    ...measurementsShape,
  })(value, 'record');
}

/** Why `value` (parsed from runs/<id>.running) is not a marker; undefined when it is one. */
export function markerProblem(value: unknown): string | undefined {
  return fields({ id: runId, host: str, pid: int(1, 2 ** 31 - 1), startedAt: str, slurm: slurmShape })(value, 'marker');
}
