// The paper's claim in miniature, as a user runs it, over five seeds, every seed counted (opt-in:
// PSTC_LEARN=1; PSTC_LEARN_SEEDS=K runs seeds 0…K−1, PSTC_LEARN_STEPS changes the synthetic runs'
// length). Issue 19's targets, with the model's own training defaults (its train section and its
// file; only --data, --steps, --seed, --out and --eval-every on the command line):
// - synthetic:motion (order-only pairs): pst-tiny from chance to ≥ 90 % validation top-1 — on the
//   order pairs too — within 1000 steps, while swin2d-tiny, with no temporal interaction, learns
//   which pair a clip belongs to (the mover's shape shows it) but stays at chance inside each pair;
// - the moving-objects fixture (tools/fixtures/moving-objects.mjs: JPEG rawframes of textured
//   objects moving right, left, down or up): pst-tiny ≥ 90 % within 400 steps.
// Measured Dec 2026 (docs/training.md "Does it learn?"): pst-tiny 92.3–97.5 % at 1000 steps on
// seeds 0–4, swin2d-tiny 49.6–52.2 % order pairs on 2000 validation clips; on the moving-objects
// set pst-tiny 100 / 98.4 / 95.3 / 100 / 100 % at step 400 ("Direction of motion on frame
// folders") — both met. About 45 minutes in all.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stepDirName } from '../../src/train/checkpoint.js';
// @ts-expect-error: a plain .mjs tool without type declarations
import { writeMovingObjects } from '../../tools/fixtures/moving-objects.mjs';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pstc-learn-'));
const steps = Number(process.env.PSTC_LEARN_STEPS ?? 1000);
const seeds = Number(process.env.PSTC_LEARN_SEEDS ?? 5);

interface Eval {
  kind: 'eval';
  step: number;
  top1: number;
  pairAccuracy?: number;
}

/** Trains `model` from `seed` with its own train section's recipe and returns its last validation. */
function trainOn(model: string, seed: number, data = 'synthetic:motion,noise=0,tile=1,train=4000,val=400', runSteps = steps): Eval {
  const out = join(dir, `${model}-seed${seed}-${runSteps}`);
  const args = [
    join(root, 'bin/pstc.js'), 'train', `models/tiny/${model}.pst`,
    '--data', data,
    '--steps', String(runSteps), '--seed', String(seed),
    '--eval-every', String(runSteps), '--checkpoint-every', String(runSteps), '--out', out,
  ];
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  const evals = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'eval') as Eval[];
  const last = evals.at(-1)!;
  console.log(`${model} seed ${seed} on ${data.split(',')[0]}: ${runSteps} steps, validation top-1 ${(100 * last.top1).toFixed(1)} %${last.pairAccuracy !== undefined ? `, order pairs ${(100 * last.pairAccuracy).toFixed(1)} %` : ''}`);
  return last;
}

/** `pstc eval` of a run's last checkpoint on `data` (its validation list). */
function evalOn(model: string, runDir: string, data: string): { top1: number; pairAccuracy: number } {
  const weights = join(runDir, 'checkpoints', stepDirName(steps), 'weights.safetensors');
  const run = spawnSync(process.execPath, [join(root, 'bin/pstc.js'), 'eval', `models/tiny/${model}.pst`, '--weights', weights, '--data', data, '--json'], { cwd: root, encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as { top1: number; pairAccuracy: number };
}

describe.skipIf(!process.env.PSTC_LEARN)('learning motion on every seed (PSTC_LEARN=1)', () => {
  it('pst-tiny learns the order of frames on every seed; swin2d-tiny stays at chance inside each pair', () => {
    // swin2d-tiny's order blindness is judged on 2000 validation clips (the first 400 are the
    // training run's): on 400 a blind model's rate is a draw around 50 % with σ ≥ 2.5 points, and
    // one seed in five passes 55 % by chance (seed 2: 58.5 % on 400 clips, 52.0 % on 2000).
    const wide = 'synthetic:motion,noise=0,tile=1,train=4000,val=2000';
    const runs = Array.from({ length: seeds }, (_, seed) => {
      const pst = trainOn('pst-tiny', seed);
      trainOn('swin2d-tiny', seed);
      return { seed, pst, swin: evalOn('swin2d-tiny', join(dir, `swin2d-tiny-seed${seed}-${steps}`), wide) };
    });
    const table = runs.map((r) => `seed ${r.seed}: pst ${(100 * r.pst.top1).toFixed(1)} % (order ${(100 * r.pst.pairAccuracy!).toFixed(1)} %), swin2d ${(100 * r.swin.top1).toFixed(1)} % (order ${(100 * r.swin.pairAccuracy).toFixed(1)} % on 2000 clips)`).join('\n');
    console.log(table);
    for (const r of runs) {
      // 10 classes in 5 pairs: knowing the pair alone gives 50 % top-1 and 50 % order pairs.
      expect(r.pst.top1, table).toBeGreaterThanOrEqual(0.9);
      expect(r.pst.pairAccuracy, table).toBeGreaterThanOrEqual(0.9);
      expect(r.swin.pairAccuracy, table).toBeLessThan(0.55);
      expect(r.swin.top1, table).toBeLessThan(0.55);
    }
  }, 24 * 3600_000);

  it('pst-tiny learns the direction of motion in the moving-objects frame folders within 400 steps on every seed', async () => {
    const data = (await writeMovingObjects(join(dir, 'moving-objects'))) as string;
    const runs = Array.from({ length: seeds }, (_, seed) => ({ seed, pst: trainOn('pst-tiny', seed, data, 400) }));
    const table = runs.map((r) => `seed ${r.seed}: pst ${(100 * r.pst.top1).toFixed(1)} %`).join('\n');
    console.log(table);
    // Four directions: chance is 25 %.
    for (const r of runs) expect(r.pst.top1, table).toBeGreaterThanOrEqual(0.9);
  }, 24 * 3600_000);
});
