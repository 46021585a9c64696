// The backward of LayerNorm over the last dim (biased variance, eps inside the square root), for
// `rows` rows of C channels: with x̂ = (x − mean)·r, r = 1/√(var + eps) and g = gamma·dy,
//   dx = r·(g − mean_c(g) − x̂·mean_c(g·x̂)).
// The forward kernel's two variants (chooseLayerNormVariant): one workgroup per row, each thread
// keeping its strided share of x and dy in registers (read once, through optional index maps), with
// four fixed-order workgroup sums (mean, variance, Σg, Σg·x̂); or one thread per row summing in
// order, with no workgroup memory or barriers. Either way a row gives the same bits every run. dγ and dβ are not here: autodiff
// writes them as sums over rows (a reduction kernel).
import { headerComment, requireFunction, type Kernel, type KernelBinding, type KernelLimits, type WgslFunction } from './common.js';
import { describeVariant, layerNormKernel, layerNormSetup, rowPerThreadBody, rowStatistics, workgroupStatistics, type LayerNormVariant } from './layernorm.js';

export interface LayerNormGradOptions {
  rows: number;
  channels: number;
  eps: number;
  label?: string;
  limits?: KernelLimits;
  /** `fn load_x(row: i32, ch: i32) -> f32` reading binding `x`. Default row-major. */
  loadX?: WgslFunction;
  xElements?: number;
  /** `fn load_dy(row: i32, ch: i32) -> f32` reading binding `dy`. Default row-major. */
  loadDy?: WgslFunction;
  dyElements?: number;
  fuses?: readonly string[];
  /** Force the variant (tests); default chooseLayerNormVariant's. */
  variant?: LayerNormVariant['kind'];
}

export function emitLayerNormGrad(o: LayerNormGradOptions): Kernel {
  const { rows, channels, eps } = o;
  const setup = layerNormSetup(o, o.label ?? `layernorm_grad_${rows}x${channels}`);
  const { label, variant, threads } = setup;
  const bindings: KernelBinding[] = [
    setup.x,
    { binding: 1, name: 'gamma', kind: 'read-only-storage', type: 'f32', elements: channels, description: `weight [${channels}]` },
    { binding: 2, name: 'dy', kind: 'read-only-storage', type: 'f32', elements: o.loadDy ? o.dyElements : rows * channels, description: o.loadDy ? `dy via ${o.loadDy.describes}` : `dy [${rows}, ${channels}]` },
    { binding: 3, name: 'dx', kind: 'storage', type: 'f32', elements: rows * channels, description: `dx [${rows}, ${channels}]` },
  ];
  const loadDy = o.loadDy ? requireFunction(o.loadDy, 'load_dy', label) : `fn load_dy(row: i32, ch: i32) -> f32 {\n  return dy[row * C + ch];\n}`;
  const header = headerComment([
    `${label}: LayerNorm backward dx over the last dim, ${rows} rows × ${channels} channels, eps ${eps}`,
    'dx = r·(g − mean(g) − x̂·mean(g·x̂)), g = gamma·dy, x̂ = (x − mean)·r, r = 1/√(var + eps)',
    `fuses: ${o.fuses?.length ? o.fuses.join(', ') : '(a single layernorm_grad)'}`,
    `x read through: ${o.loadX ? o.loadX.describes : 'row-major [rows, C]'}`,
    `dy read through: ${o.loadDy ? o.loadDy.describes : 'row-major [rows, C]'}`,
    `${describeVariant(variant, channels)}, fixed-order sums`,
  ]);
  const body =
    variant.kind === 'workgroup'
      ? workgroupBody(threads)
      : rowPerThreadBody(
          threads,
          channels,
          (x, g) => `${rowStatistics(x!, g!.cache('ch'))}
  let r = inv_std;
  var g_sum = 0.0;
  var gx_sum = 0.0;
  for (var ch = 0; ch < C; ch++) {
    let g = ${g!.at('ch')};
    g_sum += g;
    gx_sum += g * (${x!.at('ch')} - mean) * r;
  }
  let g_mean = g_sum / f32(C);
  let gx_mean = gx_sum / f32(C);
  for (var ch = 0; ch < C; ch++) {
    dx[row * C + ch] = r * (${g!.at('ch')} - g_mean - (${x!.at('ch')} - mean) * r * gx_mean);
  }`,
          [
            { name: 'xs', expr: (ch) => `load_x(row, ${ch})` },
            { name: 'gs', expr: (ch) => `gamma[${ch}] * load_dy(row, ${ch})` },
          ],
        );
  return layerNormKernel(setup, rows, channels, eps, header, bindings, [loadDy], body);
}

/** One workgroup of `threads` per row: strided shares in registers, four workgroup sums. */
function workgroupBody(threads: number): string {
  return `${workgroupStatistics(threads, { name: 'gs', value: 'gamma[ch] * load_dy(row, ch)' })}
  let r = inv_std;
  var g_sum = 0.0;
  var gx_sum = 0.0;
  for (var i = 0; i < PER_THREAD; i++) {
    if (t + i * THREADS < C) {
      xs[i] = (xs[i] - mean) * r;
      g_sum += gs[i];
      gx_sum += gs[i] * xs[i];
    }
  }
  let g_mean = workgroup_sum(t, g_sum) / f32(C);
  let gx_mean = workgroup_sum(t, gx_sum) / f32(C);
  for (var i = 0; i < PER_THREAD; i++) {
    let ch = t + i * THREADS;
    if (ch < C) {
      dx[row * C + ch] = r * (gs[i] - g_mean - xs[i] * gx_mean);
    }
  }
}`;
}
