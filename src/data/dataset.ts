// What training and evaluation read: a dataset of fixed-shape clips with integer labels, read one
// clip at a time (so memory stays bounded), and the model input it must fit.
import type { ModelConfig } from '../lang/model.js';
import { dataError } from './errors.js';
import type { DataSpec } from './spec.js';

/** One clip, channels-first C×T×H×W float32, and its class. */
export interface ClipSample {
  clip: Float32Array;
  label: number;
  /** With `--skip-bad`: the sample at the index read was bad, and this clip is another sample's,
   *  read in its place (training needs a full batch). An evaluation leaves such a row out. */
  skipped?: SkippedSample;
}

/** A sample `--skip-bad` skipped: where the list names it, and why it could not be read. */
export interface SkippedSample {
  /** `list.txt:12` */
  where: string;
  /** The diagnostic's message (it names the file). */
  reason: string;
}

export interface Dataset {
  /** How the dataset calls itself in messages, e.g. `synthetic:motion (train)` or a file name. */
  readonly name: string;
  readonly size: number;
  /** Number of classes the labels range over (labels are 0 … classes−1). */
  readonly classes: number;
  readonly classNames?: readonly string[];
  /** [channels, frames, height, width] of every clip. */
  readonly clipShape: readonly [number, number, number, number];
  /**
   * Clip `index` (0 ≤ index < size). The result is a pure function of (dataset, index, epoch):
   * a dataset with random augmentation draws it from (seed, epoch, index), so a resumed run reads
   * exactly the clips an uninterrupted one would. Datasets without augmentation ignore `epoch`.
   */
  read(index: number, epoch?: number): Promise<ClipSample>;
  /**
   * Classes 2k and 2k+1 are a clip and its reversal (synthetic:motion, or a set exported from it
   * and read with `pairs=1`): evaluations also report order-pair accuracy (pairs.ts).
   */
  readonly orderPairs?: boolean;
  /** Releases open files; reading after close is an error. */
  close?(): Promise<void>;
  /** How to open this very dataset again in another thread (set by openData): a decode worker
   *  reads clips from its own copy, which gives the same clip for the same (index, epoch). */
  recipe?: DatasetRecipe;
}

/** What a worker thread needs to open a dataset again: plain data, structured-clonable. */
export interface DatasetRecipe {
  /** The parsed `--data` spec. */
  spec: DataSpec;
  split: 'train' | 'val';
  input: DataInput;
  skipBad: boolean;
}

/** A dataset's splits. `val` is absent when the spec names only one set (an `npy:` pair). */
export interface DataSource {
  train: Dataset;
  val?: Dataset;
}

/** The clip a model takes and the labels it can score, as the data layer needs them. */
export interface DataInput {
  frames: number;
  size: number;
  channels: number;
  /** The head's classes; undefined for a backbone (`head = none`). */
  classes?: number;
  /** Frames per token (the embed patch's t): the synthetic set holds each state this long. */
  temporalPatch: number;
}

/** The model's input, with --frames/--size overrides when a command has them. */
export function dataInputOf(model: ModelConfig, override: { frames?: number; size?: number } = {}): DataInput {
  return {
    frames: override.frames ?? model.input.frames,
    size: override.size ?? model.input.size,
    channels: model.embed.inChannels,
    ...(model.head ? { classes: model.head.classes } : {}),
    temporalPatch: model.embed.patch[0],
  };
}

export function clipLength(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function clipShapeText(shape: readonly number[]): string {
  return shape.join('×');
}

/**
 * Checked up front, before a step runs: every clip has the model's C×T×H×W, and the labels fit the
 * head. (Each label of a file-backed set is checked when it is opened; this checks the ranges.)
 */
export function checkDatasetForModel(dataset: Dataset, input: DataInput): void {
  const want = [input.channels, input.frames, input.size, input.size];
  if (dataset.clipShape.some((d, i) => d !== want[i])) {
    throw dataError('PST603', `${dataset.name} has clips of ${clipShapeText(dataset.clipShape)} (C×T×H×W), but the model takes ${clipShapeText(want)}`, {
      hint: `write clips of ${clipShapeText(want)}, or give the model --frames ${dataset.clipShape[1]} --size ${dataset.clipShape[2]} if it supports that input`,
    });
  }
  if (input.classes === undefined) {
    throw dataError('PST604', `the model has no classification head (head = none), so it cannot be trained or evaluated on labels from ${dataset.name}`, {
      hint: 'give the model a `head { classes = N }`, or `--set head.classes=N`',
    });
  }
  if (dataset.classes > input.classes) {
    throw dataError('PST604', `${dataset.name} has ${dataset.classes} classes, but the model's head scores ${input.classes}`, {
      hint: `set the head to ${dataset.classes} classes (--set head.classes=${dataset.classes})`,
    });
  }
}
