// A program as text, at whatever pass it stands (`pstc compile --emit ir --after PASS`): the graph
// one node per line (`%id = op [shape] 'label' <- inputs`, a view with its map); after `fuse`, the
// kernels with the nodes each computes and the tensors it reads; after `plan-memory`, the buffers.
import type { Graph, Node } from '../ir/graph.js';
import { mapToString } from '../ir/indexmap.js';
import type { Program } from './pipeline.js';
import { kernelSources } from './fuse.js';

/** One line per node: id, op (with its attributes), shape, label, inputs; a view shows its map. */
export function graphToText(graph: Graph): string {
  const lines = [`// ${graph.model.name}: input [${graph.inputShape.join(', ')}] (N C T H W); activations channels-last`];
  for (const node of graph.nodes) {
    const inputs = node.inputs.length ? ` <- ${node.inputs.map((i) => `%${i}`).join(', ')}` : '';
    lines.push(`%${node.id} = ${opText(node)} [${node.shape.join(', ')}] '${node.label}'${inputs}`);
  }
  return lines.join('\n');
}

function opText(node: Node): string {
  const op = node.op;
  switch (op.kind) {
    case 'input':
    case 'param':
      return `${op.kind} ${op.name}`;
    case 'view':
      return `view ${op.what} {${mapToString(op.map)}}`;
    case 'linear':
      return `linear(bias=${op.bias})`;
    case 'layernorm':
      return `layernorm(eps=${op.eps})`;
    case 'mean':
      return `mean(axes=${op.axes.join(',')})`;
    case 'output':
      return `output ${op.name}`;
    case 'window_attention':
      return (
        `window_attention(heads=${op.heads}, scale=${op.scale.toPrecision(6)}, biasGroups=${op.biasGroups}, ` +
        `windowsPerGroup=${op.windowsPerGroup}, mask=${op.mask ? `${op.maskWindows} windows` : 'none'})`
      );
    default:
      return op.kind;
  }
}

/** The program after its last pass: `// after PASS`, then the graph, kernels and buffers it holds. */
export function programToText(program: Program): string {
  const lines = [`// after ${program.passes.at(-1) ?? 'no pass'} (passes run: ${program.passes.join(', ') || 'none'})`];
  if (program.graph) lines.push(graphToText(program.graph));
  const fused = program.fused;
  if (fused) {
    lines.push('', `// ${fused.kernels.length} kernels, in dispatch order`);
    fused.kernels.forEach((k, i) => {
      const slot = program.memory?.slot.get(k.out);
      const into = slot === undefined ? '' : ` in buffer ${slot}`;
      lines.push(`k${i} = ${k.kind} -> %${k.out}${into} computes ${k.nodes.map((n) => `%${n}`).join(', ')} reads ${kernelSources(k).map((n) => `%${n}`).join(', ')}`);
    });
    lines.push(`// outputs: ${Object.entries(fused.outputs).map(([name, id]) => `${name} = %${id}`).join(', ')}`);
  }
  const memory = program.memory;
  if (memory) {
    lines.push('', `// ${memory.buffers.length} activation buffers (${memory.activationBytes} bytes; live peak ${memory.livePeakBytes}; weights and tables ${memory.weightBytes})`);
    memory.buffers.forEach((bytes, i) => {
      const held = [...memory.slot].filter(([, s]) => s === i).map(([id]) => `%${id}`);
      lines.push(`b${i} = ${bytes} bytes holds ${held.join(', ')}`);
    });
  }
  return lines.join('\n');
}
