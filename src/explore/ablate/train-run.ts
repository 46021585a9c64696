// A trained run: train the variant under the sweep's budget, evaluate it, then measure it like a
// cost-only run on the same device. Training itself is src/train's; `TrainVariant` is the one
// call this module needs of it, so the ablation does not depend on how training is organised.
import { openDevice, type PstcDevice } from '../../../backends/webgpu/device.js';
import { DiagnosticError } from '../../lang/diagnostics.js';
import type { ModelConfig } from '../../lang/model.js';
import { adapterName, measureForward, modelCost } from './measure.js';
import type { Budget, CurvePoint, RunMeasurements, RunOne, RunProgress } from './record.js';

export interface TrainedVariant {
  curves: CurvePoint[];
  metrics: RunMeasurements['metrics'];
  trainClipsPerSecond: number;
  plannedTrainBytes?: number;
}

/** Train `config` from fresh weights of `seed` with the budget's data, steps, batch and lr; evaluate on the validation split. */
export type TrainVariant = (config: ModelConfig, budget: Budget, seed: number, device: PstcDevice, progress: RunProgress) => Promise<TrainedVariant>;

export function trainedRunOne(trainVariant: TrainVariant): RunOne {
  return async (run, budget, progress) => {
    const { params, macs } = modelCost(run.config);
    const device = await openDevice();
    try {
      const t = await trainVariant(run.config, budget, run.seed, device, progress);
      if (t.metrics.finalLoss !== undefined && !Number.isFinite(t.metrics.finalLoss)) {
        throw new DiagnosticError([
          {
            code: 'PST804',
            severity: 'error',
            message: `${run.variant}: training diverged: the loss is ${t.metrics.finalLoss}`,
            flag: run.variant,
            hint: 'a smaller --lr, or look at the loss curve of `pstc train` on this variant',
          },
        ]);
      }
      const f = await measureForward(device, run, budget, progress);
      return {
        trained: true,
        metrics: t.metrics,
        curves: t.curves,
        params,
        macs,
        throughput: { forwardClipsPerSecond: f.forwardClipsPerSecond, forwardLatencyMs: f.forwardLatencyMs, trainClipsPerSecond: t.trainClipsPerSecond },
        memory: {
          plannedForwardBytes: f.plannedForwardBytes,
          measuredForwardBytes: f.measuredForwardBytes,
          ...(t.plannedTrainBytes !== undefined ? { plannedTrainBytes: t.plannedTrainBytes } : {}),
        },
        adapter: adapterName(device),
      };
    } finally {
      device.destroy();
    }
  };
}
