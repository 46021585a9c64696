// Fresh weights for training from scratch, initialised as the reference implementation does
// (see names.ts for which parameter gets which rule):
// - Linear weights and bias tables: timm's trunc_normal_(std=0.02) (a train section may choose
//   other stds: InitChoices). timm's bounds a=-2, b=2 are
//   absolute values, not multiples of std, so at std 0.02 they sit 100 standard deviations out and
//   never bite: in effect N(0, 0.02²). We still reject samples outside [-2, 2], as timm would.
// - Linear biases 0; LayerNorm weight 1, bias 0.
// - The patch-embedding Conv3d: the reference's _init_weights touches only Linear and LayerNorm,
//   so the conv keeps PyTorch's default kaiming_uniform(a=√5), i.e. U(±1/√fan_in), bias likewise.
// - The head (mmaction's I3DHead.init_weights): weight N(0, 0.01²), bias 0.
// Deterministic: each tensor draws from its own stream, seeded by (seed, name), so a tensor's
// values do not depend on which other tensors the model has (with or without a head, say).
import type { ModelConfig } from '../lang/model.js';
import { HEAD_INIT_STD, LINEAR_INIT_STD, weightSpecs, type InitChoices, type WeightSpec } from './names.js';
import { numel, type WeightMap } from './tensor.js';

const TRUNC_LOW = -2;
const TRUNC_HIGH = 2;

/** splitmix32: scrambles a 32-bit state; used to seed xoshiro from (seed, name). */
function splitmix32(state: number): () => number {
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** xoshiro128**: a small, fast generator with a 128-bit state; returns uniform values in [0, 1). */
export function makeRandom(seed: number, stream = ''): () => number {
  const mix = splitmix32((Math.imul(seed | 0, 0x27d4eb2d) ^ fnv1a(stream)) | 0);
  let a = mix(), b = mix(), c = mix(), d = mix();
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result / 4294967296;
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Fills `data` with N(0, std²) samples by Box–Muller (both values of each pair used), redrawing any
 * outside [low, high]. Written as one loop, not a sampler closure: PST-B has 88 M values to fill.
 */
function fillNormal(data: Float32Array, random: () => number, std: number, low = -Infinity, high = Infinity): void {
  let i = 0;
  while (i < data.length) {
    const r = Math.sqrt(-2 * Math.log(1 - random())) * std; // 1 - u lies in (0, 1]: log(0) never happens
    const angle = 2 * Math.PI * random();
    const a = r * Math.cos(angle);
    const b = r * Math.sin(angle);
    if (a >= low && a <= high) data[i++] = a;
    if (i < data.length && b >= low && b <= high) data[i++] = b;
  }
}

export function initTensor(spec: WeightSpec, seed: number): Float32Array {
  const data = new Float32Array(numel(spec.shape));
  const random = makeRandom(seed, spec.name);
  switch (spec.init) {
    case 'zeros':
      break;
    case 'ones':
      data.fill(1);
      break;
    case 'uniform':
      for (let i = 0; i < data.length; i++) data[i] = (2 * random() - 1) * spec.scale;
      break;
    case 'normal':
      fillNormal(data, random, spec.scale);
      break;
    case 'trunc_normal':
      fillNormal(data, random, spec.scale, TRUNC_LOW, TRUNC_HIGH);
      break;
  }
  return data;
}

export function initWeights(model: ModelConfig, seed: number, choices: InitChoices = {}): WeightMap {
  const out: WeightMap = new Map();
  for (const spec of weightSpecs(model, choices)) out.set(spec.name, { shape: [...spec.shape], data: initTensor(spec, seed) });
  return out;
}

/** What a run records as the origin of fresh weights: the seed, and each init choice that is not
 *  the reference's draw. */
export function freshWeightsFrom(seed: number, choices: InitChoices = {}): string {
  const chosen = [
    choices.linearStd !== undefined && choices.linearStd !== LINEAR_INIT_STD ? `init_std ${choices.linearStd}` : '',
    choices.biasTableStd !== undefined ? `bias_init_std ${choices.biasTableStd}` : '',
    choices.headStd !== undefined && choices.headStd !== HEAD_INIT_STD ? `head_init_std ${choices.headStd}` : '',
  ].filter(Boolean);
  return [`random seed ${seed}`, ...chosen].join(', ');
}
