// The training settings of one ablation run: the sweep's flags (`pstc ablate --steps/--batch/--lr/
// --warmup …`, the same for every run) over the variant's `train { … }` section (inherited from the
// sweep's base model, src/lang/train-config.ts) over ablate's own defaults (Budget.steps/batch,
// a warm-up of a tenth, four evaluations for the validation curve). `pstc train` resolves its flags
// the same way (resolveTrainSettings), so a variant trained by ablate and by train alike gets the
// recipe its file gives.
import type { ModelConfig } from '../../lang/model.js';
import { resolveTrainSettings, TRAIN_KEYS, type TrainField, type TrainSource, type TrainValues } from '../../lang/train-config.js';
import { DEFAULT_OPTIMIZER } from '../../train/optimizer.js';
import type { TrainSettings } from '../../train/trainer.js';
import { initChoicesOf, type InitChoices } from '../../weights/index.js';
import type { Budget, SweepPlan } from './record.js';

/** The train-section settings `pstc ablate` takes as flags (besides --steps and --batch, which it
 *  declares itself: their defaults are ablate's budget). */
export const ABLATE_TRAIN_FLAGS: readonly TrainField[] = ['optimizer', 'lr', 'minLr', 'warmup', 'weightDecay', 'momentum', 'labelSmoothing', 'clipGrad', 'initStd', 'biasInitStd', 'headInitStd'];

/** The flags of a budget: what overrides every variant's section. A plan written before train
 *  sections has none recorded: its steps, batch and lr were every run's settings. */
export function budgetFlags(budget: Budget): TrainValues {
  return budget.train ?? { steps: budget.steps, batch: budget.batch, ...(budget.lr !== undefined ? { lr: budget.lr } : {}) };
}

export interface RunTraining {
  settings: TrainSettings;
  /** Where each setting came from (flag, the model's train section, ablate's default). */
  from: Partial<Record<TrainField, TrainSource>>;
  /** Section settings a flag made meaningless. */
  dropped: string[];
  /** How fresh weights are drawn (the section's `init_std`, `bias_init_std`, `head_init_std`). */
  init: InitChoices;
}

/** The trainer's settings for one run of the sweep. */
export function runTraining(budget: Budget, config: ModelConfig, seed: number): RunTraining {
  const { values: t, from, dropped } = resolveTrainSettings(budgetFlags(budget), config.train);
  const kind = t.optimizer ?? 'adamw';
  const base = DEFAULT_OPTIMIZER[kind];
  // The run's length: steps (flag, section, or the budget's), or the section's epochs.
  const steps = t.steps ?? (t.epochs === undefined ? budget.steps : undefined);
  const sources: Record<string, string> = {};
  for (const spec of TRAIN_KEYS) sources[spec.key] = from[spec.field] ?? 'default';
  const settings: TrainSettings = {
    data: budget.data ?? 'synthetic:motion',
    ...(steps !== undefined ? { steps } : { epochs: t.epochs! }),
    batch: t.batch ?? budget.batch,
    accumulate: 1,
    optimizer: {
      ...base,
      lr: t.lr ?? base.lr,
      weightDecay: t.weightDecay ?? base.weightDecay,
      momentum: t.momentum ?? base.momentum,
      clipGrad: t.clipGrad ?? 0,
    },
    warmupSteps: t.warmup ?? Math.floor((steps ?? 0) / 10),
    minLr: t.minLr ?? 0,
    labelSmoothing: t.labelSmoothing ?? 0,
    seed,
    shuffle: true,
    logEvery: steps !== undefined ? Math.max(1, Math.floor(steps / 20)) : 10,
    checkpointEvery: steps !== undefined ? Math.max(1, Math.floor(steps / 4)) : 100,
    // The validation curve: three evaluations on the way and the final one.
    evalEvery: t.evalEvery ?? (steps !== undefined && steps >= 8 ? Math.floor(steps / 4) : 0),
    // The synthetic set is generated on the main thread: no worker threads per ablation run.
    workers: 0,
    sources,
  };
  return { settings, from, dropped, init: initChoicesOf(t) };
}

/** A run's recipe in a few words: `400 steps, batch 16, adamw lr 0.005, warm-up 25`. */
export function trainingText(s: TrainSettings): string {
  const o = s.optimizer;
  const extras = [
    o.kind === 'sgd' ? `momentum ${o.momentum}` : '',
    `weight decay ${o.weightDecay}`,
    s.minLr > 0 ? `min lr ${s.minLr}` : '',
    s.labelSmoothing > 0 ? `label smoothing ${s.labelSmoothing}` : '',
    o.clipGrad > 0 ? `clip ${o.clipGrad}` : '',
  ].filter(Boolean);
  const length = s.steps !== undefined ? `${s.steps} steps` : `${s.epochs} epoch${s.epochs === 1 ? '' : 's'}`;
  return `${length}, batch ${s.batch}, ${o.kind} lr ${o.lr}, warm-up ${s.warmupSteps}, ${extras.join(', ')}`;
}

/** How the runs of a plan train, for the report's budget line: one recipe when every variant
 *  trains alike, else each variant's; and which settings came from the models' train sections. */
export function planTrainingText(plan: SweepPlan): string {
  const byText = new Map<string, string[]>();
  const fromModel = new Set<string>();
  for (const run of plan.runs) {
    if (run.seed !== plan.runs[0]?.seed) continue;
    const r = runTraining(plan.budget, run.config, run.seed);
    const text = trainingText(r.settings);
    byText.set(text, [...(byText.get(text) ?? []), run.variant]);
    for (const spec of TRAIN_KEYS) if (r.from[spec.field] === 'model') fromModel.add(spec.key);
  }
  const recipes = [...byText].map(([text, variants]) => (byText.size === 1 ? text : `${variants.join(', ')}: ${text}`));
  const source = fromModel.size ? ` (from the models' train sections: ${[...fromModel].join(', ')})` : '';
  return `${recipes.join('; ')}${source}`;
}
