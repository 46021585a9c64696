// Running an exported model in ONNX Runtime (npm `onnxruntime-node`, its CPU execution provider):
// `pstc run|bench|eval --backend onnxruntime`. The model is exported in memory and handed to an
// InferenceSession; a model with external data (over 2 GiB) goes through a temporary folder,
// since ONNX Runtime for Node reads external data only from files beside the model.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import type { ModelConfig } from '../../src/lang/model.js';
import type { InputSize } from '../../src/passes/lower.js';
import type { WeightLike } from '../../src/ir/params.js';
import { exportOnnx, type ExportedModel } from './export.js';
import type { ExportProvenance } from './metadata.js';

export type OptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  /** ONNX Runtime's graph optimisation level (default 'all'). */
  optimization?: OptimizationLevel;
  /** Intra-op threads (default 2). */
  threads?: number;
}

/** What a forward pass returns, as the WebGPU runtime's ForwardResult. */
export interface OnnxForwardResult {
  features: Float32Array;
  featuresShape: number[];
  logits?: Float32Array;
  logitsShape?: number[];
}

export interface OnnxModel {
  readonly exported: ExportedModel;
  /** clip N×Cin×T×H×W float32, checked against the input shape. */
  forward(clip: Float32Array): Promise<OnnxForwardResult>;
  /** One forward's wall time in milliseconds (bench). */
  timeForward(clip: Float32Array): Promise<number>;
  /** The runtime's description, e.g. 'ONNX Runtime 1.30.0 (CPU, 2 threads)'. */
  describe(): string;
  release(): Promise<void>;
}

/** An InferenceSession on an encoded model (bytes, or files in a temporary folder for external data). */
export async function openSession(exported: ExportedModel, options: SessionOptions = {}): Promise<ort.InferenceSession> {
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: options.optimization ?? 'all',
    intraOpNumThreads: options.threads ?? 2,
    interOpNumThreads: 1,
  };
  try {
    if (!exported.external) return await ort.InferenceSession.create(exported.model, sessionOptions);
    const dir = mkdtempSync(join(tmpdir(), 'pstc-onnx-'));
    try {
      const path = join(dir, 'model.onnx');
      writeFileSync(path, exported.model);
      writeFileSync(join(dir, exported.external.location), Buffer.concat(exported.external.pieces));
      return await ort.InferenceSession.create(path, sessionOptions);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } catch (e) {
    throw runtimeError('could not load the exported model', e);
  }
}

export async function compileOnnxModel(
  model: ModelConfig,
  input: InputSize,
  weights: ReadonlyMap<string, WeightLike>,
  provenance: ExportProvenance,
  options: SessionOptions = {},
): Promise<OnnxModel> {
  const exported = exportOnnx(model, input, weights, { provenance });
  const session = await openSession(exported, options);
  const inputSize = exported.inputShape.reduce((a, b) => a * b, 1);
  const run = async (clip: Float32Array): Promise<ort.InferenceSession.ReturnType> => {
    if (clip.length !== inputSize) {
      throw new DiagnosticError([
        {
          code: 'PST305',
          severity: 'error',
          message: `the clip holds ${clip.length} values but the model was compiled for [${exported.inputShape.join(', ')}] (${inputSize} values)`,
          flag: '--input',
          hint: "give --batch, --frames and --size matching the clip, and the model's input channels",
        },
      ]);
    }
    try {
      return await session.run({ clip: new ort.Tensor('float32', clip, exported.inputShape) });
    } catch (e) {
      throw runtimeError('the forward pass failed', e);
    }
  };
  const threads = options.threads ?? 2;
  return {
    exported,
    async forward(clip) {
      const out = await run(clip);
      const tensor = (name: string): { data: Float32Array; shape: number[] } => {
        const t = out[name]!;
        return { data: t.data as Float32Array, shape: [...t.dims] };
      };
      const features = tensor('features');
      const logits = exported.outputs.some((o) => o.name === 'logits') ? tensor('logits') : undefined;
      return { features: features.data, featuresShape: features.shape, ...(logits ? { logits: logits.data, logitsShape: logits.shape } : {}) };
    },
    async timeForward(clip) {
      const start = performance.now();
      await run(clip);
      return performance.now() - start;
    },
    describe: () => `ONNX Runtime ${ort.env.versions.common} (CPU, ${threads} thread${threads === 1 ? '' : 's'})`,
    release: () => session.release(),
  };
}

/** ONNX Runtime's own failure (out of memory, a runtime bug) as a diagnostic naming the backend. */
function runtimeError(what: string, e: unknown): DiagnosticError {
  return new DiagnosticError([
    {
      code: 'PST902',
      severity: 'error',
      message: `ONNX Runtime: ${what}: ${(e as Error).message ?? String(e)}`,
      flag: '--backend',
      hint: 'try --backend webgpu; if the export itself is wrong, report it with the model file',
    },
  ]);
}
