// Runs every golden case of test/golden/ through the compiled WebGPU runtime (dist/) on whatever
// adapter this machine has, and prints the max-norm relative error of features and logits against
// the PyTorch goldens. For machines without npm dev dependencies (the GPU machine):
//   node bench/golden-check.mjs [test/golden]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openDevice } from '../dist/backends/webgpu/device.js';
import { compileModel } from '../dist/backends/webgpu/runtime.js';
import { readNpy, readSafetensors } from '../dist/src/weights/index.js';

const root = process.argv[2] ?? 'test/golden';
const device = await openDevice();
console.log(`adapter: ${device.describe()}`);
let worst = 0;
for (const name of readdirSync(root).sort()) {
  const dir = join(root, name);
  let config;
  try {
    config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch {
    continue;
  }
  const weights = readSafetensors(readFileSync(join(dir, 'weights.safetensors')));
  const clip = readNpy(readFileSync(join(dir, 'input.npy')));
  const [batch, , frames, size] = clip.shape;
  const compiled = await compileModel(device, config, { batch, frames, size }, weights);
  const got = await compiled.forward(clip.data);
  compiled.destroy();
  const features = err(got.features, readNpy(readFileSync(join(dir, 'features.npy'))).data);
  const logits = config.head ? err(got.logits, readNpy(readFileSync(join(dir, 'logits.npy'))).data) : 0;
  worst = Math.max(worst, features, logits);
  console.log(`${name.padEnd(18)} features ${features.toExponential(2)}  logits ${logits.toExponential(2)}`);
}
device.destroy();
console.log(`worst ${worst.toExponential(2)} (tolerance 1e-4): ${worst <= 1e-4 ? 'ok' : 'FAIL'}`);
process.exit(worst <= 1e-4 ? 0 : 1);

function err(a, b) {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}
