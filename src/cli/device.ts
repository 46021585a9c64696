// The WebGPU device as the device commands (run, bench, compile --adapter) use it: opened for one
// command and always released; no adapter is the user's environment, not a bug, and neither is an
// adapter without a feature a flag asks for (--precision f16: PST314).
import { NoAdapterError, openDeviceFor, type PstcDevice } from '../../backends/webgpu/device.js';
import type { Precision } from '../../backends/webgpu/precision.js';
import { UsageError } from './errors.js';

/**
 * Open the device for a command and always release it. No adapter becomes a one-line message
 * saying what to install. With `precision` f16 the device is opened with 'shader-f16' (and only
 * then: a float32 command asks for nothing it does not use).
 */
export async function withDevice<T>(fn: (device: PstcDevice) => Promise<T>, precision: Precision = 'f32'): Promise<T> {
  let device: PstcDevice;
  try {
    device = await openDeviceFor(precision);
  } catch (e) {
    if (e instanceof NoAdapterError) throw new UsageError(e.message);
    throw e;
  }
  try {
    return await fn(device);
  } finally {
    device.destroy();
  }
}
