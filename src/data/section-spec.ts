// A model's `data { … }` section (src/lang/data-config.ts) as the `--data` spec it stands for: the
// same VideoListSpec that parseDataSpec makes of `rawframes:ANN,key=value…`, so the section and the
// flag end in one options object and one set of defaults (video-spec.ts). And the way back, a spec
// written out as `--data` text, for run records and messages.
import type { DataConfig } from '../lang/data-config.js';
import type { DataSpec, VideoListSpec, VideoSpecOptions } from './spec.js';

/** What a command reads the section for: training needs its `train` list; evaluation reads `val`
 *  (with the test pipeline) when there is one, else `train` (as `--data` does). */
export type DataPurpose = 'train' | 'eval';

/**
 * The spec of a data section, or a sentence saying what the section lacks for `purpose` (a list,
 * or its format). Settings the section leaves out are left out here too, so video-spec.ts fills
 * them in exactly as for the flag.
 */
export function dataSpecOfSection(config: DataConfig, purpose: DataPurpose): VideoListSpec | string {
  const list = purpose === 'train' ? config.train : (config.val ?? config.train);
  if (list === undefined) return purpose === 'train' ? 'it names no `train` list' : 'it names no `val` or `train` list';
  if (!config.format) return 'it names no `format` (rawframes or videos) and no `preset`';
  const o: VideoSpecOptions = {};
  if (config.root !== undefined) o.root = config.root;
  // Evaluating a section with a `val` list reads it as the validation split (the test pipeline).
  if (config.val !== undefined) o.val = config.val;
  if (config.tmpl !== undefined) o.tmpl = config.tmpl;
  if (config.start !== undefined) o.start = config.start;
  if (config.sampler !== undefined) o.sampler = config.sampler;
  if (config.interval !== undefined) o.interval = config.interval;
  if (config.clips !== undefined) o.clips = config.clips;
  if (config.crops !== undefined) o.crops = config.crops;
  if (config.scale !== undefined) o.scale = config.scale;
  if (config.area !== undefined) o.area = [...config.area];
  if (config.aspect !== undefined) o.aspect = [...config.aspect];
  if (config.flip !== undefined) o.flip = config.flip;
  if (config.flipMap !== undefined && config.flipMap.length > 0) {
    o.flipMap = new Map();
    for (const [a, b] of config.flipMap) o.flipMap.set(a, b).set(b, a);
  }
  if (config.mean !== undefined) o.mean = [...config.mean];
  if (config.std !== undefined) o.std = [...config.std];
  if (config.seed !== undefined) o.seed = config.seed;
  return { kind: config.format, annotations: list, options: o };
}

/** A spec as `--data` text (parseDataSpec reads it back to an equal spec when no path holds a comma). */
export function formatDataSpec(spec: DataSpec): string {
  switch (spec.kind) {
    case 'npy':
      return `npy:${spec.clips},${spec.labels}`;
    case 'synthetic':
      return ['synthetic:motion', ...Object.entries(spec.options).map(([k, v]) => `${k}=${v}`)].join(',');
    case 'rawframes':
    case 'videos': {
      const o = spec.options;
      const items: string[] = [`${spec.kind}:${spec.annotations}`];
      const put = (key: string, value: string | number | undefined) => {
        if (value !== undefined) items.push(`${key}=${value}`);
      };
      put('root', o.root);
      put('val', o.val);
      put('tmpl', o.tmpl);
      put('start', o.start);
      put('sampler', o.sampler);
      put('interval', o.interval);
      put('clips', o.clips);
      put('crops', o.crops);
      put('scale', o.scale);
      put('area', o.area?.join(':'));
      put('aspect', o.aspect?.join(':'));
      put('flip', o.flip);
      if (o.flipMap && o.flipMap.size > 0) {
        const pairs = [...o.flipMap].filter(([a, b]) => a < b || o.flipMap!.get(b) !== a);
        put('flip_map', pairs.map(([a, b]) => `${a}:${b}`).join('/'));
      }
      put('mean', o.mean?.join(':'));
      put('std', o.std?.join(':'));
      put('seed', o.seed);
      return items.join(',');
    }
  }
}
