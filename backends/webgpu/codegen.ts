// Index maps → WGSL. A kernel sees an operand as a small grid of its own (GEMM: [M, K]; LayerNorm:
// [rows, C]; attention: [windows, N, 3C]; elementwise: [elements]); `mappedLoad` composes the
// reshape onto that grid with the operand's view map, simplifies, and emits one function that
// reads the source buffer at the flat offset, or yields 0.0 where the map says zero (padding,
// zeros boundary). This is how the patch shift, channel shift, window partition, roll, padding,
// crop and patch-merging gathers cost no pass over memory.
// Also here: the two small kernels with no emitter of their own (elementwise, on the skeleton the
// optimizer's updates share: kernels/common.ts elementwiseKernel; and mean).
import { compose, linearize, product, shapeBounds, simplify, simplifyExpr, type IndexMap } from '../../src/ir/indexmap.js';
import { reshape } from '../../src/ir/maps.js';
import {
  ERF_WGSL,
  elementwiseKernel,
  entryPrologue,
  MIN_LIMITS,
  headerComment,
  storageDecl,
  wgslInt,
  workgroupGrid,
  type Kernel,
  type KernelBinding,
  type KernelLimits,
  type WgslFunction,
} from './kernels/common.js';
import { rowRuns } from './row-runs.js';
import { condToWGSL, exprToWGSL } from './wgsl-expr.js';

export interface LoadSpec {
  /** WGSL function name, e.g. 'load_a'. */
  fn: string;
  /** The storage binding it reads. */
  binding: string;
  /** Parameter names, one per grid dim, e.g. ['m', 'k']. */
  params: string[];
  /** The grid the kernel indexes, e.g. [M, K]; same element count as the operand. */
  grid: number[];
  /** The operand's shape (the view's output shape, or the tensor's own shape). */
  shape: number[];
  /** The view's map (outShape = shape), or null for a row-major tensor. */
  map: IndexMap | null;
  /** How grid indices address the operand; default: the same elements row-major (a reshape). */
  onGrid?: IndexMap;
  describes: string;
  /**
   * `fn <name>(at: i32, value: f32) -> f32` applied to every value read, with its flat offset
   * (a GEMM's LayerNorm prologue); not applied where the map says zero.
   */
  transform?: string;
}

/** The map from the kernel's grid to the source tensor's index. */
export function gridMap(spec: Pick<LoadSpec, 'grid' | 'shape' | 'map' | 'onGrid'>): IndexMap {
  if (!spec.onGrid && product(spec.grid) !== product(spec.shape)) {
    throw new Error(`internal: grid [${spec.grid}] does not cover operand [${spec.shape}]`);
  }
  const onGrid = spec.onGrid ?? reshape(spec.shape, spec.grid);
  return simplify(spec.map ? compose(onGrid, spec.map) : onGrid);
}

/** `fn <name>(<params>: i32) -> f32` reading `binding` through the spec's map. */
export function mappedLoad(spec: LoadSpec): WgslFunction {
  const m = gridMap(spec);
  const flat = simplifyExpr(linearize(m), shapeBounds(spec.grid));
  const args = spec.params.map((p) => `${p}: i32`).join(', ');
  const guard = m.valid ? `  if (!${condToWGSL(m.valid, spec.params, spec.grid)}) {\n    return 0.0;\n  }\n` : '';
  return {
    source: spec.transform
      ? `fn ${spec.fn}(${args}) -> f32 {\n${guard}  let at = ${exprToWGSL(flat, spec.params, spec.grid)};\n  return ${spec.transform}(at, ${spec.binding}[at]);\n}`
      : `fn ${spec.fn}(${args}) -> f32 {\n${guard}  return ${spec.binding}[${exprToWGSL(flat, spec.params, spec.grid)}];\n}`,
    describes: spec.describes,
  };
}

/** A mapped load's row base: `fn <name>(<row>, <col>) -> i32`, see rowBaseLoad. */
export interface RowBaseFunction extends WgslFunction {
  /** The base is the same for every column in an aligned run of this many (divides the columns). */
  run: number;
}

/**
 * For a 2-D grid [rows, cols] whose map reads element (r, c) at flat offset c + base(r, c), with
 * base and validity constant on aligned runs of columns (row-runs.ts): `fn <spec.fn>(r, c) -> i32`
 * returning base(r, c) for the run holding c, or NO_ROW (kernels/common.ts) where the map says
 * zero. Null when the map has no such form (the caller keeps the per-element load).
 */
export function rowBaseLoad(spec: LoadSpec): RowBaseFunction | null {
  if (spec.grid.length !== 2) throw new Error(`internal: rowBaseLoad needs a 2-D grid, got [${spec.grid}]`);
  const m = gridMap(spec);
  const bounds = shapeBounds(spec.grid);
  const runs = rowRuns(simplifyExpr(linearize(m), bounds), m.valid, 1, spec.grid[1]!);
  if (!runs) return null;
  const args = spec.params.map((p) => `${p}: i32`).join(', ');
  const guard = m.valid ? `  if (!${condToWGSL(m.valid, spec.params, spec.grid)}) {\n    return NO_ROW;\n  }\n` : '';
  return {
    source: `fn ${spec.fn}(${args}) -> i32 {\n${guard}  return ${exprToWGSL(runs.base, spec.params, spec.grid)};\n}`,
    describes: spec.describes,
    run: runs.run,
  };
}

const WORKGROUP = 64;

export interface ElementwiseOptions {
  label: string;
  elements: number;
  /** Operand i is read by `fn load_<i>(e: i32) -> f32` from binding `x<i>`; elements of each binding. */
  loads: { fn: WgslFunction; elements: number }[];
  /** The value written, in terms of x0, x1, … */
  expression: string;
  fuses: string[];
  /** A pure copy (the final output layout): said in the header. */
  copyOnly?: boolean;
  limits?: KernelLimits;
  /** WGSL functions the expression calls (GELU', dropout's RNG); the element index `e` is in scope. */
  prelude?: string;
  /** Bindings the prelude reads (e.g. the step's RNG key), declared after `out`. */
  extraBindings?: Omit<KernelBinding, 'binding'>[];
  /** Extra header lines (e.g. which RNG stream a dropout draws from). */
  notes?: string[];
}

/** out[e] = expression(load_0(e), load_1(e), …), one thread per element. */
export function emitElementwise(o: ElementwiseOptions): Kernel {
  const limits = o.limits ?? MIN_LIMITS;
  const bindings: KernelBinding[] = o.loads.map((l, i) => ({
    binding: i,
    name: `x${i}`,
    kind: 'read-only-storage',
    type: 'f32',
    elements: l.elements,
    description: `x${i} via ${l.fn.describes}`,
  }));
  bindings.push({ binding: bindings.length, name: 'out', kind: 'storage', type: 'f32', elements: o.elements, description: `out [${o.elements}]` });
  for (const b of o.extraBindings ?? []) bindings.push({ ...b, binding: bindings.length });
  const header = [
    `${o.label}: out[e] = ${o.expression} for ${o.elements} elements`,
    ...(o.notes ?? []),
    ...(o.copyOnly ? ['COPY ONLY: writes the graph output in its final layout (features N×C×D×H×W); no other kernel only moves data'] : []),
    `fuses: ${o.fuses.join(', ')}`,
    ...o.loads.map((l, i) => `x${i} read through: ${l.fn.describes}`),
  ];
  return elementwiseKernel({
    label: o.label,
    header,
    elements: o.elements,
    count: 'ELEMENTS',
    index: 'e',
    threads: WORKGROUP,
    bindings,
    functions: `${o.loads.map((l) => l.fn.source).join('\n\n')}\n${o.expression.includes('gelu(') ? `\n${ERF_WGSL}\n` : ''}${o.prelude ? `\n${o.prelude}\n` : ''}\n`,
    body: `${o.loads.map((_, i) => `  let x${i} = load_${i}(e);`).join('\n')}\n  out[e] = ${o.expression};`,
    limits,
  });
}

export interface MeanOptions {
  label: string;
  /** Output elements (the kept dims) and the count averaged per output. */
  outputs: number;
  reduced: number;
  /** `fn load_x(o: i32, r: i32) -> f32`: element r of the set averaged into output o. */
  load: WgslFunction;
  xElements: number;
  fuses: string[];
  limits?: KernelLimits;
}

/** out[o] = (1/R) Σ_r load_x(o, r), one thread per output (the head's pooling: B·C outputs). */
export function emitMean(o: MeanOptions): Kernel {
  const limits = o.limits ?? MIN_LIMITS;
  const bindings: KernelBinding[] = [
    { binding: 0, name: 'x', kind: 'read-only-storage', type: 'f32', elements: o.xElements, description: `x via ${o.load.describes}` },
    { binding: 1, name: 'out', kind: 'storage', type: 'f32', elements: o.outputs, description: `out [${o.outputs}]` },
  ];
  const header = headerComment([
    `${o.label}: mean of ${o.reduced} values for each of ${o.outputs} outputs`,
    `fuses: ${o.fuses.join(', ')}`,
    `x read through: ${o.load.describes}`,
  ]);
  const wgsl = `${header}

const OUTPUTS: i32 = ${wgslInt(o.outputs)};
const REDUCED: i32 = ${wgslInt(o.reduced)};

${bindings.map(storageDecl).join('\n')}

${o.load.source}

${entryPrologue({ threads: WORKGROUP, index: 'o', count: 'OUTPUTS', per: 'thread' })}
  var total = 0.0;
  for (var r = 0; r < REDUCED; r++) {
    total += load_x(o, r);
  }
  out[o] = total / f32(REDUCED);
}
`;
  return {
    label: o.label,
    wgsl,
    entryPoint: 'main',
    workgroupSize: [WORKGROUP, 1, 1],
    dispatch: workgroupGrid(Math.ceil(o.outputs / WORKGROUP), limits),
    bindings,
  };
}
