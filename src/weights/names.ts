// Every parameter of a model, with the name, shape and initialisation the reference implementation
// gives it (pst-reference.md, "Weights and their names"). The order is the order of the reference
// state dict: PyTorch lists a module's own parameters, then its children in registration order —
// which is why `downsample.reduction` comes before `downsample.norm` (PatchMerging registers the
// Linear first) although the spec lists the norm first.
import { biasTableRows, mlpHidden, weightNames } from '../lang/facts.js';
import type { ModelConfig } from '../lang/model.js';
import type { TrainValues } from '../lang/train-config.js';
import { numel } from './tensor.js';

/**
 * How a parameter starts out (see init.ts):
 * - trunc_normal: timm's trunc_normal_(std = scale), bounds ±2 absolute (Linear weights, bias tables);
 * - normal: N(0, scale²) (the classification head: mmaction's normal_init(std=0.01));
 * - uniform: U(−scale, scale) (the patch-embedding Conv3d, which the reference leaves at PyTorch's
 *   default, kaiming_uniform(a=√5): bound 1/√fan_in for weight and bias alike);
 * - zeros / ones: Linear biases, LayerNorm bias / weight.
 */
export type InitKind = 'trunc_normal' | 'normal' | 'uniform' | 'zeros' | 'ones';

export interface WeightSpec {
  name: string;
  shape: number[];
  init: InitKind;
  /** std for the normals, half-width for uniform; 0 for zeros and ones. */
  scale: number;
}

/** Names of the classification head's tensors start with this. */
export const HEAD_PREFIX = `${weightNames.head}.`;

/** timm's std for Linear weights and bias tables (the reference implementation's _init_weights). */
export const LINEAR_INIT_STD = 0.02;

/** mmaction's I3DHead.init_weights: the head's weight from N(0, 0.01²). */
export const HEAD_INIT_STD = 0.01;

/** How fresh weights are drawn where a model may choose (its train section's `init_std`,
 *  `bias_init_std`, `head_init_std`); each left out keeps the reference's draw. The patch
 *  embedding always keeps PyTorch's default. */
export interface InitChoices {
  /** std of the blocks' and patch mergings' Linear weights (qkv, proj, fc1, fc2, reduction);
   *  default LINEAR_INIT_STD. */
  linearStd?: number;
  /** std of the relative-position bias tables, drawn from N(0, std²) without timm's ±2 bounds
   *  (which would clip a draw of std ≥ 1); default timm's trunc_normal at LINEAR_INIT_STD. */
  biasTableStd?: number;
  /** std of the classification head's weight; default HEAD_INIT_STD. */
  headStd?: number;
}

/** The init choices a model's train settings make (the fields of TrainValues that name them). */
export function initChoicesOf(t: Pick<TrainValues, 'initStd' | 'biasInitStd' | 'headInitStd'> | undefined): InitChoices {
  return {
    ...(t?.initStd !== undefined ? { linearStd: t.initStd } : {}),
    ...(t?.biasInitStd !== undefined ? { biasTableStd: t.biasInitStd } : {}),
    ...(t?.headInitStd !== undefined ? { headStd: t.headInitStd } : {}),
  };
}

function linear(out: WeightSpec[], name: string, outDim: number, inDim: number, bias: boolean, std = LINEAR_INIT_STD): void {
  out.push({ name: `${name}.weight`, shape: [outDim, inDim], init: 'trunc_normal', scale: std });
  if (bias) out.push({ name: `${name}.bias`, shape: [outDim], init: 'zeros', scale: 0 });
}

function layerNorm(out: WeightSpec[], name: string, dim: number): void {
  out.push({ name: `${name}.weight`, shape: [dim], init: 'ones', scale: 0 });
  out.push({ name: `${name}.bias`, shape: [dim], init: 'zeros', scale: 0 });
}

export function weightSpecs(model: ModelConfig, choices: InitChoices = {}): WeightSpec[] {
  const out: WeightSpec[] = [];
  const std = choices.linearStd ?? LINEAR_INIT_STD;
  const { embed } = model;
  const [kt, kh, kw] = embed.patch;
  const bound = 1 / Math.sqrt(embed.inChannels * kt * kh * kw);
  out.push({ name: `${weightNames.patchEmbed}.weight`, shape: [embed.dim, embed.inChannels, kt, kh, kw], init: 'uniform', scale: bound });
  out.push({ name: `${weightNames.patchEmbed}.bias`, shape: [embed.dim], init: 'uniform', scale: bound });
  if (embed.norm) layerNorm(out, weightNames.patchEmbedNorm, embed.dim);

  model.stages.forEach((stage, s) => {
    const C = stage.dim;
    for (let j = 0; j < stage.depth; j++) {
      const names = weightNames.block(s, j);
      layerNorm(out, names.norm1, C);
      out.push({
        name: names.biasTable,
        shape: [biasTableRows(stage), stage.heads],
        ...(choices.biasTableStd === undefined ? { init: 'trunc_normal' as const, scale: LINEAR_INIT_STD } : { init: 'normal' as const, scale: choices.biasTableStd }),
      });
      linear(out, names.qkv, 3 * C, C, stage.qkvBias, std);
      linear(out, names.proj, C, C, true, std);
      layerNorm(out, names.norm2, C);
      const hidden = mlpHidden(stage);
      linear(out, names.fc1, hidden, C, true, std);
      linear(out, names.fc2, C, hidden, true, std);
    }
    const next = model.stages[s + 1];
    if (stage.merge === 'patch_merging' && next) {
      const names = weightNames.downsample(s);
      linear(out, names.reduction, next.dim, 4 * C, false, std);
      layerNorm(out, names.norm, 4 * C);
    }
  });

  const last = model.stages[model.stages.length - 1];
  const features = last ? last.dim : embed.dim;
  if (model.finalNorm) layerNorm(out, weightNames.finalNorm, features);
  if (model.head) {
    out.push({ name: `${HEAD_PREFIX}weight`, shape: [model.head.classes, features], init: 'normal', scale: choices.headStd ?? HEAD_INIT_STD });
    out.push({ name: `${HEAD_PREFIX}bias`, shape: [model.head.classes], init: 'zeros', scale: 0 });
  }
  return out;
}

export function parameterCount(model: ModelConfig, { head = true }: { head?: boolean } = {}): number {
  return weightSpecs(model)
    .filter((w) => head || !w.name.startsWith(HEAD_PREFIX))
    .reduce((total, w) => total + numel(w.shape), 0);
}
