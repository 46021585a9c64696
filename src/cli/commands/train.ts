// `pstc train MODEL.pst --data SPEC --steps N|--epochs E --batch B … --out RUN/`: training on the
// WebGPU device (src/train). A live progress line on a terminal (plain lines otherwise), a JSONL
// log, checkpoints every K steps and on Ctrl-C, `--resume` to continue a run exactly.
import type { Command } from 'commander';
import { resolveTrainSettings, trainKey, type TrainField, type TrainValues } from '../../lang/train-config.js';
import { DEFAULT_OPTIMIZER, type OptimizerConfig } from '../../train/optimizer.js';
import { train, type TrainSettings } from '../../train/trainer.js';
import { freshWeightsFrom, HEAD_INIT_STD, initChoicesOf, initWeights, LINEAR_INIT_STD, loadCheckpoint, type WeightMap } from '../../weights/index.js';
import { withDevice } from '../device.js';
import { UsageError } from '../errors.js';
import { chooseData } from '../data-choice.js';
import { loadCommandModel } from '../model.js';
import { nonNegativeInt, positiveInt, withLoaderOptions, withMemoryOptions, withModelArgument, type LoaderFlags, type ModelFlags } from '../options.js';
import { checkOutputPath, checkOwnFolder } from '../output-path.js';
import { isRunFolder } from '../../train/checkpoint.js';
import { createProgress, formatDuration } from '../progress.js';
import { DISTRIBUTED_HELP, startDistributed } from '../train-distributed.js';
import { sourcesRecord, trainFlagValues, withTrainFlags } from '../train-flags.js';
import type { CommandRegistrar } from '../registrar.js';

/** The flags a model's train section can also set: absent when not given (the section, then
 *  TRAIN_DEFAULTS, fill them in). */
interface TrainFlags extends ModelFlags, LoaderFlags, TrainValues {
  data?: string;
  weights?: string;
  accumulate: number;
  seed: number;
  shuffle: boolean;
  logEvery: number;
  checkpointEvery: number;
  evalEvery: number;
  out?: string;
  resume?: boolean;
  recompute?: boolean;
  memoryBudget?: number;
  distributed?: string;
}

/** The train-section settings `pstc train` takes as flags. */
const TRAIN_FIELDS: readonly TrainField[] = ['steps', 'epochs', 'batch', 'optimizer', 'lr', 'minLr', 'warmup', 'weightDecay', 'momentum', 'labelSmoothing', 'clipGrad', 'evalEvery', 'initStd', 'biasInitStd', 'headInitStd'];

/** What `pstc train` uses when neither a flag nor the model's train section says (the optimizer's
 *  own defaults — lr, weight decay, momentum — are DEFAULT_OPTIMIZER's). One epoch when neither
 *  steps nor epochs is given. */
const TRAIN_DEFAULTS = { batch: 16, warmup: 0, minLr: 0, clipGrad: 0, labelSmoothing: 0, evalEvery: 0 } as const;

/** The optimizer from the resolved settings; --momentum with AdamW is a usage error. */
function optimizerFrom(t: TrainValues, flags: TrainFlags): OptimizerConfig {
  const kind = t.optimizer ?? 'adamw';
  if (flags.momentum !== undefined && kind !== 'sgd') throw new UsageError('--momentum: only with --optimizer sgd (AdamW has betas)');
  const base = DEFAULT_OPTIMIZER[kind];
  return {
    ...base,
    lr: t.lr ?? base.lr,
    weightDecay: t.weightDecay ?? base.weightDecay,
    momentum: t.momentum ?? base.momentum,
    clipGrad: t.clipGrad ?? TRAIN_DEFAULTS.clipGrad,
  };
}

/** A run stopped by a signal exits 128 + its number, as a shell reports it: a script can tell it from a finished run. */
const SIGNAL_EXIT: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

export const registerTrain: CommandRegistrar = (program: Command, io, setExit) => {
  const command = withLoaderOptions(withMemoryOptions(withModelArgument(program.command('train'))));
  withTrainFlags(command, TRAIN_FIELDS, {
    steps: 'one epoch',
    batch: String(TRAIN_DEFAULTS.batch),
    optimizer: 'adamw',
    lr: `adamw ${DEFAULT_OPTIMIZER.adamw.lr}, sgd ${DEFAULT_OPTIMIZER.sgd.lr}`,
    minLr: '0',
    warmup: '0',
    weightDecay: `adamw ${DEFAULT_OPTIMIZER.adamw.weightDecay}, sgd ${DEFAULT_OPTIMIZER.sgd.weightDecay}`,
    momentum: String(DEFAULT_OPTIMIZER.sgd.momentum),
    labelSmoothing: '0',
    clipGrad: '0 (no clipping)',
    evalEvery: '0 (at the end only)',
    initStd: String(LINEAR_INIT_STD),
    biasInitStd: `${LINEAR_INIT_STD}, truncated at ±2 as timm's`,
    headInitStd: String(HEAD_INIT_STD),
  });
  command
    .description('train the model on the WebGPU device: forward, backward and optimizer in one submission per step')
    .option('--data <spec>', "npy:CLIPS.npy,LABELS.npy | synthetic:motion[,key=value…] | rawframes:ANN.txt[,root=DIR] | videos:ANN.txt[,root=DIR] (docs/data.md); default: the model's data section")
    .option('--weights <file>', 'start from this checkpoint (.safetensors or .pth); default: freshly initialised weights from --seed')
    .option('--accumulate <K>', 'split each batch into K micro-batches (gradient accumulation, for batches larger than memory)', positiveInt('--accumulate', 4096), 1)
    .option('--seed <S>', 'seeds initial weights, data order and dropout masks', nonNegativeInt('--seed', 2 ** 32 - 1), 0)
    .option('--no-shuffle', 'read the training set in file order')
    .option('--log-every <N>', 'read back metrics and log every N steps', positiveInt('--log-every', 1e9), 10)
    .option('--checkpoint-every <N>', 'write a checkpoint every N steps (and at the end, and on Ctrl-C)', positiveInt('--checkpoint-every', 1e9), 100)
    .option('--out <dir>', 'the run directory: settings, log.jsonl, checkpoints, summary')
    .option('--resume', 'continue the run in --out from its latest checkpoint')
    .option('--distributed <engine>', DISTRIBUTED_HELP)
    .action(async (file: string, flags: TrainFlags) => {
      if (!flags.out) throw new UsageError('--out: missing; the run directory to write (settings, log, checkpoints)');
      if (flags.steps !== undefined && flags.epochs !== undefined) throw new UsageError('--steps and --epochs: give one of them');
      // Data-parallel: join the MPI job first; rank 0 speaks (`say`), an error on any rank ends them all.
      const parallel = flags.distributed !== undefined ? startDistributed(flags.distributed, io, flags.out) : undefined;
      const say = parallel?.io ?? io;
      const { model, result } = loadCommandModel(file, flags);
      // Flags over the model's train section over TRAIN_DEFAULTS.
      const { values: t, from, dropped } = resolveTrainSettings(trainFlagValues(flags), model.train);
      const optimizer = optimizerFrom(t, flags);
      const data = chooseData(model, flags.data, 'train');
      checkOutputPath({ flag: '--out', path: flags.out, kind: 'folder', inputs: [...result.sources.keys(), ...(flags.weights ? [flags.weights] : [])] });
      checkOwnFolder({ flag: '--out', path: flags.out, what: 'a run directory of `pstc train`', ours: isRunFolder });
      const init = initChoicesOf(t);
      const initialWeights: WeightMap = flags.weights !== undefined ? loadCheckpoint(flags.weights, model) : initWeights(model, flags.seed, init);
      const settings: TrainSettings = {
        data,
        ...(t.steps !== undefined ? { steps: t.steps } : {}),
        ...(t.epochs !== undefined ? { epochs: t.epochs } : {}),
        batch: t.batch ?? TRAIN_DEFAULTS.batch,
        accumulate: flags.accumulate,
        optimizer,
        warmupSteps: t.warmup ?? TRAIN_DEFAULTS.warmup,
        minLr: t.minLr ?? TRAIN_DEFAULTS.minLr,
        labelSmoothing: t.labelSmoothing ?? TRAIN_DEFAULTS.labelSmoothing,
        seed: flags.seed,
        shuffle: flags.shuffle,
        logEvery: flags.logEvery,
        checkpointEvery: flags.checkpointEvery,
        evalEvery: t.evalEvery ?? TRAIN_DEFAULTS.evalEvery,
        workers: flags.workers,
        // Only when asked: a run's settings (resume compares them) stay as they were without it.
        ...(flags.recompute ? { recompute: true } : {}),
        ...(flags.memoryBudget !== undefined ? { memoryBudget: flags.memoryBudget } : {}),
        ...(flags.skipBad ? { skipBad: true } : {}),
        // Where each training setting came from (flag, the model's train section, default).
        sources: sourcesRecord(from, TRAIN_FIELDS),
      };
      const progress = createProgress(say);
      for (const d of dropped) progress.say(`not used: ${d}`);
      if (model.train) progress.say(`training defaults from the model's train section: ${TRAIN_FIELDS.filter((f) => from[f] === 'model').map((f) => trainKey(f).key).join(', ') || 'none used (flags given)'}`);
      // Ctrl-C: finish the step, write a checkpoint, stop; a second Ctrl-C stops at once.
      const abort = new AbortController();
      // SIGTERM (a scheduler's stop) and SIGHUP (a closed terminal) the same: a checkpoint, then stop.
      let caught: NodeJS.Signals | undefined;
      const onSignal = (signal: NodeJS.Signals) => {
        if (abort.signal.aborted) process.exit(SIGNAL_EXIT[signal] ?? 130);
        caught = signal;
        progress.say(`${signal}: writing a checkpoint after this step${signal === 'SIGINT' ? ' (Ctrl-C again to stop now)' : ''}`);
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      process.on('SIGHUP', onSignal);
      try {
        const r = await withDevice((device) => {
          progress.say(`training ${model.name} on ${device.describe()}`);
          return train({
            model,
            initialWeights,
            initialWeightsFrom: flags.weights ?? freshWeightsFrom(flags.seed, init),
            settings,
            out: flags.out!,
            resume: flags.resume ?? false,
            device,
            signal: abort.signal,
            ...(parallel ? { distributed: parallel.dp } : {}),
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
        await parallel?.finish();
        say.err(
          `${r.stopped === 'done' ? 'done' : 'stopped'}: ${r.steps} steps in ${formatDuration(r.seconds)} (${r.clipsPerSecond.toFixed(1)} clips/s, ${r.dispatchesPerStep} dispatches per step)${final}; ` +
            `checkpoint ${r.lastCheckpoint}` +
            (r.allreduce ? `; ${r.allreduce.ranks} ranks: gradients summed in ${r.allreduce.reduceMs.toFixed(0)} ms per step (${(r.allreduce.bytes / 2 ** 20).toFixed(1)} MiB, ${r.allreduce.buckets} bucket${r.allreduce.buckets > 1 ? 's' : ''})` : ''),
        );
        if (caught && r.stopped !== 'done') {
          io.err(`interrupted at step ${r.steps} (${caught}); resume with the same command and --resume (--out ${flags.out})`);
          setExit(SIGNAL_EXIT[caught] ?? 130);
        }
      } catch (e) {
        if (parallel) parallel.fail(e);
        throw e;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        process.off('SIGHUP', onSignal);
      }
    });
};
