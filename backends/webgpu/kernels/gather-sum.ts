// The exact transpose of a gather (autodiff's view_grad of a map that is not a bijection: TCS or
// TPS with `keep`/`zeros`, padding, crops, the patch-merging and patch-embedding gathers, the
// broadcast of a mean's adjoint), as an inverse gather with no scatter and no atomics:
//   out[j] = Σ_{e ∈ offsets[j] .. offsets[j+1]} src[entries[e]],
// where the host lists once, per output element j, every source element that the forward map
// sent to j (a CSR table, in increasing order of the forward output index, so the sum's order is
// fixed and a step replays bit for bit). One thread per output element.
import {
  entryPrologue,
  MIN_LIMITS,
  headerComment,
  storageDecl,
  wgslInt,
  workgroupGrid,
  type Kernel,
  type KernelBinding,
  type KernelLimits,
} from './common.js';

const WORKGROUP = 64;

export interface GatherSumOptions {
  label: string;
  outputs: number;
  srcElements: number;
  entries: number;
  /** What the table transposes, for the header, e.g. 'view_grad of tcs @ layers.0.blocks.0'. */
  describes: string;
  fuses: readonly string[];
  limits?: KernelLimits;
}

export function emitGatherSum(o: GatherSumOptions): Kernel {
  const limits = o.limits ?? MIN_LIMITS;
  const bindings: KernelBinding[] = [
    { binding: 0, name: 'src', kind: 'read-only-storage', type: 'f32', elements: o.srcElements, description: `dy [${o.srcElements}]` },
    { binding: 1, name: 'offsets', kind: 'read-only-storage', type: 'i32', elements: o.outputs + 1, description: `CSR row offsets [${o.outputs + 1}]` },
    { binding: 2, name: 'entries', kind: 'read-only-storage', type: 'i32', elements: Math.max(1, o.entries), description: `CSR source offsets [${o.entries}]` },
    { binding: 3, name: 'out', kind: 'storage', type: 'f32', elements: o.outputs, description: `out [${o.outputs}]` },
  ];
  const header = headerComment([
    `${o.label}: exact transpose of a gather, out[j] = Σ src[entries[e]] over e in offsets[j] .. offsets[j+1]`,
    `transposes: ${o.describes}`,
    'method: inverse gather through a host-built CSR table (no scatter, no atomics; fixed summation order)',
    `fuses: ${o.fuses.join(', ')}`,
    `${o.outputs} outputs, ${o.entries} listed sources, one thread per output`,
  ]);
  const wgsl = `${header}

const OUTPUTS: i32 = ${wgslInt(o.outputs)};

${bindings.map(storageDecl).join('\n')}

${entryPrologue({ threads: WORKGROUP, index: 'j', count: 'OUTPUTS', per: 'thread' })}
  var total = 0.0;
  for (var e = offsets[j]; e < offsets[j + 1]; e++) {
    total += src[entries[e]];
  }
  out[j] = total;
}
`;
  return { label: o.label, wgsl, entryPoint: 'main', workgroupSize: [WORKGROUP, 1, 1], dispatch: workgroupGrid(Math.ceil(o.outputs / WORKGROUP), limits), bindings };
}

export interface BiasTableGradOptions {
  label: string;
  windows: number;
  heads: number;
  tokens: number;
  tableRows: number;
  groups: number;
  windowsPerGroup: number;
  /** Entries of the (group, row) CSR table: groups·N² (every pair reads one row). */
  entries: number;
  fuses: readonly string[];
  limits?: KernelLimits;
}

/**
 * The relative-position bias table's gradient: out[r, h] = Σ_w Σ_{(i,j): index[g(w)][i][j] = r}
 * dS[w, h, i, j], g(w) = (w div windowsPerGroup) mod groups. The host lists, per (group, row), the
 * pairs i·N + j that read the row (w-independent, built once per op); one thread per (row, head)
 * walks the groups in order and, for a group with pairs that read its row, that group's windows in
 * order — a deterministic gather-sum instead of a scatter with atomics. Group-major, so that a row
 * no window of a group reads costs one test per group, not one per window (pst-tiny: 775 table
 * rows, most read by no 9-token window; walking every window for every row took ~9 ms a kernel).
 */
export function emitBiasTableGrad(o: BiasTableGradOptions): Kernel {
  const limits = o.limits ?? MIN_LIMITS;
  const { windows, heads, tokens: N, tableRows, groups } = o;
  const outputs = tableRows * heads;
  const bindings: KernelBinding[] = [
    { binding: 0, name: 'ds', kind: 'read-only-storage', type: 'f32', elements: windows * heads * N * N, description: `dS [${windows}, ${heads}, ${N}, ${N}]` },
    { binding: 1, name: 'offsets', kind: 'read-only-storage', type: 'i32', elements: groups * tableRows + 1, description: `CSR offsets per (group, row) [${groups * tableRows + 1}]` },
    { binding: 2, name: 'pairs', kind: 'read-only-storage', type: 'i32', elements: o.entries, description: `CSR pairs i·N + j [${o.entries}]` },
    { binding: 3, name: 'out', kind: 'storage', type: 'f32', elements: outputs, description: `d table [${tableRows}, ${heads}]` },
  ];
  const header = headerComment([
    `${o.label}: relative position bias table gradient, ${tableRows} rows × ${heads} heads from dS of ${windows} windows (N=${N})`,
    `out[r, h] = Σ_w Σ over pairs (i, j) of group g(w) = (w div ${o.windowsPerGroup}) mod ${groups} that read row r of dS[w, h, i, j]`,
    'method: deterministic gather-sum through a host-built CSR of (group, row) → pairs; groups in order, each group\'s windows in order, no atomics',
    `fuses: ${o.fuses.join(', ')}`,
  ]);
  const wgsl = `${header}

const WINDOWS: i32 = ${wgslInt(windows)};
const HEADS: i32 = ${wgslInt(heads)};
const N: i32 = ${wgslInt(N)};
const ROWS: i32 = ${wgslInt(tableRows)};
const GROUPS: i32 = ${wgslInt(groups)};
const WINDOWS_PER_GROUP: i32 = ${wgslInt(o.windowsPerGroup)};

${bindings.map(storageDecl).join('\n')}

${entryPrologue({ threads: WORKGROUP, index: 'o', count: 'ROWS * HEADS', per: 'thread' })}
  let r = o / HEADS;
  let h = o % HEADS;
  var total = 0.0;
  for (var g = 0; g < GROUPS; g++) {
    let first = offsets[g * ROWS + r];
    let last = offsets[g * ROWS + r + 1];
    if (first == last) {
      continue;
    }
    // Group g's windows: runs of WINDOWS_PER_GROUP starting at g·WINDOWS_PER_GROUP, every GROUPS runs.
    for (var run = g * WINDOWS_PER_GROUP; run < WINDOWS; run += GROUPS * WINDOWS_PER_GROUP) {
      for (var w = run; w < min(run + WINDOWS_PER_GROUP, WINDOWS); w++) {
        let base = (w * HEADS + h) * N * N;
        for (var e = first; e < last; e++) {
          total += ds[base + pairs[e]];
        }
      }
    }
  }
  out[o] = total;
}
`;
  return { label: o.label, wgsl, entryPoint: 'main', workgroupSize: [WORKGROUP, 1, 1], dispatch: workgroupGrid(Math.ceil(outputs / WORKGROUP), limits), bindings };
}
