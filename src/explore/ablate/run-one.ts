// Which work a run does, from the budget: a cost-only run (no steps) measures; a trained run
// trains, evaluates and measures. The one place where training plugs into the ablation: every
// executor, the Slurm task and the report go through `runOneFor`.
import { DiagnosticError } from '../../lang/diagnostics.js';
import { measureOnly } from './measure.js';
import type { Budget, RunOne } from './record.js';

/**
 * Train with the budget, evaluate (top-1, order-only accuracy), measure: set when src/train
 * provides `train`/`evaluate`. Until then a sweep with steps is refused up front (PST806).
 */
const trainAndMeasure: RunOne | undefined = undefined;

export function trainingAvailable(): boolean {
  return trainAndMeasure !== undefined;
}

export function runOneFor(budget: Budget): RunOne {
  if (budget.steps === 0) return measureOnly;
  if (trainAndMeasure === undefined) {
    throw new DiagnosticError([
      {
        code: 'PST806',
        severity: 'error',
        message: 'this build of pstc cannot train yet, so it cannot run a trained sweep',
        flag: '--steps',
        hint: 'run a cost-only sweep (params, MACs, forward throughput, planned memory) with `--measure-only`',
      },
    ]);
  }
  return trainAndMeasure;
}
