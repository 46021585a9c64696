// The forward graph IR (after `lower`, `fold` and `commute`: views already composed into one index
// map per read) → ONNX nodes, one IR op at a time, in the graph's order:
//   input → the graph input 'clip' (N×Cin×T×H×W float32)
//   param → an initializer under its state-dict name (the official names: src/weights/names.ts)
//   view → Reshape, or Gather of rows by a constant index table (views.ts)
//   linear → MatMul by Wᵀ + Add (Gemm with transB = 1 on 2-D inputs; W as PyTorch's nn.Linear stores it)
//   layernorm → LayerNormalization over the last axis (opset 17)
//   gelu → x·½·(1 + erf(x/√2)), PyTorch's exact GELU (ONNX Runtime fuses it into one kernel)
//   add → Add · mean → ReduceMean · window_attention → attention.ts · output → Identity
// Training-only ops (loss, dropout, adjoints) have no place in an inference export: PST901.
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { size, type Graph, type Node } from '../../src/ir/graph.js';
import type { WeightLike } from '../../src/ir/params.js';
import { OnnxGraph } from './builder.js';
import { lowerView } from './views.js';
import { lowerWindowAttention } from './attention.js';

/** The ONNX graph of a forward IR graph, its input and output names. */
export interface LoweredGraph {
  graph: OnnxGraph;
  input: string;
  /** Graph outputs, in order: 'logits' (when the model has a head), then 'features'. */
  outputs: { name: 'logits' | 'features'; shape: number[] }[];
}

export const CLIP_INPUT = 'clip';

export function lowerGraph(ir: Graph, weights: ReadonlyMap<string, WeightLike>): LoweredGraph {
  const g = new OnnxGraph();
  const names = new Map<number, string>();
  const name = (node: Node, k: number): string => names.get(node.inputs[k]!)!;
  const shapeOf = (node: Node, k: number): number[] => ir.nodes[node.inputs[k]!]!.shape;
  const outputs: LoweredGraph['outputs'] = [];

  for (const node of ir.nodes) {
    const op = node.op;
    const hint = node.label;
    let value: string;
    switch (op.kind) {
      case 'input':
        if (op.name !== 'clip') unsupported(node, 'a training graph input');
        value = g.claim(CLIP_INPUT);
        break;
      case 'param': {
        const w = weights.get(op.name)!;
        const data = w.data instanceof Float32Array ? w.data : Float32Array.from(w.data);
        value = g.float(g.claim(op.name), node.shape, data);
        break;
      }
      case 'view':
        value = lowerView(g, name(node, 0), op.map, hint);
        break;
      case 'linear': {
        const x = shapeOf(node, 0);
        if (x.length === 2) {
          const inputs = op.bias ? [name(node, 0), name(node, 1), name(node, 2)] : [name(node, 0), name(node, 1)];
          value = g.node('Gemm', inputs, hint, { transB: { int: 1 } });
        } else {
          // MatMul over the leading dims with Wᵀ (a constant ONNX Runtime folds): no reshapes,
          // which cost a copy where the input has other readers.
          const y = g.node('MatMul', [name(node, 0), g.transpose(name(node, 1), [1, 0], hint)], hint);
          value = op.bias ? g.node('Add', [y, name(node, 2)], hint) : y;
        }
        break;
      }
      case 'layernorm':
        value = g.node('LayerNormalization', [name(node, 0), name(node, 1), name(node, 2)], hint, { axis: { int: -1 }, epsilon: { float: op.eps } });
        break;
      case 'gelu': {
        const x = name(node, 0);
        const erf = g.node('Erf', [g.node('Div', [x, g.scalar(Math.SQRT2)], hint)], hint);
        const half = g.node('Mul', [x, g.node('Add', [erf, g.scalar(1)], hint)], hint);
        value = g.node('Mul', [half, g.scalar(0.5)], hint);
        break;
      }
      case 'add':
        value = g.node('Add', [name(node, 0), name(node, 1)], hint);
        break;
      case 'mean':
        value = g.node('ReduceMean', [name(node, 0)], hint, { axes: { ints: op.axes }, keepdims: { int: 0 } });
        break;
      case 'window_attention':
        value = lowerWindowAttention(g, name(node, 0), name(node, 1), shapeOf(node, 0), op, hint);
        break;
      case 'output':
        if (op.name === 'loss') unsupported(node, 'a loss output');
        value = g.node('Identity', [name(node, 0)], hint, {}, g.claim(op.name));
        outputs.push({ name: op.name, shape: node.shape });
        break;
      default:
        unsupported(node, `the ${op.kind} op`);
    }
    names.set(node.id, value);
  }
  outputs.sort((a, b) => (a.name === 'logits' ? -1 : b.name === 'logits' ? 1 : 0));
  return { graph: g, input: CLIP_INPUT, outputs };
}

function unsupported(node: Node, what: string): never {
  throw new DiagnosticError([
    {
      code: 'PST901',
      severity: 'error',
      message: `${what} ('${node.label}') cannot be expressed in an ONNX inference export`,
      hint: 'export the forward (inference) graph: ONNX files hold no training step; train with `pstc train` and export the checkpoint',
    },
  ]);
}
