// The elaborated model: what a checked .pst model means, with every import, `extends`, constant,
// default and sweep axis resolved. This is the only thing later phases (src/ir, src/weights, the
// backends) read from the language: they never see syntax.
import type { DataConfig } from './data-config.js';
import type { TrainConfig } from './train-config.js';
import type { Span } from './span.js';

/** What happens at the first and last frame when a shift reads outside the clip. */
export type Boundary = 'cyclic' | 'keep' | 'zeros';

/** Temporal patch shift (TPS): a mosaic of temporal offsets tiled over each window. */
export interface PatchShift {
  kind: 'patch';
  name: string;
  /** grid[h mod n][w mod n] = s: the token at window position (h, w) of frame d reads frame d - s. */
  grid: number[][];
  /** Fraction of heads shifted: the first floor(heads * ratio) heads. In (0, 1]. */
  ratio: number;
  boundary: Boundary;
  /** Shift the attention output (attn·V per head, before the projection) back by +s. */
  shiftBack: boolean;
  span?: Span;
}

/** Temporal channel shift (TCS): per head, floor(c * fold) channels from frame d-1, as many from d+1. */
export interface ChannelShift {
  kind: 'channel';
  name: string;
  fold: number;
  boundary: Boundary;
  span?: Span;
}

export type Shift = PatchShift | ChannelShift;

export interface BlockConfig {
  /** Index within the stage, from 0. */
  index: number;
  /** The shift on this block's attention input, or null. */
  shift: Shift | null;
  /** Whether this block's windows are rolled by window // 2 (Swin's SW-MSA); the IR decides the
   *  effective roll per axis from the feature-map size (0 where the map is no larger than the window). */
  shiftWindows: boolean;
  /** Stochastic-depth rate of this block (training only). */
  dropPath: number;
}

export type AttentionKind = 'window2d' | 'window3d';

export interface StageConfig {
  /** Stage number from 1 (weights use layers.{number-1}). */
  number: number;
  depth: number;
  dim: number;
  heads: number;
  attention: AttentionKind;
  /** (d, h, w) window before shrinking to the feature map. */
  window: [number, number, number];
  /** Temporal extent of the relative position bias table: (2·biasFrames−1)·(2h−1)·(2w−1) rows. */
  biasFrames: number;
  mlpRatio: number;
  qkvBias: boolean;
  dropout: number;
  attnDropout: number;
  blocks: BlockConfig[];
  /** Patch merging after this stage (never after the last). */
  merge: 'patch_merging' | 'none';
  span?: Span;
}

export interface EmbedConfig {
  /** Conv3d kernel = stride (t, h, w). */
  patch: [number, number, number];
  dim: number;
  norm: boolean;
  inChannels: number;
}

export interface HeadConfig {
  pool: 'mean';
  dropout: number;
  classes: number;
}

export interface InputConfig {
  frames: number;
  size: number;
  batch: number;
}

export interface ModelConfig {
  /** The model's name; for sweep variants `sweep[path=value,…]` or `sweep.variant`. */
  name: string;
  embed: EmbedConfig;
  stages: StageConfig[];
  finalNorm: boolean;
  /** null for a backbone without a classification head. */
  head: HeadConfig | null;
  /** Default input for explain/bench/run; flags override. */
  input: InputConfig;
  /** The `data { … }` section (preset values filled in), when the model has one: what train and
   *  eval read when no --data is given. */
  data?: DataConfig;
  /** The `train { … }` section (inherited settings included), when the model has one: the
   *  training defaults `pstc train` and `pstc ablate` use where no flag is given. */
  train?: TrainConfig;
  /** Where the model was declared (for diagnostics from later phases). */
  span?: Span;
}
