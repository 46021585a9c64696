// Lowering: an elaborated model and an input size → the graph IR, following pst-reference.md's
// pseudo-code op by op. Activations are channels-last [B, D, H, W, C]. Every data movement is its
// own view node (a later pass folds chains of them); nothing here is fused or optimised.
import { checkInputVolume } from '../ir/input-limits.js';
import { DiagnosticError, type Diagnostic } from '../lang/diagnostics.js';
import {
  biasTableRows,
  clipShape,
  configProblems,
  foldChannels,
  headDim,
  LAYERNORM_EPS,
  mlpHidden,
  shiftedHeads,
  weightNames,
} from '../lang/facts.js';
import type { InputConfig, ModelConfig, StageConfig } from '../lang/model.js';
import { biasIndex, windowMask } from '../ir/attention.js';
import { GraphBuilder, type Graph, type NodeId } from '../ir/graph.js';
import { TrainLowering, type TrainOptions } from './lower-train.js';
import * as maps from '../ir/maps.js';
import { effectiveWindow } from '../ir/window.js';

/** The input a model is lowered for: batch, frames, size (H = W = size). */
export type InputSize = InputConfig;

export interface LowerOptions extends TrainOptions {
  /** 'train' adds drop_path, the head's dropout, a 'labels' input and the 'loss' output. */
  mode?: 'infer' | 'train';
}

export function lowerModel(model: ModelConfig, input: InputSize, options: LowerOptions = {}): Graph {
  checkInput(input);
  checkModel(model);
  checkInputVolume(model, input);
  const { embed } = model;
  const [kt, kh, kw] = embed.patch;
  const inputShape = clipShape(model, input);
  const g = new GraphBuilder(model, inputShape);
  const train = options.mode === 'train' ? new TrainLowering(g, model, options) : null;

  // Patch embedding: Conv3d with kernel = stride is a gather of patches (zero-padded at the end
  // of each axis) followed by a linear layer with the kernel flattened to [Cout, Cin·kt·kh·kw].
  const clip = g.input('clip', inputShape, 'input');
  const pe = weightNames.patchEmbed;
  const patches = g.view(clip, maps.patchEmbedGather(inputShape, [kt, kh, kw]), 'patch_embed', pe);
  const kernelShape = [embed.dim, embed.inChannels, kt, kh, kw];
  const kernel = g.param(`${pe}.weight`, kernelShape);
  const flatKernel = g.view(kernel, maps.reshape(kernelShape, [embed.dim, embed.inChannels * kt * kh * kw]), 'reshape', pe);
  let x = g.op({ kind: 'linear', bias: true }, [patches, flatKernel, g.param(`${pe}.bias`, [embed.dim])], pe);
  if (embed.norm) x = layerNorm(g, x, weightNames.patchEmbedNorm, embed.dim);

  model.stages.forEach((stage, s) => {
    checkFrames(model, stage, g.shape(x));
    for (const block of stage.blocks) x = lowerBlock(g, x, stage, s, block.index, train);
    const next = model.stages[s + 1];
    if (next && stage.merge === 'patch_merging') x = patchMerging(g, x, s, stage.dim, next.dim);
  });

  const channels = g.shape(x).at(-1)!;
  if (model.finalNorm) x = layerNorm(g, x, weightNames.finalNorm, channels);
  // features: N×C×D×H×W, as the backbone of the reference returns them.
  const features = g.view(x, maps.permute(g.shape(x), [0, 4, 1, 2, 3]), 'permute', weightNames.finalNorm);
  g.op({ kind: 'output', name: 'features' }, [features], 'features');
  if (model.head) {
    // Mean over D, H, W; dropout is the identity at inference.
    let pooled = g.op({ kind: 'mean', axes: [1, 2, 3] }, [x], 'cls_head.avg_pool');
    if (train) pooled = train.dropout(pooled, model.head.dropout, false, 'cls_head.dropout');
    const logits = linear(g, pooled, weightNames.head, model.head.classes, channels, true);
    g.op({ kind: 'output', name: 'logits' }, [logits], 'logits');
    train?.loss(logits);
  }
  return g.build();
}

function lowerBlock(g: GraphBuilder, x: NodeId, stage: StageConfig, s: number, j: number, train: TrainLowering | null): NodeId {
  const block = stage.blocks[j]!;
  const names = weightNames.block(s, j);
  const p = names.prefix;
  const C = stage.dim;
  const heads = stage.heads;
  const shape = g.shape(x);
  const [B, D, H, W] = shape as [number, number, number, number];
  const eff = effectiveWindow(stage, block, [D, H, W]);
  const [, eh, ew] = eff.window;
  const [Dp, Hp, Wp] = eff.padded;
  const windowsPerFrame = eff.count[1] * eff.count[2];
  const paddedShape = [B, Dp, Hp, Wp, C];

  // y = LN1(x); pad; roll by −shift; partition into windows.
  let y = layerNorm(g, x, names.norm1, C);
  const padded = Dp !== D || Hp !== H || Wp !== W;
  if (padded) y = g.view(y, maps.pad(shape, [0, Dp - D, Hp - H, Wp - W, 0]), 'pad', p);
  const rolled = eff.shift.some((v) => v !== 0);
  if (rolled) y = g.view(y, maps.roll(paddedShape, [0, -eff.shift[0], -eff.shift[1], -eff.shift[2], 0]), 'roll', p);
  y = g.view(y, maps.windowPartition(paddedShape, eff.window), 'window_partition', p);
  const tokens = g.shape(y);

  // The temporal shift on the attention input: windows of one frame are consecutive, so moving
  // data between frames is moving it between windows `windowsPerFrame` apart.
  const shift = block.shift;
  const tps =
    shift?.kind === 'patch'
      ? {
          heads,
          shiftedHeads: shiftedHeads(shift, heads),
          grid: shift.grid,
          windowH: eh,
          windowW: ew,
          frames: Dp,
          windowsPerFrame,
          boundary: shift.boundary,
        }
      : null;
  if (shift?.kind === 'channel') {
    const map = maps.channelShift(tokens, {
      heads,
      foldChannels: foldChannels(shift, headDim(stage)),
      frames: Dp,
      windowsPerFrame,
      boundary: shift.boundary,
    });
    y = g.view(y, map, 'tcs', names.attn);
  } else if (tps) {
    y = g.view(y, maps.patchShift(tokens, tps), 'tps', names.attn);
  }

  const qkv = linear(g, y, names.qkv, 3 * C, C, stage.qkvBias);
  const table = g.param(names.biasTable, [biasTableRows(stage), heads]);
  const index = biasIndex({
    attention: stage.attention,
    configured: stage.window,
    window: eff.window,
    biasFrames: stage.biasFrames,
    frames: Dp,
    windowsPerFrame,
    shift,
  });
  const mask = windowMask(stage.attention, eff.padded, eff.window, eff.shift);
  let attn = g.op(
    {
      kind: 'window_attention',
      heads,
      scale: headDim(stage) ** -0.5,
      biasIndex: index.index,
      biasGroups: index.groups,
      windowsPerGroup: index.windowsPerGroup,
      mask: mask?.mask ?? null,
      maskWindows: mask?.windows ?? 1,
    },
    [qkv, table],
    names.attn,
  );
  if (tps && shift?.kind === 'patch' && shift.shiftBack) {
    attn = g.view(attn, maps.patchShift(tokens, { ...tps, inverse: true }), 'tps_back', names.attn);
  }
  y = linear(g, attn, names.proj, C, C, true);

  // Reverse partition; roll back; crop the padding; residual.
  y = g.view(y, maps.windowReverse(paddedShape, eff.window), 'window_reverse', p);
  if (rolled) y = g.view(y, maps.roll(paddedShape, [0, eff.shift[0], eff.shift[1], eff.shift[2], 0]), 'roll_back', p);
  if (padded) y = g.view(y, maps.crop(paddedShape, shape), 'crop', p);
  if (train) y = train.dropPath(y, block.dropPath, `${p}.drop_path`);
  x = g.op({ kind: 'add' }, [x, y], p);

  // x = x + fc2(GELU(fc1(LN2(x)))).
  const hidden = mlpHidden(stage);
  let m = layerNorm(g, x, names.norm2, C);
  m = linear(g, m, names.fc1, hidden, C, true);
  m = g.op({ kind: 'gelu' }, [m], names.act);
  m = linear(g, m, names.fc2, C, hidden, true);
  if (train) m = train.dropPath(m, block.dropPath, `${p}.drop_path`);
  return g.op({ kind: 'add' }, [x, m], p);
}

/** Pad H, W to even; concatenate x0..x3 on channels; LayerNorm(4C); Linear(4C → 2C, no bias). */
function patchMerging(g: GraphBuilder, x: NodeId, s: number, C: number, outDim: number): NodeId {
  const names = weightNames.downsample(s);
  const gathered = g.view(x, maps.patchMergeGather(g.shape(x)), 'patch_merge', names.prefix);
  const normed = layerNorm(g, gathered, names.norm, 4 * C);
  return linear(g, normed, names.reduction, outDim, 4 * C, false);
}

function layerNorm(g: GraphBuilder, x: NodeId, name: string, dim: number): NodeId {
  const gamma = g.param(`${name}.weight`, [dim]);
  const beta = g.param(`${name}.bias`, [dim]);
  return g.op({ kind: 'layernorm', eps: LAYERNORM_EPS }, [x, gamma, beta], name);
}

function linear(g: GraphBuilder, x: NodeId, name: string, outDim: number, inDim: number, bias: boolean): NodeId {
  const w = g.param(`${name}.weight`, [outDim, inDim]);
  const inputs = bias ? [x, w, g.param(`${name}.bias`, [outDim])] : [x, w];
  return g.op({ kind: 'linear', bias }, inputs, name);
}

// ---------------------------------------------------------------- the user's mistakes

function checkInput(input: InputSize): void {
  const bad: Diagnostic[] = [];
  for (const [key, flag] of [
    ['batch', '--batch'],
    ['frames', '--frames'],
    ['size', '--size'],
  ] as const) {
    const v = input[key];
    if (!Number.isInteger(v) || v < 1) {
      bad.push({ code: 'PST302', severity: 'error', message: `${key} must be a positive integer, got ${v}`, flag, expected: 'an integer ≥ 1' });
    }
  }
  if (bad.length) throw new DiagnosticError(bad);
}

/** A hand-written ModelConfig (the library API) gets the checks `pstc check` makes (facts.ts). */
function checkModel(model: ModelConfig): void {
  const problems = configProblems(model);
  if (problems.length === 0) return;
  throw new DiagnosticError(
    problems.map((p) => {
      const span = model.stages[p.stage]?.span ?? model.span;
      const d: Diagnostic = { code: p.code, severity: 'error', message: p.message };
      if (span) d.span = span;
      if (p.expected !== undefined) d.expected = p.expected;
      if (p.hint !== undefined) d.hint = p.hint;
      return d;
    }),
  );
}

/** The one check that depends on the input: frames against a frame-indexed bias table. */
function checkFrames(model: ModelConfig, stage: StageConfig, shape: number[]): void {
  const span = stage.span ?? model.span;
  const where = span ? { span } : {};
  const D = shape[1]!;
  if (stage.attention === 'window2d' && stage.biasFrames > 1 && D > stage.biasFrames) {
    throw new DiagnosticError([
      {
        code: 'PST301',
        severity: 'error',
        message: `the bias table of stage ${stage.number} covers ${stage.biasFrames} frames but the input has ${D} temporal tokens`,
        flag: '--frames',
        ...where,
        expected: `at most ${stage.biasFrames * model.embed.patch[0]} input frames`,
        hint: `use fewer frames (--frames ≤ ${stage.biasFrames * model.embed.patch[0]}), or set bias_frames ≥ ${D} in the model`,
      },
    ]);
  }
}
