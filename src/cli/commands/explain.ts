// `pstc explain MODEL.pst`: what a model costs and what its shifts do, read off the lowered IR,
// and the WebGPU plan of the same program. The report itself (data and text) is
// ../explain-report.ts, which the browser playground also shows. `--adapter` adds this
// machine's WebGPU adapter and what it offers (shader-f16, subgroups, subgroup matrices and their
// configurations): the report itself needs no device.
import type { Command } from 'commander';
import { patternToSvg } from '../../explore/pattern-picture.js';
import { patternToPng } from '../../explore/pattern-png.js';
import { existsSync, statSync } from 'node:fs';
import pc from 'picocolors';
import { compareModels, renderComparison } from '../../explore/compare.js';
import { writeFileAtomic } from '../../weights/atomic.js';
import type { CommandRegistrar } from '../registrar.js';
import { inputFrom, withInputOptions, withMemoryOptions, withModelArgument } from '../options.js';
import { fitTrainingFlags } from '../training-memory.js';
import { loadCommandModel } from '../model.js';
import { checkOutputPath } from '../output-path.js';
import type { TrainingPlan } from '../../train/plan.js';
import { UsageError } from '../errors.js';
import { formatBytes } from '../table.js';
import { explainModel, renderReport, type PatternUse } from '../explain-report.js';
import { describeCapabilities, type AdapterCapabilities, type AdapterDescription } from '../../../backends/webgpu/gpu-device.js';
import { withDevice } from '../device.js';

export { explainModel, renderReport, type PatternUse } from '../explain-report.js';

interface ExplainOptions {
  model?: string;
  frames?: number;
  size?: number;
  batch?: number;
  json?: boolean;
  svg?: string;
  png?: string;
  train?: boolean;
  compare?: string;
  compareModel?: string;
  recompute?: boolean;
  memoryBudget?: number;
  adapter?: boolean;
}

/** This machine's adapter and its capabilities, for `explain --adapter`. */
async function adapterReport(): Promise<{ description: string; info: AdapterDescription; capabilities: AdapterCapabilities }> {
  return withDevice(async (device) => ({ description: device.describe(), info: { ...device.info }, capabilities: device.capabilities() }));
}

/** The training step's plan as text, after explain's report. */
export function renderTrainingPlan(p: TrainingPlan, note?: string): string {
  const clips = (n: number) => `${n} clip${n === 1 ? '' : 's'}`;
  const batch =
    p.microBatches === 1
      ? `  batch: ${clips(p.batch)} in one micro-batch; its largest binding ${formatBytes(p.largestBinding.bytes)} (${p.largestBinding.what}) is within the ${formatBytes(p.bindingLimit.bytes)} limit`
      : `  batch: ${clips(p.batch)} as ${p.microBatches} micro-batches of ${clips(p.microBatch)}, gradients accumulated (the step's gradient is the mean over all ${clips(p.batch)})`;
  return [
    '',
    `Training step (batch ${p.batch}, AdamW${p.recompute ? ', activations recomputed per block' : ''}; WebGPU plan for ${p.bindingLimit.source}):`,
    ...(note ? [`  note: ${note}`] : []),
    batch,
    ...(p.split ? [`  micro-batch ${p.microBatch}: ${p.split}`] : []),
    `  kernels: ${p.graphKernels} for forward + backward (${p.backwardKernels} of them backward${p.recompute ? `, ${p.recomputeKernels} of those recompute a block's forward` : ''}), ${p.optimizerDispatches} per step for ${p.microBatches > 1 ? 'accumulation, ' : ''}metrics, gradient norm and the optimizer`,
    `  dispatches per step: ${p.dispatchesPerStep}, ${p.submissionsPerStep === 1 ? 'one queue submission' : `${p.submissionsPerStep} queue submissions (one per micro-batch)`}`,
    `  memory: activations ${formatBytes(p.activationBytes)} (live peak ${formatBytes(p.livePeakBytes)}), weights and tables ${formatBytes(p.weightBytes)}, optimizer state ${formatBytes(p.optimizerStateBytes)}` +
      `${p.accumulatorBytes ? `, accumulated gradients ${formatBytes(p.accumulatorBytes)}` : ''} for ${p.parameters.toLocaleString('en-US')} parameters in ${p.parameterTensors} tensors; total ${formatBytes(p.totalBytes)}`,
  ].join('\n');
}

export const registerExplain: CommandRegistrar = (program: Command, io) => {
  withMemoryOptions(withInputOptions(withModelArgument(program.command('explain'))))
    .description('parameters, multiply-adds and memory per stage, the shift pattern drawn, receptive field and design-principle checks')
    .option('--json', 'print the report as JSON')
    .option('--svg <file>', 'draw the shift pattern(s) as SVG')
    .option('--png <file>', 'draw the shift pattern(s) as PNG')
    .option('--train', 'also plan a training step (forward, backward, AdamW): kernels, dispatches, memory')
    .option('--compare <other>', 'side by side with another model: a .pst file, or another model or variant of this file')
    .option('--compare-model <name>', 'which model or variant of the --compare file (default: its last model)')
    .option('--adapter', "also open this machine's WebGPU adapter and print what it offers: shader-f16, subgroups, subgroup matrices and their configurations")
    .action(async (file: string, opts: ExplainOptions) => {
      if (!opts.train && (opts.recompute || opts.memoryBudget !== undefined)) throw new UsageError(`${opts.recompute ? '--recompute' : '--memory-budget'}: only with --train`);
      const { model, result } = loadCommandModel(file, opts);
      for (const [flag, path] of [['--svg', opts.svg], ['--png', opts.png]] as const) {
        if (path !== undefined) checkOutputPath({ flag, path, kind: 'file', inputs: result.sources.keys() });
      }
      const input = inputFrom(model, opts);
      if (opts.compare !== undefined) {
        const isFile = existsSync(opts.compare) && statSync(opts.compare).isFile();
        // --set applies to both sides: a comparison of what the flags make of each.
        const other = loadCommandModel(isFile ? opts.compare : file, { ...opts, model: isFile ? opts.compareModel : opts.compare }).model;
        const c = compareModels(model, other, input, inputFrom(other, opts));
        io.out(opts.json ? JSON.stringify(c, null, 2) : renderComparison(c, io.color ? pc.yellow : undefined));
        return;
      }
      const report = explainModel(model, input);
      if (opts.svg !== undefined || opts.png !== undefined) writePictures(report.patterns, opts, io.out, [...result.sources.keys()]);
      const training = opts.train ? fitTrainingFlags(model, input, opts) : undefined;
      const adapter = opts.adapter ? await adapterReport() : undefined;
      if (opts.json) {
        const t = training ? { training: { ...training.plan, ...(training.note ? { note: training.note } : {}) } } : {};
        const a = adapter ? { adapter: { ...adapter.info, capabilities: adapter.capabilities } } : {};
        io.out(JSON.stringify({ ...report, ...t, ...a }, (_k, v) => (v instanceof Int32Array || v instanceof Float32Array ? undefined : v), 2));
        return;
      }
      io.out(renderReport(report, io.color));
      if (training) io.out(renderTrainingPlan(training.plan, training.note));
      if (adapter) io.out(['', `Adapter: ${adapter.description}`, ...describeCapabilities(adapter.capabilities).map((l) => `  ${l}`)].join('\n'));
    });
};

function writePictures(patterns: PatternUse[], opts: ExplainOptions, out: (s: string) => void, inputs: string[] = []): void {
  if (patterns.length === 0) {
    out('(no patch shift in this model: no pattern to draw)');
    return;
  }
  patterns.forEach((p, i) => {
    const suffix = patterns.length > 1 ? `-${p.shift.name}` : '';
    const title = `${p.shift.name}: frame each position of a ${p.picture.windowH}×${p.picture.windowW} window reads (stage ${p.stage})`;
    if (opts.svg) {
      const path = i === 0 && !suffix ? opts.svg : opts.svg.replace(/(\.svg)?$/i, `${suffix}.svg`);
      if (path !== opts.svg) checkOutputPath({ flag: '--svg', path, kind: 'file', inputs });
      writeFileAtomic(path, patternToSvg(p.picture, title));
      out(`wrote ${path}`);
    }
    if (opts.png) {
      const path = i === 0 && !suffix ? opts.png : opts.png.replace(/(\.png)?$/i, `${suffix}.png`);
      if (path !== opts.png) checkOutputPath({ flag: '--png', path, kind: 'file', inputs });
      writeFileAtomic(path, patternToPng(p.picture));
      out(`wrote ${path}`);
    }
  });
}

