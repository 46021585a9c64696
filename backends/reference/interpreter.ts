// The float64 reference interpreter: runs a graph node by node, in order, with the plain loops
// of ops.ts and gather.ts. Every kernel of pstc is tested against it. Intermediate values are
// dropped after their last use unless `keep` asks for them (tests compare intermediates).
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { consumers, size, type Graph, type Node, type NodeId } from '../../src/ir/graph.js';
import { checkWeights } from '../../src/ir/params.js';
import { gather } from './gather.js';
import * as ops from './ops.js';

/** Weights by state-dict name; structurally the WeightMap of src/weights (float32 or float64 data). */
export type ReferenceWeights = ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }>;

export interface InterpretOptions {
  /** Nodes whose values to return in `values` (outputs are always returned). */
  keep?: (node: Node) => boolean;
}

export interface InterpretResult {
  features: Float64Array;
  logits?: Float64Array;
  values: Map<NodeId, Float64Array>;
}

export function interpret(
  graph: Graph,
  inputs: { clip: Float64Array },
  weights: ReferenceWeights,
  options: InterpretOptions = {},
): InterpretResult {
  checkWeights(graph, weights);
  const users = consumers(graph);
  const remaining = users.map((u) => u.length);
  const live = new Map<NodeId, Float64Array>();
  const values = new Map<NodeId, Float64Array>();
  const outputs = new Set<NodeId>([graph.outputs.features, ...(graph.outputs.logits !== undefined ? [graph.outputs.logits] : [])]);

  for (const node of graph.nodes) {
    const args = node.inputs.map((i) => live.get(i)!);
    const value = evaluateNode(graph, node, args, inputs, weights);
    if (value.length !== size(node.shape)) {
      throw new Error(`internal: ${node.op.kind} '${node.label}' produced ${value.length} values for shape [${node.shape.join(', ')}]`);
    }
    live.set(node.id, value);
    if (options.keep?.(node) || outputs.has(node.id)) values.set(node.id, value);
    // Free inputs whose last reader this was.
    for (const i of node.inputs) if (--remaining[i]! === 0) live.delete(i);
  }

  const logits = graph.outputs.logits !== undefined ? values.get(graph.outputs.logits) : undefined;
  return { features: values.get(graph.outputs.features)!, ...(logits ? { logits } : {}), values };
}

function evaluateNode(
  graph: Graph,
  node: Node,
  args: Float64Array[],
  inputs: { clip: Float64Array },
  weights: ReferenceWeights,
): Float64Array {
  const op = node.op;
  const shapeOf = (k: number): number[] => graph.nodes[node.inputs[k]!]!.shape;
  switch (op.kind) {
    case 'input': {
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
    default:
      throw new Error(`internal: the interpreter has no rule for '${op.kind}' ('${node.label}')`);
  }
}

/** A weight's data as float64 (its name and shape were checked on entry). */
function paramValue(name: string, weights: ReferenceWeights): Float64Array {
  return Float64Array.from(weights.get(name)!.data);
}
