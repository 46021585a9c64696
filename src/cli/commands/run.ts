// `pstc run MODEL.pst --weights CKPT --input clip.npy --out out.npy`: one forward pass on the
// WebGPU device. The input's N, T and H = W come from the .npy file; the output is the logits
// (N×classes) or, with --features, the backbone output (N×C×D×H×W), written atomically.
import type { Command } from 'commander';
import { compileModel, type ModelInput } from '../../../backends/webgpu/runtime.js';
import { checkInputVolume } from '../../ir/input-limits.js';
import type { ModelConfig } from '../../lang/model.js';
import { FormatError, initWeights, loadCheckpoint, makeRandom, nonFiniteReport, readNpyFile, writeFileAtomic, writeNpy, type WeightMap } from '../../weights/index.js';
import { UsageError } from '../errors.js';
import { randomClip } from '../clips.js';
import { withDevice } from '../device.js';
import { nonNegativeInt, withModelArgument } from '../options.js';
import { loadCommandModel } from '../model.js';
import type { CommandRegistrar } from '../registrar.js';
import { checkOutputPath } from '../output-path.js';
import { readInputFile } from '../input-file.js';

interface RunOptions {
  model?: string;
  weights?: string;
  randomWeights?: number;
  input?: string;
  randomInput?: number;
  out?: string;
  features?: boolean;
}

/** The clip of --input: rank 5, the model's channels, square frames. */
export function readClip(path: string, model: ModelConfig): { clip: Float32Array; input: ModelInput } {
  let npy: { shape: number[]; data: Float32Array };
  try {
    npy = readNpyFile(path);
  } catch (e) {
    if (e instanceof FormatError) throw new UsageError(`--input: \`${path}\`: ${e.message}`);
    throw e;
  }
  const { shape, data } = npy;
  const shapeText = shape.length ? shape.join('×') : '() (a scalar)';
  if (shape.length !== 5) {
    throw new UsageError(`--input: \`${path}\` has shape ${shapeText}; expected a clip N×C×T×H×W (5 dimensions)`);
  }
  const [n, c, t, h, w] = shape as [number, number, number, number, number];
  const channels = model.embed.inChannels;
  if (c !== channels) {
    throw new UsageError(`--input: \`${path}\` has ${c} channel(s) (shape ${shapeText}); ${model.name} takes ${channels}`);
  }
  if (h !== w) {
    throw new UsageError(`--input: \`${path}\` has ${h}×${w} frames (shape ${shapeText}); pstc needs square frames, H = W`);
  }
  if (n < 1 || t < 1 || h < 1) throw new UsageError(`--input: \`${path}\` is empty (shape ${shapeText})`);
  const nonFinite = nonFiniteReport(data);
  if (nonFinite) throw new UsageError(`--input: \`${path}\` ${nonFinite}`);
  return { clip: data, input: { batch: n, frames: t, size: h } };
}


/** Flag mistakes, found before the model is even read: exactly one source each of weights and clip. */
function checkRunFlags(opts: RunOptions): void {
  if (opts.input !== undefined && opts.randomInput !== undefined) {
    throw new UsageError('--input and --random-input: give one of them, not both');
  }
  if (opts.input === undefined && opts.randomInput === undefined) {
    throw new UsageError('--input: missing; give a clip .npy (N×C×T×H×W), or --random-input SEED');
  }
  if (opts.out === undefined) throw new UsageError('--out: missing; where to write the output .npy');
  if (opts.weights !== undefined && opts.randomWeights !== undefined) {
    throw new UsageError('--weights and --random-weights: give one of them, not both');
  }
  if (opts.weights === undefined && opts.randomWeights === undefined) {
    throw new UsageError('--weights: missing; give a checkpoint (.safetensors or .pth), or --random-weights SEED');
  }
}

export const registerRun: CommandRegistrar = (program: Command, io) => {
  withModelArgument(program.command('run'))
    .description('run one forward pass on the WebGPU device: a clip .npy in, logits (or --features) .npy out')
    .option('--weights <file>', 'checkpoint: .safetensors or PyTorch .pth (official state-dict names load as they are)')
    .option('--random-weights <seed>', 'instead of --weights: freshly initialised weights (demos, tests)', nonNegativeInt('--random-weights'))
    .option('--input <clip.npy>', 'float32 (or float64) .npy of shape N×C×T×H×W with H = W')
    .option('--random-input <seed>', "instead of --input: a random clip of the model's input size (uniform in [-1, 1))", nonNegativeInt('--random-input'))
    .option('--out <out.npy>', 'where to write the output (float32 .npy)')
    .option('--features', 'write the backbone output N×C×D×H×W instead of the logits')
    .action(async (file: string, opts: RunOptions) => {
      checkRunFlags(opts);
      const { model, result } = loadCommandModel(file, opts);
      // Checked before the forward pass: --out must be writable and none of the inputs.
      const inputs = [...result.sources.keys(), ...[opts.weights, opts.input].filter((p) => p !== undefined)];
      checkOutputPath({ flag: '--out', path: opts.out!, kind: 'file', inputs });
      if (!opts.features && !model.head) {
        throw new UsageError(`--features: ${model.name} has no classification head (head = none); pass --features for the backbone output`);
      }
      // A random clip is allocated before lowering checks the size: check it first (PST313).
      if (opts.input === undefined) checkInputVolume(model, model.input);
      const { clip, input } =
        opts.input !== undefined
          ? readClip(opts.input, model)
          : { input: { ...model.input }, clip: randomClip([model.input.batch, model.embed.inChannels, model.input.frames, model.input.size, model.input.size], opts.randomInput!) };
      const weights: WeightMap =
        opts.weights !== undefined ? loadCheckpoint(opts.weights, model) : initWeights(model, opts.randomWeights!);
      const out = opts.out!;

      await withDevice(async (device) => {
        const compiled = await compileModel(device, model, input, weights);
        try {
          const start = performance.now();
          const result = await compiled.forward(clip);
          const ms = performance.now() - start;
          const [data, shape, what] = opts.features
            ? [result.features, result.featuresShape, 'features']
            : [result.logits!, result.logitsShape!, 'logits'];
          writeFileAtomic(out, writeNpy(shape, data));
          io.err(`wrote ${out}: ${what} ${shape.join('×')} (float32); forward ${ms.toFixed(1)} ms on ${device.describe()}`);
        } finally {
          compiled.destroy();
        }
      });
    });
};
