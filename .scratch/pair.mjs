// Time the kernels that differ between two models (same index), interleaved, CPU ms per dispatch.
import { openDevice } from '../dist/backends/webgpu/device.js';
import { compileModel } from '../dist/backends/webgpu/runtime.js';
import { timeDispatches } from '../dist/backends/webgpu/profile.js';
import { initWeights } from '../dist/src/weights/index.js';
import { loadCommandModel } from '../dist/src/cli/model.js';
import { randomClip } from '../dist/src/cli/clips.js';
const [fa, fb, T, S, rounds] = [process.argv[2], process.argv[3], +process.argv[4], +process.argv[5], +(process.argv[6] ?? 9)];
const device = await openDevice();
const input = { batch: 1, frames: T, size: S };
const subj = [];
for (const f of [fa, fb]) {
  const { model } = loadCommandModel(f, { set: [] });
  const c = await compileModel(device, model, input, initWeights(model, 1), {});
  const clip = randomClip([1, 3, T, S, S], 1);
  await c.forward(clip);
  subj.push(c.profiledDispatches());
}
const [A, B] = subj;
const pick = process.env.ALL ? A.map((_, i) => i) : A.map((d, i) => i).filter((i) => A[i].dispatch.label !== B[i].dispatch.label || /qkv|gemm_layers\.\d\.blocks\.\d+$/.test(A[i].dispatch.label));
const times = pick.map(() => [[], []]);
for (let r = 0; r < rounds; r++) for (const [j, i] of pick.entries()) for (const [s, X] of [A, B].entries()) {
  const before = process.cpuUsage();
  await timeDispatches(device, [X[i].dispatch, X[i].dispatch], 'timestamp-query');
  const u = process.cpuUsage(before);
  times[j][s].push((u.user + u.system) / 1000 / 2);
}
const med = (x) => { const y = [...x].sort((p, q) => p - q); return y[y.length >> 1]; };
let sa = 0, sb = 0;
for (const [j, i] of pick.entries()) {
  const [ta, tb] = times[j];
  sa += med(ta); sb += med(tb);
  console.log(A[i].dispatch.label.padEnd(44), 'min', Math.min(...ta).toFixed(1), Math.min(...tb).toFixed(1), ' med', med(ta).toFixed(1), med(tb).toFixed(1), ' ratio(med)', (med(ta) / med(tb)).toFixed(3));
}
console.log('sum of medians', sa.toFixed(1), sb.toFixed(1), (sa / sb).toFixed(3));
device.destroy();
