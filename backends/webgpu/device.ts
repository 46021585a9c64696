// The Node host's WebGPU device: Dawn through the npm package `webgpu`. Everything about the
// device itself (limits, error scopes, pipelines, buffers) is host-neutral and lives in
// gpu-device.ts, which the browser page uses with navigator.gpu; this module only adds Dawn.
import { create, globals } from 'webgpu';
import { MissingFeatureError, openDeviceOn, type OpenDeviceOptions, type PstcDevice } from './gpu-device.js';
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
