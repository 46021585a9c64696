// Slurm for real: scripts/slurm-local.sh starts a single-node Slurm on this machine (installing
// slurm-wlm and munge with apt if missing), a tiny cost-only sweep goes through
// `pstc ablate --executor slurm --wait` as one job array, the merged report is checked, an
// unfinished run is resubmitted alone, and the daemons are stopped. Skipped only where Slurm is not
// installed and PSTC_SKIP_SLURM=1; Slurm failing to start is a failure. About 1–2 minutes here once
// installed (the first install adds ~50 s).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AblationDir } from '../../src/explore/ablate/index.js';

const slurmDir = mkdtempSync(join(tmpdir(), 'pstc-slurm-test-'));
// Ports of their own, so a Slurm someone else started on the default ports is left alone.
const env = { ...process.env, PSTC_SLURM_DIR: slurmDir, PSTC_SLURMCTLD_PORT: '16817', PSTC_SLURMD_PORT: '16818', SLURM_CONF: join(slurmDir, 'slurm.conf') };

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Skipped (counted so) only where Slurm is absent and the run was told to skip it; anything else
 *  that keeps Slurm from starting here is a failure of the test, not a skip. */
function whyNot(): string | undefined {
  if (process.env.PSTC_SKIP_SLURM && !have('slurmctld')) return 'Slurm is not installed and PSTC_SKIP_SLURM is set';
  return undefined;
}

const skip = whyNot();
let startError: string | undefined;
let startSeconds = 0;

beforeAll(() => {
  if (skip) return;
  if (process.getuid?.() !== 0) {
    startError = 'not root: slurmd and munged need root to start (PSTC_SKIP_SLURM=1 skips this test where Slurm is not installed)';
    return;
  }
  const t = Date.now();
  const r = spawnSync('bash', ['scripts/slurm-local.sh', 'start'], { env, encoding: 'utf8', timeout: 240_000 });
  startSeconds = (Date.now() - t) / 1000;
  if (r.status !== 0) startError = `scripts/slurm-local.sh start failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`;
}, 300_000);

afterAll(() => {
  if (!whyNot()) spawnSync('bash', ['scripts/slurm-local.sh', 'stop'], { env, encoding: 'utf8' });
  rmSync(slurmDir, { recursive: true, force: true });
});

describe('pstc ablate --executor slurm', () => {
  it('runs a tiny sweep as one job array on a local Slurm, merges the report, resubmits an unfinished run alone', (ctx) => {
    if (skip) {
      console.warn(`Slurm test skipped: ${skip}`);
      ctx.skip();
    }
    if (startError) throw new Error(`Slurm did not start here: ${startError}`);
    const t0 = Date.now();
    const work = mkdtempSync(join(tmpdir(), 'pstc-ablate-slurm-'));
    const file = join(work, 'sweep.pst');
    writeFileSync(
      file,
      `import "${resolve('models/tiny/pst-tiny.pst')}"
sweep mini from pst_t_tiny {
  variant pst { }
  variant swin2d { shifts = none  bias_frames = 1 }
  variant same { patch_shift = pattern_c }
}
`,
    );
    const out = join(work, 'out');
    const pstc = (...args: string[]) => spawnSync(process.execPath, ['bin/pstc.js', 'ablate', ...args], { env, encoding: 'utf8', timeout: 600_000 });
    const flags = ['--measure-only', '--batch', '1', '--iters', '1', '--seeds', '2', '--out', out];

    const r = pstc(file, ...flags, '--executor', 'slurm', '--wait');
    expect(r.stdout).toContain('mini.same is the same network as mini.pst');
    const job = /submitted Slurm job array (\d+): 4 task\(s\) \(every run\)/.exec(r.stdout)?.[1];
    expect(job, r.stdout + r.stderr).toBeDefined();
    expect(r.status, r.stderr).toBe(0);
    const dir = new AblationDir(out);
    const plan = dir.readPlan();
    const records = dir.records(plan);
    expect(records.map((x) => `${x.variant}/${x.seed}/${x.status}`)).toEqual(['mini.pst/0/done', 'mini.pst/1/done', 'mini.swin2d/0/done', 'mini.swin2d/1/done']);
    for (const x of records) {
      expect(x.slurm?.arrayJobId).toBe(job);
      expect(x.slurm?.arrayTaskId).toBe(String(x.index));
    }
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.finished).toBe(4);
    expect(results.variants[0].forwardClipsPerSecond.n).toBe(2);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('data-chart="throughput"');
    expect(readFileSync(join(out, 'logs', `slurm-${job}_0.out`), 'utf8')).toContain(': done');

    const status = pstc('--status', out);
    expect(status.stdout).toMatch(/4 runs: 4 done/);
    expect(status.stdout).toContain(`Slurm job arrays: ${job}`);

    // One run's result lost: a resubmission submits that task alone.
    rmSync(dir.recordPath(plan.runs[2]!.id));
    expect(pstc('--status', out).stdout).toMatch(/4 runs: 3 done, 1 not started/);
    const again = pstc('--resume', '--out', out, '--executor', 'slurm', '--wait');
    expect(again.stdout).toMatch(/submitted Slurm job array \d+: 1 task\(s\) \(tasks 2\)/);
    expect(again.status, again.stderr).toBe(0);
    expect(dir.records(plan).every((x) => x.status === 'done')).toBe(true);
    console.log(`Slurm test: daemons started in ${startSeconds.toFixed(1)} s, sweep + resubmission in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 600_000);
});
