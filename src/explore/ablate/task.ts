// One run of the plan, start to record: mark it running, do the work, write its record whole.
// A failure of the work — a diagnostic, a device error (out of memory), non-finite numbers — is the
// run's result, recorded with its diagnostic; it never stops the sweep. What kills the process
// (a signal, the node) leaves only the `.running` marker: `--status` shows it, a rerun redoes it.
import { rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { DiagnosticError, renderDiagnostics } from '../../lang/diagnostics.js';
import type { AblationDir } from './layout.js';
import type { PlannedRun, RunContext, RunOne, RunProgress, RunRecord, SweepPlan } from './record.js';

export interface TaskOptions {
  /** Redo a run that already has a record for this plan (default: skip it). */
  force?: boolean;
  progress?: RunProgress;
  /** One rank of a data-parallel job: rank 0 marks, records and owns the run's folder; the other
   *  ranks train their shards and write nothing (their failure ends the job, see `pstc ablate --task`). */
  context?: RunContext;
}

/** Slurm's ids of this process, when it is an array task. */
export function slurmIds(env: NodeJS.ProcessEnv = process.env): RunRecord['slurm'] {
  const jobId = env.SLURM_JOB_ID;
  if (!jobId) return undefined;
  return {
    jobId,
    ...(env.SLURM_ARRAY_JOB_ID ? { arrayJobId: env.SLURM_ARRAY_JOB_ID } : {}),
    ...(env.SLURM_ARRAY_TASK_ID ? { arrayTaskId: env.SLURM_ARRAY_TASK_ID } : {}),
  };
}

/** Runs plan.runs[index] into dir; returns its record (the existing one when it had finished). */
export async function runTask(dir: AblationDir, plan: SweepPlan, index: number, runOne: RunOne, options: TaskOptions = {}): Promise<RunRecord> {
  const run = plan.runs[index];
  if (!run) throw new RangeError(`task ${index}: the plan has ${plan.runs.length} runs (0…${plan.runs.length - 1})`);
  const existing = dir.record(run);
  if (existing && existing.status === 'done' && !options.force) return existing;
  const rank = options.context?.distributed?.comm.rank ?? 0;
  if (rank !== 0) {
    // Not rank 0: the same training on this rank's shards, nothing written here; a failure is
    // thrown (the caller ends the whole job), rank 0's record says what happened.
    const measured = await runOne(run, plan.budget, () => {}, dir.workDir(run.id), options.context);
    return { ...recordBase(run, new Date(), slurmIds()), ...measured, status: 'done', seconds: 0, finishedAt: new Date().toISOString() };
  }

  const slurm = slurmIds();
  const startedAt = new Date();
  dir.writeMarker({ id: run.id, host: hostname(), pid: process.pid, startedAt: startedAt.toISOString(), ...(slurm ? { slurm } : {}) });
  const base = recordBase(run, startedAt, slurm);
  let record: RunRecord;
  try {
    if (options.force) rmSync(dir.workDir(run.id), { recursive: true, force: true }); // redo from scratch
    const measured = await runOne(run, plan.budget, options.progress ?? (() => {}), dir.workDir(run.id), options.context);
    record = { ...base, ...measured, status: 'done', seconds: secondsSince(startedAt), finishedAt: new Date().toISOString() };
  } catch (e) {
    record = { ...base, status: 'failed', diagnostic: describeFailure(e), seconds: secondsSince(startedAt), finishedAt: new Date().toISOString() };
  }
  dir.writeRecord(record);
  dir.removeMarker(run.id);
  return record;
}

/** Everything a record says about its run before the outcome. */
export function recordBase(run: PlannedRun, startedAt: Date, slurm: RunRecord['slurm']): Omit<RunRecord, 'status' | 'seconds' | 'finishedAt'> {
  return {
    format: 'pstc-ablate-run/1',
    id: run.id,
    index: run.index,
    key: run.key,
    sweep: run.sweep,
    variant: run.variant,
    sameAs: run.sameAs,
    seed: run.seed,
    base: run.base,
    changes: run.changes,
    config: run.config,
    startedAt: startedAt.toISOString(),
    host: hostname(),
    ...(slurm ? { slurm } : {}),
  };
}

/** A failure as a person reads it: diagnostics rendered (code, where, what to do), else the error's message. */
export function describeFailure(e: unknown): string {
  if (e instanceof DiagnosticError) return renderDiagnostics(e.diagnostics, { color: false }).trim();
  const err = e as Error;
  const kind = err?.name && err.name !== 'Error' ? `${err.name}: ` : '';
  return `${kind}${err?.message ?? String(e)}`;
}

function secondsSince(t: Date): number {
  return (Date.now() - t.getTime()) / 1000;
}
