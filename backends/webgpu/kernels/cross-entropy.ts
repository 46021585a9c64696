// Softmax cross-entropy with label smoothing ε (target = (1−ε)·onehot + ε/K) over logits [B, K]
// and labels [B] (class indices stored as float32 numbers):
//   loss = (1/B)·Σ_b (logsumexp(z_b) − Σ_k target_bk·z_bk)           one workgroup, one value
//   dlogits[b, k] = dloss·(softmax(z_b)_k − target_bk)/B                one thread per sample row
// Batches and class counts are small (B ≤ a few hundred, K ≤ a thousand), so a thread per sample
// row with a loop over classes is enough; the loss's batch sum is a fixed-order workgroup tree.
import {
  entryPrologue,
  MIN_LIMITS,
  headerComment,
  storageDecl,
  wgslFloat,
  wgslInt,
  workgroupGrid,
  type Kernel,
  type KernelBinding,
  type KernelLimits,
  workgroupSumWgsl,
} from './common.js';

export interface CrossEntropyOptions {
  label: string;
  batch: number;
  classes: number;
  smoothing: number;
  fuses: readonly string[];
  limits?: KernelLimits;
}

const THREADS = 64;

/** Per-row helpers: the row's max, log Σ exp, and the target of class k. */
function rowFunctions(o: CrossEntropyOptions): string {
  const k = o.classes;
  return `const B: i32 = ${wgslInt(o.batch)};
const K: i32 = ${wgslInt(k)};
const ON: f32 = ${wgslFloat(1 - o.smoothing + o.smoothing / k)};
const OFF: f32 = ${wgslFloat(o.smoothing / k)};

fn row_max(b: i32) -> f32 {
  var m = -3.0e38;
  for (var k = 0; k < K; k++) {
    m = max(m, logits[b * K + k]);
  }
  return m;
}

fn row_exp_sum(b: i32, m: f32) -> f32 {
  var total = 0.0;
  for (var k = 0; k < K; k++) {
    total += exp(logits[b * K + k] - m);
  }
  return total;
}

fn target_of(b: i32, k: i32) -> f32 {
  return select(OFF, ON, k == i32(round(labels[b])));
}`;
}

function bindingsOf(o: CrossEntropyOptions, extra: KernelBinding[]): KernelBinding[] {
  const list: KernelBinding[] = [
    { binding: 0, name: 'logits', kind: 'read-only-storage', type: 'f32', elements: o.batch * o.classes, description: `logits [${o.batch}, ${o.classes}]` },
    { binding: 1, name: 'labels', kind: 'read-only-storage', type: 'f32', elements: o.batch, description: `labels [${o.batch}]` },
  ];
  for (const b of extra) list.push({ ...b, binding: list.length });
  return list;
}

export function emitCrossEntropy(o: CrossEntropyOptions): Kernel {
  const limits = o.limits ?? MIN_LIMITS;
  const bindings = bindingsOf(o, [{ binding: 0, name: 'loss', kind: 'storage', type: 'f32', elements: 1, description: 'loss [1]' }]);
  const header = headerComment([
    `${o.label}: mean softmax cross-entropy over ${o.batch} samples × ${o.classes} classes, label smoothing ${o.smoothing}`,
    `fuses: ${o.fuses.join(', ')}`,
    `one workgroup of ${THREADS} threads, a thread per sample row, fixed-order tree over the batch`,
  ]);
  const wgsl = `${header}

${bindings.map(storageDecl).join('\n')}

${rowFunctions(o)}

${workgroupSumWgsl(THREADS)}

@compute @workgroup_size(${THREADS})
fn main(@builtin(local_invocation_index) lid: u32) {
  let t = i32(lid);
  var partial_loss = 0.0;
  for (var b = t; b < B; b += ${THREADS}) {
    let m = row_max(b);
    var loss_b = log(row_exp_sum(b, m)) + m;
    for (var k = 0; k < K; k++) {
      loss_b -= target_of(b, k) * logits[b * K + k];
    }
    partial_loss += loss_b;
  }
  let total = workgroup_sum(t, partial_loss);
  if (t == 0) {
    loss[0] = total / f32(B);
  }
}
`;
  return { label: o.label, wgsl, entryPoint: 'main', workgroupSize: [THREADS, 1, 1], dispatch: [1, 1, 1], bindings };
}

export function emitCrossEntropyGrad(o: CrossEntropyOptions): Kernel {
  const limits = o.limits ?? MIN_LIMITS;
  const bindings = bindingsOf(o, [
    { binding: 0, name: 'dloss', kind: 'read-only-storage', type: 'f32', elements: 1, description: 'dloss [1]' },
    { binding: 0, name: 'dlogits', kind: 'storage', type: 'f32', elements: o.batch * o.classes, description: `dlogits [${o.batch}, ${o.classes}]` },
  ]);
  const header = headerComment([
    `${o.label}: d mean softmax cross-entropy / d logits, ${o.batch} samples × ${o.classes} classes, label smoothing ${o.smoothing}`,
    'dlogits = dloss·(softmax(z) − target)/B',
    `fuses: ${o.fuses.join(', ')}`,
    'one thread per sample row',
  ]);
  const wgsl = `${header}

${bindings.map(storageDecl).join('\n')}

${rowFunctions(o)}

${entryPrologue({ threads: THREADS, index: 'b', count: 'B', per: 'thread' })}
  let m = row_max(b);
  let inv_total = 1.0 / row_exp_sum(b, m);
  let factor = dloss[0] / f32(B);
  for (var k = 0; k < K; k++) {
    dlogits[b * K + k] = factor * (exp(logits[b * K + k] - m) * inv_total - target_of(b, k));
  }
}
`;
  return { label: o.label, wgsl, entryPoint: 'main', workgroupSize: [THREADS, 1, 1], dispatch: workgroupGrid(Math.ceil(o.batch / THREADS), limits), bindings };
}
