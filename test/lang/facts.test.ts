// The facts every layer reads from src/lang/facts.ts: one rounding rule for head and channel
// counts (and the 49-heads case where check and explain once disagreed), the pattern lookup for
// any grid, and the check-time refusals of what lowering or a backend cannot do.
import { describe, expect, test } from 'vitest';
import { explainModel } from '../../src/cli/commands/explain.js';
import { checkFiles } from '../../src/lang/elaborate.js';
import { configProblems, floorOfProduct, foldChannels, mlpHidden, patchOffset, shiftedHeads } from '../../src/lang/facts.js';
import { vfs } from './vfs.js';

describe('floorOfProduct: the exact ⌊n · ratio⌋ of a ratio written as a fraction', () => {
  test('equals the reference\'s integer division c // k for a fold of 1/k, for every size', () => {
    const bad: string[] = [];
    for (let k = 1; k <= 64; k++) {
      for (let c = 0; c <= 4096; c++) if (foldChannels({ fold: 1 / k }, c) !== Math.floor(c / k)) bad.push(`${c}·(1/${k})`);
    }
    expect(bad).toEqual([]);
  });

  test('49 × (1/49) is 1 (a plain floor of the float gives 0), and fractions still round down', () => {
    expect(Math.floor(49 * (1 / 49))).toBe(0); // why the rule exists
    expect(shiftedHeads({ ratio: 1 / 49 }, 49)).toBe(1);
    expect(shiftedHeads({ ratio: 1 / 4 }, 3)).toBe(0);
    expect(shiftedHeads({ ratio: 0.5 }, 3)).toBe(1);
    expect(shiftedHeads({ ratio: 1 }, 24)).toBe(24);
    expect(floorOfProduct(10, 0.29)).toBe(2);
    expect(floorOfProduct(3, 1 / 3)).toBe(1);
  });

  test('the MLP width truncates as Python\'s int(C · mlp_ratio)', () => {
    expect(mlpHidden({ dim: 10, mlpRatio: 2.55 })).toBe(25);
    expect(mlpHidden({ dim: 96, mlpRatio: 4 })).toBe(384);
  });
});

test('patchOffset tiles any grid, square or not, by (h mod rows, w mod cols)', () => {
  const grid = [
    [1, 2, 3],
    [4, 5, 6],
  ];
  expect(patchOffset(grid, 0, 0)).toBe(1);
  expect(patchOffset(grid, 3, 4)).toBe(5);
  expect(patchOffset(grid, 2, 5)).toBe(3);
});

const base = (extra: string, stage = 'stage 1 { depth = 2  heads = 2 }') => `
import "common/shifts.pst"
model m {
  input { frames = 4  size = 16 }
  embed { patch = (2, 4, 4)  dim = 16 }
  window = (1, 3, 3)
  bias_frames = 8
  ${extra}
  ${stage}
  head { classes = 5 }
}
`;
const check = (text: string) => checkFiles(['m.pst'], vfs({ 'm.pst': text }));
const codes = (text: string) => check(text).diagnostics.map((d) => `${d.code}@${d.span?.startLine}`);

describe('check and explain agree: 49 heads with ratio 1/49', () => {
  const text = `
import "common/shifts.pst"
model m49 {
  input { frames = 4  size = 28 }
  embed { patch = (2, 4, 4)  dim = 98 }
  window = (1, 7, 7)
  bias_frames = 8
  patch_shift = pattern_c
  patch_shift.ratio = 1/49
  shifts = all(tps)
  stage 1 { depth = 1  heads = 49 }
  head { classes = 5 }
}
`;
  test('check does not warn that no head is shifted (PST256), and explain shifts exactly one', () => {
    const r = check(text);
    expect(r.diagnostics).toEqual([]);
    const model = r.models[0]!;
    const report = explainModel(model, model.input);
    expect(report.patterns.map((p) => [p.shiftedHeads, p.heads])).toEqual([[1, 49]]);
    expect(report.principles.find((p) => p.principle === 'fraction moved')!.message).toMatch(/in 1 of 49 heads/);
  });

  test('with 48 heads the same ratio shifts none, and check and explain both say so', () => {
    const r = check(text.replace('dim = 98', 'dim = 96').replace('heads = 49', 'heads = 48'));
    expect(r.diagnostics.map((d) => d.code)).toEqual(['PST256']);
    const report = explainModel(r.models[0]!, r.models[0]!.input);
    expect(report.patterns[0]!.shiftedHeads).toBe(0);
  });
});

describe('what lowering and the backends cannot do is reported by check, at the setting', () => {
  test('a shift on window3d attention (PST304)', () => {
    const text = base('channel_shift = tcs_eighth\n  shifts = all(tcs)').replace('window = (1, 3, 3)', 'attention = window3d  window = (2, 3, 3)').replace('bias_frames = 8', 'bias_frames = 2');
    // Points at the setting written last of `attention` and `shifts`.
    expect(codes(text)).toEqual(['PST304@9']);
  });

  test('an MLP ratio whose hidden width is below 1 or absurdly large (PST308), reported once for all stages', () => {
    expect(codes(base('mlp_ratio = 0.001', 'stage 1 { depth = 1  heads = 2 }\n  stage 2 { depth = 1  heads = 2 }'))).toEqual(['PST308@8']);
    expect(codes(base('mlp_ratio = 1e300'))).toEqual(['PST308@8']);
    expect(codes(base('mlp_ratio = 0.0625'))).toEqual([]); // 16 · 1/16 = 1 channel
  });

  test('a dim that does not match the channels a stage receives (PST303)', () => {
    expect(codes(base('', 'stage 1 { depth = 1  heads = 2  dim = 32 }'))).toEqual(['PST303@9']);
    expect(codes(base('', 'stage 1 { depth = 1  heads = 2  merge = none }\n  stage 2 { depth = 1  heads = 2 }'))).toEqual(['PST303@9']);
  });

  test('heads wider than the attention kernels take (PST309)', () => {
    expect(codes(base('', 'stage 1 { depth = 1  heads = 1  dim = 2048 }').replace('dim = 16', 'dim = 2048'))).toEqual(['PST309@9']);
  });

  test('every problem configProblems finds in a checked model would be a check error: none in a clean model', () => {
    const r = check(base('patch_shift = pattern_c\n  shifts = alternate(none, tps)'));
    expect(r.diagnostics).toEqual([]);
    expect(configProblems(r.models[0]!)).toEqual([]);
  });
});
