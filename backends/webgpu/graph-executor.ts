// A whole graph IR on the device — in particular a training graph (forward, autodiff's backward,
// loss), which the inference runtime (runtime.ts) does not take: the graph goes through the rest
// of the declared pipeline (src/passes/pipeline.ts: a model's program from where it stands, a bare
// graph its BARE_GRAPH_PASSES) and the same kernel emitters, and runs on the executor every plan
// runs on (executor.ts). One `submit` is one queue submission of every kernel, plus any extra
// dispatches (the optimizer) in the same command buffer. The host writes the inputs (clip, labels)
// and the step's RNG key, and reads back only what it asks for.
import { size, type Graph, type Node, type NodeId } from '../../src/ir/graph.js';
import type { FusedGraph } from '../../src/passes/fuse.js';
import { need, runBareGraph, runPipeline, type Program } from '../../src/passes/pipeline.js';
import { planMemory, type MemoryPlan } from '../../src/passes/plan-memory.js';
import { verifyProgram } from '../../src/passes/verify.js';
import type { PstcDevice } from './gpu-device.js';
import { Execution, type ReadyDispatch } from './executor.js';
import { MIN_LIMITS, type KernelLimits } from './kernels/common.js';
import { lowerKernels, type LoweredKernel } from './lower-kernels.js';

export interface GraphProgram {
  /** The folded graph the kernels compute. */
  graph: Graph;
  fused: FusedGraph;
  steps: LoweredKernel[];
  memory: MemoryPlan;
  /** Dispatches per run (one per kernel). */
  dispatches: number;
  /** Kernel outputs kept readable after a run (`keep`), by label. */
  kept: Map<string, NodeId>;
}

export interface PlanGraphOptions {
  limits?: KernelLimits;
  /** Keep these nodes' values readable after a run (only kernel outputs: not views or fused-away nodes). */
  keep?: (node: Node) => boolean;
}

/**
 * Plan a program the pipeline has begun (a model's training program: `compileProgram(…, {
 * training, until: 'autodiff' })`): the remaining passes run, verified, then the kernels are
 * emitted (pure: no device). A bare graph (kernel tests build small ones that are no model's) goes
 * through the pipeline's bare-graph passes (BARE_GRAPH_PASSES: fold, fuse), without the
 * model-level verifier; its memory is planned here as a program's is.
 */
export function planGraph(from: Graph | Program, options: PlanGraphOptions = {}): GraphProgram {
  const program = 'nodes' in from ? undefined : runPipeline(from, { until: 'fuse' });
  const fused = need(program ?? runBareGraph(from as Graph), 'fused', 'planGraph');
  const steps = lowerKernels(fused, options.limits ?? MIN_LIMITS);
  const kept = new Map<string, NodeId>();
  if (options.keep) {
    for (const k of fused.kernels) {
      const n = fused.graph.nodes[k.out]!;
      if (!options.keep(n)) continue;
      if (kept.has(n.label)) throw new Error(`keep: two kernel outputs are labelled '${n.label}'`);
      kept.set(n.label, n.id);
    }
  }
  const memory = planMemory(fused, [...kept.values()]);
  // The plan-memory pass's verification (with `keep`, planned here rather than by the pass),
  // including the limits the program was planned for.
  if (program) verifyProgram({ ...program, memory, passes: [...program.passes, 'plan-memory'] }, 'plan-memory', { folded: true });
  return { graph: fused.graph, fused, steps, memory, dispatches: steps.length, kept };
}

/** One more dispatch for the same submission (the optimizer's kernels after a training graph). */
export type ExtraDispatch = ReadyDispatch;

/** A buffer of the compiled graph, to bind in other kernels: a param, a param's gradient, an output. */
export type GraphBufferRef = { param: string } | { grad: string } | { output: 'features' | 'logits' | 'loss' } | { input: string };

export interface CompiledGraph {
  program: GraphProgram;
  execution: Execution;
  /**
   * Upload the inputs and the RNG key and submit every kernel, then `extra` dispatches, in one
   * command buffer, without waiting for the device (reads wait; so does `run`).
   */
  submit(inputs: Readonly<Record<string, Float32Array>>, key?: readonly [number, number], extra?: readonly ExtraDispatch[]): void;
  /** Where a param, a gradient or an output lives on the device. */
  binding(ref: GraphBufferRef): GPUBufferBinding;
  /** Upload the inputs (e.g. clip, labels) and the RNG key, run every kernel in one submission, wait. */
  run(inputs: Readonly<Record<string, Float32Array>>, key?: readonly [number, number]): Promise<void>;
  /** Read a graph output ('features', 'logits', 'loss') after a run. */
  output(name: 'features' | 'logits' | 'loss'): Promise<Float32Array>;
  /** Read the gradient of a param after a run. */
  grad(param: string): Promise<Float32Array>;
  /** Read a param's device copy. */
  param(name: string): Promise<Float32Array>;
  /** Read a kept node's value (PlanGraphOptions.keep) by label after a run. */
  value(label: string): Promise<Float32Array>;
  /** Overwrite a param's device copy (an optimizer step from the host, tests, a resumed run). */
  setParam(name: string, data: Float32Array): void;
  /** Bytes of device buffers allocated. */
  allocatedBytes(): number;
  destroy(): void;
}

export async function compileGraph(
  device: PstcDevice,
  program: GraphProgram,
  weights: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
): Promise<CompiledGraph> {
  const { graph, fused, steps, memory } = program;
  const params = new Map<NodeId, { name: string; data: Float32Array }>();
  const paramNode = new Map<string, NodeId>();
  for (const id of graph.params) {
    const n = graph.nodes[id]!;
    if (n.op.kind !== 'param') continue;
    const w = weights.get(n.op.name);
    if (!w || w.data.length !== size(n.shape)) throw new Error(`param '${n.op.name}' is missing or does not hold [${n.shape.join(', ')}]`);
    params.set(id, { name: n.op.name, data: w.data });
    paramNode.set(n.op.name, id);
  }
  const execution = await Execution.create(device, { kernels: steps, memory, params });

  const inputs = new Map<string, NodeId>();
  for (const id of graph.inputs) {
    const n = graph.nodes[id]!;
    if (n.op.kind === 'input') inputs.set(n.op.name, id);
  }
  const tensor = (id: NodeId): GPUBufferBinding => ({ buffer: execution.buffer(id), offset: 0, size: execution.bytes(id) });
  const outputNode = (name: 'features' | 'logits' | 'loss'): NodeId => {
    const id = fused.outputs[name];
    if (id === undefined) throw new Error(`the graph has no '${name}' output`);
    return id;
  };
  const gradNode = (param: string): NodeId => {
    const g = fused.grads.find((x) => x.param === param);
    if (!g) throw new Error(`the graph has no gradient for '${param}'`);
    return g.node;
  };
  const paramOf = (name: string): NodeId => {
    const id = paramNode.get(name);
    if (id === undefined) throw new Error(`the graph has no param '${name}'`);
    return id;
  };
  const read = (id: NodeId) => device.readFloat32(execution.buffer(id), size(graph.nodes[id]!.shape));

  const encode = (extra: readonly ExtraDispatch[]): GPUCommandBuffer => {
    const encoder = device.device.createCommandEncoder({ label: 'graph run' });
    execution.encodeKernels(encoder, 'graph run');
    if (extra.length) {
      const pass = encoder.beginComputePass({ label: 'after the graph' });
      for (const x of extra) {
        pass.setPipeline(x.pipeline);
        pass.setBindGroup(0, x.bindGroup);
        pass.dispatchWorkgroups(...x.workgroups);
      }
      pass.end();
    }
    return encoder.finish();
  };
  const upload = (values: Readonly<Record<string, Float32Array>>, key: readonly [number, number]) => {
    for (const [name, id] of inputs) {
      const data = values[name];
      const want = size(graph.nodes[id]!.shape);
      if (!data || data.length !== want) throw new Error(`input '${name}' needs ${want} values, got ${data?.length ?? 'none'}`);
      device.writeBuffer(execution.buffer(id), data);
    }
    if (steps.some((s) => Object.values(s.binds).some((b) => b.kind === 'step_key'))) execution.setStepKey(key);
  };

  return {
    program,
    execution,
    submit(values, key = [0, 0], extra = []) {
      upload(values, key);
      device.device.queue.submit([encode(extra)]);
    },
    binding(ref) {
      if ('param' in ref) return { buffer: execution.paramBuffer(paramOf(ref.param)) };
      if ('input' in ref) {
        const id = inputs.get(ref.input);
        if (id === undefined) throw new Error(`the graph has no input '${ref.input}'`);
        return tensor(id);
      }
      return tensor('grad' in ref ? gradNode(ref.grad) : outputNode(ref.output));
    },
    async run(values, key = [0, 0]) {
      upload(values, key);
      await execution.submit('graph run', (only) => {
        const encoder = device.device.createCommandEncoder({ label: 'graph run' });
        execution.encodeKernels(encoder, 'graph run', only);
        return encoder.finish();
      });
    },
    output: (name) => read(outputNode(name)),
    grad: (param) => read(gradNode(param)),
    param: (name) => device.readFloat32(execution.paramBuffer(paramOf(name)), size(graph.nodes[paramOf(name)]!.shape)),
    value(label) {
      const id = program.kept.get(label);
      if (id === undefined) throw new Error(`no kept kernel output is labelled '${label}'`);
      return read(id);
    },
    setParam(name, data) {
      const id = paramOf(name);
      if (data.length !== size(graph.nodes[id]!.shape)) throw new Error(`param '${name}' holds ${size(graph.nodes[id]!.shape)} values, not ${data.length}`);
      device.writeBuffer(execution.paramBuffer(id), data);
    },
    allocatedBytes: () => execution.allocatedBytes(),
    destroy: () => execution.destroy(),
  };
}
