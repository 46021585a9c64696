// `pstc run MODEL.pst --weights CKPT --input clip.npy --out out.npy`: one forward pass on the
// WebGPU device, or in ONNX Runtime (--backend; without it src/cli/backend.ts chooses). The
// input's N, T and H = W come from the .npy file; the output is the logits (N×classes) or, with
// --features, the backbone output (N×C×D×H×W), written atomically.
// `--input video.mp4` or `--input FRAME_DIR/`: the test pipeline of `pstc eval` (sampling, resize,
// centre or three crops, normalisation; --pipeline changes its options) makes the clips × crops
// views, one forward runs them all, and the top-5 classes of the view-averaged softmax are printed
// (names from --classes); --out is optional then. `--precision f16` stores weights and
// activations as half floats on the device (backends/webgpu/precision.ts); the output stays float32.
import { readFileSync, statSync } from 'node:fs';
import { readRegularFile } from '../../lang/read-file.js';
import type { Command } from 'commander';
import { DiagnosticError } from '../../lang/diagnostics.js';
import { dataInputOf, dataSpecOfSection, openSingleInput, parsePipelineOptions, pipelineOptions, type ClipSample, type VideoSpecOptions } from '../../data/index.js';
import { addSoftmax } from '../../train/evaluate.js';
import { compileModel, type ModelInput } from '../../../backends/webgpu/runtime.js';
import { checkInputVolume } from '../../ir/input-limits.js';
import type { ModelConfig } from '../../lang/model.js';
import { clipShape } from '../../lang/facts.js';
import { FormatError, initWeights, loadCheckpoint, makeRandom, nonFiniteReport, readNpyFile, writeFileAtomic, writeNpy, type WeightMap } from '../../weights/index.js';
import { UsageError } from '../errors.js';
import { randomClip } from '../clips.js';
import { withDevice } from '../device.js';
import { nonNegativeInt, withModelArgument, withPrecisionOption } from '../options.js';
import type { Precision } from '../../../backends/webgpu/precision.js';
import { loadCommandModel } from '../model.js';
import type { CommandRegistrar } from '../registrar.js';
import { checkOutputPath } from '../output-path.js';
import { readInputFile } from '../input-file.js';
import { checkBackendPrecision, chooseBackend, exportProvenance, ONNX_THREADS, withBackendOption, type Backend } from '../backend.js';

interface RunOptions {
  model?: string;
  weights?: string;
  randomWeights?: number;
  input?: string;
  randomInput?: number;
  out?: string;
  features?: boolean;
  pipeline?: string;
  classes?: string;
  precision: Precision;
  /** Not given: chooseBackend picks (ONNX Runtime where the only adapter is a software one). */
  backend?: Backend;
}

/** A folder, or a file not named .npy, is a video or frame folder for the test pipeline; a
 *  device or FIFO stays with the .npy reader, which refuses it as not a regular file. */
export function isVideoInput(path: string): boolean {
  try {
    const s = statSync(path);
    if (s.isDirectory()) return true;
    if (!s.isFile()) return false;
  } catch {
    // missing: by its name (a missing video is PST616, a missing .npy the reader's message)
  }
  return !path.toLowerCase().endsWith('.npy');
}

/** The views of a video or frame folder as the model's input: clips × crops clips, in order. */
export async function readVideoClips(path: string, model: ModelConfig, pipeline = ''): Promise<{ clip: Float32Array; input: ModelInput; views: number; describe: string }> {
  const data = dataInputOf(model);
  const kind = isFolder(path) ? 'rawframes' : 'videos';
  let spec;
  try {
    spec = parsePipelineOptions(kind, pipeline);
  } catch (e) {
    if (e instanceof DiagnosticError) throw new DiagnosticError(e.diagnostics.map((d) => ({ ...d, flag: '--pipeline' })));
    throw e;
  }
  // The model's data section sets the test pipeline (its sampling, crops, normalisation); --pipeline
  // changes single options on top of it.
  const section = model.data ? dataSpecOfSection({ ...model.data, format: model.data.format ?? kind, train: model.data.train ?? '-' }, 'eval') : undefined;
  const fromSection: VideoSpecOptions = typeof section === 'object' ? { ...section.options } : {};
  delete fromSection.root;
  delete fromSection.val;
  const options = pipelineOptions(kind, { ...fromSection, ...spec }, data);
  const dataset = openSingleInput(path, options, data, spec.tmpl !== undefined || fromSection.tmpl !== undefined);
  const samples: ClipSample[] = [];
  for (let v = 0; v < dataset.views; v++) samples.push(await dataset.read(v));
  const length = samples[0]!.clip.length;
  const clip = new Float32Array(samples.length * length);
  samples.forEach((s, v) => clip.set(s.clip, v * length));
  const describe = `${dataset.views} view${dataset.views === 1 ? '' : 's'} (${options.clips} clip${options.clips === 1 ? '' : 's'} × ${options.crops} crop${options.crops === 1 ? '' : 's'}, ${options.sampler} sampling)`;
  return { clip, input: { batch: dataset.views, frames: data.frames, size: data.size }, views: dataset.views, describe };
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Class names, one per line (trailing blank lines ignored), as many as the head scores. */
export function readClassNames(file: string, classes: number): string[] {
  // Bounded, regular files only: /dev/zero or a FIFO named by --classes is refused, not read.
  const read = readRegularFile(file, 16 * 1024 * 1024);
  if (!('bytes' in read)) throw new UsageError(`--classes: cannot read \`${file}\`: ${'refused' in read ? read.refused : read.unreadable}`);
  const text = new TextDecoder().decode(read.bytes);
  const names = text.replace(/\s+$/, '').split(/\r?\n/).map((l) => l.trim());
  if (names.length !== classes) {
    throw new UsageError(`--classes: \`${file}\` has ${names.length} name${names.length === 1 ? '' : 's'} (one per line), but the model scores ${classes} classes; give one name per class, in class order`);
  }
  return names;
}

/** The k best classes of a score vector, best first. */
export function topClasses(scores: Float64Array, k: number): { index: number; score: number }[] {
  return Array.from(scores, (score, index) => ({ index, score }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, k);
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
    throw new UsageError('--input: missing; give a clip .npy (N×C×T×H×W), a video file or a frame folder, or --random-input SEED');
  }
  const video = opts.input !== undefined && isVideoInput(opts.input);
  if (opts.out === undefined && !(video && !opts.features)) throw new UsageError('--out: missing; where to write the output .npy');
  if (!video && opts.pipeline !== undefined) throw new UsageError('--pipeline: only with --input a video file or a frame folder');
  if (!video && opts.classes !== undefined) throw new UsageError('--classes: only with --input a video file or a frame folder (the top-5 classes are printed then)');
  if (opts.weights !== undefined && opts.randomWeights !== undefined) {
    throw new UsageError('--weights and --random-weights: give one of them, not both');
  }
  if (opts.weights === undefined && opts.randomWeights === undefined) {
    throw new UsageError('--weights: missing; give a checkpoint (.safetensors or .pth), or --random-weights SEED');
  }
}

/** One forward in ONNX Runtime (--backend onnxruntime): the model exported in memory, then run. */
export async function onnxForward(file: string, flags: { model?: string; set?: string[] }, model: ModelConfig, input: ModelInput, weights: WeightMap, clip: Float32Array) {
  // Loaded only here: ONNX Runtime's native library is not needed by any other command path.
  const { compileOnnxModel } = await import('../../../backends/onnx/session.js');
  const compiled = await compileOnnxModel(model, input, weights, exportProvenance(file, flags), { threads: ONNX_THREADS });
  try {
    const start = performance.now();
    const result = await compiled.forward(clip);
    return { result, ms: performance.now() - start, on: compiled.describe() };
  } finally {
    await compiled.release();
  }
}

export const registerRun: CommandRegistrar = (program: Command, io) => {
  withBackendOption(withPrecisionOption(withModelArgument(program.command('run'))))
    .description('run one forward pass (WebGPU, or ONNX Runtime: --backend): a clip .npy in, logits (or --features) .npy out')
    .option('--weights <file>', 'checkpoint: .safetensors or PyTorch .pth (official state-dict names load as they are)')
    .option('--random-weights <seed>', 'instead of --weights: freshly initialised weights (demos, tests)', nonNegativeInt('--random-weights'))
    .option('--input <clip>', 'float32 (or float64) .npy of shape N×C×T×H×W with H = W; or a video file or frame folder, read with the test pipeline (top-5 printed)')
    .option('--pipeline <key=value,…>', "options of the test pipeline for a video or frame folder, as in --data rawframes:/videos: (clips=, crops=1|3, sampler=, interval=, tmpl=, start=, mean=, std=); docs/data.md")
    .option('--classes <file>', 'class names, one per line in class order, for the printed top-5')
    .option('--random-input <seed>', "instead of --input: a random clip of the model's input size (uniform in [-1, 1))", nonNegativeInt('--random-input'))
    .option('--out <out.npy>', 'where to write the output (float32 .npy); optional with a video or frame folder')
    .option('--features', 'write the backbone output N×C×D×H×W instead of the logits')
    .action(async (file: string, opts: RunOptions) => {
      checkRunFlags(opts);
      if (opts.backend !== undefined) checkBackendPrecision(opts.backend, opts.precision);
      const { model, result } = loadCommandModel(file, opts);
      // Checked before the forward pass: --out must be writable and none of the inputs.
      const inputs = [...result.sources.keys(), ...[opts.weights, opts.input].filter((p) => p !== undefined)];
      if (opts.out !== undefined) checkOutputPath({ flag: '--out', path: opts.out, kind: 'file', inputs });
      if (!opts.features && !model.head) {
        throw new UsageError(`--features: ${model.name} has no classification head (head = none); pass --features for the backbone output`);
      }
      // A random clip is allocated before lowering checks the size: check it first (PST313).
      if (opts.input === undefined) checkInputVolume(model, model.input);
      const names = opts.classes !== undefined && model.head ? readClassNames(opts.classes, model.head.classes) : undefined;
      const video = opts.input !== undefined && isVideoInput(opts.input) ? await readVideoClips(opts.input, model, opts.pipeline) : undefined;
      const { clip, input } =
        video ??
        (opts.input !== undefined
          ? readClip(opts.input, model)
          : { input: { ...model.input }, clip: randomClip(clipShape(model, model.input), opts.randomInput!) });
      const weights: WeightMap =
        opts.weights !== undefined ? loadCheckpoint(opts.weights, model) : initWeights(model, opts.randomWeights!);
      const out = opts.out;

      // The forward on the chosen backend; what it returns is written and printed alike.
      const backend = await chooseBackend(opts.backend, (line) => io.err(line), opts.precision !== 'f32' ? `--precision ${opts.precision}` : undefined);
      const { result: forward, ms, on } =
        backend === 'onnxruntime'
          ? await onnxForward(file, opts, model, input, weights, clip)
          : await withDevice(async (device) => {
              const compiled = await compileModel(device, model, input, weights, { precision: opts.precision });
              try {
                const start = performance.now();
                const result = await compiled.forward(clip);
                return { result, ms: performance.now() - start, on: device.describe() };
              } finally {
                compiled.destroy();
              }
            }, opts.precision);
      const [data, shape, what] = opts.features
        ? [forward.features, forward.featuresShape, 'features']
        : [forward.logits!, forward.logitsShape!, 'logits'];
      if (out !== undefined) {
        writeFileAtomic(out, writeNpy(shape, data));
        io.err(`wrote ${out}: ${what} ${shape.join('×')} (float32); forward ${ms.toFixed(1)} ms${opts.precision === 'f16' ? ' (f16 storage)' : ''} on ${on}`);
      }
      if (video && !opts.features) {
        // The views' softmax averaged, as pstc eval scores a sample.
        const classes = model.head!.classes;
        const scores = new Float64Array(classes);
        for (let v = 0; v < video.views; v++) addSoftmax(scores, data.subarray(v * classes, (v + 1) * classes), 1 / video.views);
        const top = topClasses(scores, Math.min(5, classes));
        const label = (k: number) => names?.[k] ?? `class ${k}`;
        const width = Math.max(...top.map((t) => label(t.index).length));
        io.out(`${opts.input}: ${video.describe}, ${model.name}`);
        top.forEach((t, r) => io.out(`  ${r + 1}. ${label(t.index).padEnd(width)}  ${t.score.toFixed(4)}`));
        if (out === undefined) io.err(`forward ${ms.toFixed(1)} ms on ${on}`);
      }
    });
};
