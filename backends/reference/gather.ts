// Views in the reference: for every output element, the index map says where it reads from
// (or that it is a zero: padding, zeros boundary); the view copies. The IR's `readTable` evaluates
// the map at every output element (test/reference/gather.test.ts checks it agrees with `evaluate`,
// the definition of a map, on every view of a lowered model); the table is kept per map.
import { readTable, type IndexMap } from '../../src/ir/indexmap.js';

const tables = new WeakMap<IndexMap, Int32Array>();

/** table[o] = flat input index read by flat output index o, or −1 for a zero. */
export function gatherTable(map: IndexMap): Int32Array {
  const cached = tables.get(map);
  if (cached) return cached;
  const table = readTable(map);
  tables.set(map, table);
  return table;
}

export function gather(x: Float64Array, map: IndexMap): Float64Array {
  const table = gatherTable(map);
  const y = new Float64Array(table.length);
  for (let o = 0; o < table.length; o++) {
    const i = table[o]!;
    if (i >= 0) y[o] = x[i]!;
  }
  return y;
}
