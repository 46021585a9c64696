// The paper's claim in miniature, as a user runs it, over five seeds, every seed counted (opt-in:
// PSTC_LEARN=1; PSTC_LEARN_SEEDS=K runs seeds 0…K−1, PSTC_LEARN_STEPS changes the run's length):
// `pstc train` on synthetic:motion with the model's own training defaults (its train section; only
// --data, --steps, --seed, --out and --eval-every on the command line) takes pst-tiny from chance to
// ≥ 90 % validation top-1 — on the order-only pairs too — within 1000 steps, while swin2d-tiny,
// with no temporal interaction, learns which pair a clip belongs to (the mover's shape shows it) but
// stays at chance inside each pair. This is issue 19's target, and it is NOT met yet: at 1000 steps
// pst-tiny ends at 65.5–73.3 % top-1 (order pairs 74.5–78.5 %) on seeds 0–4 (Dec 2026), near the
// 70 % that approach/recede and appear/disappear alone give: the translation and rotation pairs are
// mostly not learned yet (docs/training.md "Where this leaves the targets" has every seed's
// figure), so this test fails today. About 6–7 minutes a run on this 2-core machine, an hour for all ten.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'pstc-learn-'));
const steps = Number(process.env.PSTC_LEARN_STEPS ?? 1000);
const seeds = Number(process.env.PSTC_LEARN_SEEDS ?? 5);

interface Eval {
  kind: 'eval';
  step: number;
  top1: number;
  pairAccuracy: number;
}

/** Trains `model` from `seed` with its own train section's recipe and returns its last validation. */
function trainOn(model: string, seed: number): Eval {
  const out = join(dir, `${model}-seed${seed}`);
  const args = [
    join(root, 'bin/pstc.js'), 'train', `models/tiny/${model}.pst`,
    '--data', 'synthetic:motion,noise=0,tile=1,train=4000,val=400',
    '--steps', String(steps), '--seed', String(seed),
    '--eval-every', String(steps), '--checkpoint-every', String(steps), '--out', out,
  ];
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  const evals = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'eval') as Eval[];
  const last = evals.at(-1)!;
  console.log(`${model} seed ${seed}: ${steps} steps, validation top-1 ${(100 * last.top1).toFixed(1)} %, order pairs ${(100 * last.pairAccuracy).toFixed(1)} %`);
  return last;
}

describe.skipIf(!process.env.PSTC_LEARN)('learning the order-only motion set (PSTC_LEARN=1)', () => {
  it('pst-tiny learns the order of frames on every seed; swin2d-tiny stays at chance inside each pair', () => {
    const runs = Array.from({ length: seeds }, (_, seed) => ({ seed, pst: trainOn('pst-tiny', seed), swin: trainOn('swin2d-tiny', seed) }));
    const table = runs.map((r) => `seed ${r.seed}: pst ${(100 * r.pst.top1).toFixed(1)} % (order ${(100 * r.pst.pairAccuracy).toFixed(1)} %), swin2d ${(100 * r.swin.top1).toFixed(1)} % (order ${(100 * r.swin.pairAccuracy).toFixed(1)} %)`).join('\n');
    console.log(table);
    for (const r of runs) {
      // 10 classes in 5 pairs: knowing the pair alone gives 50 % top-1 and 50 % order pairs.
      expect(r.pst.top1, table).toBeGreaterThanOrEqual(0.9);
      expect(r.pst.pairAccuracy, table).toBeGreaterThanOrEqual(0.9);
      expect(r.swin.pairAccuracy, table).toBeLessThan(0.55);
      expect(r.swin.top1, table).toBeLessThan(0.55);
    }
  }, 24 * 3600_000);
});
