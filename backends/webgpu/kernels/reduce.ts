// Sums over axes, the reductions of training graphs: a linear layer's bias gradient (Σ over rows),
// LayerNorm's dγ = Σ_rows dy·x̂ and dβ = Σ_rows dy (the product fused into the load), the adjoint
// of a broadcast. out[o] = Σ_r Π_f load_f(o, r): one workgroup per output; thread t adds
// r = t, t + T, t + 2T, … in order, then a fixed-order tree sums the threads — no atomics, so the
// same inputs give the same bits every run (a training step must replay exactly).
import {
  entryPrologue,
  MIN_LIMITS,
  headerComment,
  nextPowerOfTwo,
  requireFunction,
  storageDecl,
  wgslInt,
  workgroupGrid,
  type Kernel,
  type KernelBinding,
  type KernelLimits,
  type WgslFunction,
  workgroupSumWgsl,
} from './common.js';

export interface SumOptions {
  label: string;
  /** Output elements, and the count summed into each. */
  outputs: number;
  reduced: number;
  /** Factor f is read by `fn load_<f>(o: i32, r: i32) -> f32` from binding `x<f>` (1 or 2 factors). */
  loads: { fn: WgslFunction; elements: number }[];
  fuses: readonly string[];
  limits?: KernelLimits;
}

export function emitSum(o: SumOptions): Kernel {
  const limits = o.limits ?? MIN_LIMITS;
  if (o.loads.length < 1) throw new Error(`internal error: ${o.label}: a sum needs a factor`);
  const cap = Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const threads = Math.min(cap, nextPowerOfTwo(o.reduced));
  const bindings: KernelBinding[] = o.loads.map((l, i) => ({
    binding: i,
    name: `x${i}`,
    kind: 'read-only-storage',
    type: 'f32',
    elements: l.elements,
    description: `x${i} via ${l.fn.describes}`,
  }));
  bindings.push({ binding: bindings.length, name: 'out', kind: 'storage', type: 'f32', elements: o.outputs, description: `out [${o.outputs}]` });
  const product = o.loads.map((_, i) => `load_${i}(o, r)`).join(' * ');
  const header = headerComment([
    `${o.label}: out[o] = Σ_r ${o.loads.map((_, i) => `x${i}`).join('·')} over ${o.reduced} values for each of ${o.outputs} outputs`,
    `fuses: ${o.fuses.join(', ')}`,
    ...o.loads.map((l, i) => `x${i} read through: ${l.fn.describes}`),
    `one workgroup of ${threads} threads per output, strided partial sums then a fixed-order tree (deterministic)`,
  ]);
  const wgsl = `${header}

const OUTPUTS: i32 = ${wgslInt(o.outputs)};
const REDUCED: i32 = ${wgslInt(o.reduced)};

${bindings.map(storageDecl).join('\n')}

${o.loads.map((l, i) => requireFunction(l.fn, `load_${i}`, o.label)).join('\n\n')}

${workgroupSumWgsl(threads)}

${entryPrologue({ threads: threads, index: 'o', count: 'OUTPUTS', per: 'workgroup' })}
  let t = i32(lid);
  var total = 0.0;
  for (var r = t; r < REDUCED; r += ${threads}) {
    total += ${product};
  }
  total = workgroup_sum(t, total);
  if (t == 0) {
    out[o] = total;
  }
}
`;
  return { label: o.label, wgsl, entryPoint: 'main', workgroupSize: [threads, 1, 1], dispatch: workgroupGrid(o.outputs, limits), bindings };
}
