// The statistics of `pstc ablate`: Student's t quantiles and intervals against tabulated and
// hand-computed values, paired differences and their verdicts, the at-chance flag, the report's
// opening paragraph, `--against`, and the fields of results.json / results.csv / variants.csv —
// on records made here (no device), so every number the report prints is known in advance.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AblationDir, openingParagraph, planSweep, resolveAgainst, summarize, tableCells, writeReport, type RunRecord, type SweepPlan } from '../../src/explore/ablate/index.js';
import { recordBase } from '../../src/explore/ablate/task.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import {
  aboveChanceFrom,
  binomialUpperTail,
  pairedDifference,
  regularizedBeta,
  studentTCdf,
  studentTQuantile,
  tInterval,
  withinChance,
} from '../../src/explore/stats.js';

describe('Student t', () => {
  it('gives the tabulated two-sided 95 % quantiles t(0.975, df) and others', () => {
    // Any t table (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2), to the digits printed there and beyond.
    const table: [number, number][] = [
      [1, 12.706204736],
      [2, 4.302652730],
      [3, 3.182446305],
      [4, 2.776445105],
      [5, 2.570581836],
      [9, 2.262157163],
      [10, 2.228138852],
      [30, 2.042272456],
      [100, 1.983971519],
    ];
    for (const [df, t] of table) expect(studentTQuantile(0.975, df)).toBeCloseTo(t, 8);
    expect(studentTQuantile(0.995, 3)).toBeCloseTo(5.840909309, 8);
    expect(studentTQuantile(0.9, 7)).toBeCloseTo(1.414923928, 8);
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.776445105, 8);
    expect(studentTCdf(0, 5)).toBe(0.5);
    expect(studentTCdf(2, 7)).toBeCloseTo(0.957190, 6);
    // The closed forms (df 1, 2) agree with the incomplete beta the others use.
    for (const df of [1, 2]) for (const p of [0.6, 0.9, 0.975]) expect(studentTCdf(studentTQuantile(p, df), df)).toBeCloseTo(p, 12);
    expect(regularizedBeta(0.5, 2, 2)).toBeCloseTo(0.5, 14);
    expect(regularizedBeta(0.3, 1, 1)).toBeCloseTo(0.3, 14);
  });

  it('computes a mean\'s 95 % interval as by hand: mean ± t(0.975, n−1)·sd/√n', () => {
    // docs/training.md's three seeds: 94.0 %, 50.5 %, 97.0 %.
    // mean 0.805; deviations 0.135, −0.3, 0.165; sd = √(0.13545 / 2) = 0.2602403; half = 4.3026527 · 0.2602403 / √3 = 0.6464727.
    const i = tInterval([0.94, 0.505, 0.97]);
    expect(i.mean).toBeCloseTo(0.805, 12);
    expect(i.sd).toBeCloseTo(0.2602403, 7);
    expect(i.low).toBeCloseTo(0.805 - 0.6464727, 6);
    expect(i.high).toBeCloseTo(0.805 + 0.6464727, 6);
    const one = tInterval([0.7]);
    expect(one).toEqual({ mean: 0.7, sd: 0, n: 1 }); // one seed: no interval
  });
});

describe('paired differences and verdicts', () => {
  const seeds = (xs: number[]) => new Map(xs.map((x, i) => [i, x]));
  it('two copies of one variant: these runs cannot tell them apart', () => {
    const same = pairedDifference(seeds([0.62, 0.55, 0.7]), seeds([0.62, 0.55, 0.7]))!;
    expect(same).toMatchObject({ mean: 0, low: 0, high: 0, n: 3, verdict: 'cannot tell' });
    // Two runs of one network differ only by noise: the interval holds 0.
    const noisy = pairedDifference(seeds([0.94, 0.505, 0.97]), seeds([0.52, 0.95, 0.93]))!;
    expect(noisy.low!).toBeLessThan(0);
    expect(noisy.high!).toBeGreaterThan(0);
    expect(noisy.verdict).toBe('cannot tell');
  });

  it('a clearly worse variant is "worse", a clearly better one "better", paired on the seeds both have', () => {
    const worse = pairedDifference(seeds([0.5, 0.5, 0.51]), seeds([0.78, 0.74, 0.81]))!;
    expect(worse.verdict).toBe('worse');
    expect(worse.differences.map((d) => +d.toFixed(6))).toEqual([-0.28, -0.24, -0.3]);
    // mean −0.2733; sd 0.030551; half = 4.3026527 · 0.030551 / √3 = 0.075893
    expect(worse.mean).toBeCloseTo(-0.273333, 6);
    expect(worse.high!).toBeCloseTo(-0.273333 + 0.075893, 5);
    expect(pairedDifference(seeds([0.78, 0.74, 0.81]), seeds([0.5, 0.5, 0.51]))!.verdict).toBe('better');
    const partial = pairedDifference(new Map([[0, 0.9], [2, 0.8]]), new Map([[1, 0.5], [2, 0.5]]))!;
    expect(partial.seeds).toEqual([2]);
    expect(partial.low).toBeUndefined(); // one shared seed: no interval, no verdict either way
    expect(partial.verdict).toBe('cannot tell');
  });
});

describe('chance', () => {
  it('decides "above chance" with an exact one-sided binomial test at 5 %', () => {
    expect(binomialUpperTail(100, 15, 0.1)).toBeCloseTo(0.072572965, 9); // P(X ≥ 15), X ~ B(100, 0.1), summed in exact fractions
    expect(binomialUpperTail(10, 0, 0.3)).toBe(1);
    expect(aboveChanceFrom(100, 0.1)).toBe(0.16); // P(X ≥ 16) = 0.0399 < 5 % ≤ P(X ≥ 15) = 0.0726
    expect(withinChance(0.15, 100, 0.1)).toBe(true);
    expect(withinChance(0.16, 100, 0.1)).toBe(false);
    expect(withinChance(0.55, 200, 0.5)).toBe(true); // 110/200: P(X ≥ 110) = 0.089
    expect(withinChance(0.6, 200, 0.5)).toBe(false);
  });
});

// A sweep file with three variants, and records made for it with chosen figures.
function sweepPlan(seeds: number[]): SweepPlan {
  const dir = mkdtempSync(join(tmpdir(), 'pstc-ablate-stats-'));
  const file = join(dir, 'sweep.pst');
  writeFileSync(
    file,
    `import "${resolve('models/tiny/pst-tiny.pst')}"
sweep mini from pst_t_tiny {
  variant swin2d { shifts = none  bias_frames = 1 }
  variant tsm { shifts = all(tcs) }
  variant pst { }
  variant same { patch_shift = pattern_c }
}
`,
  );
  return planSweep(file, { seeds, budget: { data: 'synthetic:motion', steps: 100, batch: 4, timingIters: 2 } });
}

interface Figures {
  top1: number;
  order?: number;
  best?: number;
}

function records(plan: SweepPlan, figures: Record<string, Figures[]>): RunRecord[] {
  return plan.runs.map((run) => {
    const f = figures[run.variant]![run.seed]!;
    return {
      ...recordBase(run, new Date('2026-12-05T10:00:00Z'), undefined),
      status: 'done',
      seconds: 12,
      finishedAt: '2026-12-05T10:00:12Z',
      trained: true,
      metrics: { top1: f.top1, top5: 0.9, finalLoss: 1.2, valSamples: 100, classes: 10, ...(f.order !== undefined ? { orderAccuracy: f.order } : {}) },
      curves: [
        { step: 50, split: 'val', top1: f.best ?? f.top1 },
        { step: 100, split: 'val', top1: f.top1 },
      ],
      params: 100_000,
      macs: 5_000_000,
      throughput: { forwardClipsPerSecond: 50, forwardLatencyMs: 80, trainClipsPerSecond: 20, trainWarmSteps: 99 },
      compileSeconds: { train: 3, forward: 1 },
      memory: { plannedForwardBytes: 1e6, plannedTrainBytes: 4e6, measuredForwardBytes: 1e6 },
      adapter: 'test',
    } satisfies RunRecord;
  });
}

/** RFC 4180 as resultsCsv writes it: fields with a comma, quote or newline quoted, quotes doubled. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += c;
  }
  if (field || row.length) row.push(field), rows.push(row);
  return rows;
}

const figures: Record<string, Figures[]> = {
  // No shift: order at chance (50 %), top-1 learned the pairs but not their order.
  'mini.swin2d': [
    { top1: 0.45, order: 0.5 },
    { top1: 0.47, order: 0.5 },
    { top1: 0.44, order: 0.51 },
  ],
  // As good as pst, up to noise.
  'mini.tsm': [
    { top1: 0.8, order: 0.76 },
    { top1: 0.74, order: 0.8 },
    { top1: 0.79, order: 0.77 },
  ],
  'mini.pst': [
    { top1: 0.78, order: 0.78 },
    { top1: 0.76, order: 0.74 },
    { top1: 0.8, order: 0.81 },
  ],
};

describe('the ablation summary', () => {
  const plan = sweepPlan([0, 1, 2]);
  const recs = records(plan, figures);

  it('compares each variant with the sweep\'s base variant, paired by seed, with verdicts', () => {
    expect(plan.folded).toEqual([{ variant: 'mini.same', runsAs: 'mini.pst' }]);
    const s = summarize(plan, recs);
    expect(s.references.get('mini')).toEqual({ variant: 'mini.pst', why: "the sweep's base, pst_t_tiny" });
    const row = (v: string) => s.rows.find((r) => r.variant === v)!;
    expect(row('mini.pst').reference).toBe(true);
    expect(row('mini.pst').against).toBeUndefined();
    expect(row('mini.swin2d').against!.orderAccuracy!.verdict).toBe('worse');
    expect(row('mini.swin2d').against!.top1!.verdict).toBe('worse');
    expect(row('mini.tsm').against!.orderAccuracy!.verdict).toBe('cannot tell');
    expect(row('mini.tsm').against!.top1!.verdict).toBe('cannot tell');
    // The per-variant mean with its t interval: pst top-1 0.78 ± 4.3026527 · 0.02 / √3.
    expect(row('mini.pst').top1!.mean).toBeCloseTo(0.78, 12);
    expect(row('mini.pst').top1!.high! - 0.78).toBeCloseTo((4.3026527 * 0.02) / Math.sqrt(3), 6);

    const { header, rows } = tableCells(s);
    expect(header).toContain('top-1: mean [95 % t interval]');
    expect(header).toContain('order acc. − mini.pst (points) [95 %]');
    expect(header).toContain('clips/s train (warm steps)');
    expect(header).toContain('compile s');
    expect(header).not.toContain('note'); // nobody at chance
    const cell = (variant: string, column: string) => rows[s.rows.findIndex((r) => r.variant === variant)]![header.indexOf(column)]!;
    expect(cell('mini.pst', 'top-1: mean [95 % t interval]')).toBe('78.0 % [73.0, 83.0]');
    expect(cell('mini.pst', 'order acc. − mini.pst (points) [95 %]')).toBe('reference');
    // swin2d − pst, order: −0.28, −0.24, −0.30 → mean −27.33, sd 3.055, half 4.3026527 · 3.055 / √3 = 7.59 points.
    expect(cell('mini.swin2d', 'order acc. − mini.pst (points) [95 %]')).toBe('−27.3 [−34.9, −19.7]: worse');
    expect(cell('mini.tsm', 'order acc. − mini.pst (points) [95 %]')).toMatch(/^±0\.0 \[−\d+\.\d, \d+\.\d\]: these runs cannot tell them apart$/);
    expect(cell('mini.pst', 'compile s')).toBe('4.0');
  });

  it('opens the report with the answer in words, from the numbers', () => {
    const text = openingParagraph(plan, summarize(plan, recs));
    expect(text).toContain('mini.swin2d is worse than mini.pst by 27.3 points of order accuracy (95 % interval 19.7–34.9, 3 seeds) and by 32.7 points of top-1 (95 % interval 23.9–41.4, 3 seeds).');
    expect(text).toMatch(/These runs cannot tell mini\.tsm apart from mini\.pst on order accuracy or top-1: every 95 % interval of the difference holds 0 \(mini\.tsm: within −13\.1 to \+13\.1 points; 3 seeds\)\./);
    expect(text).not.toContain('chance');
  });

  it('says "one seed: no interval" and draws no verdict from one seed', () => {
    const one = sweepPlan([0]);
    const s = summarize(one, records(one, figures));
    const { header, rows } = tableCells(s);
    expect(rows[0]![header.indexOf('top-1: mean [95 % t interval]')]).toBe('45.0 % (one seed: no interval)');
    expect(rows[0]![header.indexOf('top-1 − mini.pst (points) [95 %]')]).toBe('−33.0 (one seed: no interval)');
    const text = openingParagraph(one, s);
    expect(text).toContain('With one seed per variant there is no interval, so these runs cannot say whether any variant differs from mini.pst');
    expect(text).toContain('mini.swin2d −28.0 points of order accuracy, −33.0 points of top-1');
  });

  it('flags a run whose validation top-1 never left chance', () => {
    // tsm seed 1 at 14 % (best 15 % on the way) of 10 classes on 100 clips: within the noise of 10 %; seed 0 at 16 % is not.
    const low = { ...figures, 'mini.tsm': [{ top1: 0.16, order: 0.5 }, { top1: 0.14, order: 0.52, best: 0.15 }, { top1: 0.6, order: 0.7 }] };
    const s = summarize(plan, records(plan, low));
    const tsm = s.rows.find((r) => r.variant === 'mini.tsm')!;
    expect(tsm.atChance!.map((c) => c.seed)).toEqual([1]);
    expect(tsm.atChance![0]!.detail).toEqual({ best: 0.15, chance: 0.1, samples: 100, threshold: 0.16 });
    const { header, rows } = tableCells(s);
    const note = rows[s.rows.indexOf(tsm)]![header.indexOf('note')]!;
    expect(note).toBe('still at chance: budget too short? (seed 1: best top-1 15.0 %; on 100 clips a guess at 10.0 % chance stays below 16.0 % with 95 % probability)');
    expect(openingParagraph(plan, s)).toContain('1 of 9 runs never left chance (best validation top-1 within the binomial noise of 1/classes): budget too short?');
  });

  it('--against: another reference, by full or short name; an unknown name is PST808 naming the variants', () => {
    expect(resolveAgainst(plan, 'mini.swin2d')).toBe('mini.swin2d');
    expect(resolveAgainst(plan, 'swin2d')).toBe('mini.swin2d');
    expect(resolveAgainst(plan, 'same')).toBe('mini.pst'); // folded into pst: its runs are pst's
    const s = summarize(plan, recs, { against: 'swin2d' });
    expect(s.references.get('mini')).toEqual({ variant: 'mini.swin2d', why: '--against' });
    expect(s.rows.find((r) => r.variant === 'mini.pst')!.against!.orderAccuracy!.verdict).toBe('better');
    expect(openingParagraph(plan, s)).toContain('mini.pst is better than mini.swin2d by 27.3 points of order accuracy (95 % interval 19.7–34.9, 3 seeds)');
    try {
      resolveAgainst(plan, 'swin');
      expect.unreachable();
    } catch (e) {
      const d = (e as DiagnosticError).diagnostics[0]!;
      expect(d.code).toBe('PST808');
      expect(d.message).toBe('--against: no variant of mini is called `swin`');
      expect(d.hint).toContain('the variants: mini.swin2d, mini.tsm, mini.pst');
    }
  });

  it('writes the statistics into results.json, results.csv and variants.csv, and the answer atop results.md and report.html', async () => {
    const dir = new AblationDir(join(mkdtempSync(join(tmpdir(), 'pstc-ablate-stats-out-')), 'out'));
    dir.writePlan(plan);
    for (const r of recs) dir.writeRecord(r);
    const files = await writeReport(dir, plan);
    const json = JSON.parse(readFileSync(files.json, 'utf8'));
    expect(json.answer).toContain('mini.swin2d is worse than mini.pst');
    expect(json.statistics.interval).toContain('Student-t');
    expect(json.references).toEqual({ mini: { variant: 'mini.pst', why: "the sweep's base, pst_t_tiny" } });
    const swin = json.variants.find((v: { variant: string }) => v.variant === 'mini.swin2d');
    expect(swin.top1).toMatchObject({ n: 3, min: 0.44, max: 0.47 });
    expect(swin.top1.low).toBeLessThan(swin.top1.mean);
    expect(swin.against.against).toBe('mini.pst');
    expect(swin.against.orderAccuracy).toMatchObject({ n: 3, seeds: [0, 1, 2], verdict: 'worse' });

    const csv = parseCsv(readFileSync(files.csv, 'utf8'));
    const col = (name: string) => csv[0]!.indexOf(name);
    for (const name of ['at_chance', 'against', 'top1_minus_against', 'order_accuracy_minus_against', 'train_clips_per_s_warm', 'compile_train_s', 'compile_forward_s', 'val_samples']) expect(col(name), name).toBeGreaterThan(0);
    const swinSeed0 = csv.find((l) => l[col('variant')] === 'mini.swin2d' && l[col('seed')] === '0')!;
    expect(Number(swinSeed0[col('order_accuracy_minus_against')])).toBeCloseTo(-0.28, 9);
    expect(swinSeed0[col('against')]).toBe('mini.pst');
    expect(swinSeed0[col('at_chance')]).toBe('no');

    const variants = parseCsv(readFileSync(files.variantsCsv, 'utf8'));
    const vcol = (name: string) => variants[0]!.indexOf(name);
    const vswin = variants.find((l) => l[0] === 'mini.swin2d')!;
    expect(vswin[vcol('order_accuracy_verdict')]).toBe('worse');
    expect(Number(vswin[vcol('order_accuracy_minus_against_high95')])).toBeLessThan(0);
    expect(variants.find((l) => l[0] === 'mini.tsm')![vcol('top1_verdict')]).toBe('cannot tell');
    expect(variants.find((l) => l[0] === 'mini.pst')![vcol('against')]).toBe('(reference)');

    const md = readFileSync(files.markdown, 'utf8');
    expect(md.split('\n')[2]).toMatch(/^\*\*Answer\.\*\* mini\.swin2d is worse than mini\.pst by 27\.3 points of order accuracy/);
    expect(md).toContain('95 % Student-t interval');
    const html = readFileSync(files.html, 'utf8');
    expect(html).toMatch(/<h1>[^]*<p class="answer">mini\.swin2d is worse than mini\.pst/);
    for (const chart of ['accuracy', 'order-accuracy', 'top1-difference', 'order-difference']) expect(html).toContain(`data-chart="${chart}"`);
    expect(files.charts).toContain('order-difference');
  }, 60_000);

  it('pstc ablate --report --against: refuses an unknown variant, naming the variants; writes the comparison for a known one', () => {
    const dir = new AblationDir(join(mkdtempSync(join(tmpdir(), 'pstc-ablate-stats-cli-')), 'out'));
    dir.writePlan(plan);
    for (const r of recs) dir.writeRecord(r);
    const pstc = (...args: string[]) => spawnSync(process.execPath, ['bin/pstc.js', 'ablate', ...args], { encoding: 'utf8' });
    const bad = pstc('--report', dir.root, '--against', 'nope');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('PST808');
    expect(bad.stderr).toContain('mini.swin2d, mini.tsm, mini.pst');
    const good = pstc('--report', dir.root, '--against', 'tsm');
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toContain('**Answer.** mini.swin2d is worse than mini.tsm');
  }, 60_000);
});
