// `pstc train MODEL.pst --data SPEC --steps N|--epochs E --batch B … --out RUN/`: training on the
// WebGPU device (src/train). A live progress line on a terminal (plain lines otherwise), a JSONL
// log, checkpoints every K steps and on Ctrl-C, `--resume` to continue a run exactly.
import type { Command } from 'commander';
import { DEFAULT_OPTIMIZER, type OptimizerConfig, type OptimizerKind } from '../../train/optimizer.js';
import { train, type TrainSettings } from '../../train/trainer.js';
import { initWeights, loadCheckpoint, type WeightMap } from '../../weights/index.js';
import { withDevice } from '../device.js';
import { UsageError } from '../errors.js';
import { chooseData } from '../data-choice.js';
import { loadCommandModel } from '../model.js';
import { nonNegativeInt, positiveInt, withLoaderOptions, withMemoryOptions, withModelArgument, type LoaderFlags, type ModelFlags } from '../options.js';
import { checkOutputPath, checkOwnFolder } from '../output-path.js';
import { isRunFolder } from '../../train/checkpoint.js';
import { createProgress, formatDuration } from '../progress.js';
import type { CommandRegistrar } from '../registrar.js';

interface TrainFlags extends ModelFlags, LoaderFlags {
  data?: string;
  weights?: string;
  steps?: number;
  epochs?: number;
  batch: number;
  accumulate: number;
  optimizer: string;
  lr?: number;
  weightDecay?: number;
  momentum?: number;
  warmup: number;
  minLr: number;
  clipGrad: number;
  labelSmoothing: number;
  seed: number;
  shuffle: boolean;
  logEvery: number;
  checkpointEvery: number;
  evalEvery: number;
  out?: string;
  resume?: boolean;
  recompute?: boolean;
  memoryBudget?: number;
}

/** A finite number ≥ 0 (rates, norms), named in its message. */
export function nonNegativeNumber(flag: string, max = Number.MAX_VALUE): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag}: expected a number ≥ 0, got \`${value.slice(0, 40)}\``);
    if (n > max) throw new UsageError(`${flag}: at most ${max}, got ${n}`);
    return n;
  };
}

function optimizerFrom(flags: TrainFlags): OptimizerConfig {
  if (flags.optimizer !== 'adamw' && flags.optimizer !== 'sgd') throw new UsageError(`--optimizer: adamw or sgd, got \`${flags.optimizer.slice(0, 40)}\``);
  const kind = flags.optimizer as OptimizerKind;
  const base = DEFAULT_OPTIMIZER[kind];
  if (flags.momentum !== undefined && kind !== 'sgd') throw new UsageError('--momentum: only with --optimizer sgd (AdamW has betas)');
  return {
    ...base,
    ...(flags.lr !== undefined ? { lr: flags.lr } : {}),
    ...(flags.weightDecay !== undefined ? { weightDecay: flags.weightDecay } : {}),
    ...(flags.momentum !== undefined ? { momentum: flags.momentum } : {}),
    clipGrad: flags.clipGrad,
  };
}

export const registerTrain: CommandRegistrar = (program: Command, io) => {
  withLoaderOptions(withMemoryOptions(withModelArgument(program.command('train'))))
    .description('train the model on the WebGPU device: forward, backward and optimizer in one submission per step')
    .option('--data <spec>', "npy:CLIPS.npy,LABELS.npy | synthetic:motion[,key=value…] | rawframes:ANN.txt[,root=DIR] | videos:ANN.txt[,root=DIR] (docs/data.md); default: the model's data section")
    .option('--weights <file>', 'start from this checkpoint (.safetensors or .pth); default: freshly initialised weights from --seed')
    .option('--steps <N>', 'optimizer steps', positiveInt('--steps', 1e9))
    .option('--epochs <E>', 'or: passes over the training set', positiveInt('--epochs', 1e6))
    .option('--batch <B>', 'clips per optimizer step', positiveInt('--batch', 65536), 16)
    .option('--accumulate <K>', 'split each batch into K micro-batches (gradient accumulation, for batches larger than memory)', positiveInt('--accumulate', 4096), 1)
    .option('--optimizer <name>', 'adamw (decoupled weight decay; none on norms, biases, bias tables) or sgd', 'adamw')
    .option('--lr <rate>', 'peak learning rate (default: adamw 1e-3, sgd 0.01)', nonNegativeNumber('--lr', 1e3))
    .option('--weight-decay <wd>', 'weight decay (default: adamw 0.05, sgd 1e-4)', nonNegativeNumber('--weight-decay', 1e3))
    .option('--momentum <m>', 'sgd momentum (default 0.9)', nonNegativeNumber('--momentum', 1))
    .option('--warmup <N>', 'linear warm-up steps before the cosine schedule', nonNegativeInt('--warmup', 1e9), 0)
    .option('--min-lr <rate>', 'the cosine schedule ends here', nonNegativeNumber('--min-lr', 1e3), 0)
    .option('--clip-grad <norm>', 'clip gradients to this global norm (0: no clipping)', nonNegativeNumber('--clip-grad'), 0)
    .option('--label-smoothing <eps>', 'label smoothing of the cross-entropy', nonNegativeNumber('--label-smoothing', 0.999), 0)
    .option('--seed <S>', 'seeds initial weights, data order and dropout masks', nonNegativeInt('--seed', 2 ** 32 - 1), 0)
    .option('--no-shuffle', 'read the training set in file order')
    .option('--log-every <N>', 'read back metrics and log every N steps', positiveInt('--log-every', 1e9), 10)
    .option('--checkpoint-every <N>', 'write a checkpoint every N steps (and at the end, and on Ctrl-C)', positiveInt('--checkpoint-every', 1e9), 100)
    .option('--eval-every <N>', 'evaluate on the validation set every N steps (0: at the end only)', nonNegativeInt('--eval-every', 1e9), 0)
    .option('--out <dir>', 'the run directory: settings, log.jsonl, checkpoints, summary')
    .option('--resume', 'continue the run in --out from its latest checkpoint')
    .action(async (file: string, flags: TrainFlags) => {
      if (!flags.out) throw new UsageError('--out: missing; the run directory to write (settings, log, checkpoints)');
      if (flags.steps !== undefined && flags.epochs !== undefined) throw new UsageError('--steps and --epochs: give one of them');
      const { model, result } = loadCommandModel(file, flags);
      const data = chooseData(model, flags.data, 'train');
      checkOutputPath({ flag: '--out', path: flags.out, kind: 'folder', inputs: [...result.sources.keys(), ...(flags.weights ? [flags.weights] : [])] });
      checkOwnFolder({ flag: '--out', path: flags.out, what: 'a run directory of `pstc train`', ours: isRunFolder });
      const initialWeights: WeightMap = flags.weights !== undefined ? loadCheckpoint(flags.weights, model) : initWeights(model, flags.seed);
      const settings: TrainSettings = {
        data,
        ...(flags.steps !== undefined ? { steps: flags.steps } : {}),
        ...(flags.epochs !== undefined ? { epochs: flags.epochs } : {}),
        batch: flags.batch,
        accumulate: flags.accumulate,
        optimizer: optimizerFrom(flags),
        warmupSteps: flags.warmup,
        minLr: flags.minLr,
        labelSmoothing: flags.labelSmoothing,
        seed: flags.seed,
        shuffle: flags.shuffle,
        logEvery: flags.logEvery,
        checkpointEvery: flags.checkpointEvery,
        evalEvery: flags.evalEvery,
        workers: flags.workers,
        // Only when asked: a run's settings (resume compares them) stay as they were without it.
        ...(flags.recompute ? { recompute: true } : {}),
        ...(flags.memoryBudget !== undefined ? { memoryBudget: flags.memoryBudget } : {}),
        ...(flags.skipBad ? { skipBad: true } : {}),
      };
      const progress = createProgress(io);
      // Ctrl-C: finish the step, write a checkpoint, stop; a second Ctrl-C stops at once.
      const abort = new AbortController();
      const onSignal = () => {
        if (abort.signal.aborted) process.exit(130);
        progress.say('interrupted: writing a checkpoint after this step (Ctrl-C again to stop now)');
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const r = await withDevice((device) => {
          progress.say(`training ${model.name} on ${device.describe()}`);
          return train({
            model,
            initialWeights,
            initialWeightsFrom: flags.weights ?? `random seed ${flags.seed}`,
            settings,
            out: flags.out!,
            resume: flags.resume ?? false,
            device,
            signal: abort.signal,
            onMessage: (line) => progress.say(line),
            onProgress: (p) =>
              progress.update(
                `step ${p.step}/${p.totalSteps}  epoch ${p.epoch}  loss ${p.loss.toFixed(4)}  acc ${(100 * p.accuracy).toFixed(1)}%` +
                  `${p.pairAccuracy !== undefined ? `  pairs ${(100 * p.pairAccuracy).toFixed(1)}%` : ''}  lr ${p.lr.toExponential(2)}` +
                  `  |g| ${p.gradNorm.toPrecision(3)}  ${p.clipsPerSecond.toFixed(1)} clips/s  ETA ${formatDuration(p.etaSeconds)}`,
              ),
          });
        });
        progress.done();
        const final = r.final ? `; validation top-1 ${(100 * r.final.top1).toFixed(1)}%${r.final.pairAccuracy !== undefined ? `, order pairs ${(100 * r.final.pairAccuracy).toFixed(1)}%` : ''}` : '';
        io.err(
          `${r.stopped === 'done' ? 'done' : 'stopped'}: ${r.steps} steps in ${formatDuration(r.seconds)} (${r.clipsPerSecond.toFixed(1)} clips/s, ${r.dispatchesPerStep} dispatches per step)${final}; ` +
            `checkpoint ${r.lastCheckpoint}`,
        );
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
};
