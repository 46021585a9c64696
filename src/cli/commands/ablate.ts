// `pstc ablate SWEEP.pst`: every variant of a sweep × seeds trained and measured under the same
// budget, locally or as one Slurm job array, into a directory of whole-file records, and a
// report (results.json/.csv/.md, report.html) rebuilt from whatever finished. The work lives in
// src/explore/ablate/; this file reads flags and prints.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import {
  AblationDir,
  SweepProgress,
  checkSlurmOptions,
  MAX_SEEDS,
  pendingRuns,
  planSweep,
  renderStatus,
  resolveAgainst,
  runLocal,
  runOneFor,
  runTask,
  submitArray,
  sweepStatus,
  writeReport,
  type Budget,
  type SweepPlan,
} from '../../explore/ablate/index.js';
import { UsageError } from '../errors.js';
import type { CliIO } from '../io.js';
import type { CommandRegistrar } from '../registrar.js';
import { MAX_BATCH, nonNegativeInt, positiveInt } from '../options.js';
import { trainFlagValues, withTrainFlags } from '../train-flags.js';
import type { TrainValues } from '../../lang/train-config.js';
import { ABLATE_TRAIN_FLAGS } from '../../explore/ablate/train-defaults.js';
import { checkOutputPath, checkOwnFolder } from '../output-path.js';
import { startDistributed } from '../train-distributed.js';

/** The training flags (steps, batch, lr, warmup, …) are absent when not given: each variant's
 *  train section, then ablate's defaults, fill them in (src/explore/ablate/train-defaults.ts). */
interface AblateOptions extends TrainValues {
  out?: string;
  sweep?: string[];
  data: string;
  measureOnly?: boolean;
  seeds: number;
  iters: number;
  resume?: boolean;
  force?: boolean;
  parallel: number;
  executor: string;
  partition?: string;
  gpusPerRun?: number;
  distributed?: string;
  time?: string;
  wait?: boolean;
  task?: number;
  status?: string;
  report?: string;
  against?: string;
  json?: boolean;
}

const DEFAULT_STEPS = 200;
const DEFAULT_BATCH = 4;

export const registerAblate: CommandRegistrar = (program: Command, io, setExit) => {
  withTrainFlags(program.command('ablate'), ABLATE_TRAIN_FLAGS, { optimizer: 'adamw', lr: 'the optimizer\'s (adamw 1e-3)', warmup: 'a tenth of the steps', minLr: '0', clipGrad: '0' })
    .description('train and measure every variant of a sweep × seeds under one budget (locally or as a Slurm job array), then report: table, CSV, JSON, HTML plots')
    .argument('[sweep]', 'a .pst file declaring one or more sweeps')
    .option('-o, --out <DIR>', 'the ablation directory (default: ablation/<sweep file name>)')
    .option('--sweep <name>', 'only this sweep of the file (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--data <SPEC>', 'training data, as `pstc train --data`', 'synthetic:motion')
    .option('--steps <N>', `optimizer steps per run (default: the model's train { steps = … }, else ${DEFAULT_STEPS})`, positiveInt('--steps', 1e9))
    .option('--measure-only', 'cost only: compile, params, MACs, forward throughput, planned memory; no training, no accuracy')
    .option('--seeds <K>', 'seeds 0 … K-1 per variant', positiveInt('--seeds', MAX_SEEDS), 1)
    .option('--batch <B>', `clips per training step (default: the model's train { batch = … }, else ${DEFAULT_BATCH}) and per timed forward (default ${DEFAULT_BATCH})`, positiveInt('--batch', MAX_BATCH))
    .option('--iters <N>', 'timed forward passes per run', positiveInt('--iters'), 5)
    .option('--resume', 'continue the sweep in --out (the sweep file may be left out): finished runs are skipped, failed ones retried')
    .option('--force', 'redo runs that already finished')
    .option('--parallel <N>', 'local executor: runs at once, each in its own process', positiveInt('--parallel'), 1)
    .option('--executor <local|slurm>', 'where runs execute', 'local')
    .option('--partition <P>', 'Slurm partition')
    .option('--gpus-per-run <N>', 'Slurm: GPUs per array task (--gres=gpu:N); N > 1 makes each run data-parallel, one MPI rank per GPU (srun --mpi=pmix)', positiveInt('--gpus-per-run'))
    .option('--time <T>', 'Slurm: time limit per task (e.g. 30, 2:00:00)')
    .option('--wait', 'Slurm: wait for the job array to finish, then write the report')
    .option('--task <I>', 'run task I of the plan in --out (what each Slurm array task runs)', nonNegativeInt('--task'))
    .option('--distributed <engine>', 'with --task: run it data-parallel, this process one rank of an MPI job (what a task of `--gpus-per-run N` runs under `srun`; docs/ablate.md)')
    .option('--status <DIR>', 'show queued/running/done/failed runs of an ablation directory')
    .option('--report <DIR>', 'rebuild the report of an ablation directory from the runs finished so far')
    .option('--against <VARIANT>', 'compare every variant with this one (default: each sweep\'s base variant): differences paired by seed, 95 % intervals, verdicts')
    .option('--json', 'with --status: print it as JSON')
    .action(async (file: string | undefined, opts: AblateOptions) => {
      if (opts.status !== undefined) showStatus(new AblationDir(opts.status), io, opts.json);
      else if (opts.report !== undefined) setExit(await report(new AblationDir(opts.report), io, '--report', opts.against));
      else if (opts.task !== undefined) setExit(await oneTask(opts, io));
      else setExit(await sweep(file, opts, io));
    });
};

function requireOut(opts: AblateOptions, file: string | undefined): AblationDir {
  if (opts.out) return new AblationDir(opts.out);
  if (!file) throw new UsageError('give the sweep file, or --out DIR of an ablation to continue');
  return new AblationDir(join('ablation', basename(file).replace(/\.pst$/i, '')));
}

async function sweep(file: string | undefined, opts: AblateOptions, io: CliIO): Promise<number> {
  if (opts.executor !== 'local' && opts.executor !== 'slurm') throw new UsageError(`--executor: expected \`local\` or \`slurm\`, got \`${opts.executor}\``);
  if (opts.executor === 'slurm') checkSlurmOptions(opts); // before anything is planned or written
  if (opts.distributed !== undefined) throw new UsageError('--distributed: only with --task (one run as a rank of an MPI job); a sweep asks for data-parallel runs with --executor slurm --gpus-per-run N');
  if (opts.executor === 'local' && opts.gpusPerRun !== undefined) {
    throw new UsageError('--gpus-per-run: a Slurm option (--executor slurm); on one machine, run a task data-parallel with `mpirun -np N pstc ablate --out DIR --task I --distributed mpi`');
  }
  const dir = requireOut(opts, file);
  let plan: SweepPlan;
  if (file) {
    const budget: Budget = {
      ...(opts.measureOnly ? {} : { data: opts.data }),
      steps: opts.measureOnly ? 0 : (opts.steps ?? DEFAULT_STEPS),
      batch: opts.batch ?? DEFAULT_BATCH,
      // The flags given: they win over every variant's train section.
      train: trainFlagValues(opts),
      timingIters: opts.iters,
    };
    plan = planSweep(file, { sweeps: opts.sweep, seeds: Array.from({ length: opts.seeds }, (_, i) => i), budget });
  } else if (opts.resume) {
    plan = dir.readPlan();
  } else {
    throw new UsageError('give the sweep file (or --resume with --out DIR)');
  }
  const runOne = runOneFor(plan.budget); // refuses a trained sweep before anything is written
  if (opts.against !== undefined) resolveAgainst(plan, opts.against); // an unknown variant: refused before hours of runs
  checkAblationDir(dir);
  dir.writePlan(plan);
  io.out(planSummary(plan, dir));

  const taskCommand = [process.execPath, pstcBin(), 'ablate'];
  if (opts.executor === 'slurm') {
    const status = sweepStatus(dir, plan);
    const busy = new Set(status.rows.filter((r) => r.state === 'queued' || r.state === 'running').map((r) => r.run.index));
    const todo = pendingRuns(dir, plan, opts.force).filter((r) => !busy.has(r.index));
    if (todo.length === 0) {
      io.out(busy.size ? `nothing to submit: ${busy.size} run(s) queued or running` : 'nothing to submit: every run has finished');
    } else {
      const sub = submitArray(dir, todo.map((r) => r.index), { partition: opts.partition, gpusPerRun: opts.gpusPerRun, time: opts.time, taskCommand });
      io.out(`submitted Slurm job array ${sub.jobId}: ${todo.length} task(s) (${sub.tasks.length === plan.runs.length ? 'every run' : `tasks ${sub.tasks.join(', ')}`})`);
    }
    if (!opts.wait) {
      io.out(`follow it with \`pstc ablate --status ${dir.root}\`; the report: \`pstc ablate --report ${dir.root}\``);
      return 0;
    }
    await waitForSlurm(dir, plan, io);
  } else {
    const progress = new SweepProgress(plan.runs.length, { write: (t) => process.stderr.write(t), isTTY: Boolean(process.stderr.isTTY) });
    await runLocal(dir, plan, runOne, progress, { parallel: opts.parallel, taskCommand, force: opts.force });
  }
  return report(dir, io, '--out', opts.against);
}

async function waitForSlurm(dir: AblationDir, plan: SweepPlan, io: CliIO): Promise<void> {
  let last = '';
  for (;;) {
    const s = sweepStatus(dir, plan);
    const text = Object.entries(s.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ');
    if (text !== last) io.err(`slurm: ${text}`);
    last = text;
    if (s.counts.queued === 0 && s.counts.running === 0) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function oneTask(opts: AblateOptions, io: CliIO): Promise<number> {
  if (!opts.out) throw new UsageError('--task: give --out DIR (the ablation directory holding the plan)');
  const dir = new AblationDir(opts.out);
  const plan = dir.readPlan();
  if (opts.task! >= plan.runs.length) {
    throw new UsageError(`--task: the plan in ${dir.root} has ${plan.runs.length} runs (tasks 0…${plan.runs.length - 1}), not ${opts.task}`);
  }
  const run = plan.runs[opts.task!]!;
  const runOne = runOneFor(plan.budget);
  // Data-parallel: join the MPI job; rank 0 speaks and writes, an error on any rank ends them all.
  const parallel = opts.distributed !== undefined ? startDistributed(opts.distributed, io, dir.workDir(run.id)) : undefined;
  if (parallel && plan.budget.steps === 0) parallel.fail(new UsageError('--distributed: this sweep is cost-only (--measure-only): there is no training to spread over ranks'));
  const say = parallel?.io ?? io;
  const progress = new SweepProgress(1, { write: (t) => (parallel && parallel.dp.comm.rank !== 0 ? undefined : process.stderr.write(t)), isTTY: false });
  progress.start(`${run.variant} seed ${run.seed}${parallel ? ` (${parallel.dp.comm.size} ranks)` : ''}`);
  let record;
  try {
    record = await runTask(dir, plan, opts.task!, runOne, { force: opts.force, progress: progress.forRun(), ...(parallel ? { context: { distributed: parallel.dp } } : {}) });
  } catch (e) {
    if (parallel) parallel.fail(e); // a rank other than 0 failed: end every rank
    throw e;
  }
  progress.finish(record);
  say.out(`${record.id}: ${record.status}${record.diagnostic ? `\n${record.diagnostic}` : ''}`);
  if (parallel) {
    // Rank 0 recorded a failure: the other ranks may wait in a collective that will never come.
    if (record.status !== 'done') parallel.fail(new UsageError(`run ${record.id} failed on rank 0 (its record says why)`));
    await parallel.finish();
  }
  return record.status === 'done' ? 0 : 1;
}

async function report(dir: AblationDir, io: CliIO, flag: string, against?: string): Promise<number> {
  const plan = dir.readPlan(flag);
  const files = await writeReport(dir, plan, { ...(against !== undefined ? { against } : {}) });
  io.out('');
  io.out(readFileSync(files.markdown, 'utf8'));
  io.out(`report: ${files.html}  (also ${files.markdown}, ${files.csv}, ${files.variantsCsv}, ${files.json})`);
  // A variant that failed (or does not check) is reported above; the exit status says so too.
  return files.records.some((r) => r.status === 'failed') || plan.invalid.length > 0 ? 1 : 0;
}

function showStatus(dir: AblationDir, io: CliIO, json?: boolean): void {
  const plan = dir.readPlan('--status');
  const status = sweepStatus(dir, plan);
  if (json) {
    io.out(JSON.stringify({ counts: status.counts, slurmJobs: status.slurmJobs, notes: status.notes, runs: status.rows.map((r) => ({ task: r.run.index, id: r.run.id, variant: r.run.variant, seed: r.run.seed, state: r.state, detail: r.detail })) }, null, 2));
    return;
  }
  io.out(renderStatus(status));
}

/** --out is a folder we may write, and either new, empty, or an ablation directory already:
 *  the report's results.* never replace files of another folder. */
function checkAblationDir(dir: AblationDir): void {
  checkOutputPath({ flag: '--out', path: dir.root, kind: 'folder' });
  checkOwnFolder({ flag: '--out', path: dir.root, what: 'an ablation directory (its plan.json is missing, or not a plan of pstc)', ours: () => dir.hasPlan() });
}

function planSummary(plan: SweepPlan, dir: AblationDir): string {
  const variants = new Set(plan.runs.map((r) => r.variant)).size;
  const lines = [`${plan.sweeps.join(', ')}: ${variants} variant(s) × ${plan.seeds.length} seed(s) = ${plan.runs.length} run(s) into ${dir.root}`];
  for (const f of plan.folded) lines.push(`  ${f.variant} is the same network as ${f.runsAs} after resolution: run once, reported under both`);
  for (const v of plan.invalid) lines.push(`  ${v.variant} does not check, not run: ${v.diagnostic.split('\n')[0]}`);
  if (plan.warnings) lines.push(plan.warnings);
  return lines.join('\n');
}

/** bin/pstc.js of this installation, found from this module upwards (src/ under vitest, dist/src/ built). */
function pstcBin(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const bin = join(d, 'bin', 'pstc.js');
    if (existsSync(bin)) return resolve(bin);
    d = dirname(d);
  }
  throw new Error('bin/pstc.js not found above the CLI module');
}
