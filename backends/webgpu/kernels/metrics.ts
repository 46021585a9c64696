// Training metrics on the device, so the host reads back a few numbers only every N steps:
// metrics[0] += loss, metrics[1] += top-1 hits, metrics[2] += top-5 hits, metrics[3] += samples,
// metrics[4] += order-pair hits (the true class scored above its partner; see src/data), and
// metrics[5] = 1 + the first step whose loss was not finite (kept until the host clears it).
// One thread per batch: a fixed order of additions, so the numbers replay exactly.
import { headerComment, storageDecl, wgslInt, type Kernel, type KernelBinding } from './common.js';

export const METRICS = ['loss', 'top1', 'top5', 'samples', 'pairHits', 'nonFiniteStep'] as const;

export interface MetricsOptions {
  batch: number;
  classes: number;
  /** partner[k]: the class whose clips are class k's frames reversed; -1 where none. */
  partners?: readonly number[];
  label?: string;
}

export function emitMetrics(o: MetricsOptions): Kernel {
  const { batch, classes } = o;
  const label = o.label ?? `metrics_${batch}x${classes}`;
  const partners = o.partners ?? Array.from({ length: classes }, () => -1);
  if (partners.length !== classes) throw new Error(`internal error: ${label}: ${partners.length} partners for ${classes} classes`);
  const bindings: KernelBinding[] = [
    { binding: 0, name: 'logits', kind: 'read-only-storage', type: 'f32', elements: batch * classes, description: `logits [${batch}, ${classes}]` },
    { binding: 1, name: 'labels', kind: 'read-only-storage', type: 'f32', elements: batch, description: `labels [${batch}] (class indices)` },
    { binding: 2, name: 'loss', kind: 'read-only-storage', type: 'f32', elements: 1, description: 'the batch mean loss' },
    { binding: 3, name: 'metrics', kind: 'storage', type: 'f32', elements: METRICS.length, description: `running sums: ${METRICS.join(', ')}` },
    { binding: 4, name: 'step', kind: 'read-only-storage', type: 'f32', elements: 1, description: 'the optimizer step (0-based)' },
  ];
  const wgsl = `${headerComment([`${label}: loss, top-1/top-5 hits and order-pair hits of a batch, added to running sums`, 'one thread; a fixed order of additions'])}

const B: i32 = ${wgslInt(batch)};
const K: i32 = ${wgslInt(classes)};
const PARTNER = array<i32, ${classes}>(${partners.map(wgslInt).join(', ')});

${bindings.map(storageDecl).join('\n')}

@compute @workgroup_size(1)
fn main() {
  var top1 = 0.0;
  var top5 = 0.0;
  var pairs = 0.0;
  for (var b = 0; b < B; b++) {
    let y = i32(labels[b]);
    let mine = logits[b * K + y];
    // Rank of the true class: classes scoring strictly higher, ties to the lower index first.
    var above = 0;
    for (var k = 0; k < K; k++) {
      let s = logits[b * K + k];
      if (s > mine || (s == mine && k < y)) {
        above++;
      }
    }
    if (above == 0) {
      top1 += 1.0;
    }
    if (above < 5) {
      top5 += 1.0;
    }
    let p = PARTNER[y];
    if (p >= 0 && mine > logits[b * K + p]) {
      pairs += 1.0;
    }
  }
  let l = loss[0];
  // NaN fails every comparison; an infinity exceeds the largest float.
  if (!(abs(l) <= 3.4e38) && metrics[5] == 0.0) {
    metrics[5] = step[0] + 1.0;
  }
  metrics[0] += l;
  metrics[1] += top1;
  metrics[2] += top5;
  metrics[3] += f32(B);
  metrics[4] += pairs;
}
`;
  return { label, wgsl, entryPoint: 'main', workgroupSize: [1, 1, 1], dispatch: [1, 1, 1], bindings };
}

/** Host-side twin of the kernel, for tests and for evaluation done on the host. */
export function metricsOf(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number, partners?: readonly number[]): { top1: number; top5: number; pairHits: number } {
  let top1 = 0;
  let top5 = 0;
  let pairHits = 0;
  for (let b = 0; b < labels.length; b++) {
    const y = labels[b]!;
    const mine = logits[b * classes + y]!;
    let above = 0;
    for (let k = 0; k < classes; k++) {
      const s = logits[b * classes + k]!;
      if (s > mine || (s === mine && k < y)) above++;
    }
    if (above === 0) top1++;
    if (above < 5) top5++;
    const p = partners?.[y] ?? -1;
    if (p >= 0 && mine > logits[b * classes + p]!) pairHits++;
  }
  return { top1, top5, pairHits };
}
