// A view (any data movement of the IR: reshape, roll, window partition, head split, patch and
// channel shifts, padding, crops; after `fold`, a whole chain of them as one index map) as ONNX.
// The map is evaluated at every output element into a table of flat input positions (−1 for a
// zero), exactly what the reference's gather reads, and then:
// - the identity table (a pure reshape) is a Reshape;
// - otherwise the table is cut into the largest blocks of K outputs that read K consecutive
//   inputs starting at a multiple of K (a whole channel row for a window partition or a patch
//   shift; a channel-shift fold for a temporal channel shift), and the view is a Gather of rows
//   of the input seen as [numel/K, K], with a constant int64 index per block. Zeros (padding, a
//   shift's zero boundary) read an extra zero row appended to the input.
// Every output element is the input element the map names: the lowering is exact, and the index
// constant is K times smaller than the element table.
import { gcd, product, readTable, type IndexMap } from '../../src/ir/indexmap.js';
import type { OnnxGraph } from './builder.js';

/** The view as ONNX nodes reading `x`; returns the output's name. */
export function lowerView(g: OnnxGraph, x: string, map: IndexMap, hint: string): string {
  const table = readTable(map);
  const inputs = product(map.inShape);
  if (isIdentity(table, inputs)) return g.reshape(x, map.outShape, hint);
  const k = blockSize(table, inputs);
  const rows = inputs / k;
  const zeros = table.some((t) => t < 0);
  let source = g.reshape(x, [rows, k], hint);
  if (zeros) {
    // One zero row after the input's rows: a zero output reads row `rows`.
    const zeroRow = g.fresh(`${hint}/zero_row`);
    g.float(zeroRow, [1, k], new Float32Array(k));
    source = g.node('Concat', [source, zeroRow], hint, { axis: { int: 0 } });
  }
  const blocks = table.length / k;
  const index = new BigInt64Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const t = table[b * k]!;
    index[b] = BigInt(t < 0 ? rows : t / k);
  }
  const indexName = g.int64(`${hint}/index`, [blocks], index);
  const gathered = g.node('Gather', [source, indexName], hint, { axis: { int: 0 } });
  return g.reshape(gathered, map.outShape, hint);
}

/** Whether the table reads every input once, in order (a reshape). */
function isIdentity(table: Int32Array, inputs: number): boolean {
  if (table.length !== inputs) return false;
  for (let i = 0; i < table.length; i++) if (table[i] !== i) return false;
  return true;
}

/**
 * The largest K dividing both element counts such that every block of K outputs is all zeros, or
 * reads K consecutive inputs starting at a multiple of K. K = 1 always qualifies.
 */
export function blockSize(table: Int32Array, inputs: number): number {
  const common = gcd(table.length, inputs);
  const divisors: number[] = [];
  for (let d = 1; d * d <= common; d++) {
    if (common % d !== 0) continue;
    divisors.push(d);
    if (d * d !== common) divisors.push(common / d);
  }
  divisors.sort((a, b) => b - a);
  return divisors.find((k) => readsBlocks(table, k))!;
}

function readsBlocks(table: Int32Array, k: number): boolean {
  if (k === 1) return true;
  for (let start = 0; start < table.length; start += k) {
    const first = table[start]!;
    if (first < 0) {
      for (let j = 1; j < k; j++) if (table[start + j]! >= 0) return false;
    } else {
      if (first % k !== 0) return false;
      for (let j = 1; j < k; j++) if (table[start + j] !== first + j) return false;
    }
  }
  return true;
}
