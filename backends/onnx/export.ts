// `exportOnnx`: a model at an input size, with its weights, as an ONNX model. The front end's
// pipeline runs up to `commute` — the graph passes: views folded into one index map per read and
// row-only views moved in front of their linear layers — exactly the graph the WebGPU backend
// fuses into kernels; kernel fusion and memory planning are left to the ONNX runtime.
import type { ModelConfig } from '../../src/lang/model.js';
import type { InputSize } from '../../src/passes/lower.js';
import { checkWeights, type WeightLike } from '../../src/ir/params.js';
import { compileProgram } from '../../src/passes/pipeline.js';
import { lowerGraph } from './lower.js';
import { modelDoc, modelMetadata, type ExportProvenance } from './metadata.js';
import { encodeModel, type EncodedModel, type EncodeOptions } from './write.js';

/** The last pass an export runs: the graph passes, before `fuse` turns the graph into kernels. */
export const EXPORT_UNTIL = 'commute';

export interface ExportOptions extends EncodeOptions {
  provenance: ExportProvenance;
}

export interface ExportedModel extends EncodedModel {
  /** Graph outputs in order ('logits' first when the model has a head, then 'features'). */
  outputs: { name: 'logits' | 'features'; shape: number[] }[];
  inputShape: number[];
  nodes: number;
  initializers: number;
}

export function exportOnnx(model: ModelConfig, input: InputSize, weights: ReadonlyMap<string, WeightLike>, options: ExportOptions): ExportedModel {
  const program = compileProgram(model, input, { until: EXPORT_UNTIL });
  const graph = program.graph!;
  checkWeights(graph, weights);
  const lowered = lowerGraph(graph, weights);
  const outputNames = lowered.outputs.map((o) => o.name);
  const encoded = encodeModel(
    lowered.graph,
    {
      graphName: model.name,
      doc: modelDoc(model, input),
      producerVersion: options.provenance.version,
      metadata: modelMetadata(model, input, program.passes, outputNames, options.provenance),
      input: { name: lowered.input, shape: graph.inputShape },
      outputs: lowered.outputs,
    },
    options,
  );
  return { ...encoded, outputs: lowered.outputs, inputShape: graph.inputShape, nodes: lowered.graph.nodes.length, initializers: lowered.graph.initializers.length };
}
