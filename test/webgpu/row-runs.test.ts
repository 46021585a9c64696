// The row-base decomposition the barrier-free GEMM reads A through (backends/webgpu/row-runs.ts):
// for every mapped A operand of every tiny model's forward GEMMs (window partition, roll, patch
// and channel shifts, patch embedding), checked exhaustively over the [M, K] grid against the
// composed map itself: flat(m, k) = k + base(m, k0) and valid(m, k) = valid(m, k0), where k0 is
// the start of k's run.
import { describe, expect, it } from 'vitest';
import { gridMap } from '../../backends/webgpu/codegen.js';
import { planModel } from '../../backends/webgpu/plan.js';
import { rowRuns } from '../../backends/webgpu/row-runs.js';
import { size } from '../../src/ir/graph.js';
import { add, c, div, evalCond, evalExpr, linearize, mod, mul, simplifyExpr, shapeBounds, v } from '../../src/ir/indexmap.js';
import { TINY_FAMILIES, tinyModel } from '../passes/helpers.js';

describe('rowRuns', () => {
  it('splits every mapped GEMM A-read of the tiny models into k + a base constant on runs, exactly', () => {
    const runs: number[] = [];
    let perElement = 0;
    for (const family of TINY_FAMILIES) {
      const model = tinyModel(family);
      const plan = planModel(model, { batch: 2, frames: model.input.frames, size: model.input.size });
      for (const k of plan.fused.kernels) {
        if (k.kind !== 'gemm' || !k.a.map) continue;
        const { M, K } = k;
        const shape = k.a.map.outShape;
        expect(size(shape)).toBe(M * K);
        const m = gridMap({ grid: [M, K], shape, map: k.a.map });
        const flat = simplifyExpr(linearize(m), shapeBounds([M, K]));
        const split = rowRuns(flat, m.valid, 1, K);
        if (!split) {
          perElement++;
          continue;
        }
        runs.push(split.run);
        expect(K % split.run, `${family} ${k.a.describes}`).toBe(0);
        let wrong = 0;
        for (let row = 0; row < M; row++) {
          for (let col = 0; col < K; col++) {
            const start = col - (col % split.run);
            const valid = m.valid ? evalCond(m.valid, [row, col]) : true;
            if ((m.valid ? evalCond(m.valid, [row, start]) : true) !== valid) wrong++;
            else if (valid && col + evalExpr(split.base, [row, start]) !== evalExpr(flat, [row, col])) wrong++;
          }
        }
        expect(wrong, `${family} ${k.a.describes}: elements the split reads wrongly`).toBe(0);
      }
    }
    // Not vacuous: whole-row reads, channel-group runs and the patch embedding's runs all occur.
    console.log(`runs: ${runs.join(' ')}; per element: ${perElement}`);
    expect(runs.length).toBeGreaterThan(10);
    expect(runs.some((r) => r < 8)).toBe(true);
    expect(perElement).toBe(0);
  });

  it('finds the run of a channel-group select, k mod P terms, and refuses maps without a unit k term', () => {
    const k = v(1);
    const m = v(0);
    // base depends on k only through (k mod 32) < 8: runs of 8.
    const shifted = add(add(k, mul(m, 96)), mul({ k: 'select', cond: { k: 'lt', a: mod(k, 32), b: c(8) }, then: c(1), else: c(0) }, 1000));
    expect(rowRuns(shifted, undefined, 1, 96)?.run).toBe(8);
    // k mod 4 + 100·floor(k / 4): runs of 4.
    expect(rowRuns(add(mod(k, 4), mul(div(k, 4), 100)), undefined, 1, 48)?.run).toBe(4);
    // A run never exceeds K.
    expect(rowRuns(add(k, mul(m, 7)), undefined, 1, 7)?.run).toBe(7);
    // A transposed read (k·M + m) and a doubled k have no row base.
    expect(rowRuns(add(mul(k, 5), m), undefined, 1, 8)).toBeNull();
    // k compared with m: the boundary moves with the row, so runs of 1.
    expect(rowRuns(k, { k: 'lt', a: k, b: m }, 1, 8)?.run).toBe(1);
  });
});
