// Writing a dataset out: as an `npy:` pair (for tests and for handing a set to other tools) and
// clips as PNG strips (to look at what a model is given).
import { writeSync } from 'node:fs';
import { PNG } from 'pngjs';
import { writeFileAtomic, writeFileAtomicStreaming } from '../weights/atomic.js';
import { npyHeaderBytes } from '../weights/npy.js';
import { float32ToLE } from '../weights/tensor.js';
import type { Dataset } from './dataset.js';

/**
 * Writes the first `count` clips of `dataset` (all by default) to `clipsPath` (float32 N×C×T×H×W)
 * and their labels to `labelsPath` (int64 [N]): one clip in memory at a time, each file atomically.
 */
export async function writeNpyDataset(dataset: Dataset, clipsPath: string, labelsPath: string, count = dataset.size): Promise<void> {
  const n = Math.min(count, dataset.size);
  const labels = new Int32Array(n);
  await writeFileAtomicStreaming(clipsPath, async (fd) => {
    writeSync(fd, npyHeaderBytes('<f4', [n, ...dataset.clipShape]));
    for (let i = 0; i < n; i++) {
      const { clip, label } = await dataset.read(i);
      writeSync(fd, float32ToLE(clip));
      labels[i] = label;
    }
  });
  const header = npyHeaderBytes('<i8', [n]);
  const bytes = new Uint8Array(header.length + n * 8);
  bytes.set(header, 0);
  const view = new DataView(bytes.buffer, header.length);
  labels.forEach((label, i) => view.setBigInt64(i * 8, BigInt(label), true));
  writeFileAtomic(labelsPath, bytes);
}

export interface StripOptions {
  /** Pixels per clip pixel (nearest neighbour), default 1. */
  scale?: number;
  /** Undoes the dataset's normalisation: v·std + mean gives 0…1 intensities. Default: min/max of
   *  each clip stretched to 0…1. */
  mean?: number;
  std?: number;
  /** Gap between frames, in output pixels (default 1). */
  gap?: number;
}

/**
 * A PNG with one row per clip and its T frames left to right (C×T×H×W clips; 1 channel shows grey,
 * 3 or more show the first three as RGB).
 */
export function clipStripPng(clips: readonly Float32Array[], clipShape: readonly [number, number, number, number], options: StripOptions = {}): Uint8Array {
  const [channels, frames, height, width] = clipShape;
  const scale = options.scale ?? 1;
  const gap = options.gap ?? 1;
  const cellW = width * scale + gap;
  const cellH = height * scale + gap;
  const png = new PNG({ width: Math.max(1, frames * cellW - gap), height: Math.max(1, clips.length * cellH - gap) });
  png.data.fill(255);
  const plane = height * width;
  clips.forEach((clip, row) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of clip) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const toUnit = options.mean !== undefined && options.std !== undefined ? (v: number) => v * options.std! + options.mean! : (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);
    for (let t = 0; t < frames; t++) {
      for (let y = 0; y < height * scale; y++) {
        for (let x = 0; x < width * scale; x++) {
          const source = Math.floor(y / scale) * width + Math.floor(x / scale);
          const at = ((row * cellH + y) * png.width + t * cellW + x) * 4;
          for (let k = 0; k < 3; k++) {
            const c = Math.min(k, channels - 1);
            const v = toUnit(clip[(c * frames + t) * plane + source]!);
            png.data[at + k] = Math.round(255 * Math.min(1, Math.max(0, v)));
          }
          png.data[at + 3] = 255;
        }
      }
    }
  });
  return PNG.sync.write(png);
}

export function writeClipStripPng(path: string, clips: readonly Float32Array[], clipShape: readonly [number, number, number, number], options: StripOptions = {}): void {
  writeFileAtomic(path, clipStripPng(clips, clipShape, options));
}
