// `--recompute` and `--memory-budget` for the commands that plan a training step without running
// the trainer (explain --train, bench --train): the plan as asked, or with recomputation turned on
// when the budget needs it (the note says so), or PST708 (src/train/plan.ts decides; `pstc train`
// asks the same function through the trainer).
import type { InputSize } from '../passes/lower.js';
import type { ModelConfig } from '../lang/model.js';
import { fitTrainingPlan, type FittedPlan } from '../train/plan.js';
import { UsageError } from './errors.js';
import type { MemoryFlags } from './options.js';

export function fitTrainingFlags(model: ModelConfig, input: InputSize, flags: MemoryFlags): FittedPlan {
  if (!model.head) throw new UsageError(`--train: ${model.name} has no classification head, so it has no loss to train`);
  return fitTrainingPlan(model, input, { recompute: flags.recompute ?? false, ...(flags.memoryBudget !== undefined ? { budgetBytes: flags.memoryBudget } : {}) });
}

/** Whether a training step recomputes: as asked, unless a budget turns it on (planning only then). */
export function trainingRecompute(model: ModelConfig, input: InputSize, flags: MemoryFlags, say: (note: string) => void): boolean {
  if (flags.memoryBudget === undefined) return flags.recompute ?? false;
  const fitted = fitTrainingFlags(model, input, flags);
  if (fitted.note) say(fitted.note);
  return fitted.plan.recompute;
}
