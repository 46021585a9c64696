// A model's `train { … }` section: the training recipe that goes with the model (steps, batch,
// learning rate and schedule, optimizer, regularisation), so that `pstc train model.pst` and
// `pstc ablate sweep.pst` train it the way it is meant to be trained without the user knowing the
// recipe. Every key is also a `pstc train` flag of the same name; a flag given on the command
// line wins over the section, and the section wins over the command's built-in default.
//
// TRAIN_KEYS is the one table of the keys: their kind, range and meaning. The checker reads the
// section with it, `pstc train` parses its flags with it (src/cli/train-flags.ts), and
// resolveTrainSettings merges flags over the section the same way for train and ablate.
import type { SectionNode } from './body.js';
import type { Evaluator } from './evaluate.js';
import type { Reporter } from './report.js';
import type { Span } from './span.js';
import { readInt, readNumber, readWord, type Range } from './values.js';

export const TRAIN_OPTIMIZERS = ['adamw', 'sgd'] as const;
export type TrainOptimizer = (typeof TRAIN_OPTIMIZERS)[number];

/** The section's values (camelCase, as the rest of ModelConfig); absent: not set by the section. */
export interface TrainValues {
  steps?: number;
  epochs?: number;
  batch?: number;
  optimizer?: TrainOptimizer;
  lr?: number;
  minLr?: number;
  warmup?: number;
  weightDecay?: number;
  momentum?: number;
  labelSmoothing?: number;
  clipGrad?: number;
  evalEvery?: number;
  initStd?: number;
  biasInitStd?: number;
  headInitStd?: number;
}

export type TrainField = keyof TrainValues;

export interface TrainConfig extends TrainValues {
  /** The `train` section's header, for messages of later phases. */
  span?: Span;
}

export interface TrainKeySpec {
  /** As written in the section (`min_lr`). */
  key: string;
  field: TrainField;
  /** The `pstc train` flag of the same setting. */
  flag: string;
  kind: 'int' | 'number' | 'word';
  range?: Range;
  words?: readonly string[];
  /** What it is, in words (the flag's help and the docs). */
  help: string;
}

/** Every key of the section, in the order `pstc explain` and the docs list them. The ranges are
 *  the flags' ranges: sanity bounds far beyond any real recipe, so a typo is an error. */
export const TRAIN_KEYS: readonly TrainKeySpec[] = [
  { key: 'steps', field: 'steps', flag: '--steps', kind: 'int', range: { min: 1, max: 1e9 }, help: 'optimizer steps' },
  { key: 'epochs', field: 'epochs', flag: '--epochs', kind: 'int', range: { min: 1, max: 1e6 }, help: 'or: passes over the training set' },
  { key: 'batch', field: 'batch', flag: '--batch', kind: 'int', range: { min: 1, max: 65536 }, help: 'clips per optimizer step' },
  { key: 'optimizer', field: 'optimizer', flag: '--optimizer', kind: 'word', words: TRAIN_OPTIMIZERS, help: 'adamw (decoupled weight decay; none on norms, biases, bias tables) or sgd' },
  { key: 'lr', field: 'lr', flag: '--lr', kind: 'number', range: { min: 0, max: 1e3 }, help: 'peak learning rate' },
  { key: 'min_lr', field: 'minLr', flag: '--min-lr', kind: 'number', range: { min: 0, max: 1e3 }, help: 'the cosine schedule ends here' },
  { key: 'warmup', field: 'warmup', flag: '--warmup', kind: 'int', range: { min: 0, max: 1e9 }, help: 'linear warm-up steps before the cosine schedule' },
  { key: 'weight_decay', field: 'weightDecay', flag: '--weight-decay', kind: 'number', range: { min: 0, max: 1e3 }, help: 'weight decay (decoupled for adamw)' },
  { key: 'momentum', field: 'momentum', flag: '--momentum', kind: 'number', range: { min: 0, max: 1 }, help: 'SGD momentum (only with optimizer sgd)' },
  { key: 'label_smoothing', field: 'labelSmoothing', flag: '--label-smoothing', kind: 'number', range: { min: 0, max: 0.999 }, help: 'label smoothing of the cross-entropy' },
  { key: 'clip_grad', field: 'clipGrad', flag: '--clip-grad', kind: 'number', range: { min: 0, max: Number.MAX_VALUE }, help: 'clip gradients to this global norm (0: no clipping)' },
  { key: 'init_std', field: 'initStd', flag: '--init-std', kind: 'number', range: { min: 0, max: 2 }, help: "std of the blocks' and patch mergings' Linear weights when training from fresh weights (0.02 as the paper's code; a model a few channels wide learns faster from about 1/√width)" },
  { key: 'bias_init_std', field: 'biasInitStd', flag: '--bias-init-std', kind: 'number', range: { min: 0, max: 100 }, help: "std of the attention's relative-position bias tables when training from fresh weights (the paper's code: 0.02, so attention starts uniform; about 3 starts it as a fixed mix of neighbours that differs by head, and a tiny model finds motion sooner)" },
  { key: 'head_init_std', field: 'headInitStd', flag: '--head-init-std', kind: 'number', range: { min: 0, max: 2 }, help: "std of the classification head's weight when training from fresh weights (mmaction's 0.01)" },
  { key: 'eval_every', field: 'evalEvery', flag: '--eval-every', kind: 'int', range: { min: 0, max: 1e9 }, help: 'evaluate on the validation set every N steps (0: at the end only)' },
];

export const TRAIN_KEY_NAMES: readonly string[] = TRAIN_KEYS.map((k) => k.key);

export function trainKey(field: TrainField): TrainKeySpec {
  return TRAIN_KEYS.find((k) => k.field === field)!;
}

/** Names users bring from other tools (mmaction configs, PyTorch, timm): where the setting lives here. */
export const TRAIN_KEY_HINTS: Readonly<Record<string, string>> = {
  total_epochs: 'write `epochs = N`',
  max_epochs: 'write `epochs = N`',
  iters: 'optimizer steps: write `steps = N`',
  max_iters: 'optimizer steps: write `steps = N`',
  batch_size: 'write `batch = N` (clips per optimizer step)',
  videos_per_gpu: 'write `batch = N` (clips per optimizer step, all devices together)',
  learning_rate: 'write `lr = X`',
  warmup_iters: 'write `warmup = N` (steps)',
  warmup_steps: 'write `warmup = N`',
  wd: 'write `weight_decay = X`',
  max_norm: 'write `clip_grad = X` (the global gradient norm)',
  grad_clip: 'write `clip_grad = X` (the global gradient norm)',
  smoothing: 'write `label_smoothing = X`',
  seed: 'the seed belongs to a run, not to the model: `pstc train --seed S` (ablate: --seeds K)',
  accumulate: 'micro-batches depend on the machine\'s memory, not the model: `pstc train --accumulate K`',
  drop_path: '`drop_path` is a model property (outside the train section)',
};

/** Reads one `train` section (the resolved body node: inherited settings included); undefined after reporting a problem. */
export function readTrainSection(node: SectionNode, ev: Evaluator, r: Reporter): TrainConfig | undefined {
  const before = r.failed;
  r.failed = false;
  const own: TrainConfig = { span: node.span };
  const values = own as Record<TrainField, number | string | undefined>;
  for (const spec of TRAIN_KEYS) {
    const s = node.props.get(spec.key);
    const v = s?.kind === 'expr' ? ev.evaluate(s.expr, s.file, r) : undefined;
    if (!v) continue;
    const x = spec.kind === 'word' ? readWord(v, spec.words!, r) : spec.kind === 'int' ? readInt(v, r, spec.range) : readNumber(v, r, spec.range);
    if (x !== undefined) values[spec.field] = x;
  }
  const failed = r.failed;
  r.failed = before || failed;
  if (failed) return undefined;
  return checkTogether(node, own, r) ? own : undefined;
}

/** Settings that are each fine but contradict each other (PST290), or do nothing (PST291). */
function checkTogether(node: SectionNode, t: TrainConfig, r: Reporter): boolean {
  const at = (key: string) => node.props.get(key)?.pathSpan ?? node.span;
  // The later-written of two conflicting settings is the one to point at.
  const later = (a: string, b: string) => ((node.props.get(a)?.seq ?? 0) > (node.props.get(b)?.seq ?? 0) ? at(a) : at(b));
  let ok = true;
  if (t.steps !== undefined && t.epochs !== undefined) {
    r.error('PST290', later('steps', 'epochs'), 'the train section sets both `steps` and `epochs`', { hint: 'a run is measured in one of them: remove the other' });
    ok = false;
  }
  if (t.momentum !== undefined && t.optimizer !== 'sgd') {
    r.error('PST290', later('momentum', 'optimizer'), `\`momentum\` is a setting of SGD, but the optimizer is ${t.optimizer ?? 'adamw (the default)'}`, {
      expected: 'optimizer = sgd',
      hint: 'AdamW has betas instead: remove `momentum`, or write `optimizer = sgd`',
    });
    ok = false;
  }
  if (t.lr !== undefined && t.minLr !== undefined && t.minLr > t.lr) {
    r.error('PST290', later('min_lr', 'lr'), `min_lr ${t.minLr} is above the peak lr ${t.lr}: the cosine schedule would rise`, { expected: 'min_lr ≤ lr' });
    ok = false;
  }
  if (ok && t.warmup !== undefined && t.steps !== undefined && t.warmup >= t.steps) {
    r.warning('PST291', later('warmup', 'steps'), `a warm-up of ${t.warmup} steps in a run of ${t.steps}: the cosine schedule never starts`, {
      hint: 'make `warmup` a fraction of `steps` (a tenth is common)',
    });
  }
  return ok;
}

/** Where a resolved training setting came from. */
export type TrainSource = 'flag' | 'model' | 'default';

export interface ResolvedTrain {
  /** The flags' values over the section's: what the command's own defaults fill in around. */
  values: TrainValues;
  /** For each value set: `flag` (command line) or `model` (the train section). */
  from: Partial<Record<TrainField, TrainSource>>;
  /** Section settings that a flag made meaningless (said to the user, not silently dropped). */
  dropped: string[];
}

/**
 * Flags over the model's section. `steps` and `epochs` are one setting (the run's length): a flag
 * giving either replaces both of the section's. A section's `momentum` is SGD's, so it is dropped
 * when a flag switches the optimizer to AdamW.
 */
export function resolveTrainSettings(flags: TrainValues, section: TrainValues | undefined): ResolvedTrain {
  const values: TrainValues = {};
  const from: ResolvedTrain['from'] = {};
  const dropped: string[] = [];
  const set = <F extends TrainField>(field: F, value: TrainValues[F], source: TrainSource) => {
    values[field] = value;
    from[field] = source;
  };
  const lengthFlag = flags.steps !== undefined || flags.epochs !== undefined;
  for (const spec of TRAIN_KEYS) {
    const f = spec.field;
    if (flags[f] !== undefined) set(f, flags[f], 'flag');
    else if (section?.[f] !== undefined) {
      if ((f === 'steps' || f === 'epochs') && lengthFlag) {
        dropped.push(`the model's \`${spec.key} = ${section[f]}\` (${flags.steps !== undefined ? '--steps' : '--epochs'} given)`);
        continue;
      }
      set(f, section[f], 'model');
    }
  }
  if (values.momentum !== undefined && from.momentum === 'model' && values.optimizer !== 'sgd') {
    delete values.momentum;
    delete from.momentum;
    dropped.push(`the model's \`momentum = ${section!.momentum}\` (SGD's; --optimizer ${values.optimizer ?? 'adamw'} given)`);
  }
  return { values, from, dropped };
}

/** The section's settings in the language's own words, in TRAIN_KEYS order: what `pstc explain` shows. */
export function trainSettingsText(config: TrainValues): string[] {
  return TRAIN_KEYS.flatMap((k) => (config[k.field] === undefined ? [] : [`${k.key} = ${String(config[k.field])}`]));
}
