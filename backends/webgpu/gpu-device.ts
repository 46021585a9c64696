// The WebGPU device, on any host's GPU object (Dawn in Node: device.ts; navigator.gpu in a
// browser), requested with the adapter's own limits (never assumed ones) and the optional features
// it offers. Every call that can fail on the device runs inside error scopes, so a validation or
// out-of-memory error becomes an exception naming the kernel, and a lost device is reported on the
// next call, not as silence. No Node module here: the browser page runs the same runtime.
import { KERNEL_STYLES, type KernelStyle, type Kernel, type KernelBinding, type KernelLimits, type Triple } from './kernels/common.js';

/** A WGSL compiler message, positioned in the kernel's source. */
export interface CompilerMessage {
  type: GPUCompilationMessageType;
  line: number;
  column: number;
  message: string;
}

/** A kernel failed to compile, validate or run; the message names the kernel. */
export class KernelError extends Error {
  constructor(
    public readonly label: string,
    message: string,
    public readonly compilerMessages: readonly CompilerMessage[] = [],
  ) {
    super(`kernel "${label}": ${message}`);
    this.name = 'KernelError';
  }
}

/** No WebGPU adapter: say what to install instead of failing somewhere later. */
export class NoAdapterError extends Error {
  constructor(detail: string) {
    super(
      `no WebGPU adapter found (${detail}). ` +
        'On Debian, `bash scripts/setup.sh` installs Mesa ≥ 25 lavapipe (a CPU Vulkan driver) from bookworm-backports; ' +
        'elsewhere install a GPU driver with Vulkan, Metal or D3D12.',
    );
    this.name = 'NoAdapterError';
  }
}

/** The adapter lacks a feature the caller requires (e.g. 'shader-f16' for --precision f16). */
export class MissingFeatureError extends Error {
  constructor(
    readonly features: readonly string[],
    readonly adapter: string,
  ) {
    super(`the WebGPU adapter (${adapter}) lacks required feature(s): ${features.join(', ')}`);
    this.name = 'MissingFeatureError';
  }
}

/** An environment variable the user set (PSTC_KERNELS, PSTC_LAYERNORM_PROLOGUE) has a value pstc does not know. */
export class EnvironmentSettingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentSettingError';
  }
}

/** The device was lost (driver reset, destroy()); every later call fails with this. */
export class DeviceLostError extends Error {
  constructor(reason: string, detail: string) {
    super(`the WebGPU device was lost (${reason})${detail ? `: ${detail}` : ''}`);
    this.name = 'DeviceLostError';
  }
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface OpenDeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Features the caller cannot do without; missing ones are an error. */
  requireFeatures?: GPUFeatureName[];
}

/** One matrix shape the adapter's subgroups multiply (`chromium-experimental-subgroup-matrix`). */
export interface SubgroupMatrixConfig {
  /** Type of the left and right operands, e.g. 'f16'. */
  componentType: string;
  /** Type of the accumulator and result, e.g. 'f32'. */
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

/**
 * What the adapter offers that a kernel could choose by, read from the adapter itself (not the
 * device: a feature is requested only when a command asks for it).
 */
export interface AdapterCapabilities {
  shaderF16: boolean;
  subgroups: boolean;
  /** Subgroup sizes the adapter reports (0 where it does not say). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  timestampQuery: boolean;
  /** The feature 'chromium-experimental-subgroup-matrix' (tensor-core tiles on GPUs that have them). */
  subgroupMatrix: boolean;
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
}

/** The feature that exposes subgroup matrices in Dawn (not in the WebGPU typings yet). */
export const SUBGROUP_MATRIX_FEATURE = 'chromium-experimental-subgroup-matrix';

/** The capabilities of `adapter`; fields a WebGPU implementation does not expose read as absent. */
export function adapterCapabilities(adapter: GPUAdapter): AdapterCapabilities {
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; subgroupMatrixConfigs?: readonly Record<string, unknown>[] };
  const configs = (info.subgroupMatrixConfigs ?? []).map((c) => ({
    componentType: String(c.componentType),
    resultComponentType: String(c.resultComponentType),
    M: Number(c.M),
    N: Number(c.N),
    K: Number(c.K),
  }));
  return {
    shaderF16: adapter.features.has('shader-f16'),
    subgroups: adapter.features.has('subgroups'),
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    timestampQuery: adapter.features.has('timestamp-query'),
    subgroupMatrix: adapter.features.has(SUBGROUP_MATRIX_FEATURE as GPUFeatureName),
    subgroupMatrixConfigs: configs,
  };
}

/** The capabilities in a few lines of text (bench, explain --adapter). */
export function describeCapabilities(c: AdapterCapabilities): string[] {
  const yes = (b: boolean) => (b ? 'offered' : 'not offered');
  const sizes = c.subgroupMinSize ? ` (size ${c.subgroupMinSize === c.subgroupMaxSize ? c.subgroupMinSize : `${c.subgroupMinSize}…${c.subgroupMaxSize}`})` : '';
  const configs = c.subgroupMatrixConfigs.map((m) => `${m.componentType}→${m.resultComponentType} ${m.M}×${m.N}×${m.K}`);
  return [
    `shader-f16: ${yes(c.shaderF16)}${c.shaderF16 ? ' (used only with --precision f16)' : ''}`,
    `subgroups: ${yes(c.subgroups)}${c.subgroups ? sizes : ''}`,
    `timestamp-query: ${yes(c.timestampQuery)}`,
    `subgroup matrices (${SUBGROUP_MATRIX_FEATURE}): ${yes(c.subgroupMatrix)}; configurations: ${configs.length ? configs.join(', ') : 'none'}`,
  ];
}

/** Limits requested at the adapter's values: all that the kernels size themselves from. */
const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

type RequestedLimit = (typeof REQUESTED_LIMITS)[number];
export type DeviceLimits = Record<RequestedLimit, number>;

/**
 * Requested when the adapter offers them, never required ('timestamp-query': `bench --profile`).
 * 'shader-f16' is not among them: it is required only by `--precision f16` (requireFeatures), so a
 * float32 run asks the adapter for nothing it does not use.
 */
const OPTIONAL_FEATURES: GPUFeatureName[] = ['subgroups', 'timestamp-query'];

/**
 * Open a device on `gpu` (the host's entry point: Dawn's GPU object, or navigator.gpu).
 * `adapterOptions` are passed to requestAdapter as they are (a browser may need
 * `featureLevel: 'compatibility'`); powerPreference from `options` is added.
 */
export async function openDeviceOn(
  gpu: GPU,
  options: OpenDeviceOptions = {},
  adapterOptions: GPURequestAdapterOptions = {},
): Promise<PstcDevice> {
  let adapter: GPUAdapter | null;
  try {
    const request = options.powerPreference ? { ...adapterOptions, powerPreference: options.powerPreference } : adapterOptions;
    adapter = await gpu.requestAdapter(Object.keys(request).length ? request : undefined);
  } catch (e) {
    throw new NoAdapterError(`the WebGPU implementation failed to start: ${(e as Error).message}`);
  }
  if (!adapter) throw new NoAdapterError('requestAdapter() returned null');

  const missing = (options.requireFeatures ?? []).filter((f) => !adapter.features.has(f));
  if (missing.length) throw new MissingFeatureError(missing, describeAdapter(adapter.info));
  const features = new Set<GPUFeatureName>(options.requireFeatures ?? []);
  for (const f of OPTIONAL_FEATURES) if (adapter.features.has(f)) features.add(f);

  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) requiredLimits[name] = adapter.limits[name];

  const device = await adapter.requestDevice({
    label: 'pstc',
    requiredFeatures: [...features],
    requiredLimits,
  });
  return new PstcDevice(adapter, device);
}

/** One line naming an adapter, e.g. "mesa software llvmpipe ...". */
export function describeAdapter(info: AdapterDescription): string {
  const { vendor, architecture, device, description } = info;
  return `${vendor} ${architecture} ${device} ${description}`.replace(/\s+/g, ' ').trim();
}

/** A CPU implementation of Vulkan/WebGPU (Mesa's lavapipe/llvmpipe, SwiftShader). */
export function isSoftwareAdapter(info: AdapterDescription): boolean {
  return /llvmpipe|lavapipe|swiftshader|softpipe/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

/**
 * The kernel style for an adapter: 'direct' on CPU adapters, where workgroup barriers cost more
 * than the caches save (measured on llvmpipe: about 2× less CPU time per GEMM), 'tiled'
 * elsewhere. `forced` (the PSTC_KERNELS environment variable) overrides, for tests and tuning.
 */
export function kernelStyleFor(info: AdapterDescription, forced?: string): KernelStyle {
  if (forced !== undefined && forced !== '') {
    if (!(KERNEL_STYLES as readonly string[]).includes(forced)) {
      throw new EnvironmentSettingError(`PSTC_KERNELS=${forced} is not a kernel style; use one of: ${KERNEL_STYLES.join(', ')} (or unset it)`);
    }
    return forced as KernelStyle;
  }
  return isSoftwareAdapter(info) ? 'direct' : 'tiled';
}

export class PstcDevice {
  readonly info: AdapterDescription;
  readonly limits: DeviceLimits;
  readonly features: ReadonlySet<string>;
  /** The style GEMM and attention kernels are emitted in on this adapter (see kernelStyleFor). */
  readonly kernelStyle: KernelStyle;
  private lost: GPUDeviceLostInfo | undefined;
  private destroyed = false;

  constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
  ) {
    const i = adapter.info;
    this.info = { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description };
    const limits = {} as DeviceLimits;
    for (const name of REQUESTED_LIMITS) limits[name] = device.limits[name];
    this.limits = limits;
    this.features = new Set(device.features);
    this.kernelStyle = kernelStyleFor(this.info, globalThis.process?.env?.PSTC_KERNELS);
    void device.lost.then((info) => {
      this.lost = info;
    });
  }

  /** One line naming the adapter, e.g. "mesa software llvmpipe ...". */
  describe(): string {
    return describeAdapter(this.info);
  }

  /** What the adapter offers (shader-f16, subgroups, subgroup matrices), whether requested or not. */
  capabilities(): AdapterCapabilities {
    return adapterCapabilities(this.adapter);
  }

  /** The limits kernel emitters size their tiles from. */
  kernelLimits(): KernelLimits {
    return {
      maxComputeInvocationsPerWorkgroup: this.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: this.limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupSizeX: this.limits.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupsPerDimension: this.limits.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: this.limits.maxStorageBuffersPerShaderStage,
      style: this.kernelStyle,
      ...(this.subgroupSize ? { subgroupSize: this.subgroupSize } : {}),
    };
  }

  /** The adapter's subgroup size where 'subgroups' is enabled and the size is fixed (min = max). */
  get subgroupSize(): number | undefined {
    const info = this.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    if (!this.features.has('subgroups') || !info.subgroupMinSize || info.subgroupMinSize !== info.subgroupMaxSize) return undefined;
    return info.subgroupMinSize;
  }

  /** Throws when the device is gone, so that no call silently does nothing. */
  private checkAlive(): void {
    if (this.destroyed) throw new DeviceLostError('destroyed', 'destroy() was called on this device');
    if (this.lost) throw new DeviceLostError(this.lost.reason, this.lost.message);
  }

  /**
   * Run `fn` inside validation, out-of-memory and internal error scopes; any error the device
   * reports becomes a KernelError naming `label`.
   */
  async withErrorScopes<T>(label: string, fn: () => T | Promise<T>): Promise<T> {
    this.checkAlive();
    const scopes: GPUErrorFilter[] = ['validation', 'out-of-memory', 'internal'];
    for (const s of scopes) this.device.pushErrorScope(s);
    let result: T | undefined;
    let thrown: unknown;
    try {
      result = await fn();
    } catch (e) {
      thrown = e;
    }
    // Pop every scope even when fn threw, or the scope stack stays unbalanced.
    const errors: string[] = [];
    for (const s of [...scopes].reverse()) {
      const error = await this.device.popErrorScope();
      if (error) errors.push(`${s} error: ${error.message}`);
    }
    if (thrown !== undefined) throw thrown;
    if (errors.length) throw new KernelError(label, errors.join('\n'));
    this.checkAlive();
    return result as T;
  }

  /**
   * Compile a compute pipeline. WGSL errors become a KernelError listing the compiler's
   * messages as line:column with the offending source line. With `bindings`, the pipeline
   * layout is explicit (a binding the shader happens not to use stays bindable); without, 'auto'.
   */
  async createPipeline(
    label: string,
    wgsl: string,
    entryPoint: string,
    bindings?: readonly KernelBinding[],
  ): Promise<GPUComputePipeline> {
    return this.withErrorScopes(label, async () => {
      const module = this.device.createShaderModule({ label, code: wgsl });
      const info = await module.getCompilationInfo();
      const messages: CompilerMessage[] = info.messages.map((m) => ({
        type: m.type,
        line: m.lineNum,
        column: m.linePos,
        message: m.message,
      }));
      const errors = messages.filter((m) => m.type === 'error');
      if (errors.length) {
        const lines = wgsl.split('\n');
        const listing = errors
          .map((m) => `  ${m.line}:${m.column}: ${m.message}\n    | ${lines[m.line - 1]?.trim() ?? ''}`)
          .join('\n');
        throw new KernelError(label, `WGSL failed to compile:\n${listing}`, messages);
      }
      const layout = bindings
        ? this.device.createPipelineLayout({
            label,
            bindGroupLayouts: [this.device.createBindGroupLayout({ label, entries: bindings.map(layoutEntry) })],
          })
        : 'auto';
      return this.device.createComputePipeline({ label, layout, compute: { module, entryPoint } });
    });
  }

  /**
   * Compile an emitted kernel with an explicit layout from its bindings, and upload its constant
   * bindings (trip-count uniforms) once.
   */
  async compile(kernel: Kernel): Promise<CompiledKernel> {
    const pipeline = await this.createPipeline(kernel.label, kernel.wgsl, kernel.entryPoint, kernel.bindings);
    const constants: Record<string, GPUBuffer> = {};
    for (const b of kernel.bindings) {
      if (!b.constant) continue;
      const buffer = this.createUniformBuffer(b.constant.byteLength, `${kernel.label}.${b.name}`);
      this.writeBuffer(buffer, b.constant);
      constants[b.name] = buffer;
    }
    return { kernel, pipeline, constants };
  }

  /**
   * Dispatch one pipeline with buffers bound at 0, 1, 2, … (by binding number), submit, and wait
   * for the device to finish.
   */
  async run(label: string, pipeline: GPUComputePipeline, buffers: readonly GPUBuffer[], workgroups: Triple): Promise<void> {
    await this.withErrorScopes(label, async () => {
      const bindGroup = this.device.createBindGroup({
        label,
        layout: pipeline.getBindGroupLayout(0),
        entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const encoder = this.device.createCommandEncoder({ label });
      const pass = encoder.beginComputePass({ label });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(...workgroups);
      pass.end();
      this.device.queue.submit([encoder.finish()]);
      await this.device.queue.onSubmittedWorkDone();
    });
  }

  /**
   * Run a compiled kernel, binding buffers by the names in its binding list (all but its
   * constant bindings, which the compiled kernel holds).
   */
  async dispatch(compiled: CompiledKernel, buffers: Readonly<Record<string, GPUBuffer>>): Promise<void> {
    const { kernel, pipeline, constants } = compiled;
    const expected = kernel.bindings.filter((b) => !b.constant).map((b) => b.name);
    const unknown = Object.keys(buffers).filter((n) => !expected.includes(n));
    const missing = expected.filter((n) => !(n in buffers));
    if (unknown.length || missing.length) {
      throw new KernelError(
        kernel.label,
        `binds ${expected.join(', ')}` +
          (missing.length ? `; missing: ${missing.join(', ')}` : '') +
          (unknown.length ? `; not a binding: ${unknown.join(', ')}` : ''),
      );
    }
    const all = { ...buffers, ...constants };
    const ordered = [...kernel.bindings].sort((a, b) => a.binding - b.binding).map((b) => all[b.name]!);
    await this.run(kernel.label, pipeline, ordered, kernel.dispatch);
  }

  /**
   * A storage buffer holding `data` (also a copy source and destination, for read-back and reuse);
   * half floats (Uint16Array bits) are padded to a multiple of 4 bytes, as buffer sizes must be.
   */
  createBuffer(data: Float32Array | Int32Array | Uint32Array | Uint16Array, label = 'data'): GPUBuffer {
    this.checkAlive();
    const buffer = this.device.createBuffer({
      label,
      // A zero-sized binding is invalid; an empty tensor still gets one element.
      size: Math.max(4, Math.ceil(data.byteLength / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      mappedAtCreation: true,
    });
    const view = new Uint8Array(buffer.getMappedRange());
    view.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffer.unmap();
    return buffer;
  }

  /** A zero-filled storage buffer of `elements` 4-byte elements. */
  createEmptyBuffer(elements: number, label = 'output'): GPUBuffer {
    this.checkAlive();
    return this.device.createBuffer({
      label,
      size: Math.max(4, elements * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }

  /** A uniform buffer of `bytes` (rounded up to 16, as uniform structs require). */
  createUniformBuffer(bytes: number, label = 'uniforms'): GPUBuffer {
    this.checkAlive();
    return this.device.createBuffer({
      label,
      size: Math.max(16, Math.ceil(bytes / 16) * 16),
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /** Write uniforms (or any buffer contents) through the queue. */
  writeBuffer(buffer: GPUBuffer, data: Float32Array | Int32Array | Uint32Array, byteOffset = 0): void {
    this.checkAlive();
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copy a buffer back to the host as float32 (`count` elements, default all). */
  async readFloat32(buffer: GPUBuffer, count = buffer.size / 4): Promise<Float32Array> {
    const bytes = await this.readBytes(buffer, count * 4);
    return new Float32Array(bytes);
  }

  /** Copy the first `byteLength` bytes of a buffer back to the host. */
  async readBytes(buffer: GPUBuffer, byteLength: number): Promise<ArrayBuffer> {
    return this.withErrorScopes(`read back ${buffer.label || 'buffer'}`, async () => {
      const size = Math.ceil(byteLength / 4) * 4;
      const staging = this.device.createBuffer({
        label: 'staging',
        size: Math.max(4, size),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      try {
        const encoder = this.device.createCommandEncoder({ label: 'read back' });
        encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
        this.device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        // Copy out before unmapping: the mapped range is detached by unmap().
        const copy = staging.getMappedRange(0, size).slice(0, byteLength);
        staging.unmap();
        return copy;
      } finally {
        staging.destroy();
      }
    });
  }

  /** Destroy the device. Later calls fail with DeviceLostError('destroyed'). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.device.destroy();
  }
}

export interface CompiledKernel {
  kernel: Kernel;
  pipeline: GPUComputePipeline;
  /** Uniform buffers holding the kernel's constant bindings, by binding name. */
  constants: Readonly<Record<string, GPUBuffer>>;
}

function layoutEntry(b: KernelBinding): GPUBindGroupLayoutEntry {
  const type: GPUBufferBindingType =
    b.kind === 'uniform' ? 'uniform' : b.kind === 'storage' ? 'storage' : 'read-only-storage';
  return { binding: b.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } };
}
