// Compile and run a whole graph IR on the device — in particular a training graph (forward,
// autodiff's backward, loss), which the model runtime (runtime.ts) does not lower itself: the
// graph goes through the same view folding, fusion, memory plan and kernel emitters, and one
// `run` is one queue submission of every kernel. The host writes the inputs (clip, labels) and the
// step's RNG key, and reads back only what it asks for (the loss, gradients).
// This is the executor the training loop builds on; the forward-only runtime keeps its own
// (micro-batching, device-error tracing) until the two share one execution module.
import { foldViews } from '../../src/ir/fold.js';
import { size, type Graph, type Node, type NodeId } from '../../src/ir/graph.js';
import { fuse, type FusedGraph } from '../../src/passes/fuse.js';
import { planMemory, type MemoryPlan } from '../../src/passes/plan-memory.js';
import { KernelError, type PstcDevice } from './gpu-device.js';
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

/** Fold, fuse, lower and plan a graph (pure: no device). */
export function planGraph(graph: Graph, options: PlanGraphOptions = {}): GraphProgram {
  const folded = foldViews(graph);
  const fused = fuse(folded);
  const steps = lowerKernels(fused, options.limits ?? MIN_LIMITS);
  const kept = new Map<string, NodeId>();
  if (options.keep) {
    for (const k of fused.kernels) {
      const n = folded.nodes[k.out]!;
      if (!options.keep(n)) continue;
      if (kept.has(n.label)) throw new Error(`keep: two kernel outputs are labelled '${n.label}'`);
      kept.set(n.label, n.id);
    }
  }
  return { graph: folded, fused, steps, memory: planMemory(fused, [...kept.values()]), dispatches: steps.length, kept };
}

/** One more dispatch for the same submission (the optimizer's kernels after a training graph). */
export interface ExtraDispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: readonly [number, number, number];
}

/** A buffer of the compiled graph, to bind in other kernels: a param, a param's gradient, an output. */
export type GraphBufferRef = { param: string } | { grad: string } | { output: 'features' | 'logits' | 'loss' };

export interface CompiledGraph {
  program: GraphProgram;
  /**
   * Upload the inputs and the RNG key and submit every kernel, then `extra` dispatches, in one
   * command buffer, without waiting for the device (reads wait; so does `run`).
   */
  submit(inputs: Readonly<Record<string, Float32Array>>, key?: readonly [number, number], extra?: readonly ExtraDispatch[]): void;
  /** Where a param, a gradient or an output lives on the device. */
  binding(ref: GraphBufferRef): GPUBufferBinding;
  /** Upload the named inputs (e.g. clip, labels) and the RNG key, run every kernel in one submission. */
  run(inputs: Readonly<Record<string, Float32Array>>, key?: readonly [number, number]): Promise<void>;
  /** Read a graph output ('features', 'logits', 'loss') after a run. */
  output(name: 'features' | 'logits' | 'loss'): Promise<Float32Array>;
  /** Read the gradient of a param after a run. */
  grad(param: string): Promise<Float32Array>;
  /** Read a kept node's value (PlanGraphOptions.keep) by label after a run. */
  value(label: string): Promise<Float32Array>;
  /** Overwrite a param's device copy (an optimizer step from the host, tests). */
  setParam(name: string, data: Float32Array): void;
  /** Bytes of device buffers allocated. */
  allocatedBytes(): number;
  destroy(): void;
}

export async function compileGraph(
  device: PstcDevice,
  program: GraphProgram,
  params: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>,
): Promise<CompiledGraph> {
  const { graph, fused, steps, memory } = program;
  const owned: GPUBuffer[] = [];
  let allocated = 0;
  const track = (b: GPUBuffer): GPUBuffer => {
    owned.push(b);
    allocated += b.size;
    return b;
  };
  const destroyAll = () => {
    for (const b of owned) b.destroy();
    owned.length = 0;
  };
  try {
    const slots = memory.buffers.map((bytes, i) => track(device.createEmptyBuffer(bytes / 4, `activations ${i}`)));
    const paramBuffers = new Map<string, GPUBuffer>();
    const paramNode = new Map<string, NodeId>();
    for (const id of graph.params) {
      const n = graph.nodes[id]!;
      if (n.op.kind !== 'param') continue;
      const w = params.get(n.op.name);
      if (!w || w.data.length !== size(n.shape)) {
        throw new Error(`param '${n.op.name}' is missing or does not hold [${n.shape.join(', ')}]`);
      }
      paramNode.set(n.op.name, id);
      paramBuffers.set(n.op.name, track(device.createBuffer(w.data, n.op.name)));
    }
    const stepKey = track(device.createEmptyBuffer(2, 'step key'));
    const slotOf = (id: NodeId): GPUBufferBinding => {
      const slot = memory.slot.get(id);
      if (slot === undefined) throw new Error(`internal: node ${id} has no planned buffer`);
      return { buffer: slots[slot]!, offset: 0, size: memory.bytes.get(id)! };
    };

    const pipelines = new Map<string, Promise<GPUComputePipeline>>();
    const compiled: { step: LoweredKernel; pipeline: GPUComputePipeline; bindGroup: GPUBindGroup }[] = [];
    for (const step of steps) {
      const k = step.kernel;
      let pipeline = pipelines.get(k.wgsl);
      if (!pipeline) pipelines.set(k.wgsl, (pipeline = device.createPipeline(k.label, k.wgsl, k.entryPoint, k.bindings)));
      const p = await pipeline;
      const bindGroup = await device.withErrorScopes(k.label, () => {
        const entries: GPUBindGroupEntry[] = k.bindings.map((b) => {
          if (b.constant) {
            const u = track(device.createUniformBuffer(b.constant.byteLength, `${k.label}.${b.name}`));
            device.writeBuffer(u, b.constant);
            return { binding: b.binding, resource: { buffer: u } };
          }
          const bound = step.binds[b.name];
          if (!bound) throw new KernelError(k.label, `internal: nothing bound to ${b.name}`);
          switch (bound.kind) {
            case 'tensor':
              return { binding: b.binding, resource: slotOf(bound.node) };
            case 'param':
              return { binding: b.binding, resource: { buffer: paramBuffers.get(bound.name)! } };
            case 'table':
              return { binding: b.binding, resource: { buffer: track(device.createBuffer(bound.data, bound.description)) } };
            case 'step_key':
              return { binding: b.binding, resource: { buffer: stepKey } };
          }
        });
        return device.device.createBindGroup({ label: k.label, layout: p.getBindGroupLayout(0), entries });
      });
      compiled.push({ step, pipeline: p, bindGroup });
    }

    const inputs = new Map<string, NodeId>();
    for (const id of graph.inputs) {
      const n = graph.nodes[id]!;
      if (n.op.kind === 'input') inputs.set(n.op.name, id);
    }
    const read = (id: NodeId) => device.readFloat32(slotOf(id).buffer, size(graph.nodes[id]!.shape));
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
    const submit = (values: Readonly<Record<string, Float32Array>>, key: readonly [number, number] = [0, 0], extra: readonly ExtraDispatch[] = []) => {
      for (const [name, id] of inputs) {
        const data = values[name];
        const want = size(graph.nodes[id]!.shape);
        if (!data || data.length !== want) throw new Error(`input '${name}' needs ${want} values, got ${data?.length ?? 'none'}`);
        device.writeBuffer(slotOf(id).buffer, data);
      }
      device.writeBuffer(stepKey, Uint32Array.of(key[0] >>> 0, key[1] >>> 0));
      const encoder = device.device.createCommandEncoder({ label: 'graph run' });
      const pass = encoder.beginComputePass({ label: 'graph run' });
      for (const c of compiled) {
        pass.setPipeline(c.pipeline);
        pass.setBindGroup(0, c.bindGroup);
        pass.dispatchWorkgroups(...c.step.kernel.dispatch);
      }
      for (const x of extra) {
        pass.setPipeline(x.pipeline);
        pass.setBindGroup(0, x.bindGroup);
        pass.dispatchWorkgroups(...x.workgroups);
      }
      pass.end();
      device.device.queue.submit([encoder.finish()]);
    };
    return {
      program,
      submit,
      binding(ref) {
        if ('param' in ref) {
          const b = paramBuffers.get(ref.param);
          if (!b) throw new Error(`the graph has no param '${ref.param}'`);
          return { buffer: b };
        }
        return slotOf('grad' in ref ? gradNode(ref.grad) : outputNode(ref.output));
      },
      async run(values, key = [0, 0]) {
        await device.withErrorScopes('graph run', async () => {
          submit(values, key);
          await device.device.queue.onSubmittedWorkDone();
        });
      },
      output(name) {
        return read(outputNode(name));
      },
      grad(param) {
        return read(gradNode(param));
      },
      value(label) {
        const id = program.kept.get(label);
        if (id === undefined) throw new Error(`no kept kernel output is labelled '${label}'`);
        return read(id);
      },
      setParam(name, data) {
        const b = paramBuffers.get(name);
        if (!b || data.length !== size(graph.nodes[paramNode.get(name)!]!.shape)) throw new Error(`no param '${name}' of ${data.length} values`);
        device.writeBuffer(b, data);
      },
      allocatedBytes: () => allocated,
      destroy: destroyAll,
    };
  } catch (e) {
    destroyAll();
    throw e;
  }
}
