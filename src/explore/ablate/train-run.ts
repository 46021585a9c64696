// A trained run: train the variant under the sweep's budget with src/train (from fresh weights of
// the run's seed, in the run's own folder, so an interrupted sweep resumes the training from its
// last checkpoint), take the validation metrics and the logged curves, then measure the forward
// like a cost-only run on the same device.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDevice } from '../../../backends/webgpu/device.js';
import type { ModelConfig } from '../../lang/model.js';
import { train, type TrainSettings } from '../../train/trainer.js';
import { freshWeightsFrom, initWeights } from '../../weights/index.js';
import { adapterName, compileCost, measureForward, modelCost } from './measure.js';
import type { Budget, CurvePoint, RunOne } from './record.js';
import { runTraining } from './train-defaults.js';

/** The trainer's settings for one run: the sweep's flags over the variant's train section over
 *  ablate's defaults (train-defaults.ts). */
export function trainSettings(budget: Budget, seed: number, config: ModelConfig): TrainSettings {
  return runTraining(budget, config, seed).settings;
}

export const trainAndMeasure: RunOne = async (run, budget, progress, workDir, context) => {
  const { params, macs } = modelCost(run.config);
  const device = await openDevice();
  try {
    progress('compiling the training step');
    const { settings, init } = runTraining(budget, run.config, run.seed);
    const result = await train({
      model: run.config,
      initialWeights: initWeights(run.config, run.seed, init),
      initialWeightsFrom: freshWeightsFrom(run.seed, init),
      settings,
      out: workDir,
      resume: true, // continues an interrupted run of this sweep; a fresh folder starts at step 0
      device,
      ...(context?.distributed ? { distributed: context.distributed } : {}),
      onProgress: (p) => progress(`step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(3)} acc ${(p.accuracy * 100).toFixed(0)}%`, p.step / p.totalSteps),
      onMessage: (line) => progress(line),
    });
    const final = result.final;
    const f = await measureForward(device, run, budget, progress);
    return {
      trained: true,
      metrics: {
        ...(final ? { top1: final.top1, top5: final.top5, finalLoss: final.loss, valSamples: final.samples } : {}),
        ...(final?.pairAccuracy !== undefined ? { orderAccuracy: final.pairAccuracy } : {}),
        ...(result.dataClasses !== undefined ? { classes: result.dataClasses } : {}),
      },
      curves: readCurves(workDir),
      params,
      macs,
      // Warm steps only: the first step (pipelines' first use) and the evaluations stay out, so
      // the first variant of a sweep is not charged for what later ones find compiled.
      throughput: {
        forwardClipsPerSecond: f.forwardClipsPerSecond,
        forwardLatencyMs: f.forwardLatencyMs,
        ...(result.warm ? { trainClipsPerSecond: result.warm.clipsPerSecond, trainWarmSteps: result.warm.steps } : {}),
      },
      // Building the step plus its first use's excess over a warm step (compileCost).
      compileSeconds: {
        ...(result.buildSeconds !== undefined ? { train: compileCost(result.buildSeconds, result.firstStepSeconds, result.warm ? result.warm.seconds / result.warm.steps : undefined) } : {}),
        forward: f.compileSeconds,
      },
      memory: { plannedForwardBytes: f.plannedForwardBytes, plannedTrainBytes: result.plannedBytes, measuredForwardBytes: f.measuredForwardBytes },
      adapter: adapterName(device),
      ...(result.allreduce ? { distributed: { ranks: result.allreduce.ranks, allreduceMs: result.allreduce.reduceMs, bytes: result.allreduce.bytes } } : {}),
    };
  } finally {
    device.destroy();
  }
};

/** The training log's points: training loss per logged step, validation top-1 per evaluation. */
function readCurves(workDir: string): CurvePoint[] {
  let text: string;
  try {
    text = readFileSync(join(workDir, 'log.jsonl'), 'utf8');
  } catch {
    return [];
  }
  const points: CurvePoint[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as { kind: string; step: number; loss?: number; accuracy?: number; top1?: number };
    if (r.kind === 'train') points.push({ step: r.step, split: 'train', ...(r.loss !== undefined ? { loss: r.loss } : {}), ...(r.accuracy !== undefined ? { top1: r.accuracy } : {}) });
    if (r.kind === 'eval') points.push({ step: r.step, split: 'val', ...(r.loss !== undefined ? { loss: r.loss } : {}), ...(r.top1 !== undefined ? { top1: r.top1 } : {}) });
  }
  return points;
}
