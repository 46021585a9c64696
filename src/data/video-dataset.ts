// `rawframes:` and `videos:` datasets: mmaction2's annotation lists read through its pipelines.
//   train: SampleFrames (dense or uniform segments, random offset) → Resize short side (scale) →
//          RandomResizedCrop (area, aspect) → Resize to size×size → Flip (ratio, label map) →
//          Normalize (mean/std in 0–255 units, ImageNet's by default)
//   test:  SampleFrames (fixed, `clips` clips) → Resize short side to size → CenterCrop (crops=1) or
//          ThreeCrop (crops=3); the clips × crops views of a sample are consecutive indices.
// Randomness comes from (seed, epoch, index) only, so a resumed run reads the same clips.
import { basename, dirname, join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { DiagnosticError } from '../lang/diagnostics.js';
import { makeRandom } from '../weights/init.js';
import { readAnnotations, frameFileName, type Annotation } from './annotations.js';
import type { ClipSample, DataInput, Dataset, SkippedSample } from './dataset.js';
import { dataError } from './errors.js';
import { decodeVideoFrames, probeVideo, type VideoInfo } from './ffmpeg.js';
import { centerCropBox, randomResizedCropBox, resizeShortSide, threeCropBoxes, type Box } from './geometry.js';
import { frameSize, renderFrame, type FrameInput } from './pixels.js';
import { sampleFrames } from './sampling.js';

/** ImageNet mean and std in 0–255 units, RGB, as the official PST configs' Normalize. */
export const IMAGENET_MEAN = [123.675, 116.28, 103.53] as const;
export const IMAGENET_STD = [58.395, 57.12, 57.375] as const;

export interface PipelineOptions {
  /** `dense`: T consecutive frames `interval` apart (SampleFrames clip_len = T). `uniform`: one
   *  frame from each of T equal segments (clip_len = 1, num_clips = T; Something-Something). */
  sampler: 'dense' | 'uniform';
  interval: number;
  /** Test clips per sample (dense only); views = clips × crops. */
  clips: number;
  /** 1: CenterCrop, 3: ThreeCrop. */
  crops: 1 | 3;
  /** Short side before RandomResizedCrop when training (default: size · 256/224). */
  scale: number;
  area: [number, number];
  aspect: [number, number];
  /** Probability of a horizontal flip when training (0 for Something-Something without a map). */
  flip: number;
  /** Classes whose meaning flips with the image (left ↔ right), both ways. */
  flipMap: Map<number, number>;
  /** Frame numbers of a rawframe folder start here (mmaction: 1 for rawframes, 0 for videos). */
  start: number;
  /** File names of a rawframe folder (`img_{:05d}.jpg`). */
  tmpl: string;
  /** Normalize's per-channel mean and std, RGB, in 0–255 units (ImageNet's by default). */
  mean: readonly number[];
  std: readonly number[];
  seed: number;
  /** Classes 2k and 2k+1 are a clip and its reversal (`pairs=1`): order-pair accuracy is reported. */
  orderPairs: boolean;
}

export interface OpenVideoOptions {
  skipBad?: boolean;
  /** Read list paths that lead outside root= (`outside=1`). */
  allowOutside?: boolean;
  log?: (message: string) => void;
}

type Mode = 'train' | 'test';

/** Where a sample's frames come from: a folder of images or a video file. */
interface FrameSource {
  totalFrames(sample: Annotation): Promise<number>;
  /** The frames with these 0-based indices, plus their size. */
  frames(sample: Annotation, indices: number[]): Promise<{ inputs: FrameInput[]; size: { width: number; height: number } }>;
}

class RawframeSource implements FrameSource {
  constructor(
    private readonly root: string,
    private readonly options: PipelineOptions,
  ) {}

  async totalFrames(sample: Annotation): Promise<number> {
    return sample.totalFrames!;
  }

  async frames(sample: Annotation, indices: number[]) {
    const inputs = indices.map((i) => join(this.root, sample.path, frameFileName(this.options.tmpl, i + this.options.start)));
    const first = inputs[0]!;
    let size: { width: number; height: number };
    try {
      size = await frameSize(first);
    } catch (e) {
      throw badFrame(sample, first, e);
    }
    return { inputs, size };
  }
}

class VideoSource implements FrameSource {
  /** Probed once per video (a few numbers each: bounded by the list's length). */
  private readonly info = new Map<string, Promise<VideoInfo>>();

  constructor(private readonly root: string) {}

  private probe(sample: Annotation): Promise<VideoInfo> {
    let p = this.info.get(sample.path);
    if (!p) {
      p = probeVideo(join(this.root, sample.path));
      this.info.set(sample.path, p);
    }
    return p.catch((e: unknown) => {
      throw badVideo(sample, join(this.root, sample.path), e);
    });
  }

  async totalFrames(sample: Annotation): Promise<number> {
    return (await this.probe(sample)).frames;
  }

  async frames(sample: Annotation, indices: number[]) {
    const info = await this.probe(sample);
    const file = join(this.root, sample.path);
    let rgb: Buffer[];
    try {
      rgb = await decodeVideoFrames(file, indices, info);
    } catch (e) {
      throw badVideo(sample, file, e);
    }
    return { inputs: rgb.map((b) => ({ rgb: b, width: info.width, height: info.height })), size: { width: info.width, height: info.height } };
  }
}

function badFrame(sample: Annotation, file: string, e: unknown): DiagnosticError {
  if (e instanceof DiagnosticError) return e;
  const message = (e as Error).message.includes('Input file is missing') ? 'no such file' : (e as Error).message.split('\n')[0];
  return dataError('PST613', `${file}: ${message} (frame of the sample at ${sample.where})`, {
    where: sample.where,
    hint: 'check the frame folder, total_frames and the file name template (tmpl=, start=); --skip-bad skips such samples',
  });
}

function badVideo(sample: Annotation, file: string, e: unknown): DiagnosticError {
  if (e instanceof DiagnosticError) return e;
  return dataError('PST614', `${file}: cannot decode the video: ${(e as Error).message} (sample at ${sample.where})`, {
    where: sample.where,
    hint: '--skip-bad skips such samples',
  });
}

export class VideoPipelineDataset implements Dataset {
  readonly size: number;
  readonly classes: number;
  readonly classNames: readonly string[] | undefined = undefined;
  readonly clipShape: readonly [number, number, number, number];
  /** Consecutive indices that are views (clips × crops) of one sample; 1 when training. */
  readonly views: number;
  readonly orderPairs: boolean;

  constructor(
    readonly name: string,
    private readonly kind: 'rawframes' | 'videos',
    private readonly samples: Annotation[],
    private readonly source: FrameSource,
    private readonly options: PipelineOptions,
    private readonly mode: Mode,
    input: DataInput,
    private readonly open: OpenVideoOptions,
  ) {
    this.views = mode === 'train' ? 1 : options.clips * options.crops;
    this.size = samples.length * this.views;
    this.classes = input.classes ?? Math.max(...samples.map((s) => s.labels[0]!)) + 1;
    this.clipShape = [3, input.frames, input.size, input.size];
    this.orderPairs = options.orderPairs;
    if (this.orderPairs && this.classes % 2) {
      throw dataError('PST606', `${name}: pairs=1, but its ${this.classes} classes are odd in number: they cannot come in pairs (a clip and its reversal)`, { hint: 'drop pairs=1 (it is for sets exported from synthetic:motion)' });
    }
  }

  /** The annotation behind an index (its views share one). */
  sampleOf(index: number): Annotation {
    return this.samples[Math.floor(index / this.views)]!;
  }

  async read(index: number, epoch = 0): Promise<ClipSample> {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new RangeError(`clip index ${index} outside 0…${this.size - 1}`);
    // With --skip-bad a sample that fails is replaced by the next one (deterministically); the
    // clip says so (`skipped`), so that an evaluation does not count the substitute.
    let skipped: SkippedSample | undefined;
    for (let attempt = 0; ; attempt++) {
      const at = (index + attempt * this.views) % this.size;
      try {
        const clip = await this.readView(at, epoch);
        return skipped ? { ...clip, skipped } : clip;
      } catch (e) {
        if (!this.open.skipBad || !(e instanceof DiagnosticError)) throw e;
        const reason = e.diagnostics[0]!.message;
        this.open.log?.(`skipped: ${reason}`);
        skipped ??= { where: this.sampleOf(index).where, reason };
        if (attempt + 1 >= this.samples.length) {
          throw dataError('PST618', `${this.name}: every one of its ${this.samples.length} samples is bad: --skip-bad leaves nothing to read`, {
            hint: `the first: ${skipped.reason}`,
          });
        }
      }
    }
  }

  private async readView(index: number, epoch: number): Promise<ClipSample> {
    const sample = this.sampleOf(index);
    const view = index % this.views;
    const [, frames, size] = this.clipShape;
    const o = this.options;
    const random = makeRandom(o.seed, `${this.kind}/${this.mode}/${epoch}/${index}`);
    const randomInt = (n: number) => Math.floor(random() * n);
    const total = await this.source.totalFrames(sample);
    const clipCount = this.mode === 'test' ? o.clips : 1;
    const sampling = o.sampler === 'dense' ? { clipLen: frames, frameInterval: o.interval, numClips: clipCount } : { clipLen: 1, frameInterval: 1, numClips: frames };
    const all = sampleFrames(total, { ...sampling, testMode: this.mode === 'test' }, randomInt);
    const clip = this.mode === 'test' && o.sampler === 'dense' ? Math.floor(view / o.crops) : 0;
    const indices = all.slice(clip * frames, (clip + 1) * frames);
    const { inputs, size: source } = await this.source.frames(sample, indices);

    let resize: { width: number; height: number };
    let box: Box;
    let flip = false;
    if (this.mode === 'train') {
      resize = resizeShortSide(source.width, source.height, o.scale);
      box = randomResizedCropBox(resize.width, resize.height, o.area, o.aspect, random, (lo, hi) => lo + randomInt(hi - lo + 1));
      flip = random() < o.flip;
    } else {
      resize = resizeShortSide(source.width, source.height, size);
      box = o.crops === 3 ? threeCropBoxes(resize.width, resize.height, size)[view % 3]! : centerCropBox(resize.width, resize.height, size);
    }
    const rgb = await Promise.all(
      inputs.map((input) =>
        renderFrame(input, source, { resize, box, flip, size }).catch((e: unknown) => {
          throw typeof input === 'string' ? badFrame(sample, input, e) : badVideo(sample, sample.path, e);
        }),
      ),
    );
    // HWC bytes → C×T×H×W, normalised with the pipeline's mean/std (0–255 units).
    const plane = size * size;
    const { mean, std } = o;
    const out = new Float32Array(3 * frames * plane);
    rgb.forEach((bytes, t) => {
      for (let p = 0; p < plane; p++) {
        for (let c = 0; c < 3; c++) out[(c * frames + t) * plane + p] = (bytes[p * 3 + c]! - mean[c]!) / std[c]!;
      }
    });
    const label = sample.labels[0]!;
    return { clip: out, label: flip ? (o.flipMap.get(label) ?? label) : label };
  }
}

/** Opens an mmaction list: checks the root up front (one error), reads and checks every line. */
export function openVideoList(
  kind: 'rawframes' | 'videos',
  annotationFile: string,
  root: string | undefined,
  options: PipelineOptions,
  mode: Mode,
  input: DataInput,
  open: OpenVideoOptions = {},
): VideoPipelineDataset {
  const base = root ?? '.';
  if (root !== undefined) {
    let isDir = false;
    try {
      isDir = statSync(root).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) throw dataError('PST610', `the data root ${root} is not a folder`, { hint: 'root= names the folder that the annotation list\'s paths are relative to' });
  }
  const samples = readAnnotations(annotationFile, { kind, ...(input.classes !== undefined ? { classes: input.classes } : {}), ...open, ...(root !== undefined ? { root } : {}) });
  if (mode === 'test' && options.sampler === 'uniform' && options.clips !== 1) {
    throw dataError('PST606', `clips=${options.clips} needs sampler=dense: uniform sampling takes one frame from each segment, one clip per sample`, { hint: 'use clips=1 with sampler=uniform' });
  }
  // As the data section checks: a flipped clip's label must still be one the head scores.
  const beyond = input.classes === undefined ? undefined : [...options.flipMap.keys()].find((c) => c >= input.classes!);
  if (beyond !== undefined) {
    throw dataError('PST606', `flip_map names class ${beyond}, but the model's head scores ${input.classes} classes`, { expected: `classes 0 … ${input.classes! - 1}` });
  }
  const source = kind === 'rawframes' ? new RawframeSource(base, options) : new VideoSource(base);
  return new VideoPipelineDataset(`${kind}:${annotationFile} (${mode})`, kind, samples, source, options, mode, input, open);
}

/** Frame-name templates tried, in order, for a frame folder given without `tmpl=` (mmaction's
 *  default first, then Something-Something V1's). */
const FOLDER_TEMPLATES = ['img_{:05d}.jpg', '{:05d}.jpg', 'img_{:05d}.png', '{:05d}.png'];

/** Frames of a folder named by the template from `start` on, without a gap. */
function countFrames(folder: string, tmpl: string, start: number): number {
  let n = 0;
  while (existsSync(join(folder, frameFileName(tmpl, start + n)))) n++;
  return n;
}

/**
 * One video file or frame folder read with the test pipeline (`pstc run --input`): its
 * clips × crops views, consecutive indices 0…views−1. A folder's frame count is the run of files
 * its template names; without an explicit `tmpl` the common templates are tried.
 */
export function openSingleInput(path: string, options: PipelineOptions, input: DataInput, explicitTemplate: boolean): VideoPipelineDataset {
  let isFolder: boolean;
  try {
    isFolder = statSync(path).isDirectory();
  } catch {
    throw dataError('PST616', `${path}: no such file or folder`, { where: path, hint: 'give a video file, a folder of frames, or a clip .npy' });
  }
  const sample: Annotation = { path: basename(path), labels: [0], where: path };
  const root = dirname(path);
  if (!isFolder) {
    return new VideoPipelineDataset(path, 'videos', [sample], new VideoSource(root), { ...options, start: 0 }, 'test', input, {});
  }
  const templates = explicitTemplate ? [options.tmpl] : FOLDER_TEMPLATES;
  for (const tmpl of templates) {
    for (const start of [options.start, options.start === 1 ? 0 : 1]) {
      const total = countFrames(path, tmpl, start);
      if (total > 0) {
        const chosen = { ...options, tmpl, start };
        return new VideoPipelineDataset(path, 'rawframes', [{ ...sample, totalFrames: total }], new RawframeSource(root, chosen), chosen, 'test', input, {});
      }
    }
  }
  throw dataError('PST616', `${path}: a folder without frames named ${templates.map((t) => `\`${t}\``).join(' or ')}`, {
    where: path,
    hint: 'name the frame files with tmpl= (e.g. --pipeline tmpl=frame_{:04d}.jpg,start=0)',
  });
}
