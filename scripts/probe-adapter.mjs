// Prints the WebGPU adapter Dawn finds (exit 0), or why there is none (exit 1).
// Plain JS so that set-up can run it before anything is built.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('requestAdapter() returned null');
  process.exit(1);
}
const info = adapter.info;
console.log(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`.replace(/\s+/g, ' ').trim());
process.exit(0);
