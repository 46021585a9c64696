// The library API for programs: compile a model (a .pst file or an elaborated config) onto a
// WebGPU device with its weights, and run it. The CLI commands `run` and `bench` are built on the
// same runtime; this module only adds what a program wants from one call: opening a device when
// none is given, loading or initialising weights, and checking a weight map against the model.
import { openDeviceFor, type PstcDevice } from '../backends/webgpu/device.js';
import type { Precision } from '../backends/webgpu/precision.js';
import { compileModel, type CompiledModel, type ForwardResult, type ModelInput } from '../backends/webgpu/runtime.js';
import { DiagnosticError } from './lang/diagnostics.js';
import { loadModel } from './lang/elaborate.js';
import type { ModelConfig } from './lang/model.js';
import { initWeights, loadCheckpoint, matchWeights, type WeightMap } from './weights/index.js';
import { readFromDisk } from './lang/read-disk.js';

/** Weights by state-dict name, as a program holds them (a WeightMap, or any read-only map). */
export type WeightInput = ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>;

export interface CompileOptions {
  /** Which model or sweep variant of the file (default: the file's last model). Ignored for a config. */
  model?: string;
  /** Input size; each field defaults to the model's `input { … }`. */
  input?: Partial<ModelInput>;
  /** A checkpoint path (.safetensors or PyTorch .pth), or weights by name (checked against the model). */
  weights?: WeightInput | string;
  /** Without `weights`: initialise fresh weights (as for training from scratch) with this seed; default 0. */
  seed?: number;
  /**
   * The device to compile for; without one, compile() opens one (with 'shader-f16' for f16) and the
   * model's destroy() closes it. A device of your own must be opened with
   * `requireFeatures: ['shader-f16']` for f16.
   */
  device?: PstcDevice;
  /**
   * 'f32' (default), or 'f16': weights and activations stored as half floats on the device, f32
   * arithmetic, clip and outputs f32 (backends/webgpu/precision.ts). Forward only. Without
   * 'shader-f16' on the adapter: a DiagnosticError PST314.
   */
  precision?: Precision;
}

/**
 * Compile a model for WebGPU. A user's mistake in the model file or the weights throws a
 * DiagnosticError; no adapter throws NoAdapterError (from backends/webgpu/device.ts).
 */
export async function compile(modelFileOrConfig: string | ModelConfig, options: CompileOptions = {}): Promise<CompiledModel> {
  const model = typeof modelFileOrConfig === 'string' ? loadModel(modelFileOrConfig, options.model, readFromDisk).model : modelFileOrConfig;
  if (options.weights !== undefined && options.seed !== undefined) {
    throw new TypeError('compile(): pass either `weights` or `seed`, not both');
  }
  const input: ModelInput = {
    batch: options.input?.batch ?? model.input.batch,
    frames: options.input?.frames ?? model.input.frames,
    size: options.input?.size ?? model.input.size,
  };
  const weights = resolveWeights(model, options);

  const precision = options.precision ?? 'f32';
  const device = options.device ?? (await openDeviceFor(precision));
  let compiled: CompiledModel;
  try {
    compiled = await compileModel(device, model, input, weights, { precision });
  } catch (e) {
    if (!options.device) device.destroy();
    throw e;
  }
  if (!options.device) {
    // The caller never saw this device: releasing the model releases it too.
    const release = compiled.destroy.bind(compiled);
    compiled.destroy = () => {
      release();
      device.destroy();
    };
  }
  return compiled;
}

/** Read a checkpoint (.safetensors or PyTorch .pth) and check it against the model (PST40x diagnostics). */
export function loadWeights(path: string, model: ModelConfig): WeightMap {
  return loadCheckpoint(path, model);
}

/** One forward pass: features (N×C×D×H×W) and, for a model with a head, logits (N×classes). */
export function forward(compiled: CompiledModel, clip: Float32Array): Promise<ForwardResult> {
  return compiled.forward(clip);
}

function resolveWeights(model: ModelConfig, options: CompileOptions): WeightMap {
  const { weights } = options;
  if (weights === undefined) return initWeights(model, options.seed ?? 0);
  if (typeof weights === 'string') return loadCheckpoint(weights, model);
  // A map from a program is checked like a checkpoint: every mismatch reported at once.
  const copy: WeightMap = new Map();
  for (const [name, t] of weights) copy.set(name, { shape: [...t.shape], data: t.data });
  const matched = matchWeights(copy, model);
  if (matched.diagnostics.length) throw new DiagnosticError(matched.diagnostics.map((d) => ({ ...d, flag: 'weights' })));
  return matched.weights;
}
