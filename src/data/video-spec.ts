// Defaults of the `rawframes:`/`videos:` pipelines, following the official PST configs (mmaction2):
// dense sampling at interval 1 (set interval=2 as the k400 configs, sampler=uniform as sthv1/v2),
// Resize short side 256 for 224 (scaled with the model's size), RandomResizedCrop area 0.08–1 and
// aspect 3/4–4/3, flip 0.5 (give flip=0 or a flip_map for Something-Something), ImageNet
// mean/std, one centre-cropped clip at test. A model's `data { preset = … }` (src/lang/data-config.ts)
// sets the official configs' values over these.
import type { DataInput } from './dataset.js';
import type { VideoSpecOptions } from './spec.js';
import { IMAGENET_MEAN, IMAGENET_STD, type PipelineOptions } from './video-dataset.js';

export function pipelineOptions(kind: 'rawframes' | 'videos', spec: VideoSpecOptions, input: DataInput): PipelineOptions {
  return {
    sampler: spec.sampler ?? 'dense',
    interval: spec.interval ?? 1,
    clips: spec.clips ?? 1,
    crops: spec.crops ?? 1,
    scale: spec.scale ?? Math.round((input.size * 256) / 224),
    area: spec.area ?? [0.08, 1],
    aspect: spec.aspect ?? [3 / 4, 4 / 3],
    flip: spec.flip ?? 0.5,
    flipMap: spec.flipMap ?? new Map(),
    start: spec.start ?? (kind === 'rawframes' ? 1 : 0),
    tmpl: spec.tmpl ?? 'img_{:05d}.jpg',
    mean: spec.mean ?? IMAGENET_MEAN,
    std: spec.std ?? IMAGENET_STD,
    seed: spec.seed ?? 0,
    orderPairs: spec.pairs ?? false,
  };
}
