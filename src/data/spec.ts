// `--data SPEC`: which data a command reads. A spec is `KIND:ITEM,ITEM,…` where an item is a
// positional value (a path) or `key=value`. Parsing only checks the spec's form; files are opened,
// and checked against the model, by open.ts.
import type { DataSettings } from '../lang/data-config.js';
import { dataKey, dataValueWords, flipPairsProblem, isDataValue, SPEC_DATA_KEYS, templateProblem, type DataKeySpec } from '../lang/data-keys.js';
import { closestName } from '../lang/diagnostics.js';
import { dataError } from './errors.js';

/** `npy:CLIPS.npy,LABELS.npy` — float32 N×C×T×H×W clips and integer labels, used as they are. */
export interface NpySpec {
  kind: 'npy';
  clips: string;
  labels: string;
}

/** Options of `synthetic:motion`; those not written take their defaults from synthetic.ts. */
export interface MotionSpecOptions {
  classes?: number;
  noise?: number;
  hold?: number;
  train?: number;
  val?: number;
  seed?: number;
  tile?: number;
  first_pair?: number;
}

/** `synthetic:motion[,key=value…]` — the built-in order-only motion set (synthetic.ts). */
export interface SyntheticSpec {
  kind: 'synthetic';
  generator: 'motion';
  options: MotionSpecOptions;
}

/** Options of `rawframes:` and `videos:` (mmaction2's pipelines; defaults in video-spec.ts): the
 *  pipeline settings a `.pst` data section names (one list of them, lang/data-config.ts), with the
 *  flip map as a lookup, plus where the lists are. */
export type VideoSpecOptions = Omit<DataSettings, 'format' | 'flipMap'> & {
  root?: string;
  val?: string;
  flipMap?: Map<number, number>;
  /** `pairs=1`: classes 2k and 2k+1 are a clip and its reversal (a set exported from synthetic:motion). */
  pairs?: boolean;
  /** `outside=1`: list paths may lead outside root= (`../`, absolute, symlinks); refused otherwise. */
  outside?: boolean;
};

/** `rawframes:ANN.txt[,key=value…]` / `videos:ANN.txt[,key=value…]` — mmaction2 annotation lists. */
export interface VideoListSpec {
  kind: 'rawframes' | 'videos';
  annotations: string;
  options: VideoSpecOptions;
}

export type DataSpec = NpySpec | SyntheticSpec | VideoListSpec;

export const SPEC_FORMS = ['npy:CLIPS.npy,LABELS.npy', 'synthetic:motion[,key=value…]', 'rawframes:ANN.txt[,root=DIR,…]', 'videos:ANN.txt[,root=DIR,…]'];
const KINDS = ['npy', 'synthetic', 'rawframes', 'videos'];
const GENERATORS = ['motion'];

interface Items {
  positional: string[];
  keyed: Map<string, string>;
}

/** Splits `a,b,key=value` into positional items and key=value pairs (a key written twice is an error). */
function splitItems(body: string, spec: string): Items {
  const positional: string[] = [];
  const keyed = new Map<string, string>();
  for (const raw of body.split(',')) {
    const item = raw.trim();
    if (item === '') {
      throw dataError('PST601', `\`${spec}\` has an empty item (two commas, or a comma at an end)`, { expected: SPEC_FORMS.join(' or ') });
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(item);
    if (!m) {
      positional.push(item);
      continue;
    }
    const [, key, value] = m as unknown as [string, string, string];
    if (keyed.has(key)) throw dataError('PST601', `\`${spec}\` sets \`${key}\` twice`, { hint: `keep one \`${key}=…\`` });
    keyed.set(key, value.trim());
  }
  return { positional, keyed };
}

function unknownKey(key: string, known: readonly string[], spec: string): never {
  const near = closestName(key, known);
  throw dataError('PST601', `\`${spec}\`: unknown option \`${key}\``, {
    expected: known.length ? `one of ${known.map((k) => `\`${k}\``).join(', ')}` : 'no options',
    ...(near ? { hint: `did you mean \`${near}\`?` } : {}),
  });
}

type NumberKind = 'int' | 'positive' | 'nonnegative-int' | 'nonnegative';

function readNumber(key: string, text: string, kind: NumberKind, spec: string): number {
  const n = Number(text);
  const integer = kind !== 'nonnegative';
  const ok =
    text !== '' &&
    Number.isFinite(n) &&
    (!integer || Number.isSafeInteger(n)) &&
    (kind === 'int' || (kind === 'positive' ? n >= 1 : n >= 0));
  if (!ok) {
    const what = { int: 'an integer', positive: 'a positive integer', 'nonnegative-int': 'a non-negative integer', nonnegative: 'a non-negative number' }[kind];
    throw dataError('PST601', `\`${spec}\`: \`${key}=${text}\` is not ${what}`, { expected: `${key}=<${what}>` });
  }
  return n;
}

const MOTION_KEYS: Record<keyof MotionSpecOptions, NumberKind> = {
  classes: 'positive',
  noise: 'nonnegative',
  hold: 'positive',
  train: 'positive',
  val: 'positive',
  seed: 'int',
  tile: 'nonnegative-int',
  first_pair: 'nonnegative-int',
};

export function parseDataSpec(spec: string): DataSpec {
  const text = spec.trim();
  const colon = text.indexOf(':');
  if (text === '' || colon <= 0) {
    throw dataError('PST601', text === '' ? 'no data given' : `\`${text}\` does not say what kind of data it is`, {
      expected: SPEC_FORMS.join(' or '),
      hint: 'start the spec with its kind, e.g. `--data synthetic:motion` or `--data npy:clips.npy,labels.npy`',
    });
  }
  const kind = text.slice(0, colon).trim();
  const body = text.slice(colon + 1);
  switch (kind) {
    case 'npy': {
      const { positional, keyed } = splitItems(body, text);
      for (const key of keyed.keys()) unknownKey(key, [], text);
      const notNpy = positional.length === 2 ? positional.find((p) => !p.endsWith('.npy')) : undefined;
      if (notNpy !== undefined) {
        throw dataError('PST601', `\`${text}\`: \`${notNpy}\` is not a .npy file`, { expected: 'npy:CLIPS.npy,LABELS.npy', hint: 'name the two files with their .npy extension, clips then labels' });
      }
      if (positional.length !== 2) {
        throw dataError('PST601', `\`${text}\` should name two .npy files, clips then labels (got ${positional.length} item${positional.length === 1 ? '' : 's'})`, {
          expected: 'npy:CLIPS.npy,LABELS.npy',
          hint: 'the clips file holds float32 N×3×T×H×W, the labels file N integers',
        });
      }
      return { kind: 'npy', clips: positional[0]!, labels: positional[1]! };
    }
    case 'synthetic': {
      const { positional, keyed } = splitItems(body, text);
      const generator = positional[0];
      if (generator !== 'motion' || positional.length !== 1) {
        const near = generator ? closestName(generator, GENERATORS) : undefined;
        throw dataError('PST601', positional.length > 1 ? `\`${text}\` names more than one generator` : `\`${text}\`: unknown synthetic set \`${generator ?? ''}\``, {
          expected: `synthetic:${GENERATORS.join('|')}[,key=value…]`,
          ...(near ? { hint: `did you mean \`${near}\`?` } : {}),
        });
      }
      const options: MotionSpecOptions = {};
      const known = Object.keys(MOTION_KEYS) as (keyof MotionSpecOptions)[];
      for (const [key, value] of keyed) {
        if (!(known as string[]).includes(key)) unknownKey(key, known, text);
        options[key as keyof MotionSpecOptions] = readNumber(key, value, MOTION_KEYS[key as keyof MotionSpecOptions], text);
      }
      return { kind: 'synthetic', generator: 'motion', options };
    }
    case 'rawframes':
    case 'videos':
      return parseVideoListSpec(kind, body, text);
    default: {
      const near = closestName(kind, KINDS);
      throw dataError('PST601', `unknown kind of data \`${kind}\``, {
        expected: SPEC_FORMS.join(' or '),
        ...(near ? { hint: `did you mean \`${near}:\`?` } : {}),
      });
    }
  }
}

/** A number of an `int` or `number` key of the one table (lang/data-keys.ts): the section's rule. */
function readSetting(spec: DataKeySpec, text: string, specText: string): number {
  const n = text.trim() === '' ? NaN : Number(text);
  if (!isDataValue(spec, n)) {
    const words = dataValueWords(spec);
    throw dataError('PST601', `\`${specText}\`: \`${spec.key}=${text.slice(0, 40)}\` is not ${words}`, { expected: `${spec.key}=<${words}>` });
  }
  return n;
}

/** `tmpl=img_{:05d}.jpg`: a file name (no folder) whose placeholders pad to a bounded width. */
function checkTemplate(value: string, spec: string): void {
  const problem = templateProblem(value);
  if (problem) throw dataError('PST601', `\`${spec}\`: \`tmpl=${value.slice(0, 60)}\` ${problem}`, { expected: 'tmpl=img_{:05d}.jpg' });
}

/** `lo:hi`, each end within the key's range, lo ≤ hi. */
function readRange(key: 'area' | 'aspect', text: string, spec: string): [number, number] {
  const range = dataKey(key)!;
  const parts = text.split(':').map((p) => (p.trim() === '' ? NaN : Number(p)));
  if (parts.length !== 2 || !parts.every((p) => isDataValue({ ...range, kind: 'number' }, p)) || parts[0]! > parts[1]!) {
    throw dataError('PST601', `\`${spec}\`: \`${key}=${text}\` is not a range lo:hi of numbers ${dataValueWords({ ...range, kind: 'number' }).replace(/^a number /, '')}, lo ≤ hi`, {
      expected: `${key}=lo:hi, e.g. ${key === 'area' ? 'area=0.08:1' : 'aspect=0.75:1.3333'}`,
    });
  }
  return [parts[0]!, parts[1]!];
}

/** `r:g:b`, three numbers in 0–255 units (std: each > 0). */
function readChannels(key: 'mean' | 'std', text: string, spec: string): number[] {
  const each = { ...dataKey(key)!, kind: 'number' as const };
  const parts = text.split(':').map((p) => (p.trim() === '' ? NaN : Number(p)));
  if (parts.length !== 3 || !parts.every((p) => isDataValue(each, p))) {
    throw dataError('PST601', `\`${spec}\`: \`${key}=${text}\` is not three ${key === 'std' ? 'positive ' : ''}numbers r:g:b`, { expected: `${key}=${key === 'mean' ? '123.675:116.28:103.53' : '58.395:57.12:57.375'} (RGB, 0–255 units)` });
  }
  return parts;
}

/** `a:b/c:d`: classes a and b (c and d, …) trade places when a clip is flipped. */
function readFlipMap(text: string, spec: string): Map<number, number> {
  const pairs: [number, number][] = [];
  for (const pair of text.split('/')) {
    const m = /^(\d+):(\d+)$/.exec(pair.trim());
    if (!m) throw dataError('PST601', `\`${spec}\`: \`flip_map=${text}\` is not a list of class pairs`, { expected: 'flip_map=86:87/93:94 (each pair swaps when a clip is flipped)' });
    pairs.push([Number(m[1]), Number(m[2])]);
  }
  const problem = flipPairsProblem(pairs);
  if (problem) throw dataError('PST601', `\`${spec}\`: \`flip_map=${text}\` ${problem}`, { hint: 'a flipped clip of class c becomes its partner: each class has one partner, another class' });
  const map = new Map<number, number>();
  for (const [a, b] of pairs) map.set(a, b).set(b, a);
  return map;
}

/** The options of a pipeline alone, `key=value,…` as in a rawframes:/videos: spec (`pstc run
 *  --pipeline`): the same keys, checked the same way. */
export function parsePipelineOptions(kind: 'rawframes' | 'videos', text: string): VideoSpecOptions {
  return text.trim() === '' ? {} : parseVideoListSpec(kind, `-,${text}`, text).options;
}

function parseVideoListSpec(kind: 'rawframes' | 'videos', body: string, text: string): VideoListSpec {
  const { positional, keyed } = splitItems(body, text);
  if (positional.length !== 1) {
    throw dataError('PST601', `\`${text}\` should name one annotation list (got ${positional.length})`, {
      expected: `${kind}:ANN.txt[,root=DIR,…]`,
      hint: 'the validation list is given as val=VAL.txt',
    });
  }
  const options: VideoSpecOptions = {};
  for (const [key, value] of keyed) {
    // The keys, kinds and ranges are the data section's (one table: lang/data-keys.ts).
    const setting = SPEC_DATA_KEYS.includes(key) ? dataKey(key)! : unknownKey(key, SPEC_DATA_KEYS, text);
    switch (setting.kind) {
      case 'path':
      case 'template':
        if (value === '') throw dataError('PST601', `\`${text}\`: \`${key}=\` is empty`);
        if (setting.kind === 'template') checkTemplate(value, text);
        options[key as 'root' | 'val' | 'tmpl'] = value;
        break;
      case 'int':
      case 'number':
        options[key as 'start' | 'interval' | 'clips' | 'scale' | 'seed' | 'flip'] = readSetting(setting, value, text);
        break;
      case 'word':
        if (!setting.words!.includes(value)) {
          throw dataError('PST601', `\`${text}\`: \`${key}=${value.slice(0, 40)}\` is not ${setting.words!.map((w) => `\`${w}\``).join(' or ')}`, { expected: 'sampler=dense (SampleFrames clip_len=T) or sampler=uniform (T segments, TSN)' });
        }
        options.sampler = value as 'dense' | 'uniform';
        break;
      case 'range':
        options[key as 'area' | 'aspect'] = readRange(key as 'area' | 'aspect', value, text);
        break;
      case 'pairs':
        options.flipMap = readFlipMap(value, text);
        break;
      case 'channels':
        options[key as 'mean' | 'std'] = readChannels(key as 'mean' | 'std', value, text);
        break;
      case 'flag':
        if (value !== '0' && value !== '1') {
          const expected = key === 'pairs' ? 'pairs=1 (classes 2k and 2k+1 are a clip and its reversal: report order-pair accuracy)' : 'outside=1 (read list paths that lead outside root=)';
          throw dataError('PST601', `\`${text}\`: \`${key}=${value}\` is not 0 or 1`, { expected });
        }
        options[key as 'pairs' | 'outside'] = value === '1';
        break;
    }
  }
  return { kind, annotations: positional[0]!, options };
}
