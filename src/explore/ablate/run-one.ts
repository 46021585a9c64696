// Which work a run does, from the budget: a cost-only run (no steps) measures; a trained run
// trains (src/train), evaluates and measures. Every executor and the Slurm task go through here.
import { DiagnosticError } from '../../lang/diagnostics.js';
import { measureOnly } from './measure.js';
import { trainAndMeasure } from './train-run.js';
import type { Budget, RunOne } from './record.js';

export function runOneFor(budget: Budget): RunOne {
  if (budget.steps === 0) return measureOnly;
  if (!budget.data) {
    throw new DiagnosticError([
      { code: 'PST806', severity: 'error', message: 'a trained sweep needs training data', flag: '--data', hint: '`--data synthetic:motion`, or `--measure-only` for cost only' },
    ]);
  }
  return trainAndMeasure;
}
