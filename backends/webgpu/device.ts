// The Node host's WebGPU device: Dawn through the npm package `webgpu`. Everything about the
// device itself (limits, error scopes, pipelines, buffers) is host-neutral and lives in
// gpu-device.ts, which the browser page uses with navigator.gpu; this module only adds Dawn.
import { create, globals } from 'webgpu';
import { isSoftwareAdapter, MissingFeatureError, openDeviceOn, type AdapterDescription, type OpenDeviceOptions, type PstcDevice } from './gpu-device.js';
import { f16Unavailable, type Precision } from './precision.js';

export * from './gpu-device.js';

let gpuSingleton: GPU | undefined;

/** Dawn's GPU object; created once per process (it owns Dawn's instance). */
function gpu(): GPU {
  if (!gpuSingleton) {
    Object.assign(globalThis, globals);
    // Dawn rounds timestamps down to 2^16 ns by default (a browser's guard against timing
    // attacks); `bench --profile` times kernels of microseconds with them.
    gpuSingleton = create(['disable-dawn-features=timestamp_quantization']);
  }
  return gpuSingleton;
}

export function openDevice(options: OpenDeviceOptions = {}): Promise<PstcDevice> {
  return openDeviceOn(gpu(), options);
}

/**
 * A device for a forward at `precision`: f16 requests 'shader-f16' (and only f16 does: a float32
 * run asks for nothing it does not use); an adapter without it is PST314, naming --precision.
 */
export async function openDeviceFor(precision: Precision): Promise<PstcDevice> {
  try {
    return await openDevice(precision === 'f16' ? { requireFeatures: ['shader-f16'] } : {});
  } catch (e) {
    if (e instanceof MissingFeatureError) throw f16Unavailable(e.adapter, false);
    throw e;
  }
}

/** The adapter requestAdapter() picks by default, as `--backend`'s default reads it. */
export interface AdapterProbe {
  info: AdapterDescription;
  /** A CPU implementation: the adapter says it is a fallback adapter, or its name is lavapipe/llvmpipe/SwiftShader. */
  software: boolean;
}

let probed: Promise<AdapterProbe | undefined> | undefined;

/**
 * The default adapter, requested once per process (no device is opened): undefined when there is
 * none or the WebGPU implementation fails to start (opening the device then says why). Dawn prefers
 * a discrete or integrated GPU to a CPU adapter, so a software adapter here is the only one.
 */
export function probeAdapter(): Promise<AdapterProbe | undefined> {
  probed ??= (async () => {
    try {
      const adapter = await gpu().requestAdapter();
      if (!adapter) return undefined;
      const i = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
      const info: AdapterDescription = { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description };
      return { info, software: i.isFallbackAdapter === true || isSoftwareAdapter(info) };
    } catch {
      return undefined;
    }
  })();
  return probed;
}
