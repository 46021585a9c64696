import { describe, expect, test } from 'vitest';
import { checkFiles, loadModel } from '../../src/lang/elaborate.js';
import { DiagnosticError, type Diagnostic } from '../../src/lang/diagnostics.js';
import type { ModelConfig } from '../../src/lang/model.js';
import { summaryLine } from '../../src/cli/commands/check.js';
import { languageExample, vfs } from './vfs.js';

const codes = (ds: Diagnostic[]) => ds.map((d) => d.code);
const linspace = (end: number, n: number) => Array.from({ length: n }, (_, k) => (n > 1 ? (end * k) / (n - 1) : 0));

function check(files: Record<string, string>, roots = [Object.keys(files)[0]!]) {
  return checkFiles(roots, vfs(files));
}

function only(files: Record<string, string>, name?: string): ModelConfig {
  const r = check(files);
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const m = name ? r.models.find((x) => x.name === name) : r.models[r.models.length - 1];
  expect(m).toBeDefined();
  return m!;
}

const tiny = `
import "common/shifts.pst"
const width = 32
model base {
  embed { patch = (2, 4, 4)  dim = width }
  window = (1, 3, 3)
  bias_frames = 8
  patch_shift = pattern_c
  channel_shift = tcs_eighth
  shifts = alternate(tcs, tps)
  stage 1 { depth = 2  heads = 4 }
  stage 2 { depth = 2  heads = 8 }
  head { classes = 10 }
}
`;

describe('PST-T, the example of docs/language.md', () => {
  const model = only({ 'pst-t.pst': languageExample() }, 'pst_t');

  test('stages: depths, dims 96·2^i, heads, merges', () => {
    expect(model.stages.map((s) => s.depth)).toEqual([2, 2, 6, 2]);
    expect(model.stages.map((s) => s.dim)).toEqual([96, 192, 384, 768]);
    expect(model.stages.map((s) => s.heads)).toEqual([3, 6, 12, 24]);
    expect(model.stages.map((s) => s.merge)).toEqual(['patch_merging', 'patch_merging', 'patch_merging', 'none']);
    for (const s of model.stages) {
      expect(s).toMatchObject({ attention: 'window2d', window: [1, 7, 7], biasFrames: 16, mlpRatio: 4, qkvBias: true, dropout: 0, attnDropout: 0 });
    }
  });

  test('embed, input, norm and head', () => {
    expect(model.embed).toEqual({ patch: [2, 4, 4], dim: 96, norm: true, inChannels: 3 });
    expect(model.input).toEqual({ frames: 32, size: 224, batch: 1 });
    expect(model.finalNorm).toBe(true);
    expect(model.head).toEqual({ pool: 'mean', dropout: 0.5, classes: 400 });
  });

  test('TCS on even blocks, TPS pattern C on odd blocks, shifted windows on odd blocks', () => {
    for (const s of model.stages) {
      for (const b of s.blocks) {
        expect(b.shiftWindows).toBe(b.index % 2 === 1);
        if (b.index % 2 === 0) expect(b.shift).toMatchObject({ kind: 'channel', name: 'tcs_eighth', fold: 1 / 8, boundary: 'keep' });
        else {
          expect(b.shift).toMatchObject({ kind: 'patch', name: 'pattern_c', ratio: 1, boundary: 'cyclic', shiftBack: true });
          // pst-reference.md's table: row h mod 3, column w mod 3.
          expect(b.shift?.kind === 'patch' && b.shift.grid).toEqual([
            [-4, 1, 2],
            [-1, 0, 3],
            [-2, -3, 4],
          ]);
        }
      }
    }
  });

  test('drop path rises linearly from 0 to 0.1 over all 12 blocks', () => {
    const rates = model.stages.flatMap((s) => s.blocks.map((b) => b.dropPath));
    const want = linspace(0.1, 12);
    rates.forEach((r, i) => expect(r).toBeCloseTo(want[i]!, 12));
  });

  test('summary line', () => {
    expect(summaryLine(model)).toBe('pst_t  depths 2,2,6,2  dim 96  heads 3,6,12,24  shifts alternate(tcs,tps)');
  });
});

describe('extends and overrides', () => {
  const files = {
    'a.pst': `${tiny}
model deep extends base {
  embed.dim = 48
  drop_path = 0.2
  stage 2 { depth = 4 }
  stage.1.heads = 6
  patch_shift.ratio = 0.5
}
model deeper extends deep {
  stage 3 { depth = 2  heads = 12  drop_path = 0.05 }
  head = none
}`,
  };
  const r = check(files);
  const byName = (n: string) => r.models.find((m) => m.name === n)!;

  test('no diagnostics, models in source order', () => {
    expect(r.diagnostics).toEqual([]);
    expect(r.models.map((m) => m.name)).toEqual(['base', 'deep', 'deeper']);
  });

  test('sections merge: a stage override changes only what it names', () => {
    const deep = byName('deep');
    expect(deep.stages.map((s) => [s.depth, s.heads, s.dim])).toEqual([
      [2, 6, 48],
      [4, 8, 96],
    ]);
    expect(deep.embed.patch).toEqual([2, 4, 4]);
  });

  test('a field override of the bound pattern applies to this model only', () => {
    const ratio = (m: ModelConfig) => m.stages[0]!.blocks[1]!.shift;
    expect(ratio(byName('deep'))).toMatchObject({ name: 'pattern_c', ratio: 0.5 });
    expect(ratio(byName('base'))).toMatchObject({ name: 'pattern_c', ratio: 1 });
    expect(ratio(byName('deeper'))).toMatchObject({ ratio: 0.5 });
  });

  test('added stage, stage-level constant drop path, head = none, merge never after the last stage', () => {
    const deeper = byName('deeper');
    expect(deeper.head).toBeNull();
    expect(deeper.stages.map((s) => s.dim)).toEqual([48, 96, 192]);
    expect(deeper.stages.map((s) => s.merge)).toEqual(['patch_merging', 'patch_merging', 'none']);
    const rates = deeper.stages.flatMap((s) => s.blocks.map((b) => b.dropPath));
    const lin = linspace(0.2, 8);
    rates.slice(0, 6).forEach((x, i) => expect(x).toBeCloseTo(lin[i]!, 12));
    expect(rates.slice(6)).toEqual([0.05, 0.05]);
  });

  test('constants of a base in another file resolve in that file', () => {
    const m = only({ 'b.pst': 'import "t.pst"\nconst seven = 7\nmodel c extends base { stage 1 { heads = seven - 3 } }', 't.pst': tiny }, 'c');
    expect(m.embed.dim).toBe(32);
    expect(m.stages[0]!.heads).toBe(4);
  });

  test('extends cycles are errors, reported once', () => {
    const r2 = check({ 'c.pst': `${tiny}\nmodel x extends y { }\nmodel y extends x { }\nmodel z extends z { }` });
    expect(codes(r2.diagnostics)).toEqual(['PST214', 'PST214']);
    expect(r2.diagnostics[0]!.message).toBe('extends cycle: x extends y extends x');
    expect(r2.diagnostics[1]!.message).toBe('extends cycle: z extends z');
  });

  test('expressions: arithmetic, integral floats, list placements per stage', () => {
    const m = only({
      'e.pst': `${tiny}
const d = 64
model e extends base {
  embed.dim = d / 2
  stage 1 { heads = (2 + 2) * 1  shifts = [tps, none] }
  stage 2 { shifts = all(pattern_a)  mlp_ratio = 2.5  window = (1, 3, -(-3)) }
}`,
    }, 'e');
    expect(m.embed.dim).toBe(32);
    expect(m.stages[0]!.blocks.map((b) => b.shift?.name ?? null)).toEqual(['pattern_c', null]);
    expect(m.stages[1]!.blocks.map((b) => b.shift?.name)).toEqual(['pattern_a', 'pattern_a']);
    expect(m.stages[1]!.mlpRatio).toBe(2.5);
  });
});

describe('sweeps', () => {
  const sweepFile = `${tiny}
sweep grid2 from base {
  mode = grid
  axis patch_shift = [pattern_a, pattern_b, pattern_c]
  axis shifts      = [alternate(tcs, tps), all(tps), all(tcs)]
}
sweep zipped from base {
  mode = list
  axis patch_shift.ratio = [1/4, 1/2]
  axis stage.2.depth     = [2, 4]
}
sweep placement from base {
  variant tps_only { shifts = all(tps) }
  variant wide { embed { dim = 64 } }
}`;
  const r = check({ 's.pst': sweepFile });

  test('grid: 3 × 3 = 9 variants named by the values as written', () => {
    expect(r.diagnostics).toEqual([]);
    const grid = r.sweeps.find((s) => s.name === 'grid2')!;
    expect(grid.base).toBe('base');
    expect(grid.variants).toHaveLength(9);
    expect(grid.variants[0]).toBe('grid2[patch_shift=pattern_a,shifts=alternate(tcs, tps)]');
    expect(grid.variants[8]).toBe('grid2[patch_shift=pattern_c,shifts=all(tcs)]');
    const v = r.models.find((m) => m.name === 'grid2[patch_shift=pattern_b,shifts=all(tps)]')!;
    expect(v.stages[1]!.blocks.map((b) => b.shift?.name)).toEqual(['pattern_b', 'pattern_b']);
  });

  test('list mode zips the axes', () => {
    const zipped = r.sweeps.find((s) => s.name === 'zipped')!;
    expect(zipped.variants).toEqual(['zipped[patch_shift.ratio=1/4,stage.2.depth=2]', 'zipped[patch_shift.ratio=1/2,stage.2.depth=4]']);
    const second = r.models.find((m) => m.name === zipped.variants[1])!;
    expect(second.stages[1]!.depth).toBe(4);
    expect(second.stages[0]!.blocks[1]!.shift).toMatchObject({ ratio: 0.5 });
  });

  test('explicit variants', () => {
    expect(r.sweeps.find((s) => s.name === 'placement')!.variants).toEqual(['placement.tps_only', 'placement.wide']);
    expect(r.models.find((m) => m.name === 'placement.wide')!.stages.map((s) => s.dim)).toEqual([64, 128]);
  });

  test('models list: base then variants, in source order', () => {
    expect(r.models).toHaveLength(1 + 9 + 2 + 2);
    expect(r.models[0]!.name).toBe('base');
  });

  test('an error caused by an axis value points at that value', () => {
    const bad = check({ 'b.pst': `${tiny}\nsweep s from base { axis stage.1.heads = [4, 5] }` });
    expect(codes(bad.diagnostics)).toEqual(['PST250']);
    const span = bad.diagnostics[0]!.span!;
    expect(bad.sources.get('b.pst')!.slice(span.startOffset, span.endOffset)).toBe('5');
    expect(bad.models.map((m) => m.name)).toEqual(['base', 's[stage.1.heads=4]']);
  });
});

describe('imports', () => {
  test('relative to the importing file, each parsed once, visible transitively', () => {
    const seen: string[] = [];
    const read = vfs({
      'm/top.pst': 'import "lib/mid.pst"\nimport "lib/mid.pst"\nmodel top extends base { }',
      'm/lib/mid.pst': `import "../../t.pst"`,
      't.pst': tiny,
    });
    const r = checkFiles(['m/top.pst'], (f) => (seen.push(f), read(f)));
    expect(r.diagnostics).toEqual([]);
    expect(r.models.map((m) => m.name)).toEqual(['top']);
    expect(seen.sort()).toEqual(['common/shifts.pst', 'm/lib/mid.pst', 'm/top.pst', 't.pst']);
  });

  test('missing file and cycle are errors at the import', () => {
    const r = check({ 'a.pst': 'import "b.pst"\nimport "gone.pst"', 'b.pst': 'import "a.pst"' });
    expect(codes(r.diagnostics)).toEqual(['PST201', 'PST202']);
    expect(r.diagnostics[0]!.span).toMatchObject({ file: 'a.pst', startLine: 2 });
    expect(r.diagnostics[1]!.message).toBe('import cycle: a.pst → b.pst → a.pst');
    expect(r.diagnostics[1]!.span).toMatchObject({ file: 'b.pst', startLine: 1 });
  });

  test('the same name from two imports, and an own declaration against an import', () => {
    const r = check({
      'a.pst': 'import "x.pst"\nimport "y.pst"\nconst k = 2',
      'x.pst': 'const c = 1\nconst k = 3',
      'y.pst': 'const c = 1',
    });
    expect(codes(r.diagnostics)).toEqual(['PST210', 'PST210']);
    expect(r.diagnostics.map((d) => d.span!.startLine)).toEqual([2, 3]);
  });

  test('a given file that does not exist is reported with its name', () => {
    const r = checkFiles(['nowhere.pst'], () => undefined);
    expect(r.diagnostics).toEqual([expect.objectContaining({ code: 'PST201', flag: 'nowhere.pst' })]);
  });
});

describe('loadModel', () => {
  const read = vfs({ 'l.pst': `${tiny}\nmodel second extends base { shifts = none }\nsweep s from base { axis stage.1.depth = [2, 4] }` });
  test('the last declared model, a named one, a sweep variant', () => {
    expect(loadModel('l.pst', undefined, read).model.name).toBe('second');
    expect(loadModel('l.pst', 'base', read).model.name).toBe('base');
    expect(loadModel('l.pst', 's[stage.1.depth=4]', read).model.stages[0]!.depth).toBe(4);
  });
  test('unknown names and files with errors throw DiagnosticError', () => {
    expect(() => loadModel('l.pst', 'bse', read)).toThrow(DiagnosticError);
    try {
      loadModel('l.pst', 'bse', read);
    } catch (e) {
      expect((e as DiagnosticError).diagnostics[0]).toMatchObject({ code: 'PST203', hint: 'did you mean `base`?' });
    }
    expect(() => loadModel('bad.pst', undefined, vfs({ 'bad.pst': 'model m { }' }))).toThrow(DiagnosticError);
  });
});

describe('pstc check', () => {
  async function run(args: string[]) {
    const { Command } = await import('commander');
    const { memoryIO } = await import('../../src/cli/io.js');
    const { registerCheck } = await import('../../src/cli/commands/check.js');
    const io = memoryIO();
    let code = 0;
    const program = new Command('pstc').exitOverride();
    registerCheck(program, io, (c) => (code = c));
    await program.parseAsync(args, { from: 'user' });
    return { ...io, code };
  }

  test('a clean file: one line per model and variant, exit 0', async () => {
    const out = await run(['check', 'models/pst-t.pst', 'models/ablations/ratio.pst']);
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines[0]).toBe('pst_t                         depths 2,2,6,2  dim 96  heads 3,6,12,24  shifts alternate(tcs,tps)');
    expect(lines).toHaveLength(4);
    expect(out.stderr).toContain('warning PST256'); // ratio 1/4 of 3 heads: a warning does not fail
  });

  test('errors: rendered with source lines on stderr, exit 1; --json has models and diagnostics', async () => {
    const bad = await run(['check', 'test/lang/diagnostics/three_mistakes.pst', '--quiet']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('4 |   stage 1 { heads = 5 }');
    expect(bad.stderr).toContain('3 errors, 0 warnings');
    const json = await run(['check', 'models/tps-t.pst', '--json']);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.models.map((m: ModelConfig) => m.name)).toEqual(['tps_t']);
    expect(parsed.diagnostics).toEqual([]);
  });
});
