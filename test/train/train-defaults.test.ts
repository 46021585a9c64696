// A model's `train { … }` section is what `pstc train` and `pstc ablate` train with when no flag
// says otherwise: a small model whose section sets steps = 2, batch = 2, lr, warm-up and weight
// decay is trained by both commands with no such flags (each run's settings.json must show the
// section's values — the commands' own defaults are 1 epoch / 200 steps, batch 16 / 4, lr 1e-3),
// and a flag given wins over the section.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSweep, trainSettings } from '../../src/explore/ablate/index.js';
import { runTraining } from '../../src/explore/ablate/train-defaults.js';
import { planProblem } from '../../src/explore/ablate/record.js';
import { runCli as run } from '../cli/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'pstc-train-defaults-'));
const MODEL = join(dir, 'small.pst');
writeFileSync(
  MODEL,
  `model small {
  input { frames = 4  size = 16 }
  embed { patch = (2, 4, 4)  dim = 8 }
  window = (1, 2, 2)
  stage 1 { depth = 1  heads = 1 }
  head { classes = 4 }
  train { steps = 2  batch = 2  lr = 0.02  warmup = 1  weight_decay = 0.01  bias_init_std = 2  head_init_std = 0.5 }
}
sweep lr from small {
  variant base { }
  variant hot { train.lr = 0.04 }
}
`,
);
const DATA = 'synthetic:motion,train=8,val=4,classes=4';

function settingsOf(runDir: string) {
  return JSON.parse(readFileSync(join(runDir, 'settings.json'), 'utf8')) as {
    totalSteps: number;
    weights: string;
    batch: number;
    warmupSteps: number;
    optimizer: { lr: number; weightDecay: number };
    sources: Record<string, string>;
  };
}

describe('training defaults from the train section', () => {
  it('pstc train uses the section where no flag is given, and a flag wins over it', async () => {
    const out = join(dir, 'train-run');
    const r = await run(['train', MODEL, '--data', DATA, '--lr', '0.01', '--head-init-std', '0.3', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/done: 2 steps/);
    const s = settingsOf(out);
    // Fresh weights drawn with the section's bias-table std and the flag's head std.
    expect(s.weights).toBe('random seed 0, bias_init_std 2, head_init_std 0.3');
    expect(s.sources).toMatchObject({ bias_init_std: 'model', head_init_std: 'flag', init_std: 'default' });
    expect(s).toMatchObject({ totalSteps: 2, batch: 2, warmupSteps: 1, optimizer: { lr: 0.01, weightDecay: 0.01 } });
    expect(s.sources).toMatchObject({ steps: 'model', batch: 'model', warmup: 'model', weight_decay: 'model', lr: 'flag', optimizer: 'default' });
  }, 300_000);

  it('pstc ablate trains each variant with its section (inherited by the variants); flags win', async () => {
    // Without flags: the section's values, the variant's own lr.
    const plan = planSweep(MODEL, { seeds: [0], budget: { data: DATA, steps: 200, batch: 4, train: {}, timingIters: 1 } });
    const [base, hot] = plan.runs.map((r) => trainSettings(plan.budget, r.seed, r.config));
    expect(base).toMatchObject({ steps: 2, batch: 2, warmupSteps: 1, optimizer: { lr: 0.02, weightDecay: 0.01 } });
    expect(hot).toMatchObject({ steps: 2, batch: 2, optimizer: { lr: 0.04 } });
    expect(runTraining(plan.budget, plan.runs[0]!.config, 0).init).toEqual({ biasTableStd: 2, headStd: 0.5 });
    // Flags over the section: --steps and --lr for every variant; the rest still from the section.
    const flagged = planSweep(MODEL, { seeds: [0], budget: { data: DATA, steps: 3, batch: 4, train: { steps: 3, lr: 0.005 }, timingIters: 1 } });
    expect(flagged.runs.map((r) => trainSettings(flagged.budget, r.seed, r.config))).toMatchObject([
      { steps: 3, batch: 2, optimizer: { lr: 0.005 } },
      { steps: 3, batch: 2, optimizer: { lr: 0.005 } },
    ]);

    // A plan file whose recorded flags were edited into nonsense is refused, key by key.
    const json = JSON.parse(JSON.stringify(flagged));
    expect(planProblem(json)).toBeUndefined();
    json.budget.train.lr = 'fast';
    expect(planProblem(json)).toMatch(/budget\.train\.lr is not a finite number/);
    json.budget.train = { optimizer: 'adam' };
    expect(planProblem(json)).toMatch(/budget\.train\.optimizer is not one of adamw, sgd/);
    json.budget.train = { warmup: -1 };
    expect(planProblem(json)).toMatch(/budget\.train\.warmup/);

    // For real, through the CLI: both variants, no training flags.
    const out = join(dir, 'ablation');
    const r = await run(['ablate', MODEL, '--sweep', 'lr', '--data', DATA, '--iters', '1', '--out', out]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/2 steps, batch 2/);
    const runs = readdirSync(join(out, 'train'));
    expect(runs).toHaveLength(2);
    const lrs = runs.map((id) => settingsOf(join(out, 'train', id))).map((s) => [s.totalSteps, s.batch, s.optimizer.lr, s.sources.lr]);
    expect(lrs.sort()).toEqual([[2, 2, 0.02, 'model'], [2, 2, 0.04, 'model']]);
  }, 600_000);
});
