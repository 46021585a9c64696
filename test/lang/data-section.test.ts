// A model's `data { … }` section: presets fill in the official configs' values and the section's
// own settings win over them; paths resolve against the file that wrote them; `--set data.KEY=…`
// and sweep axes reach it; mistakes are diagnostics at their place; `pstc fmt` keeps it.
import { describe, expect, it } from 'vitest';
import { DATA_PRESET_SETTINGS } from '../../src/lang/data-config.js';
import { checkFiles, loadModel } from '../../src/lang/elaborate.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { formatSource } from '../../src/lang/format.js';
import { loadModelWithSettings } from '../../src/lang/overrides.js';
import { vfs } from './vfs.js';

const base = `
model tiny {
  input { frames = 8  size = 32 }
  embed { patch = (2, 4, 4)  dim = 16 }
  window = (1, 3, 3)
  stage 1 { depth = 2  heads = 2 }
  head { classes = 10 }
}
`;

function model(files: Record<string, string>, file: string, name?: string) {
  return loadModel(file, name, vfs(files)).model;
}

describe('data section', () => {
  it('a preset gives the official settings; a setting written wins over the preset', () => {
    const m = model({ 'exp/a.pst': `${base}model m extends tiny { data { preset = sthv2  flip = 0  flip_map = [(1, 2)] } }` }, 'exp/a.pst');
    expect(m.data).toMatchObject({ ...DATA_PRESET_SETTINGS.sthv2, preset: 'sthv2', flip: 0, flipMap: [[1, 2]] });
    expect(m.data).toMatchObject({ format: 'videos', sampler: 'uniform', clips: 1, crops: 3 });
    const k = model({ 'a.pst': `${base}model m extends tiny { data { preset = k400 } }` }, 'a.pst');
    expect(k.data).toMatchObject({ format: 'videos', sampler: 'dense', interval: 2, clips: 4, crops: 3, flip: 0.5, flipMap: [] });
    const v1 = model({ 'a.pst': `${base}model m extends tiny { data { preset = sthv1 } }` }, 'a.pst');
    expect(v1.data).toMatchObject({ format: 'rawframes', tmpl: '{:05d}.jpg', flipMap: [[86, 87], [93, 94], [166, 167]] });
  });

  it('a model without a section has none; every value is read with its type', () => {
    expect(model({ 'a.pst': base }, 'a.pst').data).toBeUndefined();
    const m = model(
      {
        'a.pst': `${base}const s = 40
model m extends tiny { data {
  format = rawframes  train = "t.txt"  tmpl = "{}.png"  start = 0  sampler = dense  interval = 3  clips = 2  crops = 1
  scale = s  area = (0.2, 1)  aspect = (1/2, 2)  flip = 0.25  mean = (1, 2, 3)  std = (4, 5, 6)  seed = 7
} }`,
      },
      'a.pst',
    );
    expect(m.data).toMatchObject({
      format: 'rawframes', train: 't.txt', tmpl: '{}.png', start: 0, sampler: 'dense', interval: 3, clips: 2, crops: 1,
      scale: 40, area: [0.2, 1], aspect: [0.5, 2], flip: 0.25, mean: [1, 2, 3], std: [4, 5, 6], seed: 7,
    });
  });

  it('paths resolve against the folder of the file that wrote them; absolute ones stay', () => {
    const files = {
      'lib/base.pst': `${base}model based extends tiny { data { format = videos  train = "lists/train.txt"  root = "/data/videos" } }`,
      'exp/run.pst': `import "../lib/base.pst"\nmodel m extends based { data { val = "../val.txt" } }`,
    };
    const m = model(files, 'exp/run.pst', 'm');
    expect(m.data).toMatchObject({ train: 'lib/lists/train.txt', root: '/data/videos', val: 'val.txt' });
  });

  it('--set data.KEY=VALUE changes one setting (paths relative to the model file); mmaction names get a hint', () => {
    const files = { 'exp/a.pst': `${base}model m extends tiny { data { preset = k400  train = "t.txt" } }` };
    const { model: m } = loadModelWithSettings('exp/a.pst', undefined, ['data.interval=4', 'data.val="v.txt"'], vfs(files));
    expect(m.data).toMatchObject({ interval: 4, val: 'exp/v.txt', train: 'exp/t.txt', clips: 4 });
    try {
      loadModelWithSettings('exp/a.pst', undefined, ['data.clip_len=16'], vfs(files));
      expect.fail('clip_len should be refused');
    } catch (e) {
      const d = (e as DiagnosticError).diagnostics.find((x) => x.severity === 'error')!;
      expect(d.code).toBe('PST212');
      expect(d.hint).toMatch(/input\.frames/);
    }
  });

  it('a sweep axis can vary a data setting', () => {
    const r = checkFiles(['a.pst'], vfs({ 'a.pst': `${base}model m extends tiny { data { preset = k400 } }\nsweep s from m { axis data.interval = [1, 2] }` }));
    expect(r.diagnostics).toEqual([]);
    expect(r.models.filter((x) => x.name.startsWith('s[')).map((x) => x.data?.interval)).toEqual([1, 2]);
  });

  it('bad keys and values are diagnostics at their place', () => {
    const text = `${base}model m extends tiny { data {
  preset = k40
  crops = 2
  flip = 1.5
  area = (0.5, 0.1)
  flip_map = [(3, 3)]
  train = 12
  frame_interval = 2
} }`;
    const r = checkFiles(['a.pst'], vfs({ 'a.pst': text }));
    const found = r.diagnostics.map((d) => [d.code, d.span?.startLine, d.hint ?? '']);
    expect(found).toEqual([
      ['PST211', 10, 'did you mean `k400`?'],
      ['PST222', 11, ''],
      ['PST222', 12, ''],
      ['PST280', 13, 'write (0.1, 0.5)'],
      ['PST280', 14, ''],
      ['PST220', 15, ''],
      ['PST212', 16, 'write `interval = N`'],
    ]);
  });

  it('pstc fmt aligns the section and a second run changes nothing', () => {
    const text = `${base}model m extends tiny {\n  data {\n    preset=sthv2 // official\n    train =   "t.txt"\n    flip_map=[(1,2),(3,4)]\n  }\n}\n`;
    const once = formatSource(text, 'a.pst').formatted!;
    expect(once).toContain('    preset   = sthv2  // official\n    train    = "t.txt"\n    flip_map = [(1, 2), (3, 4)]\n');
    expect(formatSource(once, 'a.pst').formatted).toBe(once);
    const before = model({ 'a.pst': text }, 'a.pst').data;
    expect(model({ 'a.pst': once }, 'a.pst').data).toEqual({ ...before, span: expect.anything() });
  });
});
