// The model library (models/**/*.pst) and the editor grammar (grammar/pst.tmLanguage.json):
// every model file checks clean, elaborates to the models and variants it promises, and is in
// canonical format; PST-T means exactly what pst-reference.md says; the tiny models exercise
// padding and window shifts; the grammar's regexes compile in JS and colour .pst text as intended.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { checkFiles, loadModel } from '../src/lang/elaborate.js';
import { renderDiagnostics } from '../src/lang/diagnostics.js';
import { formatProgram } from '../src/lang/format.js';
import { parseProgram } from '../src/lang/parse.js';
import type { ModelConfig, PatchShift, StageConfig } from '../src/lang/model.js';
import { readFromDisk } from '../src/lang/read-disk.js';

const modelFiles = (readdirSync('models', { recursive: true }) as string[])
  .filter((f) => f.endsWith('.pst'))
  .map((f) => `models/${f.split('\\').join('/')}`)
  .sort();

// What each file declares: its models, then its sweep variants, in source order. A file added
// to models/ without an entry here fails the first test, so this table stays the index.
const expected: Record<string, { models: number; warnings?: string[] }> = {
  'models/common/shifts.pst': { models: 0 },
  'models/pst-t.pst': { models: 1 },
  'models/pst-t-sthv2.pst': { models: 1 },
  'models/pst-t-k400.pst': { models: 1 },
  'models/pst-b.pst': { models: 1 },
  'models/swin2d-t.pst': { models: 1 },
  'models/tsm-t.pst': { models: 1 },
  'models/tps-t.pst': { models: 1 },
  'models/video-swin-t.pst': { models: 1 },
  'models/ablations/patterns.pst': { models: 5 },
  // Ratio 1/4 of stage 1's 3 heads shifts none: the paper's setting, so a warning, kept.
  'models/ablations/ratio.pst': { models: 3, warnings: ['PST256'] },
  'models/ablations/placement.pst': { models: 6 },
  'models/ablations/pattern-placement.pst': { models: 9 },
  'models/tiny/pst-tiny.pst': { models: 1 },
  'models/tiny/swin2d-tiny.pst': { models: 1 },
  'models/tiny/tsm-tiny.pst': { models: 1 },
  'models/tiny/tps-tiny.pst': { models: 1 },
  'models/tiny/video-swin-tiny.pst': { models: 1 },
  // Ratio 1/4 of pst_t_tiny's 2 heads in stage 1 shifts none, as in PST-T.
  'models/tiny/ablations-tiny.pst': { models: 5 + 3 + 6 + 9, warnings: ['PST256'] },
  'models/tiny/demo-ablation-tiny.pst': { models: 5 },
  'models/tiny/reach-ablation-tiny.pst': { models: 3 },
  'models/tiny/temporal-ablation-tiny.pst': { models: 3 },
};

function check(file: string) {
  const r = checkFiles([file], readFromDisk);
  return { ...r, rendered: renderDiagnostics(r.diagnostics, { sources: r.sources }) };
}

const cache = new Map<string, ModelConfig>();
function model(file: string, name?: string): ModelConfig {
  const key = `${file}#${name ?? ''}`;
  if (!cache.has(key)) cache.set(key, loadModel(file, name, readFromDisk).model);
  return cache.get(key)!;
}

const blockShifts = (s: StageConfig) => s.blocks.map((b) => (b.shift ? `${b.shift.kind}:${b.shift.name}` : 'none'));
const reach = (p: PatchShift) => Math.max(...p.grid.flat().map(Math.abs));

describe('every model file', () => {
  test('the index above lists exactly the files under models/', () => {
    expect(modelFiles).toEqual(Object.keys(expected).sort());
  });

  test.each(modelFiles)('%s checks clean and elaborates its models', (file) => {
    const r = check(file);
    const codes = r.diagnostics.map((d) => `${d.severity}:${d.code}`);
    expect(codes, r.rendered).toEqual((expected[file]?.warnings ?? []).map((c) => `warning:${c}`));
    expect(r.models).toHaveLength(expected[file]!.models);
    // Names are unique, so any of them can be picked with --model.
    expect(new Set(r.models.map((m) => m.name)).size).toBe(r.models.length);
  });

  test.each(modelFiles)('%s is in canonical format and starts with a comment saying what it is', (file) => {
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith(`// ${file} — `)).toBe(true);
    const { program, diagnostics } = parseProgram(text, file);
    expect(diagnostics).toEqual([]);
    expect(formatProgram(program, text)).toBe(text);
  });
});

describe('PST-T is the model of pst-reference.md', () => {
  const m = () => model('models/pst-t.pst', 'pst_t');

  test('embedding, stages, head and input', () => {
    const pst = m();
    expect(pst.embed).toEqual({ patch: [2, 4, 4], dim: 96, norm: true, inChannels: 3 });
    expect(pst.stages.map((s) => s.depth)).toEqual([2, 2, 6, 2]);
    expect(pst.stages.map((s) => s.heads)).toEqual([3, 6, 12, 24]);
    expect(pst.stages.map((s) => s.dim)).toEqual([96, 192, 384, 768]);
    expect(pst.stages.map((s) => s.merge)).toEqual(['patch_merging', 'patch_merging', 'patch_merging', 'none']);
    for (const s of pst.stages) {
      expect(s).toMatchObject({ attention: 'window2d', window: [1, 7, 7], biasFrames: 16, mlpRatio: 4, qkvBias: true });
    }
    expect(pst.finalNorm).toBe(true);
    expect(pst.head).toEqual({ pool: 'mean', dropout: 0.5, classes: 174 });
    expect(pst.input).toMatchObject({ frames: 32, size: 224 });
  });

  test('TCS on even blocks, TPS pattern C on odd blocks with shifted windows', () => {
    for (const s of m().stages) {
      for (const b of s.blocks) {
        expect(b.shiftWindows).toBe(b.index % 2 === 1);
        if (b.index % 2 === 0) {
          expect(b.shift).toMatchObject({ kind: 'channel', name: 'tcs_eighth', fold: 1 / 8, boundary: 'keep' });
        } else {
          expect(b.shift).toMatchObject({ kind: 'patch', name: 'pattern_c', ratio: 1, boundary: 'cyclic', shiftBack: true });
          expect((b.shift as PatchShift).grid).toEqual([
            [-4, 1, 2],
            [-1, 0, 3],
            [-2, -3, 4],
          ]);
        }
      }
    }
  });

  test('drop path rises linearly from 0 to 0.1 over the 12 blocks', () => {
    const rates = m().stages.flatMap((s) => s.blocks.map((b) => b.dropPath));
    expect(rates).toHaveLength(12);
    rates.forEach((r, i) => expect(r).toBeCloseTo((0.1 * i) / 11, 12));
  });
});

describe('the other full-size models', () => {
  test('PST-B widens and deepens PST-T', () => {
    const b = model('models/pst-b.pst');
    expect(b.embed.dim).toBe(128);
    expect(b.stages.map((s) => s.depth)).toEqual([2, 2, 18, 2]);
    expect(b.stages.map((s) => s.heads)).toEqual([4, 8, 16, 32]);
    expect(b.stages.map((s) => s.dim)).toEqual([128, 256, 512, 1024]);
    expect(b.stages.at(-1)!.blocks.at(-1)!.dropPath).toBeCloseTo(0.2, 12);
    expect(blockShifts(b.stages[2]!).slice(0, 2)).toEqual(['channel:tcs_eighth', 'patch:pattern_c']);
  });

  test('Swin 2D, TSM and TPS differ from PST-T only in their shifts and bias table', () => {
    const pst = model('models/pst-t.pst');
    const swin = model('models/swin2d-t.pst');
    const tsm = model('models/tsm-t.pst');
    const tps = model('models/tps-t.pst');
    for (const [m, shifts, bias] of [
      [swin, 'none', 1],
      [tsm, 'channel:tcs_eighth', 16],
      [tps, 'patch:pattern_c', 16],
    ] as const) {
      for (const s of m.stages) {
        expect(blockShifts(s)).toEqual(s.blocks.map(() => shifts));
        expect(s.biasFrames).toBe(bias);
      }
      const strip = (x: ModelConfig) => x.stages.map((s) => ({ ...s, span: undefined, biasFrames: 0, blocks: s.blocks.map((b) => ({ ...b, shift: null })) }));
      expect(strip(m)).toEqual(strip(pst));
      expect(m.head).toEqual(pst.head);
    }
  });

  test('Video Swin: 3-D windows of 8 frames, shifted on odd blocks, 8-frame table, no shifts', () => {
    for (const s of model('models/video-swin-t.pst').stages) {
      expect(s).toMatchObject({ attention: 'window3d', window: [8, 7, 7], biasFrames: 8 });
      expect(s.blocks.map((b) => [b.shift, b.shiftWindows])).toEqual(s.blocks.map((b) => [null, b.index % 2 === 1]));
    }
  });
});

describe('ablations', () => {
  const variants = (file: string) => checkFiles([file], readFromDisk).models;
  const tpsOf = (m: ModelConfig) => m.stages[0]!.blocks[1]!.shift as PatchShift;

  test('patterns: 2x2, three 3x3 of reach 1, 2, 4 (pattern C), and 4x4 of reach 8', () => {
    const ps = variants('models/ablations/patterns.pst').map(tpsOf);
    expect(ps.map((p) => [p.name, p.grid.length, reach(p)])).toEqual([
      ['pattern_a2', 2, 1],
      ['pattern_a', 3, 1],
      ['pattern_b', 3, 2],
      ['pattern_c', 3, 4],
      ['pattern_d4', 4, 8],
    ]);
    for (const p of ps) for (const row of p.grid) expect(row).toHaveLength(p.grid.length);
    // The ablation grids balance past and future: their offsets sum to 0, or +8 for the 4x4 grid
    // of the distinct offsets -7..+8.
    expect(ps.map((p) => p.grid.flat().reduce((a, b) => a + b, 0))).toEqual([0, 0, 0, 0, 8]);
    expect(new Set(ps[4]!.grid.flat()).size).toBe(16);
  });

  test('ratio shifts 1/4, 1/2 and all of the heads', () => {
    expect(variants('models/ablations/ratio.pst').map((m) => tpsOf(m).ratio)).toEqual([0.25, 0.5, 1]);
  });

  test('placement: PST, TPS only, TCS only, TPS everywhere, TCS everywhere (keep and zeros)', () => {
    const vs = variants('models/ablations/placement.pst');
    expect(vs.map((m) => [m.name, blockShifts(m.stages[0]!).join(' ')])).toEqual([
      ['placement.alternating', 'channel:tcs_eighth patch:pattern_c'],
      ['placement.tps_only', 'none patch:pattern_c'],
      ['placement.tcs_only', 'channel:tcs_eighth none'],
      ['placement.tps_all', 'patch:pattern_c patch:pattern_c'],
      ['placement.tcs_all', 'channel:tcs_eighth channel:tcs_eighth'],
      ['placement.tsm_all', 'channel:tsm_eighth channel:tsm_eighth'],
    ]);
    expect(vs[5]!.stages[0]!.blocks[0]!.shift).toMatchObject({ boundary: 'zeros', fold: 1 / 8 });
  });

  test('pattern x placement is a 3 x 3 grid', () => {
    const names = variants('models/ablations/pattern-placement.pst').map((m) => blockShifts(m.stages[2]!).slice(0, 2).join(' '));
    expect(new Set(names).size).toBe(9);
  });
});

describe('tiny models run in seconds and still exercise the hard cases', () => {
  const tinyFiles = modelFiles.filter((f) => f.startsWith('models/tiny/'));
  const tiny = tinyFiles.flatMap((f) => checkFiles([f], readFromDisk).models);
  // Feature-map side of each stage: input / patch, halved by each merge (odd sides padded first).
  const sides = (m: ModelConfig) => {
    let side = Math.ceil(m.input.size / m.embed.patch[1]);
    return m.stages.map((s, i) => {
      if (i > 0) side = Math.ceil(side / 2);
      return { side, window: s.window[1], frames: Math.ceil(m.input.frames / m.embed.patch[0]) };
    });
  };

  test('all the families are there, small', () => {
    expect(tiny.map((m) => m.name).filter((n) => !/[[.]/.test(n))).toEqual([
      'pst_t_tiny_demo', // the demo's base: pst-tiny at 24×24, pattern A, 4 classes, the demo's recipe
      'pst_t_tiny',
      'swin2d_t_tiny',
      'tps_t_tiny',
      'tsm_t_tiny',
      'video_swin_t_tiny',
    ]);
    for (const m of tiny) {
      // The temporal-extent and reach sweeps are about longer clips (up to 32 frames).
      const longClips = /^(frames_tiny|reach_tiny)\b/.test(m.name) ? 4 : 1;
      expect(m.input.frames * m.input.size ** 2).toBeLessThanOrEqual(longClips * 8 * 32 * 32);
      expect(Math.max(...m.stages.map((s) => s.dim))).toBeLessThanOrEqual(64);
      // The synthetic motion set's 10 classes; the demo trains on its 4-class subset.
      const demo = /^(pst_t_tiny_demo|demo\.)/.test(m.name);
      expect(m.head?.classes).toBe(demo ? 4 : 10);
    }
  });

  test('every pattern fits its window and its bias table, and every TCS moves a channel', () => {
    for (const m of tiny) {
      for (const s of m.stages) {
        const frames = Math.ceil(m.input.frames / m.embed.patch[0]);
        if (s.attention === 'window2d' && s.biasFrames > 1) expect(frames).toBeLessThanOrEqual(s.biasFrames);
        for (const b of s.blocks) {
          if (b.shift?.kind === 'patch') {
            expect(b.shift.grid.length).toBeLessThanOrEqual(Math.min(s.window[1], s.window[2]));
            expect(reach(b.shift)).toBeLessThan(s.biasFrames);
          }
          if (b.shift?.kind === 'channel') expect(Math.floor((s.dim / s.heads) * b.shift.fold)).toBeGreaterThan(0);
        }
      }
    }
  });

  test('the TPS of every tiny model but ratio 1/4 shifts at least one head in every stage', () => {
    for (const m of tiny.filter((x) => !x.name.includes('ratio=1/4'))) {
      for (const s of m.stages) {
        for (const b of s.blocks) if (b.shift?.kind === 'patch') expect(Math.floor(s.heads * b.shift.ratio), m.name).toBeGreaterThan(0);
      }
    }
  });

  // The golden reference outputs (test/golden) were computed for these architectures, so the
  // library's tiny models can be run against them with the golden weights.
  test.each([
    ['models/tiny/pst-tiny.pst', 'pst_tiny'],
    ['models/tiny/video-swin-tiny.pst', 'video_swin_tiny'],
  ])('%s has the architecture of test/golden/%s', (file, golden) => {
    // Name, batch, drop-path and head-dropout rates and the train section (training only) are not
    // architecture; spans are not data.
    const arch = (m: ModelConfig) =>
      JSON.parse(
        JSON.stringify({ ...m, name: '', train: undefined, input: { ...m.input, batch: 0 }, head: m.head && { ...m.head, dropout: 0 }, stages: m.stages.map((s) => ({ ...s, blocks: s.blocks.map((b) => ({ ...b, dropPath: 0 })) })) }, (k, v) =>
          k === 'span' ? undefined : v,
        ),
      );
    const config = JSON.parse(readFileSync(`test/golden/${golden}/config.json`, 'utf8')) as ModelConfig;
    expect(arch(model(file))).toEqual(arch(config));
  });

  test('some stage pads its map to the window, some shifts its windows, some has a window-sized map', () => {
    const all = tiny.flatMap(sides);
    expect(all.some((s) => s.side % s.window !== 0)).toBe(true);
    expect(all.some((s) => s.side > s.window)).toBe(true);
    expect(all.some((s) => s.side === s.window)).toBe(true);
    // pst_t_tiny itself: 8x8 then 4x4 maps in 3x3 windows: padded and shifted in both stages.
    expect(sides(model('models/tiny/pst-tiny.pst'))).toEqual([
      { side: 8, window: 3, frames: 4 },
      { side: 4, window: 3, frames: 4 },
    ]);
  });

  test('the tiny Video Swin shifts in time too: D = 4 frames, windows of 2', () => {
    const v = model('models/tiny/video-swin-tiny.pst');
    expect(v.stages[0]).toMatchObject({ attention: 'window3d', window: [2, 3, 3], biasFrames: 2 });
    expect(sides(v)[0]!.frames).toBeGreaterThan(2);
  });
});

// ------------------------------------------------------------------ the TextMate grammar
interface Rule {
  name?: string;
  match?: string;
  begin?: string;
  end?: string;
  include?: string;
  captures?: Record<string, { name: string }>;
  beginCaptures?: Record<string, { name: string }>;
  endCaptures?: Record<string, { name: string }>;
  patterns?: Rule[];
}
interface Grammar {
  scopeName: string;
  fileTypes: string[];
  patterns: Rule[];
  repository: Record<string, Rule>;
}

/** Every regex source in the grammar, with where it is. */
function regexes(rule: unknown, at: string, out: [string, string][] = []): [string, string][] {
  if (Array.isArray(rule)) rule.forEach((r, i) => regexes(r, `${at}[${i}]`, out));
  else if (rule && typeof rule === 'object') {
    for (const [k, v] of Object.entries(rule)) {
      if (['match', 'begin', 'end', 'while'].includes(k) && typeof v === 'string') out.push([`${at}.${k}`, v]);
      else regexes(v, `${at}.${k}`, out);
    }
  }
  return out;
}

/**
 * A small TextMate tokenizer, enough for this grammar: at each position the earliest match of
 * the active rules wins (ties: the end pattern of an open begin/end rule, then rule order).
 * Returns [text, scope] for every named match or capture.
 */
function tokenize(g: Grammar, text: string): [string, string][] {
  const flatten = (rules: Rule[]): Rule[] =>
    rules.flatMap((r) => (r.include ? flatten([g.repository[r.include.slice(1)]!]) : r.match || r.begin ? [r] : flatten(r.patterns ?? [])));
  const tokens: [string, string][] = [];
  const emit = (m: RegExpExecArray, name?: string, captures?: Rule['captures']) => {
    if (captures) {
      for (const [i, c] of Object.entries(captures)) if (m[+i]) tokens.push([m[+i]!, c.name]);
    } else if (name) tokens.push([m[0], name]);
  };
  const stack: Rule[] = [];
  for (const line of text.split('\n')) {
    let pos = 0;
    while (pos < line.length) {
      const open = stack.at(-1);
      const candidates: [RegExp, Rule | 'end'][] = [];
      if (open) candidates.push([new RegExp(open.end!, 'g'), 'end']);
      for (const r of flatten(open ? open.patterns ?? [] : g.patterns)) candidates.push([new RegExp(r.match ?? r.begin!, 'g'), r]);
      let best: [RegExpExecArray, Rule | 'end'] | undefined;
      for (const [re, r] of candidates) {
        re.lastIndex = pos;
        const m = re.exec(line);
        if (m && m[0].length > 0 && (!best || m.index < best[0].index)) best = [m, r];
      }
      if (!best) break;
      const [m, r] = best;
      if (r === 'end') {
        emit(m, undefined, stack.pop()!.endCaptures);
      } else if (r.begin) {
        emit(m, r.name, r.beginCaptures ?? r.captures);
        stack.push(r);
      } else emit(m, r.name, r.captures);
      pos = m.index + m[0].length;
    }
  }
  return tokens;
}

describe('grammar/pst.tmLanguage.json', () => {
  const g = JSON.parse(readFileSync('grammar/pst.tmLanguage.json', 'utf8')) as Grammar;
  const scopeOf = (text: string, word: string) => tokenize(g, text).find(([t]) => t === word)?.[1];

  test('is a TextMate grammar for .pst files whose regexes all compile in JavaScript', () => {
    expect(g.scopeName).toBe('source.pst');
    expect(g.fileTypes).toEqual(['pst']);
    const all = regexes(g, 'grammar');
    expect(all.length).toBeGreaterThan(10);
    for (const [where, source] of all) expect(() => new RegExp(source), where).not.toThrow();
    for (const [, r] of Object.entries(g.repository)) for (const p of r.patterns ?? []) if (p.include) expect(g.repository[p.include.slice(1)]).toBeDefined();
  });

  test('colours keywords, names, properties, enum words, booleans, numbers, strings and comments', () => {
    expect(scopeOf('import "common/shifts.pst"', 'import')).toBe('keyword.control.import.pst');
    expect(scopeOf('import "common/shifts.pst"', '"')).toBe('string.quoted.double.pst');
    expect(scopeOf('const k = 3', 'const')).toBe('storage.type.pst');
    expect(scopeOf('model pst_b extends pst_t {', 'model')).toBe('storage.type.pst');
    expect(scopeOf('model pst_b extends pst_t {', 'pst_b')).toBe('entity.name.type.pst');
    expect(scopeOf('model pst_b extends pst_t {', 'extends')).toBe('keyword.other.pst');
    expect(scopeOf('sweep r from pst_t {', 'from')).toBe('keyword.other.pst');
    expect(scopeOf('patch_shift pattern_c {', 'patch_shift')).toBe('storage.type.pst');
    expect(scopeOf('channel_shift tcs {', 'channel_shift')).toBe('storage.type.pst');
    expect(scopeOf('  axis patch_shift.ratio = [1/4, 1]', 'axis')).toBe('keyword.other.axis.pst');
    expect(scopeOf('  axis patch_shift.ratio = [1/4, 1]', 'patch_shift.ratio')).toBe('variable.other.property.pst');
    expect(scopeOf('  variant tps_only { shifts = all(tps) }', 'variant')).toBe('storage.type.pst');
    expect(scopeOf('  stage 3 { depth = 6 }', 'stage')).toBe('keyword.other.stage.pst');
    // A shift keyword used as a property is a property, not a declaration.
    expect(scopeOf('  patch_shift = pattern_c', 'patch_shift')).toBe('variable.other.property.pst');
    expect(scopeOf('  embed.dim = 128', 'embed.dim')).toBe('variable.other.property.pst');
    expect(scopeOf('  qkv_bias = true', 'true')).toBe('constant.language.boolean.pst');
    for (const w of ['cyclic', 'keep', 'zeros', 'window2d', 'window3d', 'none', 'layernorm', 'mean', 'patch_merging', 'grid', 'list']) {
      expect(scopeOf(`  x = ${w}`, w), w).toBe('constant.language.pst');
    }
    expect(scopeOf('  shifts = alternate(tcs, tps)', 'alternate')).toBe('constant.language.pst');
    expect(scopeOf('  shifts = all(tcs)', 'all')).toBe('constant.language.pst');
    expect(scopeOf('  drop_path = 1e-5', '1e-5')).toBe('constant.numeric.pst');
    expect(scopeOf('  x = 3 // three', '// three')).toBe('comment.line.double-slash.pst');
  });

  test('grid rows are signed numbers, and the grid block ends at its brace', () => {
    const tokens = tokenize(g, readFileSync('models/common/shifts.pst', 'utf8'));
    const cells = tokens.filter(([, s]) => s === 'constant.numeric.integer.signed.pst').map(([t]) => t);
    expect(cells.slice(0, 9)).toEqual(['-4', '+1', '+2', '-1', '0', '+3', '-2', '-3', '+4']);
    expect(tokens.filter(([t, s]) => t === 'grid' && s === 'keyword.other.grid.pst')).toHaveLength(5);
    // After pattern_c's grid closes, `ratio` is a property again.
    expect(tokens).toContainEqual(['ratio', 'variable.other.property.pst']);
  });
});
