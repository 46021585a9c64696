// The settings of a video data set, in one table: each key's kind, range and meaning. Two readers
// take their keys and rules from it — the `.pst` `data { … }` section (data-config.ts) and the
// `--data rawframes:…/videos:…` spec (src/data/spec.ts) — so that a value one accepts the other
// accepts too, and what one refuses the other refuses with the same bounds. It lives here, the
// lowest layer both import; docs/data.md lists the same keys (test/data/data-keys.test.ts checks).
import { inRange, type Range } from './values.js';

export type DataKeyKind =
  /** One of `words` (`sampler = uniform` / `sampler=uniform`). */
  | 'word'
  /** A file or folder (the section resolves it against the file that wrote it). */
  | 'path'
  /** A frame file name template, `img_{:05d}.jpg` (templateProblem). */
  | 'template'
  /** A whole number within `range` (and one of `choices` when given). */
  | 'int'
  /** A number within `range`. */
  | 'number'
  /** `(lo, hi)` / `lo:hi`, each end within `range`, lo ≤ hi. */
  | 'range'
  /** Class pairs that swap on a flip: each class ≥ 0, in one pair at most, never with itself. */
  | 'pairs'
  /** Three numbers (R, G, B), each within `range`. */
  | 'channels'
  /** `0` or `1` (a spec switch). */
  | 'flag';

export interface DataKeySpec {
  /** As written in the section and the spec (`flip_map`). */
  key: string;
  kind: DataKeyKind;
  /** int and number: the value's bounds; range and channels: each element's. */
  range?: Range;
  words?: readonly string[];
  /** int: the only values allowed (crops: 1 or 3). */
  choices?: readonly number[];
  /** Where it is written: `both`; `section` only (its spec form is the spec's kind or its list);
   *  `spec` only (a switch of the `--data` text, not of an experiment). */
  in: 'both' | 'section' | 'spec';
  /** What it is, in words (the docs, and the hint when it is written where it does not belong). */
  hint: string;
}

export const DATA_FORMATS = ['rawframes', 'videos'] as const;
export const DATA_PRESETS = ['sthv1', 'sthv2', 'k400'] as const;
export const DATA_SAMPLERS = ['dense', 'uniform'] as const;

/** The seed of the augmentation stream: an unsigned 32-bit integer (as mmaction's and NumPy's). */
export const DATA_SEED_RANGE: Range = { min: 0, max: 2 ** 32 - 1 };
/** The widest frame number a template pads to, and the longest template. */
export const MAX_TEMPLATE_WIDTH = 16;
export const MAX_TEMPLATE_LENGTH = 255;

/** Every key, in the order the section lists them (`pstc explain`, PST212's list). The upper bounds
 *  of interval, clips and scale are checked before anything is allocated: sanity bounds far beyond
 *  any real pipeline (mmaction uses ≤ 10 test clips), so that a typo is an error. */
export const DATA_SETTING_KEYS: readonly DataKeySpec[] = [
  { key: 'preset', kind: 'word', words: DATA_PRESETS, in: 'section', hint: "an official PST config's settings (sthv1, sthv2, k400)" },
  { key: 'format', kind: 'word', words: DATA_FORMATS, in: 'section', hint: 'rawframes or videos: the spec\'s kind (`--data rawframes:…`)' },
  { key: 'train', kind: 'path', in: 'section', hint: 'the training list: the spec\'s first item (`--data rawframes:TRAIN.txt,…`)' },
  { key: 'val', kind: 'path', in: 'both', hint: 'the validation list (read with the test pipeline)' },
  { key: 'root', kind: 'path', in: 'both', hint: "the folder the lists' paths are relative to" },
  { key: 'tmpl', kind: 'template', in: 'both', hint: 'frame file names (Python `{:05d}` / `{}`)' },
  { key: 'start', kind: 'int', range: { min: 0 }, in: 'both', hint: 'number of the first frame' },
  { key: 'sampler', kind: 'word', words: DATA_SAMPLERS, in: 'both', hint: '`dense`: T frames `interval` apart; `uniform`: one frame from each of T segments' },
  { key: 'interval', kind: 'int', range: { min: 1, max: 100_000 }, in: 'both', hint: 'frame_interval of dense sampling' },
  { key: 'clips', kind: 'int', range: { min: 1, max: 100 }, in: 'both', hint: 'test clips per sample (dense only)' },
  { key: 'crops', kind: 'int', range: { min: 1, max: 3 }, choices: [1, 3], in: 'both', hint: '1: CenterCrop, 3: ThreeCrop' },
  { key: 'scale', kind: 'int', range: { min: 1, max: 8192 }, in: 'both', hint: 'short side before RandomResizedCrop' },
  { key: 'area', kind: 'range', range: { above: 0, max: 1 }, in: 'both', hint: 'RandomResizedCrop area range (fractions of the frame)' },
  { key: 'aspect', kind: 'range', range: { above: 0 }, in: 'both', hint: 'RandomResizedCrop aspect-ratio range' },
  { key: 'flip', kind: 'number', range: { min: 0, max: 1 }, in: 'both', hint: 'flip probability when training' },
  { key: 'flip_map', kind: 'pairs', range: { min: 0 }, in: 'both', hint: 'classes that swap when a clip is flipped' },
  { key: 'mean', kind: 'channels', range: {}, in: 'both', hint: 'Normalize mean per channel (R, G, B), 0–255 units' },
  { key: 'std', kind: 'channels', range: { above: 0 }, in: 'both', hint: 'Normalize std per channel (R, G, B), 0–255 units' },
  { key: 'seed', kind: 'int', range: DATA_SEED_RANGE, in: 'both', hint: 'seed of the augmentation stream' },
  { key: 'pairs', kind: 'flag', in: 'spec', hint: 'classes 2k and 2k+1 are a clip and its reversal: a switch of the `--data` spec (`pairs=1`), not of a data section' },
  { key: 'outside', kind: 'flag', in: 'spec', hint: 'list paths may lead outside `root`: a switch of the `--data` spec (`outside=1`), given where the data is used, not written into a model file' },
];

export function dataKey(key: string): DataKeySpec | undefined {
  return DATA_SETTING_KEYS.find((k) => k.key === key);
}

/** The keys the section takes, and those the spec takes (after its kind and list). */
export const SECTION_DATA_KEYS: readonly string[] = DATA_SETTING_KEYS.filter((k) => k.in !== 'spec').map((k) => k.key);
export const SPEC_DATA_KEYS: readonly string[] = DATA_SETTING_KEYS.filter((k) => k.in !== 'section').map((k) => k.key);

/** A range in words: `0 … 4294967295`, `≥ 1`, `> 0 and ≤ 1`. */
export function rangeWords(range: Range): string {
  const lo = range.min !== undefined ? range.min : undefined;
  const hi = range.max !== undefined ? range.max : undefined;
  if (lo !== undefined && hi !== undefined) return `${lo} … ${hi}`;
  const parts = [
    range.min !== undefined ? `≥ ${range.min}` : range.above !== undefined ? `> ${range.above}` : '',
    range.max !== undefined ? `≤ ${range.max}` : range.below !== undefined ? `< ${range.below}` : '',
  ].filter(Boolean);
  return parts.join(' and ');
}

/** What a number of an `int` or `number` key must be, in words: `an integer 0 … 4294967295`, `1 or 3`. */
export function dataValueWords(spec: DataKeySpec): string {
  if (spec.choices) return spec.choices.join(' or ');
  const bounds = spec.range ? rangeWords(spec.range) : '';
  const what = spec.kind === 'int' ? 'an integer' : 'a number';
  return bounds ? `${what} ${bounds}` : what;
}

/** Whether `n` is a value of an `int` or `number` key (its type, range and choices). */
export function isDataValue(spec: DataKeySpec, n: number): boolean {
  if (!Number.isFinite(n)) return false;
  if (spec.kind === 'int' && !Number.isSafeInteger(n)) return false;
  if (spec.choices && !spec.choices.includes(n)) return false;
  return inRange(n, spec.range ?? {});
}

/** Why `value` is not a frame file name template, or undefined: a name (no folder) of at most
 *  MAX_TEMPLATE_LENGTH characters whose placeholders pad to at most MAX_TEMPLATE_WIDTH digits. */
export function templateProblem(value: string): string | undefined {
  if (value === '') return 'is empty';
  if (value.includes('/') || value.includes('\\')) return 'names a folder: a template is a frame file name within the sample\'s folder';
  if (value.length > MAX_TEMPLATE_LENGTH) return `is longer than ${MAX_TEMPLATE_LENGTH} characters`;
  const widths = [...value.matchAll(/\{:0?(\d+)d\}/g)].map((m) => Number(m[1]));
  if (widths.some((w) => w > MAX_TEMPLATE_WIDTH)) return `pads frame numbers to more than ${MAX_TEMPLATE_WIDTH} digits`;
  return undefined;
}

/** Why class pairs are not a flip map, or undefined: each class in one pair at most, never paired
 *  with itself. (Classes beyond the model's head are checked where the head is known.) */
export function flipPairsProblem(pairs: readonly (readonly [number, number])[]): string | undefined {
  const seen = new Set<number>();
  for (const [a, b] of pairs) {
    if (a === b) return `pairs class ${a} with itself`;
    for (const c of [a, b]) {
      if (seen.has(c)) return `puts class ${c} in more than one pair`;
      seen.add(c);
    }
  }
  return undefined;
}
