// The data of an ablation: the plan (the sweep expanded into runs, written once into DIR) and the
// record of one finished run (written by whichever process ran it). Everything else — executors,
// the status, the report — reads and writes these.
import type { ModelConfig } from '../../lang/model.js';
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
  };
  curves: CurvePoint[];
  params: number;
  macs: number;
  throughput: {
    /** Forward clips/s at the budget's batch (median of the timed passes). */
    forwardClipsPerSecond: number;
    forwardLatencyMs: number;
    /** Training-step clips/s (absent until a run trains). */
    trainClipsPerSecond?: number;
  };
  memory: {
    /** The WebGPU plan's peak for a forward (activations + weights), in bytes. */
    plannedForwardBytes: number;
    /** The plan's peak for a training step (absent until a run trains). */
    plannedTrainBytes?: number;
    /** Device buffers the forward allocated. */
    measuredForwardBytes: number;
  };
  adapter: string;
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
export type RunOne = (run: PlannedRun, budget: Budget, progress: RunProgress, workDir: string) => Promise<RunMeasurements>;
