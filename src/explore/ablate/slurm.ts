// Slurm, the engine research clusters run, as the executor of a sweep too large for one machine:
// ONE job array per submission, one array task per run (variant × seed); each task runs
// `pstc ablate --out DIR --task $SLURM_ARRAY_TASK_ID`, which does exactly that run into the
// shared DIR with the same whole-file records as a local run. Resubmitting submits only the runs
// without a successful record (the failed ones, alone). What Slurm knows — queued, running, how a
// task ended — is read from `squeue` and `sacct` (with a database `sacct -j`, without one
// `sacct -c`, the job-completion file, whose raw job ids the tasks' markers and records name).
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { resolve } from 'node:path';
import { DiagnosticError, escapeControls } from '../../lang/diagnostics.js';
import { writeFileAtomic } from '../../weights/atomic.js';
import { readBoundedText, type AblationDir } from './layout.js';

export interface SlurmOptions {
  partition?: string;
  /** GPUs each task asks for (`--gres=gpu:N`); N > 1: the run is data-parallel over N MPI ranks. */
  gpusPerRun?: number;
  /** Time limit of each task, in Slurm's format (`30`, `2:00:00`, `1-00:00:00`). */
  time?: string;
  /** argv that starts one task, before `--out DIR --task I` (e.g. [node, /abs/bin/pstc.js, 'ablate']). */
  taskCommand: string[];
  /** The folder tasks run in (default: this process's). */
  cwd?: string;
}

export interface Submission {
  jobId: string;
  tasks: number[];
  submittedAt: string;
  script: string;
}

/** `0-3,5,7-9`: the --array spec of a set of task numbers. */
export function arraySpec(tasks: readonly number[]): string {
  const sorted = [...new Set(tasks)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/**
 * Slurm's own grammar for each value that goes into the script: a value is refused by its flag
 * before anything is written, so that no newline, quote or `$(…)` of a flag ever becomes a line
 * (or a command) of `slurm/task.sh`.
 *   --partition  a comma-separated list of partition names (letters, digits, `_`, `-`, `.`)
 *   --time       minutes | M:S | H:M:S | D-H | D-H:M | D-H:M:S | UNLIMITED/INFINITE
 */
const SLURM_GRAMMAR: Record<'partition' | 'time', { flag: string; pattern: RegExp; expected: string }> = {
  partition: { flag: '--partition', pattern: /^[A-Za-z0-9_.-]{1,64}(,[A-Za-z0-9_.-]{1,64}){0,15}$/, expected: 'partition names (letters, digits, `_`, `-`, `.`), comma-separated' },
  time: {
    flag: '--time',
    pattern: /^(?:\d{1,7}(?::\d{1,2}){0,2}|\d{1,5}-\d{1,2}(?::\d{1,2}){0,2}|UNLIMITED|INFINITE)$/i,
    expected: 'Slurm\'s time format: minutes, M:S, H:M:S, D-H, D-H:M or D-H:M:S (e.g. 30, 2:00:00, 1-00:00:00)',
  },
};

/** A path on an `#SBATCH` line (no shell quoting there): a quote, `$`, a backslash or a control character is refused. */
const SCRIPT_SAFE_PATH = /^[^\0-\x1f\x7f"'`$\\]+$/;

/** Throws PST807 naming the flag when a Slurm value does not follow Slurm's grammar. */
export function checkSlurmOptions(options: Pick<SlurmOptions, 'partition' | 'time' | 'gpusPerRun'>): void {
  for (const key of ['partition', 'time'] as const) {
    const value = options[key];
    if (value === undefined) continue;
    const rule = SLURM_GRAMMAR[key];
    if (!rule.pattern.test(value)) throw slurmValueError(rule.flag, `\`${escapeControls(value.slice(0, 80))}\` is not ${rule.expected}`);
  }
  const gpus = options.gpusPerRun;
  if (gpus !== undefined && !(Number.isSafeInteger(gpus) && gpus >= 1 && gpus <= 1024)) throw slurmValueError('--gpus-per-run', `${gpus} is not a whole number of GPUs 1…1024`);
}

function slurmValueError(flag: string, message: string): DiagnosticError {
  return new DiagnosticError([{ code: 'PST807', severity: 'error', message: `${flag}: ${message}`, flag, hint: 'Slurm values are checked against Slurm\'s grammar before they go into the batch script' }]);
}

/** A path the script names: refused when it holds a character that a shell or `#SBATCH` would read. */
function scriptPath(path: string, what: string): string {
  if (!SCRIPT_SAFE_PATH.test(path)) {
    throw new DiagnosticError([
      { code: 'PST807', severity: 'error', message: `${what} \`${escapeControls(path)}\` holds a quote, \`$\`, a backslash or a control character: it cannot go into a Slurm batch script`, flag: '--out', hint: 'use a folder whose path has none of them' },
    ]);
  }
  return path;
}

/** The batch script every task of the sweep runs; every value checked, every word quoted. */
export function batchScript(dir: AblationDir, options: SlurmOptions): string {
  checkSlurmOptions(options);
  const root = resolve(dir.root);
  const logs = scriptPath(resolve(dir.logsDir), 'the log folder');
  const cwd = resolve(options.cwd ?? process.cwd());
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // sbatch reads `#SBATCH` values with double quotes as one word (a space in DIR stays in the path).
  const lines = ['#!/bin/bash', '#SBATCH --job-name=pstc-ablate', `#SBATCH --output="${logs}/slurm-%A_%a.out"`];
  if (options.partition) lines.push(`#SBATCH --partition=${options.partition}`);
  const ranks = options.gpusPerRun ?? 1;
  if (ranks > 1) {
    // A data-parallel run: one MPI rank per GPU, on one node (WebGPU has no peer transfers: the
    // ranks sum on the host, through shared memory). Each rank opens the adapter the node lets it
    // see (docs/training.md, "Devices": Dawn picks adapters by name, not by index).
    lines.push('#SBATCH --nodes=1', `#SBATCH --ntasks=${ranks}`);
  }
  if (options.gpusPerRun) lines.push(`#SBATCH --gres=gpu:${options.gpusPerRun}`);
  if (options.time) lines.push(`#SBATCH --time=${options.time}`);
  const task = `${options.taskCommand.map(q).join(' ')} --out ${q(root)} --task "$SLURM_ARRAY_TASK_ID"`;
  lines.push(
    '# Generated by `pstc ablate --executor slurm`: one run of the sweep per array task.',
    `cd ${q(cwd)}`,
    // Debian's and most clusters' Open MPI start under srun through PMIx (docs/ablate.md).
    ranks > 1 ? `exec srun --mpi=pmix --ntasks=${ranks} ${task} --distributed mpi` : `exec ${task}`,
    '',
  );
  return lines.join('\n');
}

/** Submit one job array for `tasks`; remembered in DIR/slurm/submissions.json. */
export function submitArray(dir: AblationDir, tasks: readonly number[], options: SlurmOptions): Submission {
  if (tasks.length === 0) throw new RangeError('submitArray: no tasks');
  const text = batchScript(dir, options); // checks every value before anything is written
  dir.create();
  const script = resolve(dir.slurmDir, 'task.sh');
  writeFileAtomic(script, text);
  chmodSync(script, 0o755);
  let out: string;
  try {
    out = execFileSync('sbatch', ['--parsable', `--array=${arraySpec(tasks)}`, script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    throw new DiagnosticError([
      {
        code: 'PST805',
        severity: 'error',
        message: err.code === 'ENOENT' ? 'sbatch not found: Slurm is not installed here' : `sbatch refused the job array: ${(err.stderr ?? err.message).trim()}`,
        flag: '--executor slurm',
        hint: err.code === 'ENOENT' ? 'run on a Slurm login node, or try Slurm on this machine: `bash scripts/slurm-local.sh start`' : 'check --partition, --gpus-per-run and --time against `sinfo`',
      },
    ]);
  }
  const jobId = out.trim().split(';')[0]!;
  const submission: Submission = { jobId, tasks: [...tasks], submittedAt: new Date().toISOString(), script };
  writeFileAtomic(submissionsPath(dir), JSON.stringify([...submissions(dir), submission], null, 1));
  return submission;
}

/** The submissions remembered in DIR; a missing, damaged or edited file is none (entries of another shape are left out). */
export function submissions(dir: AblationDir): Submission[] {
  const read = readBoundedText(submissionsPath(dir));
  if (!('text' in read)) return [];
  let value: unknown;
  try {
    value = JSON.parse(read.text);
  } catch {
    return [];
  }
  if (!Array.isArray(value)) return [];
  return value.filter(
    (s): s is Submission =>
      typeof s === 'object' && s !== null && typeof s.jobId === 'string' && /^\d{1,20}$/.test(s.jobId) &&
      Array.isArray(s.tasks) && s.tasks.every((t: unknown) => Number.isSafeInteger(t) && (t as number) >= 0) &&
      typeof s.submittedAt === 'string' && typeof s.script === 'string',
  );
}

function submissionsPath(dir: AblationDir): string {
  return resolve(dir.slurmDir, 'submissions.json');
}

/** What Slurm says about the sweep's tasks, by array task (`<arrayJobId>_<task>`) and by raw job id. */
export interface SlurmView {
  /** squeue: PENDING, RUNNING, … of tasks still in the queue. */
  queue: Map<string, { state: string; reason: string; rawJobId: string }>;
  /** sacct: how finished jobs ended (COMPLETED, FAILED, TIMEOUT, OUT_OF_MEMORY, CANCELLED …). */
  ended: Map<string, { state: string; exitCode: string }>;
  /** Why a part could not be read (no squeue, no sacct): said in --status, not an error. */
  notes: string[];
}

export function taskKey(arrayJobId: string, task: number | string): string {
  return `${arrayJobId}_${task}`;
}

export function readSlurm(jobIds: readonly string[]): SlurmView {
  const view: SlurmView = { queue: new Map(), ended: new Map(), notes: [] };
  if (jobIds.length === 0) return view;
  const ids = jobIds.join(',');
  try {
    // %F array job id, %K array task id, %A raw job id, %T state, %r reason; -r: one line per task.
    const out = execFileSync('squeue', ['-h', '-r', '-j', ids, '-o', '%F|%K|%A|%T|%r'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    for (const line of out.split('\n').filter(Boolean)) {
      const [array, task, raw, state, reason] = line.split('|');
      view.queue.set(taskKey(array!, task!), { state: state!, reason: reason ?? '', rawJobId: raw! });
    }
  } catch (e) {
    // squeue forgets jobs MinJobAge after they end, and says "Invalid job id" for them: that is
    // an empty queue, not a failure.
    const stderr = String((e as { stderr?: string }).stderr ?? (e as Error).message);
    if (!/Invalid job id/i.test(stderr)) view.notes.push(`squeue: ${stderr.trim().split('\n')[0]}`);
  }
  readSacct(jobIds, view);
  return view;
}

function readSacct(jobIds: readonly string[], view: SlurmView): void {
  const parse = (out: string) => {
    for (const line of out.split('\n').filter(Boolean)) {
      const [id, state, exitCode] = line.split('|');
      if (!id || id.includes('.')) continue; // job steps (123_4.batch): the allocation's line says it
      view.ended.set(id, { state: state!.split(' ')[0]!, exitCode: exitCode ?? '' });
    }
  };
  try {
    parse(execFileSync('sacct', ['-n', '-P', '-X', '-j', jobIds.join(','), '-o', 'JobID,State,ExitCode'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    return;
  } catch {
    // No accounting database: fall back to the job-completion file.
  }
  try {
    parse(execFileSync('sacct', ['-c', '-n', '-P', '-o', 'JobIDRaw,State,ExitCode'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (e) {
    view.notes.push(`sacct: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n')[0]}`);
  }
}
