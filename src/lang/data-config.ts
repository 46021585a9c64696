// A model's `data { … }` section: which video set it trains and evaluates on and how clips are
// sampled and augmented, so that an experiment is one file. The section names the same settings
// as the `--data rawframes:…/videos:…` spec (src/data/spec.ts) with the same names; src/data turns
// a DataConfig into that spec's options (dataSpecOfSection), so both forms end in one resolved
// options object and one set of pipeline defaults (src/data/video-spec.ts). Both read their keys,
// kinds and ranges from one table (data-keys.ts), so neither accepts a value the other refuses.
//
// The presets are the dataset settings of the official PST configs (github.com/MartinXM/TPS,
// configs/recognition/tps/swin_tiny_2D_patch244_tps_{sthv1,sthv2,k400}_1k.py); docs/data.md
// states each value and where it comes from.
import type { SectionNode, Setting } from './body.js';
import { describe, type Evaluator, type Value } from './evaluate.js';
import { resolveImport } from './load.js';
import type { Reporter } from './report.js';
import type { Span } from './span.js';
import { DATA_FORMATS, DATA_PRESETS, DATA_SAMPLERS, DATA_SETTING_KEYS, dataKey, dataValueWords, isDataValue, SECTION_DATA_KEYS, templateProblem } from './data-keys.js';
import { inRange, readInt, readNumber, readWord, type Range } from './values.js';

export { DATA_FORMATS, DATA_PRESETS };
export type DataFormat = (typeof DATA_FORMATS)[number];
export type DataPreset = (typeof DATA_PRESETS)[number];

/** The pipeline settings: a preset's values, or the section's own (which win over the preset's). */
export interface DataSettings {
  format?: DataFormat;
  /** Frame file names of a rawframe folder (Python `{:05d}` / `{}`). */
  tmpl?: string;
  /** Number of the first frame. */
  start?: number;
  /** `dense`: SampleFrames clip_len = input.frames; `uniform`: input.frames segments (TSN). */
  sampler?: 'dense' | 'uniform';
  /** frame_interval of dense sampling. */
  interval?: number;
  /** Test clips per video (num_clips of the test pipeline). */
  clips?: number;
  /** 1: CenterCrop, 3: ThreeCrop at test. */
  crops?: 1 | 3;
  /** Short side before RandomResizedCrop. */
  scale?: number;
  area?: [number, number];
  aspect?: [number, number];
  flip?: number;
  /** Class pairs that swap when a clip is flipped (mmaction's Flip lazy_label, pairwise). */
  flipMap?: [number, number][];
  /** Normalize, per channel, in 0–255 units. */
  mean?: number[];
  std?: number[];
  seed?: number;
}

export interface DataConfig extends DataSettings {
  preset?: DataPreset;
  /** Annotation lists and the folder their paths are relative to, each already resolved against
   *  the .pst file that wrote it (absolute paths stay as written). */
  train?: string;
  val?: string;
  root?: string;
  /** The `data` section's header, for messages of later phases. */
  span?: Span;
}

/** Something-Something's left↔right classes (the official configs' Flip lazy_label=[86,87,93,94,166,167]). */
const STH_FLIP_PAIRS: [number, number][] = [
  [86, 87],
  [93, 94],
  [166, 167],
];

/** The official PST configs' data settings (train and test pipelines; see docs/data.md). */
export const DATA_PRESET_SETTINGS: Readonly<Record<DataPreset, Readonly<DataSettings>>> = {
  // RawframeDataset, filename_tmpl='{:05}.jpg'; SampleFrames frame_uniform=True; ThreeCrop, 1 clip.
  sthv1: { format: 'rawframes', tmpl: '{:05d}.jpg', sampler: 'uniform', clips: 1, crops: 3, flip: 0.5, flipMap: STH_FLIP_PAIRS },
  // VideoDataset; SampleFrames frame_uniform=True; ThreeCrop, 1 clip.
  sthv2: { format: 'videos', sampler: 'uniform', clips: 1, crops: 3, flip: 0.5, flipMap: STH_FLIP_PAIRS },
  // VideoDataset; SampleFrames clip_len=32 frame_interval=2; ThreeCrop, 4 clips.
  k400: { format: 'videos', sampler: 'dense', interval: 2, clips: 4, crops: 3, flip: 0.5, flipMap: [] },
};

/** The section's properties (src/lang/body.ts builds the schema from them): the keys of the one
 *  table of data settings (data-keys.ts) that a section takes. */
export const DATA_KEYS: readonly string[] = SECTION_DATA_KEYS;

/** mmaction's names, which a user coming from its configs will write: each says where the
 *  setting lives here (a PST212 hint). */
export const DATA_KEY_HINTS: Readonly<Record<string, string>> = {
  clip_len: 'the clip length is the model\'s `input.frames` (SampleFrames clip_len = input.frames)',
  num_segments: 'segments are the model\'s `input.frames`: write `sampler = uniform`',
  frame_interval: 'write `interval = N`',
  num_clips: 'test clips per video: write `clips = N`',
  flip_ratio: 'write `flip = P`',
  lazy_label: 'write `flip_map = [(86, 87), …]`',
  filename_tmpl: 'write `tmpl = "…"`',
  ann_file: 'write `train = "…"` or `val = "…"`',
  data_prefix: 'write `root = "…"`',
  crop_size: 'crops are the model\'s `input.size`: write `crops = 1` (CenterCrop) or `crops = 3` (ThreeCrop)',
  // The spec's own switches: where they are given instead.
  ...Object.fromEntries(DATA_SETTING_KEYS.filter((k) => k.in === 'spec').map((k) => [k.key, k.hint])),
};

/** Reads one `data` section (the resolved body node); undefined after reporting a problem. */
export function readDataSection(node: SectionNode, ev: Evaluator, r: Reporter, classes: number | undefined): DataConfig | undefined {
  const before = r.failed;
  r.failed = false;
  const value = (key: string): { v: Value; s: Setting } | undefined => {
    const s = node.props.get(key);
    const v = s?.kind === 'expr' ? ev.evaluate(s.expr, s.file, r) : undefined;
    return s && v ? { v, s } : undefined;
  };
  const word = <W extends string>(key: string, words: readonly W[]) => {
    const x = value(key);
    return x && readWord(x.v, words, r);
  };
  // A whole number within the table's range (and choices): the spec's rule for the same key.
  const int = (key: string) => {
    const spec = dataKey(key)!;
    const x = value(key);
    const n = x && readInt(x.v, r, {});
    if (n === undefined) return undefined;
    if (!isDataValue(spec, n)) {
      r.error('PST222', x!.v.span, `${key} = ${n} is out of range: expected ${dataValueWords(spec)}`, { expected: `${key} = ${dataValueWords(spec)}` });
      return undefined;
    }
    return n;
  };
  const text = (key: string) => {
    const x = value(key);
    if (!x) return undefined;
    if (x.v.kind === 'poison') return r.poisoned();
    if (x.v.kind !== 'string') {
      r.error('PST220', x.v.span, `expected a string, got ${describe(x.v)}`, { expected: `${key} = "…"` });
      return undefined;
    }
    if (x.v.value === '') {
      r.error('PST280', x.v.span, `\`${key}\` is empty`, { expected: `${key} = "…"` });
      return undefined;
    }
    return x;
  };
  const path = (key: string) => {
    const x = text(key);
    if (!x || x.v.kind !== 'string') return undefined;
    // As imports: relative to the folder of the file that wrote it.
    return resolveImport(x.s.file, x.v.value);
  };

  const own: DataConfig = { span: node.span };
  const preset = word('preset', DATA_PRESETS);
  if (preset) own.preset = preset;
  const format = word('format', DATA_FORMATS);
  if (format) own.format = format;
  for (const key of ['train', 'val', 'root'] as const) {
    const p = path(key);
    if (p !== undefined) own[key] = p;
  }
  const tmpl = text('tmpl');
  if (tmpl?.v.kind === 'string') {
    const problem = templateProblem(tmpl.v.value);
    if (problem) r.error('PST280', tmpl.v.span, `tmpl ${problem}`, { expected: 'tmpl = "img_{:05d}.jpg"' });
    else own.tmpl = tmpl.v.value;
  }
  const sampler = word('sampler', DATA_SAMPLERS);
  if (sampler) own.sampler = sampler;
  for (const key of ['start', 'interval', 'clips', 'scale', 'seed'] as const) {
    const n = int(key);
    if (n !== undefined) own[key] = n;
  }
  const crops = int('crops');
  if (crops !== undefined) own.crops = crops as 1 | 3;
  for (const key of ['area', 'aspect'] as const) {
    const x = value(key);
    const range = x && readRange(x.v, key, r);
    if (range) own[key] = range;
  }
  const flip = value('flip');
  const p = flip && readNumber(flip.v, r, dataKey('flip')!.range);
  if (p !== undefined) own.flip = p;
  const flipMap = value('flip_map');
  const pairs = flipMap && readFlipPairs(flipMap.v, r, classes);
  if (pairs) own.flipMap = pairs;
  for (const key of ['mean', 'std'] as const) {
    const x = value(key);
    const triple = x && readChannels(x.v, key, r);
    if (triple) own[key] = triple;
  }

  const failed = r.failed;
  r.failed = before || failed;
  if (failed) return undefined;
  const config: DataConfig = { ...(own.preset ? DATA_PRESET_SETTINGS[own.preset] : {}), ...own };
  if ((config.train !== undefined || config.val !== undefined) && !config.format) {
    const at = node.props.get('train') ?? node.props.get('val');
    r.error('PST280', at?.pathSpan ?? node.span, 'the data section names annotation lists but not their format', {
      expected: '`format = rawframes` or `format = videos` (or a `preset`)',
      hint: `a preset sets it: ${DATA_PRESETS.map((d) => `\`${d}\` ${DATA_PRESET_SETTINGS[d].format}`).join(', ')}`,
    });
    return undefined;
  }
  warnIgnored(node, config, r);
  return config;
}

/** Settings written in the section that the chosen sampler or format never reads. */
function warnIgnored(node: SectionNode, config: DataConfig, r: Reporter): void {
  const ignored: [string, boolean, string][] = [
    ['interval', config.sampler === 'uniform', 'uniform sampling takes one frame per segment: `interval` applies to `sampler = dense`'],
    ['clips', config.sampler === 'uniform', 'uniform sampling spreads its segments over the whole video: several test `clips` apply to `sampler = dense`'],
    ['tmpl', config.format === 'videos', '`tmpl` names the files of a rawframe folder: videos have none'],
  ];
  for (const [key, unused, why] of ignored) {
    const s = node.props.get(key);
    if (s && unused && s.kind === 'expr') r.warning('PST281', s.pathSpan, `\`${key}\` has no effect here`, { hint: why });
  }
}

/** `(lo, hi)`, 0 < lo ≤ hi: RandomResizedCrop's area or aspect-ratio range. */
function readRange(v: Value, key: string, r: Reporter): [number, number] | undefined {
  const expected = `a tuple (lo, hi) of numbers > 0, e.g. ${key} = ${key === 'area' ? '(0.08, 1)' : '(0.75, 1.3333)'}`;
  if (v.kind === 'poison') return r.poisoned();
  if (v.kind !== 'tuple' || v.elements.length !== 2) {
    r.error('PST220', v.span, `expected a tuple (lo, hi), got ${describe(v)}`, { expected });
    return undefined;
  }
  const { max, below: _below, ...lower } = dataKey(key)!.range ?? {};
  const lo = readNumber(v.elements[0]!, r, lower);
  const hi = readNumber(v.elements[1]!, r, lower);
  if (lo === undefined || hi === undefined) return undefined;
  if (max !== undefined && hi > max) {
    const message = key === 'area' ? `an area fraction of ${hi} is more than the whole frame` : `${key} ends at ${hi}, above ${max}`;
    r.error('PST222', v.elements[1]!.span, message, { expected: `${key} = (lo, hi) with hi ≤ ${max}` });
    return undefined;
  }
  if (lo > hi) {
    r.error('PST280', v.span, `${key} range (${lo}, ${hi}) runs backwards`, { expected: `(lo, hi) with lo ≤ hi`, hint: `write (${hi}, ${lo})` });
    return undefined;
  }
  return [lo, hi];
}

/** `[(a, b), …]`: classes that trade places on a flip; each class in one pair, within the head. */
function readFlipPairs(v: Value, r: Reporter, classes: number | undefined): [number, number][] | undefined {
  const expected = 'a list of class pairs, e.g. flip_map = [(86, 87), (93, 94)] (`[]`: none)';
  if (v.kind === 'poison') return r.poisoned();
  if (v.kind !== 'list') {
    r.error('PST220', v.span, `expected a list of class pairs, got ${describe(v)}`, { expected });
    return undefined;
  }
  const pairs: [number, number][] = [];
  const seen = new Set<number>();
  const classRange: Range = { ...dataKey('flip_map')!.range, ...(classes !== undefined ? { below: classes } : {}) };
  for (const e of v.elements) {
    if (e.kind === 'poison') return r.poisoned();
    if (e.kind !== 'tuple' || e.elements.length !== 2) {
      r.error('PST220', e.span, `expected a pair of classes (a, b), got ${describe(e)}`, { expected });
      return undefined;
    }
    const [a, b] = e.elements.map((c) => readInt(c, r, dataKey('flip_map')!.range));
    if (a === undefined || b === undefined) return undefined;
    if (a === b) {
      r.error('PST280', e.span, `flip_map pairs class ${a} with itself`, { expected: 'two different classes (a, b)' });
      return undefined;
    }
    for (const [c, span] of [[a, e.elements[0]!.span], [b, e.elements[1]!.span]] as const) {
      if (!inRange(c, classRange)) {
        r.error('PST280', span, `flip_map names class ${c}, but the head scores ${classes} classes`, { expected: `classes 0 … ${classes! - 1}` });
        return undefined;
      }
      if (seen.has(c)) {
        r.error('PST280', e.span, `class ${c} is in more than one flip pair`, { hint: 'a flipped clip of class c becomes its partner: each class has one partner at most' });
        return undefined;
      }
      seen.add(c);
    }
    pairs.push([a, b]);
  }
  return pairs;
}

/** A per-channel tuple of three numbers (RGB), each > 0 for std. */
function readChannels(v: Value, key: 'mean' | 'std', r: Reporter): number[] | undefined {
  const expected = `a tuple of 3 numbers (R, G, B) in 0–255 units, e.g. ${key} = ${key === 'mean' ? '(123.675, 116.28, 103.53)' : '(58.395, 57.12, 57.375)'}`;
  if (v.kind === 'poison') return r.poisoned();
  if (v.kind !== 'tuple' || v.elements.length !== 3) {
    r.error('PST220', v.span, `expected a tuple of 3 numbers, got ${describe(v)}`, { expected });
    return undefined;
  }
  const out: number[] = [];
  for (const e of v.elements) {
    const x = readNumber(e, r, dataKey(key)!.range);
    if (x === undefined) return undefined;
    out.push(x);
  }
  return out;
}

/** The section's settings in the language's own words (`sampler = uniform`, `flip_map = [(86, 87)]`),
 *  in DATA_KEYS order: what `pstc explain` shows. Settings it leaves out take the pipeline defaults. */
export function dataSettingsText(config: DataConfig): string[] {
  const value = (key: string): string | undefined => {
    switch (key) {
      case 'flip_map':
        return config.flipMap && `[${config.flipMap.map(([a, b]) => `(${a}, ${b})`).join(', ')}]`;
      case 'area':
      case 'aspect':
      case 'mean':
      case 'std': {
        const v = config[key];
        return v && `(${v.join(', ')})`;
      }
      case 'train':
      case 'val':
      case 'root':
      case 'tmpl':
        return config[key] === undefined ? undefined : JSON.stringify(config[key]);
      default: {
        const v = (config as Record<string, unknown>)[key];
        return v === undefined ? undefined : String(v);
      }
    }
  };
  return DATA_KEYS.flatMap((key) => {
    const v = value(key);
    return v === undefined ? [] : [`${key} = ${v}`];
  });
}
