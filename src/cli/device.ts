// The WebGPU device as the device commands (run, bench, compile --adapter) use it: opened for one
// command and always released; no adapter is the user's environment, not a bug.
import { NoAdapterError, openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { UsageError } from './errors.js';

/**
 * Open the device for a command and always release it. No adapter becomes a one-line message
 * saying what to install.
 */
export async function withDevice<T>(fn: (device: PstcDevice) => Promise<T>): Promise<T> {
  let device: PstcDevice;
  try {
    device = await openDevice();
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
