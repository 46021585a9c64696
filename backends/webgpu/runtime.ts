// The inference runtime: a model, an input size and weights → a compiled model whose forward is
// one command buffer. Planning (plan.ts, pure) decides the kernels, buffers and micro-batch;
// execution (executor.ts) runs the planned kernels over the planned buffers; this module only
// adds what inference needs around them:
//   - the weights, checked against the graph's params and handed to the executor by node;
//   - with micro-batches, buffers for the whole batch's clip and outputs, and per chunk a copy of
//     its clips in and its outputs out around the same planned buffers, all in one command buffer;
//   - forwards one at a time (they share the planned buffers), readback, timing for bench.
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { F32_BYTES, size, type Graph, type NodeId } from '../../src/ir/graph.js';
import { checkWeights } from '../../src/ir/params.js';
import type { DeviceLimits, PstcDevice } from './gpu-device.js';
import type { KernelStyle } from './kernels/common.js';
import { Execution } from './executor.js';
import { kernelCost } from '../../src/passes/kernel-cost.js';
import type { ProfiledDispatch } from './profile.js';
import { planModel, type ModelInput, type ModelPlan } from './plan.js';
import { f16Unavailable, storageOf, tensorBytesAt, toFloat16Bits, type Precision } from './precision.js';

export type { KernelListing } from './lower-kernels.js';
export { DEFAULT_LIMITS, planModel, planProgram, type ModelInput, type ModelPlan } from './plan.js';

export interface ForwardResult {
  features: Float32Array;
  featuresShape: number[];
  logits?: Float32Array;
  logitsShape?: number[];
}

export interface CompiledModel extends ModelPlan {
  /** clip N×Cin×T×H×W float32, checked against the input shape. */
  forward(clip: Float32Array): Promise<ForwardResult>;
  /** Time one forward on the device (submit → onSubmittedWorkDone), in milliseconds, for bench. */
  timeForward(clip: Float32Array): Promise<number>;
  /** Bytes of device buffers this model allocated. */
  measuredPeakBytes(): number;
  /**
   * Every kernel dispatch of a forward, in order (each chunk's kernels, without the chunks'
   * copies), with what each costs: what `bench --profile` times one by one after a forward.
   */
  profiledDispatches(): ProfiledDispatch[];
  destroy(): void;
}

export interface CompileOptions {
  /** Tighter limits than the device's (tests force micro-batching with a small binding size). */
  limits?: Partial<DeviceLimits>;
  /** Force a kernel style (tests); default the device's choice (PstcDevice.kernelStyle). */
  style?: KernelStyle;
  /**
   * How weights and activations are stored (precision.ts); default f32. f16 needs a device
   * opened with the 'shader-f16' feature (openDevice({ requireFeatures: ['shader-f16'] })).
   */
  precision?: Precision;
}

export async function compileModel(
  device: PstcDevice,
  model: ModelConfig,
  input: ModelInput,
  weights: ReadonlyMap<string, { shape: number[]; data: Float32Array }>,
  options: CompileOptions = {},
): Promise<CompiledModel> {
  const limits: DeviceLimits = { ...device.limits };
  for (const [k, v] of Object.entries(options.limits ?? {}) as [keyof DeviceLimits, number][]) limits[k] = Math.min(limits[k], v);
  const precision = options.precision ?? 'f32';
  if (precision === 'f16' && !device.features.has('shader-f16')) throw f16Unavailable(device.describe(), device.adapter.features.has('shader-f16'));
  const plan = planModel(model, input, { ...limits, style: options.style ?? device.kernelStyle, subgroupSize: device.subgroupSize, precision });
  const { graph, fused } = plan;
  checkWeights(graph, weights);

  const storage = storageOf(fused, precision);
  const params = new Map<NodeId, { name: string; data: Float32Array | Uint16Array }>();
  for (const id of graph.params) {
    const n = graph.nodes[id]!;
    const name = n.op.kind === 'param' ? n.op.name : n.label;
    const data = weights.get(name)!.data;
    params.set(id, { name, data: storage(id) === 'f16' ? toFloat16Bits(data) : data });
  }
  const execution = await Execution.create(device, { kernels: plan.steps, memory: plan.memory, params });
  try {
    const inputNode = graph.inputs[0]!;
    const featuresNode = fused.outputs.features;
    const logitsNode = fused.outputs.logits;
    const perClip = (n: NodeId) => execution.bytes(n) / plan.microBatch;
    const whole = (n: NodeId, label: string) => execution.allocate((perClip(n) * plan.batch) / F32_BYTES, label);
    const io =
      plan.chunks > 1
        ? await device.withErrorScopes('allocate batch input/output buffers', () => ({
            clip: whole(inputNode, 'clip (whole batch)'),
            features: whole(featuresNode, 'features (whole batch)'),
            logits: logitsNode !== undefined ? whole(logitsNode, 'logits (whole batch)') : undefined,
          }))
        : null;

    const clipElements = (size(graph.inputShape) / plan.microBatch) * plan.batch;
    const upload = (clip: Float32Array) => {
      if (clip.length !== clipElements) {
        const shape = [plan.batch, ...graph.inputShape.slice(1)];
        throw new DiagnosticError([
          {
            code: 'PST305',
            severity: 'error',
            message: `the clip holds ${clip.length} values but the model was compiled for [${shape.join(', ')}] (${clipElements} values)`,
            flag: '--input',
            hint: "give --batch, --frames and --size matching the clip, and the model's input channels",
          },
        ]);
      }
      device.writeBuffer(io ? io.clip : execution.buffer(inputNode), clip);
    };

    /** One command buffer: for each chunk, copy its clips in, every dispatch, copy its outputs out. */
    const encodeForward = (only?: number): GPUCommandBuffer => {
      const encoder = device.device.createCommandEncoder({ label: 'forward' });
      for (let chunk = 0; chunk < plan.chunks; chunk++) {
        const clips = Math.min(plan.microBatch, plan.batch - chunk * plan.microBatch);
        const at = (n: NodeId) => chunk * plan.microBatch * perClip(n);
        const copy = (from: GPUBuffer, fromOffset: number, to: GPUBuffer, toOffset: number, n: NodeId) =>
          encoder.copyBufferToBuffer(from, fromOffset, to, toOffset, perClip(n) * clips);
        if (io) copy(io.clip, at(inputNode), execution.buffer(inputNode), 0, inputNode);
        execution.encodeKernels(encoder, `forward chunk ${chunk}`, only);
        if (io) {
          copy(execution.buffer(featuresNode), 0, io.features, at(featuresNode), featuresNode);
          if (logitsNode !== undefined) copy(execution.buffer(logitsNode), 0, io.logits!, at(logitsNode), logitsNode);
        }
      }
      return encoder.finish();
    };

    const featuresShape = [plan.batch, ...graph.nodes[featuresNode]!.shape.slice(1)];
    const logitsShape = logitsNode !== undefined ? [plan.batch, ...graph.nodes[logitsNode]!.shape.slice(1)] : undefined;
    const readOut = (n: NodeId, wholeBatch: GPUBuffer | undefined) =>
      device.readFloat32(wholeBatch ?? execution.buffer(n), (perClip(n) * plan.batch) / F32_BYTES);

    // Forwards share the planned buffers: one at a time, in call order.
    let queue: Promise<unknown> = Promise.resolve();
    let destroyed = false;
    const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
      const next = queue.then(() => {
        if (destroyed) throw new Error('this compiled model was destroyed');
        return fn();
      });
      queue = next.catch(() => undefined);
      return next;
    };
    return {
      ...plan,
      forward: (clip) =>
        exclusive(async () => {
          upload(clip);
          await execution.submit('forward', encodeForward);
          const features = await readOut(featuresNode, io?.features);
          const result: ForwardResult = { features, featuresShape };
          if (logitsNode !== undefined) {
            result.logits = await readOut(logitsNode, io?.logits);
            result.logitsShape = logitsShape!;
          }
          return result;
        }),
      timeForward: (clip) =>
        exclusive(async () => {
          upload(clip);
          await device.device.queue.onSubmittedWorkDone();
          const start = performance.now();
          await execution.submit('forward', encodeForward);
          return performance.now() - start;
        }),
      measuredPeakBytes: () => execution.allocatedBytes(),
      profiledDispatches() {
        const one = execution.dispatches.map((dispatch, i) => ({ dispatch, cost: kernelCost(graph, plan.steps[i]!.fused, tensorBytesAt(fused, precision)) }));
        return Array.from({ length: plan.chunks }, () => one).flat();
      },
      destroy() {
        destroyed = true;
        execution.destroy();
      },
    };
  } catch (e) {
    execution.destroy();
    throw e;
  }
}
