// Facts derived from the elaborated model, each computed by exactly one function here. The
// checker, the lowering, the analyses, the weight names and both backends call these instead of
// re-deriving them, so that `pstc check`, `explain`, `run` and a checkpoint can never disagree
// (they once did: `floor(49 · 1/49)` is 0 in floating point, so check said no head was shifted
// while explain shifted one). Also here: what a model must satisfy for any backend to compile it
// (`configProblems`), so that those limits are reported by `pstc check`, not when a model runs.
import type { AttentionKind, ChannelShift, InputConfig, ModelConfig, PatchShift, Shift, StageConfig } from './model.js';

// ---------------------------------------------------------------------------------- counts

/**
 * ⌊x⌋ of a product of an integer and a ratio the user wrote as a fraction. The reference computes
 * these counts in integers (TCS: `c // n_div`; TPS: ⌊nH·ratio⌋ for ratio ¼, ½, 1), but `1/49` is
 * a float here and 49 × (1/49) = 0.9999999999999999, so a plain floor would lose one. A product
 * within 1e-9 (relative) of an integer is that integer; for the sizes pstc allows (≤ 2²⁰) the
 * float error is ~1e-16 relative, and a genuinely fractional product of n and 1/k is at least
 * 1/k away from an integer, so this is the exact rational floor: ⌊n·(1/k)⌋ = n // k.
 */
export function floorOfProduct(n: number, ratio: number): number {
  const x = n * ratio;
  const nearest = Math.round(x);
  return Math.abs(x - nearest) <= 1e-9 * Math.max(1, Math.abs(x)) ? nearest : Math.floor(x);
}

/** Heads a patch shift moves in a stage with `heads` heads: the first ⌊heads·ratio⌋. */
export function shiftedHeads(shift: Pick<PatchShift, 'ratio'>, heads: number): number {
  return floorOfProduct(heads, shift.ratio);
}

/** Channels per head a channel shift takes from frame d−1 (and as many from d+1): ⌊c·fold⌋. */
export function foldChannels(shift: Pick<ChannelShift, 'fold'>, headDim: number): number {
  return floorOfProduct(headDim, shift.fold);
}

/** Channels per head, c = C / nH (the checker has made sure the heads divide C). */
export function headDim(stage: Pick<StageConfig, 'dim' | 'heads'>): number {
  return stage.dim / stage.heads;
}

/** Width of a block's MLP: Python's int(C · mlp_ratio), truncation, as the reference computes it. */
export function mlpHidden(stage: Pick<StageConfig, 'dim' | 'mlpRatio'>): number {
  return Math.floor(stage.dim * stage.mlpRatio);
}

// ---------------------------------------------------------------------------------- patterns

/** The temporal offset s of the token at window position (h, w): grid[h mod rows][w mod cols]
 *  (the token of frame d reads frame d − s). Grids need not be square. */
export function patchOffset(grid: readonly (readonly number[])[], h: number, w: number): number {
  const row = grid[h % grid.length]!;
  return row[w % row.length]!;
}

/** How far a pattern reaches in time: max |s| over its grid (0 for an all-zero grid). */
export function patternReach(shift: Pick<PatchShift, 'grid'>): number {
  return Math.max(0, ...shift.grid.flat().map((s) => Math.abs(s)));
}

// ---------------------------------------------------------------------------------- windows

export type Triple = [number, number, number];

/** The window attention is built for, before shrinking to a feature map: window2d is one frame. */
export function configuredWindow(stage: Pick<StageConfig, 'attention' | 'window'>): Triple {
  return stage.attention === 'window2d' ? [1, stage.window[1], stage.window[2]] : [...stage.window];
}

/** Frames the relative-position bias table spans: bias_frames (window2d) or the window depth. */
export function biasTemporalExtent(stage: Pick<StageConfig, 'attention' | 'window' | 'biasFrames'>): number {
  return stage.attention === 'window2d' ? stage.biasFrames : stage.window[0];
}

/** Rows of a block's bias table, (2·Tb−1)(2·wh−1)(2·ww−1), from the configured (not shrunk) window. */
export function biasTableRows(stage: Pick<StageConfig, 'attention' | 'window' | 'biasFrames'>): number {
  const [, wh, ww] = stage.window;
  return (2 * biasTemporalExtent(stage) - 1) * (2 * wh - 1) * (2 * ww - 1);
}

// ---------------------------------------------------------------------------------- weight names

/** State-dict names of the reference implementation (pst-reference.md, "Weights and their names"). */
export const weightNames = {
  patchEmbed: 'patch_embed.proj',
  patchEmbedNorm: 'patch_embed.norm',
  finalNorm: 'norm',
  /** mmaction's classification head. */
  head: 'cls_head.fc_cls',
  /** Block j (from 0) of stage index s (from 0). */
  block(s: number, j: number) {
    const p = `layers.${s}.blocks.${j}`;
    return {
      prefix: p,
      norm1: `${p}.norm1`,
      biasTable: `${p}.attn.relative_position_bias_table`,
      qkv: `${p}.attn.qkv`,
      attn: `${p}.attn`,
      proj: `${p}.attn.proj`,
      norm2: `${p}.norm2`,
      fc1: `${p}.mlp.fc1`,
      act: `${p}.mlp.act`,
      fc2: `${p}.mlp.fc2`,
    };
  },
  /** Patch merging after stage index s. */
  downsample(s: number) {
    const p = `layers.${s}.downsample`;
    return { prefix: p, norm: `${p}.norm`, reduction: `${p}.reduction` };
  },
} as const;

// ---------------------------------------------------------------------------------- numbers

/** Every LayerNorm's epsilon (pst-reference.md: "All LayerNorms use eps 1e-5"). */
export const LAYERNORM_EPS = 1e-5;

/**
 * The clip a model reads for an input (batch, frames, size: InputConfig, the one triple every
 * layer passes around), N×C×T×H×W with C the embedding's input channels and H = W = size.
 */
export function clipShape(model: Pick<ModelConfig, 'embed'>, input: InputConfig): [number, number, number, number, number] {
  return [input.batch, model.embed.inChannels, input.frames, input.size, input.size];
}

// ---------------------------------------------------------------------------------- limits

/** Largest MLP width and largest dim: far above any real model, so that a typo is an error. */
export const MAX_WIDTH = 1 << 20;

/**
 * Largest head width c the attention kernels take. The WebGPU kernel keeps one query row and its
 * output accumulator (2·c floats) per thread and streams keys and values through 16 KiB of
 * workgroup memory in tiles of at least 2 tokens (2 · 2 · c · 4 bytes); real models use 32–128.
 */
export const MAX_HEAD_DIM = 1024;

/** What a checked model must also satisfy to be compiled: one entry per problem. */
export interface ConfigProblem {
  code: string;
  /** Index of the stage (from 0). */
  stage: number;
  /** The settings that together make the problem (the checker points at the one written last;
   *  `prev.KEY` is the previous stage's setting). */
  fields: string[];
  message: string;
  expected?: string;
  hint?: string;
}

/** Whether a shift can run with this attention: shifts move whole windows between frames, so
 *  each window must lie in one frame. */
export function shiftSupported(attention: AttentionKind, shift: Shift | null): boolean {
  return shift === null || attention === 'window2d';
}

/** The channels stage s receives: embed.dim, then what the previous stage (and its merge) gives. */
export function stageInputDim(model: Pick<ModelConfig, 'embed' | 'stages'>, s: number): number {
  if (s === 0) return model.embed.dim;
  const prev = model.stages[s - 1]!;
  return prev.merge === 'patch_merging' ? model.stages[s]!.dim : prev.dim;
}

/**
 * Everything about a model that no input size changes and that lowering or a backend would
 * otherwise find out late. `pstc check` reports these (with spans); lowering refuses a
 * hand-written ModelConfig that has any.
 */
export function configProblems(model: Pick<ModelConfig, 'embed' | 'stages'>): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  model.stages.forEach((stage, s) => {
    const n = stage.number;
    const received = stageInputDim(model, s);
    if (received !== stage.dim) {
      out.push({
        code: 'PST303',
        stage: s,
        fields: ['dim', 'prev.merge'],
        message: `stage ${n} has dim ${stage.dim} but receives ${received} channels`,
        expected: `dim = ${received}`,
        hint: s === 0 ? 'stage 1 takes embed.dim channels' : "without patch merging, a stage keeps the previous stage's dim",
      });
    }
    if (stage.heads < 1 || stage.dim % stage.heads !== 0) {
      out.push({ code: 'PST250', stage: s, fields: ['heads', 'dim'], message: `${stage.heads} heads do not divide dim ${stage.dim} of stage ${n}` });
    } else if (headDim(stage) > MAX_HEAD_DIM) {
      out.push({
        code: 'PST309',
        stage: s,
        fields: ['heads', 'dim'],
        message: `stage ${n} has heads of ${headDim(stage)} channels (dim ${stage.dim} / ${stage.heads} heads); attention supports at most ${MAX_HEAD_DIM}`,
        expected: `heads ≥ ${Math.ceil(stage.dim / MAX_HEAD_DIM)}`,
        hint: 'use more heads',
      });
    }
    const shifted = stage.blocks.find((b) => !shiftSupported(stage.attention, b.shift));
    if (shifted) {
      out.push({
        code: 'PST304',
        stage: s,
        fields: ['attention', 'shifts'],
        message: `stage ${n}: temporal patch and channel shifts need window2d attention (one frame per window), but block ${shifted.index} has \`${shifted.shift!.name}\` with window3d`,
        hint: 'use attention = window2d, or shifts = none for a Video Swin stage',
      });
    }
    const hidden = mlpHidden(stage);
    if (!(hidden >= 1 && hidden <= MAX_WIDTH)) {
      out.push({
        code: 'PST308',
        stage: s,
        fields: ['mlp_ratio'],
        message: `with mlp_ratio ${stage.mlpRatio}, the MLP of stage ${n} would have floor(${stage.dim} × ${stage.mlpRatio}) = ${hidden} hidden channels`,
        expected: `an mlp_ratio with 1 ≤ floor(${stage.dim} × mlp_ratio) ≤ ${MAX_WIDTH}`,
        hint: 'Swin and PST use mlp_ratio = 4',
      });
    }
  });
  return out;
}
