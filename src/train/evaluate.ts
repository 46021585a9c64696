// Evaluation: the inference runtime (the same kernels `pstc run` uses) over a dataset in batches,
// top-1 and top-5 accuracy, the mean cross-entropy, and — for order-paired classes — the order-pair
// accuracy. A dataset with several views per sample (clips × crops at test time: `views`
// consecutive indices) is scored by the mean of its views' softmax scores, as mmaction's test.
// evaluateWith takes any forward (`pstc eval --backend onnxruntime` passes ONNX Runtime's).
import { compileModel } from '../../backends/webgpu/runtime.js';
import type { PstcDevice } from '../../backends/webgpu/gpu-device.js';
import { metricsOf } from '../../backends/webgpu/kernels/metrics.js';
import { clipLength, Loader, type Dataset, type SkippedSample } from '../data/index.js';
import type { ModelConfig } from '../lang/model.js';
import type { WeightMap } from '../weights/tensor.js';

export interface Evaluation {
  /** Samples scored (a sample's views count once); those `--skip-bad` skipped are not among them. */
  samples: number;
  /** Clips scored (samples × views). */
  clips: number;
  /** The samples `--skip-bad` skipped (a bad frame or video in any of their views): left out of
   *  every figure, not counted in `samples`. Absent when none was. */
  skipped?: SkippedSample[];
  top1: number;
  top5: number;
  /** Mean cross-entropy of the (view-averaged) softmax scores. */
  loss: number;
  /** The true class scored above its order-reversed partner (synthetic:motion). */
  pairAccuracy?: number;
  seconds: number;
}

export interface EvaluateOptions {
  batch: number;
  partners?: readonly number[];
  /** Called after each batch with clips done and total. */
  onBatch?: (done: number, total: number) => void;
  /** Worker threads that decode clips (0 or absent: on this thread). */
  workers?: number;
  /** Where workers' --skip-bad lines go. */
  log?: (message: string) => void;
}

/** scores += weight · softmax(logits): a sample's views averaged in softmax (mmaction's test). */
export function addSoftmax(scores: Float64Array, logits: Float32Array, weight: number): void {
  const max = logits.reduce((a, b) => Math.max(a, b), -Infinity);
  let total = 0;
  for (const v of logits) total += Math.exp(v - max);
  for (let k = 0; k < logits.length; k++) scores[k]! += (weight * Math.exp(logits[k]! - max)) / total;
}

/** A compiled forward at a fixed input size, as evaluateWith uses it. */
export interface EvaluationForward {
  forward(clips: Float32Array): Promise<{ logits?: Float32Array }>;
  destroy(): void | Promise<void>;
}

/** Evaluation with pstc's WebGPU kernels (`pstc eval`, the trainer's evaluations). */
export function evaluate(device: PstcDevice, model: ModelConfig, weights: WeightMap, dataset: Dataset, options: EvaluateOptions): Promise<Evaluation> {
  return evaluateWith((input) => compileModel(device, model, input, weights), model, dataset, options);
}

/** Evaluation with the forward `compile` makes for the batch's input size (called once). */
export async function evaluateWith(
  compile: (input: { batch: number; frames: number; size: number }) => Promise<EvaluationForward>,
  model: ModelConfig,
  dataset: Dataset,
  options: EvaluateOptions,
): Promise<Evaluation> {
  const start = performance.now();
  const classes = model.head!.classes;
  const views = (dataset as Dataset & { views?: number }).views ?? 1;
  const batch = Math.max(1, Math.min(options.batch, dataset.size));
  const clipSize = clipLength(dataset.clipShape);
  const [, frames, size] = dataset.clipShape;
  const compiled = await compile({ batch, frames, size });
  // Softmax scores summed over a sample's views; labels by sample.
  const samples = Math.floor(dataset.size / views);
  const scores = new Float64Array(samples * classes);
  const labels = new Int32Array(samples);
  const skipped = new Map<number, SkippedSample>();
  // File order, the last partial batch kept; batches are read ahead of the forward passes.
  const loader = new Loader(dataset, { batchSize: batch, workers: options.workers ?? 0, concurrency: batch, ...(options.log ? { log: options.log } : {}) });
  try {
    for await (const read of loader.epoch(0)) {
      const first = read.batch * batch;
      const count = Math.min(read.labels.length, samples * views - first);
      if (count <= 0) break;
      // The last batch is padded with zeros; the padding's outputs are ignored (clips are independent).
      const clips = read.clips.length === batch * clipSize ? read.clips : new Float32Array(batch * clipSize);
      if (clips !== read.clips) clips.set(read.clips);
      const { logits } = await compiled.forward(clips);
      for (let i = 0; i < count; i++) {
        const sample = Math.floor((first + i) / views);
        // --skip-bad: the row holds another sample's clip, read in place of a bad one: not scored.
        const bad = read.skipped?.[i];
        if (bad) {
          if (!skipped.has(sample)) skipped.set(sample, bad);
          continue;
        }
        labels[sample] = read.labels[i]!;
        addSoftmax(scores.subarray(sample * classes, (sample + 1) * classes), logits!.subarray(i * classes, (i + 1) * classes), 1 / views);
      }
      options.onBatch?.(first + count, samples * views);
    }
  } finally {
    await loader.close();
    await compiled.destroy();
  }
  // The figures are over the samples read whole: a skipped one's rows (views) are left out.
  const evaluated = samples - skipped.size;
  let [kept, keptLabels] = [scores, labels];
  if (skipped.size > 0) {
    kept = new Float64Array(evaluated * classes);
    keptLabels = new Int32Array(evaluated);
    for (let n = 0, j = 0; n < samples; n++) {
      if (skipped.has(n)) continue;
      kept.set(scores.subarray(n * classes, (n + 1) * classes), j * classes);
      keptLabels[j++] = labels[n]!;
    }
    const names = [...skipped.values()].map((s) => s.where);
    options.log?.(`--skip-bad: ${skipped.size} bad sample${skipped.size === 1 ? '' : 's'} not evaluated (${names.slice(0, 10).join(', ')}${names.length > 10 ? ', …' : ''}); the figures are over the other ${evaluated}`);
  }
  const hits = metricsOf(kept, keptLabels, classes, options.partners);
  let loss = 0;
  for (let n = 0; n < evaluated; n++) loss -= Math.log(Math.max(kept[n * classes + keptLabels[n]!]!, 1e-30));
  return {
    samples: evaluated,
    clips: evaluated * views,
    ...(skipped.size > 0 ? { skipped: [...skipped.values()] } : {}),
    top1: hits.top1 / evaluated,
    top5: hits.top5 / evaluated,
    loss: loss / evaluated,
    ...(options.partners ? { pairAccuracy: hits.pairHits / evaluated } : {}),
    seconds: (performance.now() - start) / 1000,
  };
}
