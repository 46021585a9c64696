// Writing a dataset as the files real data comes in — mmaction2 rawframe folders (JPEG or PNG) and
// MP4 videos with their annotation lists — so the real-data pipelines can be tested, and trained
// on, with clips whose answer is known (the synthetic motion set).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from './dataset.js';
import { frameFileName } from './annotations.js';
import { encodeVideo } from './ffmpeg.js';
import { writeImage } from './pixels.js';

/** A C×T×H×W normalised clip back to T RGB24 frames: v·std + mean, clamped to 0…1, ×255. */
export function clipToRgbFrames(clip: Float32Array, shape: readonly [number, number, number, number], mean: number, std: number): Buffer[] {
  const [channels, frames, height, width] = shape;
  const plane = height * width;
  return Array.from({ length: frames }, (_, t) => {
    const rgb = Buffer.alloc(plane * 3);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = clip[(Math.min(c, channels - 1) * frames + t) * plane + p]! * std + mean;
        rgb[p * 3 + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
      }
    }
    return rgb;
  });
}

export interface FixtureOptions {
  /** How many clips to write (default: all). */
  count?: number;
  /** The dataset's normalisation, undone before writing pixels. */
  mean: number;
  std: number;
  /** Frame files: `img_{:05d}.jpg` (mmaction's default) or a PNG template for lossless frames. */
  tmpl?: string;
  /** First frame number (mmaction's rawframes start at 1). */
  start?: number;
  /** A folder under root for the clips, written into the list's paths too (`train/clip_00000`),
   *  so that several lists share one root. */
  prefix?: string;
}

/** `clip_00012`, under the prefix folder when there is one. */
function clipName(i: number, options: FixtureOptions): string {
  const name = `clip_${String(i).padStart(5, '0')}`;
  return options.prefix ? `${options.prefix}/${name}` : name;
}

/** Writes `root/clip_i/img_00001.jpg …` and the list `ann` (`clip_i T label` lines). */
export async function writeRawframeFolders(dataset: Dataset, root: string, ann: string, options: FixtureOptions): Promise<void> {
  const n = Math.min(options.count ?? dataset.size, dataset.size);
  const tmpl = options.tmpl ?? 'img_{:05d}.jpg';
  const [, frames, height, width] = dataset.clipShape;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const { clip, label } = await dataset.read(i);
    const dir = clipName(i, options);
    mkdirSync(join(root, dir), { recursive: true });
    const rgb = clipToRgbFrames(clip, dataset.clipShape, options.mean, options.std);
    await Promise.all(rgb.map((f, t) => writeImage(join(root, dir, frameFileName(tmpl, t + (options.start ?? 1))), f, width, height)));
    lines.push(`${dir} ${frames} ${label}`);
  }
  writeFileSync(ann, lines.join('\n') + '\n');
}

/** Writes `root/clip_i.mp4` (lossless H.264) and the list `ann` (`clip_i.mp4 label` lines). */
export async function writeVideoFiles(dataset: Dataset, root: string, ann: string, options: FixtureOptions): Promise<void> {
  const n = Math.min(options.count ?? dataset.size, dataset.size);
  const [, , height, width] = dataset.clipShape;
  mkdirSync(options.prefix ? join(root, options.prefix) : root, { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const { clip, label } = await dataset.read(i);
    const name = `${clipName(i, options)}.mp4`;
    await encodeVideo(join(root, name), clipToRgbFrames(clip, dataset.clipShape, options.mean, options.std), width, height);
    lines.push(`${name} ${label}`);
  }
  writeFileSync(ann, lines.join('\n') + '\n');
}
