// The default executor: the runs on this machine, one after another in this process, or with
// `parallel > 1` that many child processes at once, each running `pstc ablate --out DIR --task I`
// (the same command a Slurm array task runs). A child that dies without writing its record — a
// crash, an out-of-memory kill — gets a failed record from here, with its exit status and the
// last lines it printed, so that one variant's crash is reported and the others still run.
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AblationDir } from './layout.js';
import type { SweepProgress } from './progress.js';
import type { PlannedRun, RunOne, RunRecord, SweepPlan } from './record.js';
import { recordBase, runTask } from './task.js';

export interface LocalOptions {
  /** Processes at once; 1 = in this process. */
  parallel: number;
  /** How to start one task in a child process: argv before `--out DIR --task I` (e.g. [node, bin/pstc.js, 'ablate']). */
  taskCommand: string[];
  /** Redo runs that have a record (default: only those without a successful one). */
  force?: boolean;
}

/** The runs still to do: without a successful record for this plan. */
export function pendingRuns(dir: AblationDir, plan: SweepPlan, force = false): PlannedRun[] {
  return plan.runs.filter((r) => force || dir.record(r)?.status !== 'done');
}

export async function runLocal(dir: AblationDir, plan: SweepPlan, runOne: RunOne, progress: SweepProgress, options: LocalOptions): Promise<void> {
  const todo = pendingRuns(dir, plan, options.force);
  progress.skipped(plan.runs.length - todo.length);
  if (options.parallel <= 1) {
    for (const run of todo) {
      progress.start(`${run.variant} seed ${run.seed}`);
      progress.finish(await runTask(dir, plan, run.index, runOne, { force: options.force, progress: progress.forRun() }));
    }
    return;
  }
  const queue = [...todo];
  const worker = async () => {
    for (let run = queue.shift(); run; run = queue.shift()) {
      progress.line(`started ${run.variant} seed ${run.seed} (task ${run.index})`);
      progress.finish(await runChild(dir, plan, run, options));
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.parallel, todo.length) }, worker));
}

/** One task in a child process; its output goes to DIR/logs/<id>.log. */
function runChild(dir: AblationDir, plan: SweepPlan, run: PlannedRun, options: LocalOptions): Promise<RunRecord> {
  const log = join(dir.logsDir, `${run.id}.log`);
  const [command, ...args] = options.taskCommand;
  const argv = [...args, '--out', dir.root, '--task', String(run.index), ...(options.force ? ['--force'] : [])];
  const started = new Date();
  return new Promise((resolve) => {
    const out = createWriteStream(log);
    const child = spawn(command!, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PSTC_ABLATE_CHILD: '1' } });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (settled) return; // 'error' may come before 'close'
      settled = true;
      out.end(() => {
        const record = dir.record(run);
        if (record && new Date(record.finishedAt) >= started) return resolve(record);
        // The child left no record: it died. Record that, with what it printed last.
        const tail = readTail(log);
        const how = error ? `could not start: ${error.message}` : signal ? `killed by ${signal}` : `exited with status ${code}`;
        const failed: RunRecord = {
          ...recordBase(run, started, undefined),
          status: 'failed',
          diagnostic: `the run's process ${how} without a result${tail ? `; its last output:\n${tail}` : ''}`,
          seconds: (Date.now() - started.getTime()) / 1000,
          finishedAt: new Date().toISOString(),
        };
        dir.writeRecord(failed);
        dir.removeMarker(run.id);
        resolve(failed);
      });
    };
    child.on('error', (e) => finish(null, null, e));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

function readTail(path: string, lines = 8): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
