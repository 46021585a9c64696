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
// Every file is read bounded (a regular file of at most MAX_FILE_BYTES: /dev/zero or a FIFO in
// its place is refused, not read) and checked for its shape before use (record.ts): a run id or
// path from a file never names anything outside DIR.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { DiagnosticError, escapeControls } from '../../lang/diagnostics.js';
import { readRegularFile } from '../../lang/read-file.js';
import { writeFileAtomic } from '../../weights/atomic.js';
import { markerProblem, planProblem, recordProblem, RUN_ID, type PlannedRun, type RunRecord, type SweepPlan } from './record.js';

/** The largest plan, record or marker file read (a plan of 100 000 runs with configs fits). */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** A file's text, bounded; or why it could not be read. */
export function readBoundedText(path: string, maxBytes = MAX_FILE_BYTES): { text: string } | { missing: true } | { problem: string } {
  const read = readRegularFile(path, maxBytes);
  if ('unreadable' in read) return read.code === 'ENOENT' ? { missing: true } : { problem: read.unreadable };
  if ('refused' in read) return { problem: read.refused };
  return { text: new TextDecoder().decode(read.bytes) };
}

/** JSON.parse that says why instead of throwing. */
function parseJson(text: string): { value: unknown } | { problem: string } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    return { problem: `it is not valid JSON (${(e as Error).message.slice(0, 80)})` };
  }
}

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
    return this.inside(join(this.runsDir, `${safeId(id)}.json`));
  }
  /** The run's own work folder (training's checkpoints and log.jsonl). */
  workDir(id: string): string {
    return this.inside(join(this.root, 'train', safeId(id)));
  }
  markerPath(id: string): string {
    return this.inside(join(this.runsDir, `${safeId(id)}.running`));
  }

  /** `path` when it lies inside DIR (what every path built from a run id must): else an error, never a path outside. */
  private inside(path: string): string {
    const rel = relative(resolve(this.root), resolve(path));
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new RangeError(`${path} is outside the ablation directory ${this.root}`);
    return path;
  }

  create(): void {
    for (const d of [this.root, this.runsDir, this.logsDir, this.slurmDir]) mkdirSync(d, { recursive: true });
  }

  writePlan(plan: SweepPlan): void {
    this.create();
    writeFileAtomic(this.planPath, JSON.stringify(plan, null, 1));
  }

  /** Whether DIR holds a plan of this pstc (a foreign or damaged plan.json is not one: not overwritten). */
  hasPlan(): boolean {
    return existsSync(this.planPath) && this.planOrProblem().plan !== undefined;
  }

  readPlan(flag = '--out'): SweepPlan {
    const { plan, problem, missing } = this.planOrProblem();
    if (plan) return plan;
    throw new DiagnosticError([
      missing
        ? { code: 'PST803', severity: 'error', message: `${this.root} is not an ablation directory: no plan.json`, flag, hint: 'start a sweep with `pstc ablate SWEEP.pst --out DIR`' }
        : {
            code: 'PST803',
            severity: 'error',
            message: `${escapeControls(this.planPath)} is not a plan of this pstc: ${escapeControls(problem ?? '')}`,
            flag,
            hint: 'a plan.json written by pstc was changed or replaced: start the sweep again into a new folder (`pstc ablate SWEEP.pst --out NEW`)',
          },
    ]);
  }

  private planOrProblem(): { plan?: SweepPlan; problem?: string; missing?: boolean } {
    const read = readBoundedText(this.planPath);
    if ('missing' in read) return { missing: true };
    if ('problem' in read) return { problem: read.problem };
    const parsed = parseJson(read.text);
    if ('problem' in parsed) return { problem: parsed.problem };
    const problem = planProblem(parsed.value);
    return problem ? { problem } : { plan: parsed.value as SweepPlan };
  }

  writeRecord(record: RunRecord): void {
    writeFileAtomic(this.recordPath(record.id), JSON.stringify(record, null, 1));
  }

  /** The run's record if it finished for this plan (same key); a record of another plan is stale. */
  record(run: PlannedRun): RunRecord | undefined {
    const r = this.readJson<RunRecord>(this.recordPath(run.id), recordProblem);
    return r && r.key === run.key && r.id === run.id ? r : undefined;
  }

  /** Every finished record of the plan, in plan order. */
  records(plan: SweepPlan): RunRecord[] {
    return plan.runs.map((r) => this.record(r)).filter((r): r is RunRecord => r !== undefined);
  }

  writeMarker(marker: RunningMarker): void {
    writeFileAtomic(this.markerPath(marker.id), JSON.stringify(marker));
  }

  marker(id: string): RunningMarker | undefined {
    return this.readJson<RunningMarker>(this.markerPath(id), markerProblem);
  }

  removeMarker(id: string): void {
    rmSync(this.markerPath(id), { force: true });
  }

  /** Temporary files a killed writer left behind (never read: only whole files are). */
  strayTemporaries(): string[] {
    if (!existsSync(this.runsDir)) return [];
    return readdirSync(this.runsDir).filter((f) => f.endsWith('.tmp'));
  }

  /** A record or marker: undefined when missing, unreadable or not of our shape (a hand-edited
   *  or damaged one is ignored: the run counts as not finished and is redone). */
  private readJson<T>(path: string, problem: (value: unknown) => string | undefined): T | undefined {
    const read = readBoundedText(path);
    if (!('text' in read)) return undefined;
    const parsed = parseJson(read.text);
    if ('problem' in parsed || problem(parsed.value) !== undefined) return undefined;
    return parsed.value as T;
  }
}

function safeId(id: string): string {
  if (!RUN_ID.test(id) || id.includes('..')) throw new RangeError(`\`${escapeControls(id.slice(0, 60))}\` is not a run id`);
  return id;
}
