// Shared by the ONNX tests: one forward of an exported model in ONNX Runtime at an optimisation level.
import * as ort from 'onnxruntime-node';
import type { ExportedModel } from '../../backends/onnx/export.js';
import { openSession, type OptimizationLevel } from '../../backends/onnx/session.js';

/** features and logits of one ONNX Runtime forward of `exported` at `level`. */
export async function runOnnx(exported: ExportedModel, clip: Float32Array, level: OptimizationLevel): Promise<{ features: Float32Array; featuresShape: number[]; logits?: Float32Array }> {
  const session = await openSession(exported, { optimization: level, threads: 2 });
  try {
    const out = await session.run({ clip: new ort.Tensor('float32', clip, exported.inputShape) });
    return {
      features: out.features!.data as Float32Array,
      featuresShape: [...out.features!.dims],
      ...(out.logits ? { logits: out.logits.data as Float32Array } : {}),
    };
  } finally {
    await session.release();
  }
}
