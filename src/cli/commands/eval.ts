// `pstc eval MODEL.pst --weights CKPT --data SPEC`: top-1/top-5 (and, on order-paired classes, the
// order-pair accuracy) with the inference kernels; several views per sample (clips × crops of a
// test pipeline) are averaged in softmax. `--backend onnxruntime` runs the forwards in ONNX Runtime
// (the model exported in memory for the batch's size); the default is chosen as run's (backend.ts).
import type { Command } from 'commander';
import { withDevice } from '../device.js';
import { closeData, dataInputOf, evaluationSet, evaluationSpec, openData } from '../../data/index.js';
import { dataError } from '../../data/errors.js';
import { orderPartners } from '../../train/trainer.js';
import { evaluate, evaluateWith, type EvaluateOptions } from '../../train/evaluate.js';
import { chooseBackend, exportProvenance, ONNX_THREADS, withBackendOption, type Backend } from '../backend.js';
import { loadCheckpoint } from '../../weights/index.js';
import { UsageError } from '../errors.js';
import { chooseData } from '../data-choice.js';
import { loadCommandModel } from '../model.js';
import { positiveInt, withLoaderOptions, withModelArgument, type LoaderFlags, type ModelFlags } from '../options.js';
import { createProgress } from '../progress.js';
import type { CommandRegistrar } from '../registrar.js';

interface EvalFlags extends ModelFlags, LoaderFlags {
  weights?: string;
  data?: string;
  batch: number;
  json?: boolean;
  backend?: Backend;
}

export const registerEval: CommandRegistrar = (program: Command, io) => {
  withBackendOption(withLoaderOptions(withModelArgument(program.command('eval'))))
    .description('evaluate a checkpoint on a dataset: top-1, top-5, loss (multi-clip/crop views averaged)')
    .option('--weights <file>', 'the checkpoint (.safetensors or .pth; a training run writes RUN/checkpoints/step-…/weights.safetensors)')
    .option('--data <spec>', "as for train; its validation split when it has one (synthetic:motion, val=), else the set itself; default: the model's data section (its val list, else train)")
    .option('--batch <B>', 'clips per forward', positiveInt('--batch', 65536), 16)
    .option('--json', 'print the result as JSON')
    .action(async (file: string, flags: EvalFlags) => {
      if (!flags.weights) throw new UsageError('--weights: missing; the checkpoint to evaluate');
      const { model } = loadCommandModel(file, flags);
      if (!model.head) throw new UsageError(`${model.name} has no classification head: nothing to evaluate`);
      const weights = loadCheckpoint(flags.weights, model);
      const progress = createProgress(io);
      const data = await openData(evaluationSpec(chooseData(model, flags.data, 'eval')), dataInputOf(model), { skipBad: flags.skipBad ?? false, log: (line) => progress.say(line) });
      try {
        const set = evaluationSet(data);
        const partners = orderPartners(set, model.head.classes);
        const options: EvaluateOptions = { batch: flags.batch, workers: flags.workers, log: (line) => progress.say(line), ...(partners ? { partners } : {}), onBatch: (done, total) => progress.update(`${set.name}: ${done}/${total} clips`) };
        const backend = await chooseBackend(flags.backend, (line) => progress.say(line));
        const r =
          backend === 'onnxruntime'
            ? await evaluateWith(async (input) => {
                // Loaded only here, as for run: ONNX Runtime's native library is this path's alone.
                const { compileOnnxModel } = await import('../../../backends/onnx/session.js');
                const c = await compileOnnxModel(model, input, weights, exportProvenance(file, flags), { threads: ONNX_THREADS });
                return { forward: (clips) => c.forward(clips), destroy: () => c.release() };
              }, model, set, options)
            : await withDevice((device) => evaluate(device, model, weights, set, options));
        progress.done();
        // An empty set, or a loss that is not a number (a NaN or ±Inf in a clip), is no result.
        if (r.samples === 0) throw dataError('PST618', `${set.name}: no samples were evaluated`, { hint: 'the set is empty (or every sample was skipped): check the list or spec' });
        if (!Number.isFinite(r.loss) || !Number.isFinite(r.top1)) {
          throw dataError('PST618', `${set.name}: the evaluation computed a loss of ${r.loss}: a clip holds NaN or infinite values, or the weights do`, { hint: 'check the clips (e.g. np.isfinite(clips).all()) and the checkpoint' });
        }
        if (flags.json) {
          io.out(JSON.stringify({ model: model.name, weights: flags.weights, data: set.name, backend, ...r }, null, 2));
          return;
        }
        const pairs = r.pairAccuracy !== undefined ? `  order pairs ${(100 * r.pairAccuracy).toFixed(2)} %` : '';
        io.out(`${model.name} on ${set.name}: top-1 ${(100 * r.top1).toFixed(2)} %  top-5 ${(100 * r.top5).toFixed(2)} %  loss ${r.loss.toFixed(4)}${pairs}  (${r.samples} samples${r.skipped?.length ? `, ${r.skipped.length} skipped` : ''}, ${r.clips} clips, ${r.seconds.toFixed(1)} s, ${backend})`);
      } finally {
        await closeData(data);
      }
    });
};
