// The ablation directory. Every file in it is written whole (temporary file + rename), so a
// reader — `--status`, `--report`, another process of the sweep on another node — never sees half
// of one, and an interrupted sweep loses at most the run in progress:
//   DIR/plan.json           the sweep expanded into runs (written before any run starts)
//   DIR/runs/<id>.json      one finished run (done or failed), its RunRecord
//   DIR/runs/<id>.running   who is running it now (host, pid, Slurm ids, start); removed at the end
//   DIR/train/<id>/         the run's training folder: checkpoints (a rerun resumes from them), log.jsonl
//   DIR/logs/               Slurm's output of each array task
//   DIR/slurm/              the batch script and every submission (job id, tasks)
//   DIR/results.json, results.csv, results.md, report.html   the report
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticError } from '../../lang/diagnostics.js';
import { writeFileAtomic } from '../../weights/atomic.js';
import type { PlannedRun, RunRecord, SweepPlan } from './record.js';

export interface RunningMarker {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
  slurm?: { jobId: string; arrayJobId?: string; arrayTaskId?: string };
}

export class AblationDir {
  constructor(readonly root: string) {}

  get planPath(): string {
    return join(this.root, 'plan.json');
  }
  get runsDir(): string {
    return join(this.root, 'runs');
  }
  get logsDir(): string {
    return join(this.root, 'logs');
  }
  get slurmDir(): string {
    return join(this.root, 'slurm');
  }
  recordPath(id: string): string {
    return join(this.runsDir, `${id}.json`);
  }
  /** The run's own work folder (training's checkpoints and log.jsonl). */
  workDir(id: string): string {
    return join(this.root, 'train', id);
  }
  markerPath(id: string): string {
    return join(this.runsDir, `${id}.running`);
  }

  create(): void {
    for (const d of [this.root, this.runsDir, this.logsDir, this.slurmDir]) mkdirSync(d, { recursive: true });
  }

  writePlan(plan: SweepPlan): void {
    this.create();
    writeFileAtomic(this.planPath, JSON.stringify(plan, null, 1));
  }

  hasPlan(): boolean {
    return existsSync(this.planPath);
  }

  readPlan(flag = '--out'): SweepPlan {
    let text: string;
    try {
      text = readFileSync(this.planPath, 'utf8');
    } catch {
      throw new DiagnosticError([
        {
          code: 'PST803',
          severity: 'error',
          message: `${this.root} is not an ablation directory: no plan.json`,
          flag,
          hint: 'start a sweep with `pstc ablate SWEEP.pst --out DIR`',
        },
      ]);
    }
    const plan = JSON.parse(text) as SweepPlan;
    if (plan.format !== 'pstc-ablate-plan/1') {
      throw new DiagnosticError([
        { code: 'PST803', severity: 'error', message: `${this.planPath} is not a plan of this pstc (format ${String(plan.format)})`, flag },
      ]);
    }
    return plan;
  }

  writeRecord(record: RunRecord): void {
    writeFileAtomic(this.recordPath(record.id), JSON.stringify(record, null, 1));
  }

  /** The run's record if it finished for this plan (same key); a record of another plan is stale. */
  record(run: PlannedRun): RunRecord | undefined {
    const r = this.readJson<RunRecord>(this.recordPath(run.id));
    return r && r.key === run.key ? r : undefined;
  }

  /** Every finished record of the plan, in plan order. */
  records(plan: SweepPlan): RunRecord[] {
    return plan.runs.map((r) => this.record(r)).filter((r): r is RunRecord => r !== undefined);
  }

  writeMarker(marker: RunningMarker): void {
    writeFileAtomic(this.markerPath(marker.id), JSON.stringify(marker));
  }

  marker(id: string): RunningMarker | undefined {
    return this.readJson<RunningMarker>(this.markerPath(id));
  }

  removeMarker(id: string): void {
    rmSync(this.markerPath(id), { force: true });
  }

  /** Temporary files a killed writer left behind (never read: only whole files are). */
  strayTemporaries(): string[] {
    if (!existsSync(this.runsDir)) return [];
    return readdirSync(this.runsDir).filter((f) => f.endsWith('.tmp'));
  }

  private readJson<T>(path: string): T | undefined {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      return undefined; // cannot happen for files written whole; a hand-edited one is ignored
    }
  }
}
