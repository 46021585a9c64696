// The interpreter's gather tables agree with `evaluate`, the definition of an index map, on every
// view of a lowered tiny PST, folded and unfolded (pad, roll, partition, TCS, TPS, merging, …).
import { describe, expect, it } from 'vitest';
import { gatherTable } from '../../backends/reference/gather.js';
import { foldViews } from '../../src/passes/fold.js';
import type { Graph } from '../../src/ir/graph.js';
import { evaluate, rowMajorStrides, type IndexMap } from '../../src/ir/indexmap.js';
import { lowerModel } from '../../src/passes/lower.js';
import { patternC, tinyPst } from './fixtures.js';

function disagreements(map: IndexMap): number {
  const table = gatherTable(map);
  const strides = rowMajorStrides(map.inShape);
  let bad = 0;
  const idx = map.outShape.map(() => 0);
  for (let flat = 0; flat < table.length; flat++) {
    const src = evaluate(map, idx);
    const want = src === null ? -1 : src.reduce((f, v, a) => f + v * strides[a]!, 0);
    if (table[flat] !== want) bad++;
    for (let a = idx.length - 1; a >= 0; a--) {
      if (++idx[a]! < map.outShape[a]!) break;
      idx[a] = 0;
    }
  }
  return bad;
}

const views = (g: Graph) => g.nodes.flatMap((n) => (n.op.kind === 'view' ? [{ what: `${n.label} ${n.op.what}`, map: n.op.map }] : []));

describe('gather tables', () => {
  // keep boundary and a ratio below 1 exercise the selects of the shift maps.
  const model = tinyPst({}, [{ kind: 'channel', name: 'tsm', fold: 1 / 4, boundary: 'zeros' }, { ...patternC, ratio: 0.5, boundary: 'keep' }]);
  const g = lowerModel(model, { batch: 2, frames: 6, size: 20 });
  for (const [name, graph] of [['unfolded', g], ['folded', foldViews(g)]] as const) {
    it(`match evaluate on every ${name} view`, () => {
      const bad = views(graph).filter((v) => disagreements(v.map) > 0).map((v) => v.what);
      expect(bad).toEqual([]);
    });
  }
});
