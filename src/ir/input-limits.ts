// How large an input a model may be compiled for, checked before anything is allocated. Lowering
// multiplies the input size out into tensors, index maps, masks and WGSL constants; an input such
// as `--size 100000` or `--batch 1000000000` must be refused here, as a diagnostic naming the
// flags, rather than reach a typed array (RangeError), an i32 constant in WGSL, or 17 GB of masks.
import { DiagnosticError } from '../lang/diagnostics.js';
import { clipShape } from '../lang/facts.js';
import type { InputConfig as InputSize, ModelConfig } from '../lang/model.js';

/** The most elements any one tensor may have: WGSL indexes with 32-bit integers, and a float32
 *  tensor this large is already 8 GiB. */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/**
 * An upper bound on the elements of the largest tensor lowering makes for this input: the clip,
 * and per stage the padded tokens times the widest per-token tensor (qkv, MLP hidden, attention
 * scores of a window, the 4C gather of patch merging). It over-estimates (windows are not
 * clamped to the feature map here), which only matters within a small factor of the limit.
 */
export function largestTensorBound(model: ModelConfig, input: InputSize): { elements: number; what: string } {
  const { batch: B, frames: T, size: S } = input;
  const [pt, ph, pw] = model.embed.patch;
  let best = { elements: clipShape(model, input).reduce((a, b) => a * b, 1), what: 'the input clip' };
  const consider = (elements: number, what: string) => {
    if (elements > best.elements) best = { elements, what };
  };
  let d = Math.ceil(T / pt);
  let h = Math.ceil(S / ph);
  let w = Math.ceil(S / pw);
  // The patch-embedding gather: every token holds a whole patch of the clip.
  consider(B * d * h * w * model.embed.inChannels * pt * ph * pw, 'the patch-embedding gather');
  for (const stage of model.stages) {
    const [wd, wh, ww] = stage.window;
    const windowTokens = wd * wh * ww;
    const tokens = B * Math.ceil(d / wd) * wd * Math.ceil(h / wh) * wh * Math.ceil(w / ww) * ww;
    const width = Math.max(3 * stage.dim, Math.floor(stage.dim * stage.mlpRatio), stage.heads * windowTokens);
    consider(tokens * width, `stage ${stage.number}'s activations`);
    if (stage.merge === 'patch_merging') {
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
      consider(B * d * h * w * 4 * stage.dim, `stage ${stage.number}'s patch merging`);
    }
  }
  return best;
}

/** Throws PST313 (naming the input flags) when the input makes a tensor over MAX_TENSOR_ELEMENTS. */
export function checkInputVolume(model: ModelConfig, input: InputSize): void {
  const { elements, what } = largestTensorBound(model, input);
  if (elements <= MAX_TENSOR_ELEMENTS) return;
  throw new DiagnosticError([
    {
      code: 'PST313',
      severity: 'error',
      message:
        `input ${clipShape(model, input).join('×')} is too large for ${model.name}: ` +
        `${what} would have about ${elements.toExponential(2)} elements; at most ${MAX_TENSOR_ELEMENTS} (2^31 − 1) fit one tensor`,
      flag: '--batch/--frames/--size',
      hint: 'a smaller --batch, --frames or --size (run and bench micro-batch a large batch on their own)',
    },
  ]);
}
