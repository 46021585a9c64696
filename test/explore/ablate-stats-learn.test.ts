// End to end, on seeds this test trains: `pstc ablate` on the order-only motion set tells that
// the tiny model with its temporal shift removed (Swin 2D: no shift, one bias frame) is "worse"
// than PST on order accuracy — the paired differences' 95 % interval below 0 — and says so in
// the report's opening paragraph.
//
// THE RECIPE IS PROVISIONAL. It is docs/training.md's (lr 5e-3, no drop-path, no head dropout,
// batch 16, tile=1 noise=0) at a length that leaves the plateau on most seeds; with it a run
// takes minutes on lavapipe, so the test is opt-in (PSTC_ABLATE_LEARN=1). The lead is making
// training learn in a few hundred steps: then shorten RECIPE (steps, train/val sizes) and
// drop the opt-in so CI runs it. Everything the test asserts stays as it is.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The training recipe, in one place (see above). `settings` go into every variant's body. */
const RECIPE = {
  data: 'synthetic:motion,noise=0,tile=1,train=4000,val=200',
  steps: 1000,
  batch: 16,
  lr: 5e-3,
  seeds: 3,
  settings: 'drop_path = 0  head.dropout = 0',
};

const enabled = process.env.PSTC_ABLATE_LEARN === '1';

describe.skipIf(!enabled)('pstc ablate tells a variant without the shift apart (opt-in: PSTC_ABLATE_LEARN=1)', () => {
  it('Swin 2D is "worse" than PST on order accuracy over seeds it trains, and the answer says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pstc-ablate-learn-'));
    const file = join(dir, 'shift.pst');
    writeFileSync(
      file,
      `import "${resolve('models/tiny/pst-tiny.pst')}"
sweep shift from pst_t_tiny {
  variant pst { ${RECIPE.settings} }
  variant swin2d { shifts = none  bias_frames = 1  ${RECIPE.settings} }
}
`,
    );
    const out = join(dir, 'out');
    const args = ['bin/pstc.js', 'ablate', file, '--data', RECIPE.data, '--steps', String(RECIPE.steps), '--batch', String(RECIPE.batch), '--lr', String(RECIPE.lr)];
    const r = spawnSync(process.execPath, [...args, '--seeds', String(RECIPE.seeds), '--iters', '1', '--against', 'pst', '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const swin = results.variants.find((v: { variant: string }) => v.variant === 'shift.swin2d');
    const pst = results.variants.find((v: { variant: string }) => v.variant === 'shift.pst');
    const perSeed = (v: { orderAccuracy: { mean: number } }) => JSON.stringify(v.orderAccuracy);
    expect(pst.reference).toBe(true);
    expect(pst.atChance, `pst runs still at chance: the recipe is too short (${perSeed(pst)})`).toBeUndefined();
    expect(swin.against.orderAccuracy.n).toBe(RECIPE.seeds);
    expect(swin.against.orderAccuracy.verdict, `swin2d − pst order accuracy: ${JSON.stringify(swin.against.orderAccuracy)}`).toBe('worse');
    expect(results.answer).toMatch(/^shift\.swin2d is worse than shift\.pst by \d+\.\d points of order accuracy \(95 % interval \d+\.\d–\d+\.\d, \d seeds\)/);
    expect(r.stdout).toContain('**Answer.** shift.swin2d is worse than shift.pst');
  }, 6 * 3600_000);
});
