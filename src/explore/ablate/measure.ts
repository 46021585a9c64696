// The measurements every run makes on the device, trained or not: parameters and multiply-adds
// (the IR's cost report), the WebGPU plan's peak memory, the time compiling the forward's
// pipelines took, and forward throughput on warm passes only — warm-up passes after compiling,
// then the median of timed passes at the budget's batch, with fresh weights of the run's seed
// (throughput does not depend on the values). A forward whose logits are not finite fails the
// run: a variant that cannot compute is reported, not measured.
import { compileModel, type CompiledModel, type ModelInput } from '../../../backends/webgpu/runtime.js';
import { openDevice, type PstcDevice } from '../../../backends/webgpu/device.js';
import { costReport } from '../../ir/analysis.js';
import { lowerModel } from '../../passes/lower.js';
import { DiagnosticError } from '../../lang/diagnostics.js';
import type { ModelConfig } from '../../lang/model.js';
import { clipShape } from '../../lang/facts.js';
import { initWeights, makeRandom } from '../../weights/init.js';
import { median } from '../stats.js';
import type { Budget, PlannedRun, RunMeasurements, RunOne, RunProgress } from './record.js';

/** Untimed forward passes after compiling, before the timed ones: the timed passes are warm. */
export const FORWARD_WARMUP = 2;

export function inputOf(config: ModelConfig, budget: Budget): ModelInput {
  return { batch: budget.batch, frames: config.input.frames, size: config.input.size };
}

/** Params and MACs of one clip's forward (the paper's convention: per clip, not per batch). */
export function modelCost(config: ModelConfig): { params: number; macs: number } {
  const cost = costReport(lowerModel(config, { ...config.input, batch: 1 }));
  return { params: cost.total.params, macs: cost.total.macs };
}

export interface ForwardFigures {
  forwardClipsPerSecond: number;
  forwardLatencyMs: number;
  plannedForwardBytes: number;
  measuredForwardBytes: number;
  /**
   * Building the forward (planning, compiling its pipelines or finding them in the device's cache,
   * uploading) plus its first pass's excess over a warm one (compileCost).
   */
  compileSeconds: number;
}

/**
 * What a model costs before it runs at its warm speed: building its pipelines, plus what its first
 * pass or step took beyond a warm one. The second part is where a driver compiles a shader at its
 * first dispatch rather than when the pipeline is made: Mesa's llvmpipe (lavapipe) does, unless its
 * shader cache holds the shader — measured on the demo's Swin 2D, 2.8 s of build but 55 s before
 * its first step finished with an empty cache, 2 s and 2 s with a warm one.
 */
export function compileCost(buildSeconds: number, firstSeconds: number | undefined, warmSeconds: number | undefined): number {
  if (firstSeconds === undefined || warmSeconds === undefined) return buildSeconds;
  return buildSeconds + Math.max(0, firstSeconds - warmSeconds);
}

/** Compile the forward on `device`, check it computes finite logits, time it. */
export async function measureForward(device: PstcDevice, run: PlannedRun, budget: Budget, progress: RunProgress): Promise<ForwardFigures> {
  const input = inputOf(run.config, budget);
  progress('compiling the forward');
  let compiled: CompiledModel | undefined;
  try {
    const weights = initWeights(run.config, run.seed);
    const started = performance.now();
    compiled = await compileModel(device, run.config, input, weights);
    const compileSeconds = (performance.now() - started) / 1000;
    const clip = randomClip(clipShape(run.config, input), run.seed);
    const firstStarted = performance.now();
    const first = await compiled.forward(clip);
    const firstSeconds = (performance.now() - firstStarted) / 1000;
    const out = first.logits ?? first.features;
    if (!out.every(Number.isFinite)) {
      throw new DiagnosticError([
        {
          code: 'PST804',
          severity: 'error',
          message: `${run.variant}: the forward pass computes non-finite values (NaN or ±Inf) from fresh weights`,
          flag: run.variant,
          hint: 'check the variant in the reference interpreter (`pstc run` on a tiny input) to see where the values blow up',
        },
      ]);
    }
    for (let i = 0; i < FORWARD_WARMUP; i++) await compiled.timeForward(clip);
    const samples: number[] = [];
    for (let i = 0; i < budget.timingIters; i++) {
      progress(`timing the forward ${i + 1}/${budget.timingIters}`, (i + 1) / budget.timingIters);
      samples.push(await compiled.timeForward(clip));
    }
    const latency = median(samples);
    return {
      forwardClipsPerSecond: input.batch / (latency / 1000),
      forwardLatencyMs: latency,
      plannedForwardBytes: compiled.plannedPeakBytes.total,
      measuredForwardBytes: compiled.measuredPeakBytes(),
      compileSeconds: compileCost(compileSeconds, firstSeconds, latency / 1000),
    };
  } finally {
    compiled?.destroy();
  }
}

/** A cost-only run: everything but training (no accuracy: those fields stay absent). */
export const measureOnly: RunOne = async (run, budget, progress) => {
  const { params, macs } = modelCost(run.config);
  const device = await openDevice();
  try {
    const f = await measureForward(device, run, budget, progress);
    return costOnly(params, macs, f, adapterName(device));
  } finally {
    device.destroy();
  }
};

function costOnly(params: number, macs: number, f: ForwardFigures, adapter: string): RunMeasurements {
  return {
    trained: false,
    metrics: {},
    curves: [],
    params,
    macs,
    throughput: { forwardClipsPerSecond: f.forwardClipsPerSecond, forwardLatencyMs: f.forwardLatencyMs },
    memory: { plannedForwardBytes: f.plannedForwardBytes, measuredForwardBytes: f.measuredForwardBytes },
    compileSeconds: { forward: f.compileSeconds },
    adapter,
  };
}

export function adapterName(device: PstcDevice): string {
  const { vendor, architecture, description } = device.info;
  return [vendor, architecture, description].filter(Boolean).join(' / ');
}

function randomClip(shape: readonly number[], seed: number): Float32Array {
  const random = makeRandom(seed, 'ablate clip');
  const clip = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < clip.length; i++) clip[i] = 2 * random() - 1;
  return clip;
}
