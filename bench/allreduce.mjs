// The cost of data-parallel training's gradient sum (docs/training.md, "Data-parallel training"):
// a model's gradients, in bucket buffers on this machine's WebGPU device, read back, summed
// across the ranks with MPI_Allreduce and written back — the reducer `pstc train --distributed mpi`
// runs after each backward (src/train/distributed-reduce.ts) — with and without the overlap, per
// bucket size. Also the bare MPI_Allreduce of the whole gradient from host memory.
//
//   OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_btl_tcp_if_include=lo \
//     mpirun --allow-run-as-root --oversubscribe -np 2 node bench/allreduce.mjs [MODEL.pst] [REPEATS]
//
// Rank 0 prints one JSON line per configuration (medians over REPEATS, default 7).
import { join } from 'node:path';
import { openDevice } from '../dist/backends/webgpu/device.js';
import { loadModel } from '../dist/src/lang/elaborate.js';
import { readFromDisk } from '../dist/src/lang/read-disk.js';
import { openMpi } from '../dist/src/train/distributed.js';
import { GradientReducer } from '../dist/src/train/distributed-reduce.js';
import { initWeights } from '../dist/src/weights/index.js';

const root = join(import.meta.dirname, '..');
const modelFile = process.argv[2] ?? join(root, 'models/pst-t.pst');
const repeats = Number(process.argv[3] ?? 7);
const comm = openMpi();
const { model } = loadModel(modelFile, undefined, readFromDisk);
const sizes = [...initWeights(model, 0).values()].map((t) => t.data.length);
const params = sizes.reduce((a, b) => a + b, 0);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const say = (record) => comm.rank === 0 && console.log(JSON.stringify({ model: model.name, ranks: comm.size, params, ...record }));

// The bare collective: the whole gradient, one call, from host memory.
const host = new Float32Array(params).fill(comm.rank + 1);
const bare = [];
for (let i = 0; i < repeats; i++) {
  await comm.barrier();
  const t = performance.now();
  await comm.allreduceSum(host);
  bare.push(performance.now() - t);
}
say({ kind: 'MPI_Allreduce, host memory, one call', ms: median(bare) });

const device = await openDevice();
for (const mib of [4, 25, 100]) {
  // Buckets as TrainingStep lays them out: tensors in order, 256-byte aligned, about `mib` each.
  const buckets = [];
  let bytes = 0;
  const close = () => {
    if (!bytes) return;
    buckets.push({ buffer: device.createBuffer(new Float32Array(bytes / 4).fill(comm.rank + 1), `bucket ${buckets.length}`), elements: bytes / 4 });
    bytes = 0;
  };
  for (const n of sizes) {
    if (bytes > 0 && bytes + n * 4 > mib * 2 ** 20) close();
    bytes += Math.ceil((n * 4) / 256) * 256;
  }
  close();
  for (const overlap of [true, false]) {
    const reducer = new GradientReducer(device, comm, buckets, overlap);
    const times = [];
    for (let i = 0; i < repeats; i++) {
      await comm.barrier();
      times.push(await reducer.reduce());
    }
    reducer.destroy();
    say({ kind: 'device read-back + MPI_Allreduce + write-back', bucketMiB: mib, buckets: buckets.length, overlap, reduceMs: median(times.map((t) => t.reduceMs)), allreduceMs: median(times.map((t) => t.allreduceMs)) });
  }
  for (const b of buckets) b.buffer.destroy();
}
device.destroy();
await comm.barrier();
comm.finalize();
