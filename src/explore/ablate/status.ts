// Where each run of a sweep stands, from the directory's files and, for a Slurm sweep, from
// squeue and sacct: done, failed (with why), running (who), queued (Slurm's reason), interrupted
// (a local run whose process is gone), lost (a Slurm task that ended without a record: killed for
// time or memory), or not started.
import { hostname } from 'node:os';
import { renderTable } from '../format.js';
import type { AblationDir, RunningMarker } from './layout.js';
import type { PlannedRun, RunRecord, SweepPlan } from './record.js';
import { readSlurm, submissions, taskKey, type SlurmView } from './slurm.js';
import { processAlive } from '../../train/process-state.js';

export type RunState = 'done' | 'failed' | 'running' | 'queued' | 'interrupted' | 'lost' | 'not started';

export interface RunStatusRow {
  run: PlannedRun;
  state: RunState;
  detail: string;
  record?: RunRecord;
}

export interface SweepStatus {
  rows: RunStatusRow[];
  counts: Record<RunState, number>;
  slurmJobs: string[];
  notes: string[];
}

export function sweepStatus(dir: AblationDir, plan: SweepPlan, slurm?: SlurmView): SweepStatus {
  const subs = submissions(dir);
  const jobIds = subs.map((s) => s.jobId);
  const view = slurm ?? readSlurm(jobIds);
  const rows = plan.runs.map((run) => rowOf(dir, run, subs, view));
  const counts = { done: 0, failed: 0, running: 0, queued: 0, interrupted: 0, lost: 0, 'not started': 0 } as Record<RunState, number>;
  for (const r of rows) counts[r.state]++;
  return { rows, counts, slurmJobs: jobIds, notes: view.notes };
}

function rowOf(dir: AblationDir, run: PlannedRun, subs: ReturnType<typeof submissions>, view: SlurmView): RunStatusRow {
  const record = dir.record(run);
  if (record?.status === 'done') return { run, state: 'done', detail: `${record.seconds.toFixed(1)} s on ${record.host}`, record };
  // The latest submission that included this run decides what Slurm has to say about it.
  const sub = [...subs].reverse().find((s) => s.tasks.includes(run.index));
  const queued = sub && view.queue.get(taskKey(sub.jobId, run.index));
  const marker = dir.marker(run.id);
  if (queued && queued.state !== 'PENDING') return { run, state: 'running', detail: `Slurm ${queued.state} (job ${sub!.jobId}_${run.index})` };
  if (marker) {
    const ended = marker.slurm && endedAs(view, marker);
    if (ended && ended.state !== 'COMPLETED' && ended.state !== 'RUNNING') {
      return { run, state: 'lost', detail: `Slurm ended the task ${ended.state} (exit ${ended.exitCode}) before it wrote a result` };
    }
    if (!marker.slurm && marker.host === hostname() && !processAlive(marker.pid)) {
      return { run, state: 'interrupted', detail: `its process ${marker.pid} is gone (started ${marker.startedAt})` };
    }
    return { run, state: 'running', detail: `on ${marker.host}, pid ${marker.pid}, since ${marker.startedAt}` };
  }
  if (queued) return { run, state: 'queued', detail: `Slurm PENDING${queued.reason && queued.reason !== 'None' ? ` (${queued.reason})` : ''}, job ${sub!.jobId}_${run.index}` };
  if (record?.status === 'failed') return { run, state: 'failed', detail: firstLine(record.diagnostic), record };
  if (sub) {
    const ended = view.ended.get(taskKey(sub.jobId, run.index));
    if (ended) return { run, state: 'lost', detail: `Slurm ended the task ${ended.state} (exit ${ended.exitCode}) before it started the run` };
  }
  return { run, state: 'not started', detail: sub ? `submitted in job ${sub.jobId}; not in the queue` : '' };
}

/** How Slurm says the marker's job ended: by array task id (with a database) or raw job id (sacct -c). */
function endedAs(view: SlurmView, marker: RunningMarker): { state: string; exitCode: string } | undefined {
  const s = marker.slurm!;
  return (s.arrayJobId && s.arrayTaskId ? view.ended.get(taskKey(s.arrayJobId, s.arrayTaskId)) : undefined) ?? view.ended.get(s.jobId);
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n').find((l) => l.trim()) ?? '';
}

export function renderStatus(status: SweepStatus): string {
  const table = renderTable(
    ['task', 'variant', 'seed', 'state', 'detail'],
    status.rows.map((r) => [String(r.run.index), r.run.variant, String(r.run.seed), r.state, r.detail.slice(0, 100)]),
  );
  const counts = Object.entries(status.counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  const lines = [table, '', `${status.rows.length} runs: ${counts}`];
  if (status.slurmJobs.length) lines.push(`Slurm job arrays: ${status.slurmJobs.join(', ')}`);
  for (const n of status.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
