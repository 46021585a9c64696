// --status from the files and what Slurm says: the Slurm view is given as squeue/sacct would
// report it, so every state is checked without a cluster (the Slurm test runs the real thing).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AblationDir, arraySpec, batchScript, planSweep, sweepStatus, renderStatus } from '../../src/explore/ablate/index.js';
import type { SlurmView } from '../../src/explore/ablate/slurm.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'pstc-status-'));
  const file = join(dir, 'sweep.pst');
  writeFileSync(file, `import "${resolve('models/tiny/pst-tiny.pst')}"\nsweep s from pst_t_tiny {\n  axis patch_shift.ratio = [1/2, 1]\n}\n`);
  const plan = planSweep(file, { seeds: [0, 1, 2], budget: { steps: 0, batch: 1, timingIters: 1 } });
  const abl = new AblationDir(join(dir, 'out'));
  abl.writePlan(plan);
  return { plan, abl };
}

const view = (v: Partial<SlurmView>): SlurmView => ({ queue: new Map(), ended: new Map(), notes: [], ...v });

describe('sweepStatus', () => {
  it('tells queued, running, lost (killed by Slurm), done, failed and not started apart', () => {
    const { plan, abl } = setup();
    expect(plan.runs).toHaveLength(6);
    writeFileSync(join(abl.slurmDir, 'submissions.json'), JSON.stringify([{ jobId: '40', tasks: [0, 1, 2, 3, 4], submittedAt: '', script: '' }]));
    const base = { format: 'pstc-ablate-run/1' as const, sameAs: [], changes: [], seconds: 1, startedAt: '', finishedAt: '', host: 'n1' };
    const rec = (i: number, status: 'done' | 'failed', diagnostic?: string) => {
      const r = plan.runs[i]!;
      abl.writeRecord({ ...base, id: r.id, index: i, key: r.key, sweep: r.sweep, variant: r.variant, seed: r.seed, base: r.base, config: r.config, status, ...(diagnostic ? { diagnostic } : {}) });
    };
    rec(0, 'done');
    rec(1, 'failed', 'x.pst:1:1: error PST252: a bad pattern');
    // Task 2 started on a node (marker) and Slurm ended it for its time limit: lost.
    abl.writeMarker({ id: plan.runs[2]!.id, host: 'n2', pid: 1, startedAt: '', slurm: { jobId: '43', arrayJobId: '40', arrayTaskId: '2' } });
    const status = sweepStatus(abl, plan, view({
      queue: new Map([['40_3', { state: 'RUNNING', reason: 'None', rawJobId: '44' }], ['40_4', { state: 'PENDING', reason: 'Resources', rawJobId: '40' }]]),
      ended: new Map([['43', { state: 'TIMEOUT', exitCode: '0:15' }]]),
    }));
    expect(status.rows.map((r) => r.state)).toEqual(['done', 'failed', 'lost', 'running', 'queued', 'not started']);
    expect(status.rows[1]!.detail).toContain('PST252');
    expect(status.rows[2]!.detail).toContain('TIMEOUT');
    expect(status.rows[4]!.detail).toContain('Resources');
    expect(renderStatus(status)).toContain('6 runs: 1 done, 1 failed, 1 running, 1 queued, 1 lost, 1 not started');
  });

  it('finds a local run whose process is gone', () => {
    const { plan, abl } = setup();
    abl.writeMarker({ id: plan.runs[0]!.id, host: hostname(), pid: 2 ** 22 + 12345, startedAt: 'then' });
    abl.writeMarker({ id: plan.runs[1]!.id, host: hostname(), pid: process.pid, startedAt: 'now' });
    const rows = sweepStatus(abl, plan, view({})).rows;
    expect(rows[0]!.state).toBe('interrupted');
    expect(rows[1]!.state).toBe('running');
  });
});

describe('Slurm submission', () => {
  it('writes one array spec for any set of tasks, and a batch script that runs one task into the shared directory', () => {
    expect(arraySpec([0, 1, 2, 3])).toBe('0-3');
    expect(arraySpec([7, 0, 2, 3, 4, 9])).toBe('0,2-4,7,9');
    const script = batchScript(new AblationDir('/shared/abl'), { partition: 'gpu', gpusPerRun: 1, time: '2:00:00', taskCommand: ['/usr/bin/node', "/opt/it's/pstc.js", 'ablate'], cwd: '/work' });
    expect(script).toContain('#SBATCH --partition=gpu\n#SBATCH --gres=gpu:1\n#SBATCH --time=2:00:00');
    expect(script).toContain('#SBATCH --output="/shared/abl/logs/slurm-%A_%a.out"');
    expect(script).toContain(`exec '/usr/bin/node' '/opt/it'\\''s/pstc.js' 'ablate' --out '/shared/abl' --task "$SLURM_ARRAY_TASK_ID"`);
  });
});
