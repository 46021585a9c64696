// A model's `train { … }` section: the training defaults `pstc train` and `pstc ablate` use. Every
// key of the one table is read with its kind and range; a model that extends another, a sweep
// variant and `--set train.KEY=…` see the base's section; mistakes are diagnostics at their place;
// `pstc fmt` keeps it; flags win over it (resolveTrainSettings).
import { describe, expect, it } from 'vitest';
import { checkFiles, loadModel } from '../../src/lang/elaborate.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { formatSource } from '../../src/lang/format.js';
import { loadModelWithSettings } from '../../src/lang/overrides.js';
import { resolveTrainSettings, TRAIN_KEYS, trainSettingsText } from '../../src/lang/train-config.js';
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

function codes(text: string): [string, number | undefined, number | undefined, string][] {
  const r = checkFiles(['a.pst'], vfs({ 'a.pst': text }));
  return r.diagnostics.map((d) => [d.code, d.span?.startLine, d.span?.startCol, d.hint ?? '']);
}

describe('train section', () => {
  it('every key is read with its kind; a model without a section has none', () => {
    expect(model({ 'a.pst': base }, 'a.pst').train).toBeUndefined();
    const m = model(
      {
        'a.pst': `${base}const peak = 5e-3
model m extends tiny { train {
  steps = 400  batch = 16  optimizer = sgd  lr = peak  min_lr = peak / 100  warmup = 25
  weight_decay = 0  momentum = 0.8  label_smoothing = 0.1  clip_grad = 1  eval_every = 100
  init_std = 0.25  bias_init_std = 3  head_init_std = 0.18
} }`,
      },
      'a.pst',
    );
    expect(m.train).toMatchObject({
      steps: 400, batch: 16, optimizer: 'sgd', lr: 5e-3, minLr: 5e-5, warmup: 25,
      weightDecay: 0, momentum: 0.8, labelSmoothing: 0.1, clipGrad: 1, evalEvery: 100,
      initStd: 0.25, biasInitStd: 3, headInitStd: 0.18,
    });
    expect(model({ 'a.pst': `${base}model m extends tiny { train { epochs = 3 } }` }, 'a.pst').train).toMatchObject({ epochs: 3 });
  });

  it('the table names every field once, and the schema takes exactly its keys', () => {
    expect(new Set(TRAIN_KEYS.map((k) => k.key)).size).toBe(TRAIN_KEYS.length);
    expect(new Set(TRAIN_KEYS.map((k) => k.field)).size).toBe(TRAIN_KEYS.length);
    for (const k of TRAIN_KEYS) expect(k.flag).toBe(`--${k.key.replace(/_/g, '-')}`);
  });

  it('a model that extends another inherits its section and may change one key', () => {
    const files = {
      'lib/base.pst': `${base}model recipe extends tiny { train { steps = 300  lr = 2e-3  warmup = 20 } }`,
      'exp/run.pst': `import "../lib/base.pst"\nmodel m extends recipe { train.lr = 4e-3 }\nmodel n extends recipe { train { batch = 8 } }`,
    };
    expect(model(files, 'exp/run.pst', 'm').train).toMatchObject({ steps: 300, lr: 4e-3, warmup: 20 });
    const n = model(files, 'exp/run.pst', 'n').train!;
    expect(n).toMatchObject({ steps: 300, lr: 2e-3, warmup: 20, batch: 8 });
  });

  it('sweep variants inherit the base section; an axis can vary a train key', () => {
    const r = checkFiles(
      ['a.pst'],
      vfs({ 'a.pst': `${base}model m extends tiny { train { steps = 50  lr = 1e-3 } }\nsweep s from m { axis train.lr = [1e-3, 5e-3] }\nsweep p from m { variant flat { window = (1, 2, 2) } }` }),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.models.filter((x) => x.name.startsWith('s[')).map((x) => [x.train?.steps, x.train?.lr])).toEqual([[50, 1e-3], [50, 5e-3]]);
    expect(r.models.find((x) => x.name === 'p.flat')?.train).toMatchObject({ steps: 50, lr: 1e-3 });
  });

  it('--set train.KEY=VALUE reaches the section; a wrong key is refused with a hint', () => {
    const files = { 'a.pst': `${base}model m extends tiny { train { steps = 50 } }` };
    const { model: m } = loadModelWithSettings('a.pst', undefined, ['train.lr=3e-3', 'train.warmup=5'], vfs(files));
    expect(m.train).toMatchObject({ steps: 50, lr: 3e-3, warmup: 5 });
    try {
      loadModelWithSettings('a.pst', undefined, ['train.learning_rate=1'], vfs(files));
      expect.fail('learning_rate should be refused');
    } catch (e) {
      const d = (e as DiagnosticError).diagnostics.find((x) => x.severity === 'error')!;
      expect(d.code).toBe('PST212');
      expect(d.hint).toMatch(/lr = X/);
    }
  });

  it('bad keys, values of the wrong kind and values out of range are located diagnostics', () => {
    const text = `${base}model m extends tiny { train {
  steps = 0
  lr = -1
  optimizer = adam
  batch = 2.5
  label_smoothing = 1
  learning_rate = 1
  warmup = "10"
} }`;
    expect(codes(text)).toEqual([
      ['PST222', 10, 11, ''],
      ['PST222', 11, 8, ''],
      ['PST211', 12, 15, 'did you mean `adamw`?'],
      ['PST220', 13, 11, ''],
      ['PST222', 14, 21, ''],
      ['PST212', 15, 3, 'write `lr = X`'],
      ['PST220', 16, 12, ''],
    ]);
  });

  it('settings that contradict each other are PST290 at the later one; a warm-up as long as the run is PST291', () => {
    expect(codes(`${base}model m extends tiny { train {\n  steps = 10\n  epochs = 2\n} }`)).toEqual([['PST290', 11, 3, 'a run is measured in one of them: remove the other']]);
    expect(codes(`${base}model m extends tiny { train {\n  momentum = 0.9\n} }`).map((d) => d.slice(0, 3))).toEqual([['PST290', 10, 3]]);
    expect(codes(`${base}model m extends tiny { train {\n  lr = 1e-3\n  min_lr = 1e-2\n} }`).map((d) => d.slice(0, 3))).toEqual([['PST290', 11, 3]]);
    expect(codes(`${base}model m extends tiny { train {\n  optimizer = sgd\n  momentum = 0.9\n} }`)).toEqual([]);
    // Inherited: the base chose sgd, the extension sets momentum.
    expect(codes(`${base}model s extends tiny { train { optimizer = sgd } }\nmodel m extends s { train.momentum = 0.5 }`)).toEqual([]);
    const warn = checkFiles(['a.pst'], vfs({ 'a.pst': `${base}model m extends tiny { train {\n  steps = 10\n  warmup = 10\n} }` }));
    expect(warn.diagnostics.map((d) => [d.code, d.severity, d.span?.startLine])).toEqual([['PST291', 'warning', 11]]);
    expect(warn.models.find((x) => x.name === 'm')?.train).toMatchObject({ steps: 10, warmup: 10 });
  });

  it('pstc fmt aligns the section, a second run changes nothing, and the model is the same', () => {
    const text = `${base}model m extends tiny {\n  train {\n    steps=400 // short\n    lr =   5e-3\n    weight_decay=0.05\n  }\n}\n`;
    const once = formatSource(text, 'a.pst').formatted!;
    expect(once).toContain('    steps        = 400  // short\n    lr           = 5e-3\n    weight_decay = 0.05\n');
    expect(formatSource(once, 'a.pst').formatted).toBe(once);
    const before = model({ 'a.pst': text }, 'a.pst').train;
    expect(model({ 'a.pst': once }, 'a.pst').train).toEqual({ ...before, span: expect.anything() });
    // What explain shows reads back as the same section.
    const shown = trainSettingsText(before!);
    expect(shown).toEqual(['steps = 400', 'lr = 0.005', 'weight_decay = 0.05']);
    expect(model({ 'a.pst': `${base}model m extends tiny { train { ${shown.join('\n')} } }` }, 'a.pst').train).toEqual({ ...before, span: expect.anything() });
  });
});

describe('flags over the section', () => {
  it('a flag wins, the section fills the rest, and each value says where it came from', () => {
    const r = resolveTrainSettings({ lr: 1e-2, batch: 4 }, { steps: 300, lr: 5e-3, warmup: 25 });
    expect(r.values).toEqual({ steps: 300, batch: 4, lr: 1e-2, warmup: 25 });
    expect(r.from).toEqual({ steps: 'model', batch: 'flag', lr: 'flag', warmup: 'model' });
    expect(r.dropped).toEqual([]);
    expect(resolveTrainSettings({}, undefined)).toEqual({ values: {}, from: {}, dropped: [] });
  });

  it('--epochs replaces the section\'s steps (one run length), and --optimizer adamw drops its SGD momentum', () => {
    const r = resolveTrainSettings({ epochs: 2, optimizer: 'adamw' }, { steps: 300, optimizer: 'sgd', momentum: 0.9 });
    expect(r.values).toEqual({ epochs: 2, optimizer: 'adamw' });
    expect(r.dropped).toHaveLength(2);
    expect(r.dropped.join(' ')).toMatch(/steps = 300.*--epochs.*momentum = 0.9/);
  });
});
