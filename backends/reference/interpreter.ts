// The float64 reference interpreter: runs a graph node by node, in order, with the plain loops
// of ops.ts and gather.ts. Every kernel of pstc is tested against it. Intermediate values are
// dropped after their last use unless `keep` asks for them (tests compare intermediates).
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { consumers, size, type Graph, type Node, type NodeId } from '../../src/ir/graph.js';
import { checkWeights } from '../../src/ir/params.js';
import type { FusedGraph } from '../../src/passes/fuse.js';
import { gather } from './gather.js';
import * as grad from './grad-ops.js';
import * as ops from './ops.js';

/** Weights by state-dict name; structurally the WeightMap of src/weights (float32 or float64 data). */
export type ReferenceWeights = ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }>;

export interface InterpretOptions {
  /** Nodes whose values to return in `values` (outputs are always returned). */
  keep?: (node: Node) => boolean;
  /** The training step's RNG key (src/ir/rng.ts stepKey): needed when the graph has dropout. */
  rngKey?: readonly [number, number];
}

/** The graph's inputs: the clip, and for a training graph the labels (class indices). */
export interface InterpretInputs {
  clip: Float64Array;
  labels?: ArrayLike<number>;
}

export interface InterpretResult {
  features: Float64Array;
  logits?: Float64Array;
  /** Training graphs: the loss value. */
  loss?: number;
  /** Differentiated graphs: each param's gradient, by state-dict name. */
  grads?: Map<string, Float64Array>;
  values: Map<NodeId, Float64Array>;
}

export function interpret(
  graph: Graph,
  inputs: InterpretInputs,
  weights: ReferenceWeights,
  options: InterpretOptions = {},
): InterpretResult {
  checkWeights(graph, weights);
  const users = consumers(graph);
  const remaining = users.map((u) => u.length);
  const live = new Map<NodeId, Float64Array>();
  const values = new Map<NodeId, Float64Array>();
  const { features, logits: logitsId, loss: lossId } = graph.outputs;
  const outputs = new Set<NodeId>([features, ...[logitsId, lossId].filter((id) => id !== undefined), ...(graph.grads ?? []).map((g) => g.node)]);

  for (const node of graph.nodes) {
    const args = node.inputs.map((i) => live.get(i)!);
    const value = evaluateNode(graph, node, args, inputs, weights, options);
    if (value.length !== size(node.shape)) {
      throw new Error(`internal: ${node.op.kind} '${node.label}' produced ${value.length} values for shape [${node.shape.join(', ')}]`);
    }
    live.set(node.id, value);
    if (options.keep?.(node) || outputs.has(node.id)) values.set(node.id, value);
    // Free inputs whose last reader this was.
    for (const i of node.inputs) if (--remaining[i]! === 0) live.delete(i);
  }

  const logits = logitsId !== undefined ? values.get(logitsId) : undefined;
  const loss = lossId !== undefined ? values.get(lossId)![0]! : undefined;
  const grads = graph.grads ? new Map(graph.grads.map((g) => [g.param, values.get(g.node)!])) : undefined;
  return { features: values.get(features)!, ...(logits ? { logits } : {}), ...(loss !== undefined ? { loss } : {}), ...(grads ? { grads } : {}), values };
}

function evaluateNode(
  graph: Graph,
  node: Node,
  args: Float64Array[],
  inputs: InterpretInputs,
  weights: ReferenceWeights,
  options: InterpretOptions,
): Float64Array {
  const op = node.op;
  const shapeOf = (k: number): number[] => graph.nodes[node.inputs[k]!]!.shape;
  switch (op.kind) {
    case 'input': {
      if (op.name === 'labels') return labelsValue(inputs.labels, node.shape[0]!);
      if (inputs.clip.length !== size(node.shape)) {
        throw new DiagnosticError([
          {
            code: 'PST305',
            severity: 'error',
            message: `the clip holds ${inputs.clip.length} values but the model was compiled for [${node.shape.join(', ')}] (${size(node.shape)} values)`,
            flag: '--input',
            hint: 'give --batch, --frames and --size matching the clip, and the model\'s input channels',
          },
        ]);
      }
      return inputs.clip;
    }
    case 'param':
      return paramValue(op.name, weights);
    case 'view':
      return gather(args[0]!, op.map);
    case 'linear': {
      const [outDim, inDim] = shapeOf(1) as [number, number];
      return ops.linear(args[0]!, args[1]!, op.bias ? args[2]! : null, inDim, outDim);
    }
    case 'layernorm':
      return ops.layernorm(args[0]!, args[1]!, args[2]!, shapeOf(0).at(-1)!, op.eps);
    case 'gelu':
      return ops.gelu(args[0]!);
    case 'add':
      return ops.add(args[0]!, args[1]!);
    case 'window_attention':
      return ops.windowAttention(args[0]!, args[1]!, shapeOf(0), op);
    case 'mean':
      return ops.mean(args[0]!, shapeOf(0), op.axes);
    case 'output':
      return args[0]!;
    case 'constant':
      return new Float64Array(size(op.shape)).fill(op.value);
    case 'sum':
      return ops.sum(args[0]!, shapeOf(0), op.axes);
    case 'scale':
      return grad.scale(args[0]!, op.factor);
    case 'mul':
      return grad.mul(args[0]!, args[1]!);
    case 'gelu_grad':
      return grad.geluGrad(args[0]!, args[1]!);
    case 'layernorm_grad':
      return grad.layernormGrad(args[0]!, args[1]!, args[2]!, shapeOf(0).at(-1)!, op.eps);
    case 'layernorm_normalized':
      return grad.layernormNormalized(args[0]!, shapeOf(0).at(-1)!, op.eps);
    case 'attention_grad_scores':
      return grad.attentionGradScores(args[0]!, args[1]!, args[2]!, shapeOf(0), op.attention);
    case 'attention_grad_qkv':
      return grad.attentionGradQkv(args[0]!, args[1]!, args[2]!, args[3]!, shapeOf(0), op.attention);
    case 'bias_table_grad':
      return grad.biasTableGrad(args[0]!, shapeOf(0), op.attention, op.rows);
    case 'view_grad':
      return grad.viewGrad(args[0]!, op.map);
    case 'dropout': {
      if (!options.rngKey) throw new Error(`internal: dropout '${node.label}' needs interpret's rngKey option`);
      return grad.dropout(args[0]!, shapeOf(0), op, options.rngKey);
    }
    case 'cross_entropy':
    case 'cross_entropy_grad': {
      const classes = shapeOf(0)[1]!;
      checkLabelRange(args[1]!, classes);
      return op.kind === 'cross_entropy'
        ? grad.crossEntropy(args[0]!, args[1]!, classes, op.smoothing)
        : grad.crossEntropyGrad(args[0]!, args[1]!, args[2]!, classes, op.smoothing);
    }
  }
}

function labelsDiagnostic(message: string, expected: string): DiagnosticError {
  return new DiagnosticError([{ code: 'PST312', severity: 'error', message, flag: '--data', expected }]);
}

function labelsValue(labels: ArrayLike<number> | undefined, batch: number): Float64Array {
  if (!labels) throw labelsDiagnostic('a training graph needs labels, and none were given', `${batch} class indices`);
  if (labels.length !== batch) throw labelsDiagnostic(`${labels.length} labels for a batch of ${batch}`, `${batch} class indices`);
  return Float64Array.from(labels);
}

function checkLabelRange(labels: Float64Array, classes: number): void {
  const bad = labels.findIndex((l) => !Number.isInteger(l) || l < 0 || l >= classes);
  if (bad >= 0) throw labelsDiagnostic(`label ${labels[bad]} of sample ${bad} is not a class index`, `an integer in [0, ${classes})`);
}

/** A weight's data as float64 (its name and shape were checked on entry). */
function paramValue(name: string, weights: ReferenceWeights): Float64Array {
  return Float64Array.from(weights.get(name)!.data);
}

/**
 * The interpreter's values (every node kept) as a fused program stores them: the same, except at
 * a LayerNorm folded into its GEMMs' loads, whose kernel stores its input's row statistics
 * (fuse.ts LayerNormPrologue). Tests feed kernels these and compare their outputs with them.
 */
export function storedValues(fused: FusedGraph, values: ReadonlyMap<NodeId, Float64Array>): Map<NodeId, Float64Array> {
  const stored = new Map(values);
  for (const k of fused.kernels) {
    if (k.kind !== 'layernorm_stats') continue;
    const x = values.get(k.x.source);
    if (!x) throw new Error(`storedValues: the interpreter kept no value of %${k.x.source}`);
    stored.set(k.out, ops.layernormStats(k.x.map ? gather(x, k.x.map) : x, k.channels, k.eps));
  }
  return stored;
}
