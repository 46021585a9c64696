// From a `--data` spec and the model's input to checked datasets: the one entry point commands use.
import type { Dataset, DataSource, DataInput } from './dataset.js';
import { checkDatasetForModel } from './dataset.js';
import { NpyDataset } from './npy-dataset.js';
import { parseDataSpec, type DataSpec } from './spec.js';
import { MotionDataset, resolveMotionOptions } from './synthetic.js';
import { openVideoList, type OpenVideoOptions } from './video-dataset.js';
import { pipelineOptions } from './video-spec.js';

/** How file-backed sets treat bad samples (`--skip-bad`) and where they log. */
export type OpenDataOptions = OpenVideoOptions;

/**
 * Opens the data a spec names, checked against the model up front (clip shape, labels within the
 * head's classes). `npy:` gives only `train` (a pair of files is one set: a command that evaluates
 * reads `val ?? train`); `synthetic:motion` gives its fixed train and val splits; `rawframes:` and
 * `videos:` give the list (train pipeline) and, with `val=`, the validation list (test pipeline).
 */
export async function openData(spec: string | DataSpec, input: DataInput, open: OpenDataOptions = {}): Promise<DataSource> {
  const parsed = typeof spec === 'string' ? parseDataSpec(spec) : spec;
  let source: DataSource;
  switch (parsed.kind) {
    case 'npy':
      source = { train: await NpyDataset.open(parsed.clips, parsed.labels, input) };
      break;
    case 'synthetic': {
      const options = resolveMotionOptions(parsed.options, input);
      source = { train: new MotionDataset(options, 'train'), val: new MotionDataset(options, 'val') };
      break;
    }
    case 'rawframes':
    case 'videos': {
      const options = pipelineOptions(parsed.kind, parsed.options, input);
      const root = parsed.options.root;
      const lists = { ...open, ...(parsed.options.outside ? { allowOutside: true } : {}) };
      source = { train: openVideoList(parsed.kind, parsed.annotations, root, options, 'train', input, lists) };
      if (parsed.options.val) source.val = openVideoList(parsed.kind, parsed.options.val, root, options, 'test', input, lists);
      break;
    }
  }
  // A worker thread opens the same set from the same recipe (decode-pool.ts).
  const skipBad = open.skipBad ?? false;
  source.train.recipe = { spec: parsed, split: 'train', input, skipBad };
  if (source.val) source.val.recipe = { spec: parsed, split: 'val', input, skipBad };
  try {
    checkDatasetForModel(source.train, input);
    if (source.val) checkDatasetForModel(source.val, input);
  } catch (e) {
    await closeData(source);
    throw e;
  }
  return source;
}

/**
 * The spec an evaluation opens: an annotation list without `val=` is read as its own validation
 * split, so that it goes through the test pipeline (fixed frames, center/three crops) as
 * docs/data.md says — not the training pipeline's random crops, whose loss changes with the seed.
 */
export function evaluationSpec(spec: string | DataSpec): DataSpec {
  const parsed = typeof spec === 'string' ? parseDataSpec(spec) : spec;
  if ((parsed.kind === 'rawframes' || parsed.kind === 'videos') && parsed.options.val === undefined) {
    return { ...parsed, options: { ...parsed.options, val: parsed.annotations } };
  }
  return parsed;
}

/** The set a command that evaluates reads: the validation split when there is one. */
export function evaluationSet(source: DataSource): Dataset {
  return source.val ?? source.train;
}

export async function closeData(source: DataSource): Promise<void> {
  await source.train.close?.();
  await source.val?.close?.();
}
