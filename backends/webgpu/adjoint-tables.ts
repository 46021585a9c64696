// Host-built tables of the training kernels that transpose data movement, so that no kernel
// scatters or uses atomics (a training step must give the same bits every time):
//   - view_grad: per element j of the adjoint's output, the source offsets of every dy element the
//     forward map sent to j (a CSR "inverse gather"), in increasing dy order;
//   - bias_table_grad: per (group, table row), the (i·N + j) pairs of a window that read the row.
// Both are built once per op (cached by the map / op object) and uploaded as static tables.
import { gatherTable } from '../reference/gather.js';
import type { WindowAttentionOp } from '../../src/ir/graph.js';
import type { IndexMap } from '../../src/ir/indexmap.js';

export interface Csr {
  /** offsets[r] .. offsets[r+1] index `entries` for row r. */
  offsets: Int32Array;
  entries: Int32Array;
}

function csr(rows: number, rowOf: Int32Array, value: (i: number) => number): Csr {
  const offsets = new Int32Array(rows + 1);
  for (let i = 0; i < rowOf.length; i++) if (rowOf[i]! >= 0 && value(i) >= 0) offsets[rowOf[i]! + 1]!++;
  for (let r = 0; r < rows; r++) offsets[r + 1]! += offsets[r]!;
  const entries = new Int32Array(offsets[rows]!);
  const fill = offsets.slice(0, rows);
  for (let i = 0; i < rowOf.length; i++) {
    const r = rowOf[i]!;
    if (r < 0) continue;
    const v = value(i);
    if (v >= 0) entries[fill[r]!++] = v;
  }
  return { offsets, entries };
}

const viewGradTables = new WeakMap<IndexMap, WeakMap<IndexMap | object, Csr>>();
const DIRECT = {};

/**
 * The transpose of `map` (out[j] = Σ_{i: map(i) = j} dy[i]) with dy read from its source through
 * `dyView` (null: dy is the source itself): row j lists source offsets dyView(i).
 */
export function viewGradTable(map: IndexMap, dyView: IndexMap | null): Csr {
  let byView = viewGradTables.get(map);
  if (!byView) viewGradTables.set(map, (byView = new WeakMap()));
  const key = dyView ?? DIRECT;
  let table = byView.get(key);
  if (!table) {
    const rows = map.inShape.reduce((a, b) => a * b, 1);
    const forward = gatherTable(map);
    const source = dyView ? gatherTable(dyView) : null;
    table = csr(rows, forward, source ? (i) => source[i]! : (i) => i);
    byView.set(key, table);
  }
  return table;
}

const biasTables = new WeakMap<WindowAttentionOp, Csr>();

/** Rows g·tableRows + r: the pairs i·N + j of group g whose bias index is r. */
export function biasTableGradTable(op: WindowAttentionOp, tableRows: number): Csr {
  let table = biasTables.get(op);
  if (!table) {
    const perGroup = op.biasIndex.length / op.biasGroups;
    const rowOf = op.biasIndex.map((r, e) => Math.floor(e / perGroup) * tableRows + r);
    table = csr(op.biasGroups * tableRows, rowOf, (e) => e % perGroup);
    biasTables.set(op, table);
  }
  return table;
}
