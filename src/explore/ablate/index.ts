// The ablation explorer: a sweep file → runs (variant × seed) → executed locally or on Slurm,
// one whole record per run in DIR → a report rebuilt from whatever finished.
export type { Budget, PlannedRun, SweepPlan, RunRecord, RunMeasurements, RunOne, RunProgress, CurvePoint } from './record.js';
export { MAX_SEEDS, MAX_PLAN_RUNS } from './record.js';
export { planSweep, type PlanOptions } from './plan.js';
export { AblationDir, type RunningMarker } from './layout.js';
export { runTask, describeFailure } from './task.js';
export { runLocal, pendingRuns, type LocalOptions } from './local.js';
export { submitArray, submissions, readSlurm, arraySpec, batchScript, checkSlurmOptions, type SlurmOptions, type Submission } from './slurm.js';
export { sweepStatus, renderStatus, type SweepStatus, type RunState } from './status.js';
export { SweepProgress, type ProgressOut } from './progress.js';
export { writeReport, patternSvgs, type ReportFiles } from './report.js';
export { variantRows, summarize, resultsCsv, variantsCsv, resultsMarkdown, tableCells, stat, type VariantRow, type Summary, type SummaryOptions, type Stat } from './summary.js';
export { references, resolveAgainst, compare, atChance, type Comparison, type Reference, type AtChance } from './verdicts.js';
export { openingParagraph } from './answer.js';
export { measureOnly, measureForward, modelCost, FORWARD_WARMUP } from './measure.js';
export { runOneFor } from './run-one.js';
export { trainAndMeasure, trainSettings } from './train-run.js';
