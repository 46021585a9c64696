// A data-parallel run of a sweep: `--gpus-per-run N` (N > 1) makes each Slurm array task an MPI job
// of N ranks (`srun --mpi=pmix … --task I --distributed mpi`). The task side runs here as a user
// without Slurm would run it, `mpirun -np 2 pstc ablate --out DIR --task 0 --distributed mpi`
// (lavapipe on each rank, loopback only), and must end where the same task run by one process
// ends: the same weights to float32 summation order (the bound of test/train/distributed.test.ts),
// one record written by rank 0 saying 2 ranks, no marker left.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AblationDir, batchScript, planSweep } from '../../src/explore/ablate/index.js';
import { maxDifference, mpiAvailable, mpiEnv, runMpi, weightsAt } from '../train/mpi.js';

const root = resolve(import.meta.dirname, '..', '..');
const pstc = join(root, 'bin/pstc.js');
const SWEEP = join(root, 'models/tiny/demo-ablation-tiny.pst');
const STEPS = 4;

describe('the Slurm script of a data-parallel sweep', () => {
  it('--gpus-per-run 2: one node, 2 tasks, srun --mpi=pmix starting the task with --distributed mpi; 1 GPU: one process as before', () => {
    const dir = new AblationDir('/shared/abl');
    const task = { taskCommand: ['/usr/bin/node', '/opt/pstc.js', 'ablate'], cwd: '/work' };
    const two = batchScript(dir, { ...task, gpusPerRun: 2 });
    expect(two).toContain('#SBATCH --nodes=1\n#SBATCH --ntasks=2\n#SBATCH --gres=gpu:2\n');
    expect(two).toContain(`exec srun --mpi=pmix --ntasks=2 '/usr/bin/node' '/opt/pstc.js' 'ablate' --out '/shared/abl' --task "$SLURM_ARRAY_TASK_ID" --distributed mpi\n`);
    const one = batchScript(dir, { ...task, gpusPerRun: 1 });
    expect(one).not.toMatch(/ntasks|srun|--distributed/);
    expect(one).toContain(`exec '/usr/bin/node' '/opt/pstc.js' 'ablate' --out '/shared/abl' --task "$SLURM_ARRAY_TASK_ID"\n`);
  });
});

describe('flags', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [pstc, 'ablate', ...args], { encoding: 'utf8' });
  it('--gpus-per-run on the local executor and --distributed without --task are usage errors naming what to do', () => {
    const out = mkdtempSync(join(tmpdir(), 'pstc-abl-flags-'));
    const local = run([SWEEP, '--out', join(out, 'a'), '--gpus-per-run', '2']);
    expect(local.status).toBe(2);
    expect(local.stderr).toMatch(/--gpus-per-run: a Slurm option .*mpirun -np N pstc ablate --out DIR --task I --distributed mpi/);
    const sweep = run([SWEEP, '--out', join(out, 'b'), '--distributed', 'mpi']);
    expect(sweep.status).toBe(2);
    expect(sweep.stderr).toMatch(/--distributed: only with --task/);
    expect(existsSync(join(out, 'a', 'plan.json')) || existsSync(join(out, 'b', 'plan.json'))).toBe(false);
  });
});

describe('pstc ablate --task I --distributed mpi (2 ranks, loopback)', () => {
  let skip: string | null = null;
  beforeAll(() => {
    skip = mpiAvailable();
  });

  it('trains the run data-parallel to the weights of one process; rank 0 alone records it, with its ranks', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const base = mkdtempSync(join(tmpdir(), 'pstc-abl-dp-'));
    const plan = planSweep(SWEEP, {
      seeds: [0],
      budget: { data: 'synthetic:motion,noise=0,tile=1,train=32,val=4', steps: STEPS, batch: 4, train: { steps: STEPS, batch: 4, evalEvery: STEPS }, timingIters: 1 },
    });
    const single = new AblationDir(join(base, 'single'));
    const dp = new AblationDir(join(base, 'dp'));
    single.writePlan(plan);
    dp.writePlan(plan);
    const id = plan.runs[0]!.id;

    execFileSync(process.execPath, [pstc, 'ablate', '--out', single.root, '--task', '0'], { env: mpiEnv, stdio: 'pipe' });
    const r = await runMpi(2, ['ablate', '--out', dp.root, '--task', '0', '--distributed', 'mpi']);
    expect(r.code, r.stderr).toBe(0);
    // Rank 0 speaks: the run's line once.
    expect(r.stderr.match(new RegExp(`${id}: done`, 'g'))).toHaveLength(1);

    const record = JSON.parse(readFileSync(dp.recordPath(id), 'utf8'));
    expect(record.status).toBe('done');
    expect(record.distributed.ranks).toBe(2);
    expect(record.distributed.allreduceMs).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(single.recordPath(id), 'utf8')).distributed).toBeUndefined();
    expect(readdirSync(dp.runsDir).filter((f) => f.endsWith('.running'))).toEqual([]);

    const worst = maxDifference(weightsAt(single.workDir(id), STEPS), weightsAt(dp.workDir(id), STEPS));
    console.log(`ablate task, 2 ranks vs 1 process after ${STEPS} steps: max |Δw| ${worst.rest.toExponential(2)} (bound 1e-6), key biases ${worst.keyBias.toExponential(2)}`);
    expect(worst.rest).toBeLessThanOrEqual(1e-6);
    // The key bias's gradient is zero in exact arithmetic; AdamW moves it by normalised rounding
    // noise, at most 2 · 1.3 · Σ lr (test/train/distributed.test.ts): Σ lr ≤ STEPS · 5e-3 here.
    expect(worst.keyBias).toBeLessThanOrEqual(2 * 1.3 * STEPS * 5e-3);
  }, 900_000);
});
