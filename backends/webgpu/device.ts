// The Node host's WebGPU device: Dawn through the npm package `webgpu`. Everything about the
// device itself (limits, error scopes, pipelines, buffers) is host-neutral and lives in
// gpu-device.ts, which the browser page uses with navigator.gpu; this module only adds Dawn.
import { create, globals } from 'webgpu';
import { openDeviceOn, type OpenDeviceOptions, type PstcDevice } from './gpu-device.js';

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
