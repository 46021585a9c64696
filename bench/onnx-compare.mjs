// Times ONNX files in ONNX Runtime (CPU, 2 intra-op threads, optimisation 'all') on one random
// clip, alternating passes between them (A, B, A, B, …) so that drift of a shared machine falls
// on both alike: e.g. pstc's export (`pstc export`) against PyTorch's (bench/torch_onnx_export.py).
//   node bench/onnx-compare.mjs --shape 1x3x32x224x224 --warmup 1 --iters 3 pst-t.onnx pst-t.torch.onnx
import * as ort from 'onnxruntime-node';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const [value] = args.splice(i, 2).slice(1);
  return value;
};
const shape = flag('--shape', '1x3x32x224x224').split('x').map(Number);
const warmup = Number(flag('--warmup', '1'));
const iters = Number(flag('--iters', '3'));
const threads = Number(flag('--threads', '2'));
if (args.length === 0) {
  console.error('usage: node bench/onnx-compare.mjs [--shape NxCxTxHxW] [--warmup N] [--iters N] [--threads N] A.onnx [B.onnx …]');
  process.exit(2);
}
const clip = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i));
const feeds = { clip: new ort.Tensor('float32', clip, shape) };
const sessions = [];
for (const path of args) {
  const start = performance.now();
  sessions.push(await ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' }));
  console.log(`${path}: session ${((performance.now() - start) / 1000).toFixed(1)} s`);
}
for (let i = 0; i < warmup; i++) for (const s of sessions) await s.run(feeds);
const samples = sessions.map(() => []);
for (let i = 0; i < iters; i++) {
  for (const [k, s] of sessions.entries()) {
    const start = performance.now();
    await s.run(feeds);
    samples[k].push(performance.now() - start);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [k, path] of args.entries()) {
  console.log(`${path}: median ${median(samples[k]).toFixed(0)} ms, best ${Math.min(...samples[k]).toFixed(0)} ms (${samples[k].map((x) => x.toFixed(0)).join(' ')}) — ONNX Runtime ${ort.env.versions.common}, ${threads} threads, ${shape.join('×')}`);
}
if (args.length === 2) console.log(`ratio of medians ${args[0]} / ${args[1]}: ${(median(samples[0]) / median(samples[1])).toFixed(3)}`);
