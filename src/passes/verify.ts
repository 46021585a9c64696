// The verifier the pipeline runs after every pass: the invariants a program must keep whatever
// pass made it. A violation is a bug in pstc (the user's mistakes are diagnosed before lowering
// ends), so it throws an internal error naming the pass after which it was found.
//   graph:  node ids are positions; every input is an earlier node (defined, topological order);
//           leaves are exactly graph.inputs/params; every shape, re-inferred from its inputs, is
//           the shape stored (for a view: its map reads its input's shape and writes its own);
//           outputs are output nodes; gradients have their params' shapes; after `fold`, no
//           view reads a view.
//   fused:  the kernels compute this graph: every arithmetic node in exactly one kernel, each
//           kernel reading only tensors that exist when it runs; outputs are materialised.
//   memory: every tensor a kernel writes (and the clip) has a buffer that holds it, and no two
//           tensors alive at the same step share one; with the device limits the program was
//           planned for (Program.bindingLimits), no tensor or parameter is larger than one
//           storage binding and no buffer larger than the largest buffer, so a plan the device
//           would refuse fails here, naming the tensor, and not in the driver.
import { F32_BYTES, inferShape, size, type Graph, type NodeId } from '../ir/graph.js';
import { kernelSources, outputElements, type FusedGraph } from './fuse.js';
import type { MemoryPlan } from './plan-memory.js';
import type { BindingLimits, Program } from './pipeline.js';


export interface VerifyOptions {
  /** A pass so far has folded views: no view may read a view. */
  folded: boolean;
}

export function verifyProgram(program: Program, after: string, options: VerifyOptions): void {
  const problems: string[] = [];
  if (program.graph) problems.push(...graphProblems(program.graph, options));
  if (program.fused) {
    if (program.fused.graph !== program.graph) problems.push('the kernels were fused from another graph than the program holds');
    else if (problems.length === 0) problems.push(...fusedProblems(program.fused));
  }
  if (program.memory) {
    if (!program.fused) problems.push('a memory plan without kernels');
    else if (problems.length === 0) problems.push(...memoryProblems(program.fused, program.memory), ...limitProblems(program.fused, program.memory, program.bindingLimits));
  }
  if (problems.length) {
    const shown = problems.slice(0, 5).map((p) => `  - ${p}`);
    if (problems.length > 5) shown.push(`  … and ${problems.length - 5} more`);
    throw new Error(`internal: the program is invalid after pass '${after}':\n${shown.join('\n')}`);
  }
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

export function graphProblems(graph: Graph, options: VerifyOptions): string[] {
  const problems: string[] = [];
  const leaves = { input: new Set<NodeId>(), param: new Set<NodeId>() };
  graph.nodes.forEach((n, i) => {
    const at = `%${i} ${n.op.kind} '${n.label}'`;
    if (n.id !== i) problems.push(`${at}: id ${n.id} is not its position ${i}`);
    for (const input of n.inputs) {
      if (!Number.isInteger(input) || input < 0 || input >= i) problems.push(`${at}: reads %${input}, which is not an earlier node`);
    }
    if (!n.shape.every((d) => Number.isSafeInteger(d) && d > 0)) problems.push(`${at}: shape [${n.shape.join(', ')}] is not a list of positive integers`);
    if (n.op.kind === 'input' || n.op.kind === 'param') {
      leaves[n.op.kind].add(i);
      if (n.inputs.length) problems.push(`${at}: a leaf with inputs`);
      return;
    }
    if (n.inputs.some((x) => x < 0 || x >= i)) return;
    if (n.op.kind === 'view' && n.op.map.index.length !== n.op.map.inShape.length) {
      problems.push(`${at}: the map gives ${n.op.map.index.length} indices for a rank-${n.op.map.inShape.length} input`);
    }
    if (options.folded && n.op.kind === 'view' && graph.nodes[n.inputs[0]!]?.op.kind === 'view') {
      problems.push(`${at}: reads view %${n.inputs[0]} after views were folded`);
    }
    try {
      const inferred = inferShape(n.op, n.inputs.map((x) => graph.nodes[x]!.shape));
      if (!same(inferred, n.shape)) problems.push(`${at}: holds shape [${n.shape.join(', ')}] but its inputs give [${inferred.join(', ')}]`);
    } catch (e) {
      problems.push(`${at}: ${(e as Error).message}`);
    }
  });
  const listed = (what: 'input' | 'param', ids: readonly NodeId[]) => {
    const set = new Set(ids);
    if (set.size !== ids.length || set.size !== leaves[what].size || ids.some((id) => !leaves[what].has(id))) {
      problems.push(`graph.${what}s [${ids.join(', ')}] are not exactly the ${what} nodes [${[...leaves[what]].join(', ')}]`);
    }
  };
  listed('input', graph.inputs);
  listed('param', graph.params);
  const clip = graph.nodes[graph.inputs[0]!];
  if (!clip || !same(clip.shape, graph.inputShape)) problems.push(`the clip input does not have the graph's input shape [${graph.inputShape.join(', ')}]`);
  for (const [name, id] of Object.entries(graph.outputs)) {
    const n = graph.nodes[id];
    if (!n || n.op.kind !== 'output' || n.op.name !== name) problems.push(`output '${name}' is %${id}, not an output node of that name`);
  }
  // Training graphs: each gradient is a node of its param's shape.
  const paramShapes = new Map<string, number[]>();
  for (const id of graph.params) {
    const n = graph.nodes[id];
    if (n?.op.kind === 'param') paramShapes.set(n.op.name, n.shape);
  }
  for (const { param, node } of graph.grads ?? []) {
    const want = paramShapes.get(param);
    const got = graph.nodes[node]?.shape;
    if (!want) problems.push(`a gradient for '${param}', which is no param of the graph`);
    else if (!got || !same(got, want)) problems.push(`the gradient of '${param}' is %${node}, not a node of its shape [${want.join(', ')}]`);
  }
  const outputNodes = graph.nodes.filter((n) => n.op.kind === 'output').length;
  if (outputNodes !== Object.keys(graph.outputs).length) problems.push(`${outputNodes} output nodes, ${Object.keys(graph.outputs).length} outputs listed`);
  return problems;
}

export function fusedProblems(fused: FusedGraph): string[] {
  const { graph, kernels } = fused;
  const problems: string[] = [];
  const coveredBy = new Map<NodeId, number>();
  const written = new Map<NodeId, number>();
  const available = new Set<NodeId>([...graph.inputs, ...graph.params]);
  kernels.forEach((k, step) => {
    const at = `kernel ${step} (${k.kind} → %${k.out})`;
    for (const id of k.nodes) {
      const n = graph.nodes[id];
      if (!n) {
        problems.push(`${at}: implements %${id}, which is not in the graph`);
        continue;
      }
      if (n.op.kind === 'view') continue; // a view folded into a read may be read by several kernels
      if (coveredBy.has(id)) problems.push(`${at}: computes %${id} '${n.label}', already computed by kernel ${coveredBy.get(id)}`);
      coveredBy.set(id, step);
    }
    if (!k.nodes.includes(k.out)) problems.push(`${at}: writes %${k.out}, which is not among the nodes it implements`);
    for (const id of kernelSources(k)) {
      if (!available.has(id)) problems.push(`${at}: reads %${id}, which no earlier kernel wrote`);
    }
    if (written.has(k.out)) problems.push(`${at}: %${k.out} is already written by kernel ${written.get(k.out)}`);
    written.set(k.out, step);
    available.add(k.out);
  });
  for (const n of graph.nodes) {
    const arithmetic = n.op.kind !== 'input' && n.op.kind !== 'param' && n.op.kind !== 'view' && n.op.kind !== 'output';
    if (arithmetic && !coveredBy.has(n.id)) problems.push(`%${n.id} ${n.op.kind} '${n.label}' is computed by no kernel`);
  }
  for (const [name, id] of Object.entries(fused.outputs)) {
    if (!written.has(id)) problems.push(`output '${name}' is held by %${id}, which no kernel writes`);
  }
  return problems;
}

export function memoryProblems(fused: FusedGraph, memory: MemoryPlan): string[] {
  const { graph, kernels } = fused;
  const problems: string[] = [];
  // Lifetimes, from the kernels alone: from the step that writes a tensor to the last that reads it.
  const life = new Map<NodeId, [number, number]>();
  for (const id of graph.inputs) life.set(id, [-1, -1]);
  kernels.forEach((k, step) => {
    life.set(k.out, [step, step]);
    for (const id of kernelSources(k)) {
      const span = life.get(id);
      if (span) span[1] = step;
    }
  });
  for (const id of Object.values(fused.outputs)) life.get(id)![1] = kernels.length;
  const elements = new Map(kernels.map((k) => [k.out, outputElements(graph, k)] as const));

  for (const [id] of life) {
    const n = graph.nodes[id]!;
    const slot = memory.slot.get(id);
    const bytes = memory.bytes.get(id);
    if (slot === undefined || bytes === undefined) {
      problems.push(`%${id} '${n.label}' has no buffer`);
      continue;
    }
    const holds = (elements.get(id) ?? size(n.shape)) * F32_BYTES;
    if (bytes !== holds) problems.push(`%${id} '${n.label}' is planned as ${bytes} bytes, holds ${holds}`);
    if (!(memory.buffers[slot]! >= bytes)) problems.push(`%${id} '${n.label}' (${bytes} bytes) is in buffer ${slot} of ${memory.buffers[slot]} bytes`);
  }
  const bySlot = new Map<number, NodeId[]>();
  for (const [id, slot] of memory.slot) bySlot.set(slot, [...(bySlot.get(slot) ?? []), id]);
  for (const [slot, ids] of bySlot) {
    const spans = ids.filter((id) => life.has(id)).map((id) => ({ id, span: life.get(id)! }));
    spans.sort((a, b) => a.span[0] - b.span[0]);
    // Sorted by birth, a tensor overlaps an earlier one iff it is born before the longest-lived earlier one dies.
    let longest = spans[0];
    for (const next of spans.slice(1)) {
      if (next.span[0] <= longest!.span[1]) {
        problems.push(`buffer ${slot} holds %${longest!.id} and %${next.id} while both are alive (steps ${longest!.span.join('…')} and ${next.span.join('…')})`);
      }
      if (next.span[1] > longest!.span[1]) longest = next;
    }
  }
  const total = memory.buffers.reduce((a, b) => a + b, 0);
  if (total !== memory.activationBytes) problems.push(`activationBytes ${memory.activationBytes} is not the sum of the buffers (${total})`);
  return problems;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/**
 * Every binding of the memory plan against the limits it was planned for: each tensor a kernel
 * binds (activations, gradients, the clip) and each parameter within maxStorageBufferBindingSize,
 * each buffer within maxBufferSize. No limits, no problems (a plan for no particular device).
 */
export function limitProblems(fused: FusedGraph, memory: MemoryPlan, limits: BindingLimits | undefined): string[] {
  if (!limits) return [];
  const { graph } = fused;
  const problems: string[] = [];
  const binding = limits.maxStorageBufferBindingSize;
  const over = (id: NodeId, bytes: number, limit: number, name: string) => {
    const n = graph.nodes[id]!;
    problems.push(`%${id} ${n.op.kind} '${n.label}' [${n.shape.join(', ')}] takes ${bytes} bytes (${mib(bytes)}), over the ${name} of ${limit} bytes (${mib(limit)}) it was planned for`);
  };
  for (const [id, bytes] of memory.bytes) if (bytes > binding) over(id, bytes, binding, 'maxStorageBufferBindingSize');
  for (const id of graph.params) {
    const bytes = size(graph.nodes[id]!.shape) * F32_BYTES;
    if (bytes > Math.min(binding, limits.maxBufferSize)) over(id, bytes, Math.min(binding, limits.maxBufferSize), 'storage binding and buffer limit');
  }
  memory.buffers.forEach((bytes, slot) => {
    if (bytes > limits.maxBufferSize) problems.push(`buffer ${slot} takes ${bytes} bytes (${mib(bytes)}), over the maxBufferSize of ${limits.maxBufferSize} bytes (${mib(limits.maxBufferSize)}) it was planned for`);
  });
  return problems;
}
