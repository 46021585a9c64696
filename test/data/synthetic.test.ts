import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { loadModel } from '../../src/lang/elaborate.js';
import {
  clipStripPng,
  dataInputOf,
  evaluationSet,
  labelsOfPairs,
  MOTION_MEAN,
  MOTION_STD,
  MotionDataset,
  openData,
  orderOnlyCorrect,
  renderMotion,
  resolveMotionOptions,
  type DataInput,
} from '../../src/data/index.js';
import { readFromDisk } from '../../src/lang/read-disk.js';

const tiny: DataInput = { frames: 8, size: 32, channels: 3, classes: 10, temporalPatch: 2 };
const plane = 32 * 32;

/** Frame t of channel c of a C×T×H×W clip. */
function frame(clip: Float32Array, frames: number, c: number, t: number): Float32Array {
  return clip.subarray((c * frames + t) * plane, (c * frames + t + 1) * plane);
}

/** Bitwise equality of two float arrays (fast, unlike a deep toEqual over thousands of values). */
function same(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function errorOf(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DiagnosticError);
    return (e as DiagnosticError).diagnostics[0]!;
  }
  throw new Error('expected a diagnostic');
}

describe('synthetic:motion', () => {
  const options = resolveMotionOptions({ train: 40, val: 20 }, tiny);

  it("takes the model's input: pst-tiny gives 10 classes of 3×8×32×32 held for 2 frames", async () => {
    const { model } = loadModel('models/tiny/pst-tiny.pst', undefined, readFromDisk);
    const source = await openData('synthetic:motion', dataInputOf(model));
    expect(source.train.clipShape).toEqual([3, 8, 32, 32]);
    expect(source.train.classes).toBe(10);
    expect(source.train.size).toBe(6000);
    expect(source.val!.size).toBe(500);
    expect(evaluationSet(source)).toBe(source.val);
    expect(source.train.classNames).toContain('rotate anticlockwise');
    expect(resolveMotionOptions({}, dataInputOf(model)).hold).toBe(2);
  });

  it('is deterministic: same seed, same bytes; another seed or split, other bytes', async () => {
    const a = new MotionDataset(options, 'train');
    const b = new MotionDataset(resolveMotionOptions({ train: 40, val: 20 }, tiny), 'train');
    const other = new MotionDataset(resolveMotionOptions({ train: 40, val: 20, seed: 1 }, tiny), 'train');
    const val = new MotionDataset(options, 'val');
    for (const i of [0, 7, 19]) {
      const x = await a.read(i);
      expect(same((await b.read(i)).clip, x.clip)).toBe(true);
      expect(same((await a.read(i)).clip, x.clip)).toBe(true); // rereading
      expect(same((await other.read(i)).clip, x.clip)).toBe(false);
      expect(same((await val.read(i)).clip, x.clip)).toBe(false);
    }
  });

  it('pairs are exact time reversals: class 2k+1 is class 2k with its frames in reverse order', () => {
    for (let index = 0; index < 10; index++) {
      for (let k = 0; k < 5; k++) {
        const forward = renderMotion(options, 'train', index, 2 * k);
        const backward = renderMotion(options, 'train', index, 2 * k + 1);
        for (let c = 0; c < 3; c++) {
          for (let t = 0; t < 8; t++) expect(same(frame(backward, 8, c, t), frame(forward, 8, c, 7 - t))).toBe(true);
        }
        // and the motion is real: the first and last states differ
        expect(same(frame(forward, 8, 0, 0), frame(forward, 8, 0, 7))).toBe(false);
      }
    }
  });

  it('tile=1 covers the frame with copies of the mover and keeps pairs exact reversals', () => {
    const tiled = resolveMotionOptions({ train: 40, val: 20, tile: 1, noise: 0 }, tiny);
    const single = resolveMotionOptions({ train: 40, val: 20, noise: 0 }, tiny);
    expect(single.tile).toBe(0);
    const painted = (clip: Float32Array) => frame(clip, 8, 0, 0).filter((v) => Math.abs(v) > 0.1).length / (32 * 32);
    let tiledCover = 0;
    let singleCover = 0;
    for (let index = 0; index < 10; index++) {
      const label = index % 10;
      const forward = renderMotion(tiled, 'train', index, label & ~1);
      const backward = renderMotion(tiled, 'train', index, label | 1);
      for (let t = 0; t < 8; t++) expect(same(frame(backward, 8, 0, t), frame(forward, 8, 0, 7 - t))).toBe(true);
      tiledCover += painted(renderMotion(tiled, 'train', index, label)) / 10;
      singleCover += painted(renderMotion(single, 'train', index, label)) / 10;
    }
    expect(tiledCover).toBeGreaterThan(2 * singleCover);
  });

  it('holds each state for the temporal patch: frames 2t and 2t+1 are identical, 2t+1 and 2t+2 are not', async () => {
    const ds = new MotionDataset(options, 'train');
    for (let i = 0; i < 10; i++) {
      const { clip } = await ds.read(i);
      for (let t = 0; t < 8; t += 2) for (let c = 0; c < 3; c++) expect(same(frame(clip, 8, c, t + 1), frame(clip, 8, c, t))).toBe(true);
      for (let t = 1; t < 7; t += 2) expect(same(frame(clip, 8, 0, t + 1), frame(clip, 8, 0, t))).toBe(false);
    }
    const hold4 = new MotionDataset(resolveMotionOptions({ hold: 4 }, tiny), 'train');
    const { clip } = await hold4.read(3);
    for (const t of [1, 2, 3]) expect(same(frame(clip, 8, 1, t), frame(clip, 8, 1, 0))).toBe(true);
    expect(same(frame(clip, 8, 1, 4), frame(clip, 8, 1, 3))).toBe(false);
    const hold1 = new MotionDataset(resolveMotionOptions({ hold: 1 }, tiny), 'train');
    const single = (await hold1.read(3)).clip;
    expect(same(frame(single, 8, 1, 1), frame(single, 8, 1, 0))).toBe(false);
  });

  it('a model blind to order (time-pooled per-frame features) cannot tell a pair apart', () => {
    // Sum of each frame's pixels weighted by a fixed random per-pixel pattern, pooled over time:
    // any such feature is equal for a clip and its reversal, so the order-only metric ties.
    const weights = Float32Array.from({ length: plane }, (_, p) => Math.sin(p * 12.9898) * 43758.5453 % 1);
    const pooled = (clip: Float32Array) => {
      let s = 0;
      for (let t = 0; t < 8; t++) frame(clip, 8, 0, t).forEach((v, p) => (s += v * weights[p]!));
      return s;
    };
    for (let index = 0; index < 5; index++) {
      const a = pooled(renderMotion(options, 'val', index, 4));
      const b = pooled(renderMotion(options, 'val', index, 5));
      expect(Math.abs(a - b)).toBeLessThan(1e-3 * Math.max(1, Math.abs(a)));
    }
  });

  it('labels are balanced and values are roughly standardised', async () => {
    const ds = new MotionDataset(options, 'train');
    const counts = new Array(10).fill(0);
    let sum = 0;
    let squares = 0;
    let n = 0;
    for (let i = 0; i < ds.size; i++) {
      const { clip, label } = await ds.read(i);
      counts[label]++;
      for (const v of clip) {
        sum += v;
        squares += v * v;
        n++;
      }
    }
    expect(counts).toEqual(new Array(10).fill(4));
    const mean = sum / n;
    const std = Math.sqrt(squares / n - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.3);
    expect(std).toBeGreaterThan(0.6);
    expect(std).toBeLessThan(1.5);
  });

  it('fewer classes take the first pairs; a model with fewer classes gets an even default', () => {
    expect(resolveMotionOptions({ classes: 4 }, tiny).classes).toBe(4);
    expect(resolveMotionOptions({}, { ...tiny, classes: 7 }).classes).toBe(6);
    expect(resolveMotionOptions({}, { ...tiny, classes: 400 }).classes).toBe(10);
  });

  it('first_pair picks later pairs: first_pair=3,classes=4 is approach/recede and appear/disappear, labelled 0–3', async () => {
    const sub = resolveMotionOptions({ first_pair: 3, classes: 4, train: 8, val: 4 }, tiny);
    expect(sub.firstPair).toBe(3);
    expect(new MotionDataset(sub, 'train').classNames).toEqual(['approach (grow)', 'recede (shrink)', 'appear (fade in)', 'disappear (fade out)']);
    // Label 0 of the subset draws what label 6 of the whole set draws for the same sample.
    const all = resolveMotionOptions({ train: 8, val: 4 }, tiny);
    expect(same(renderMotion(sub, 'train', 5, 0), renderMotion(all, 'train', 5, 6))).toBe(true);
    expect(same(renderMotion(sub, 'train', 5, 3), renderMotion(all, 'train', 5, 9))).toBe(true);
    expect(resolveMotionOptions({ first_pair: 3 }, tiny).classes).toBe(4);
    expect(errorOf(() => resolveMotionOptions({ first_pair: 5 }, tiny)).message).toContain('first_pair=5 is past them');
    expect(errorOf(() => resolveMotionOptions({ first_pair: 4, classes: 4 }, tiny)).message).toContain('2 to 2');
    const data = await openData('synthetic:motion,first_pair=3,classes=4,train=8,val=4', tiny);
    expect(data.train.classes).toBe(4);
  });

  it.each([
    [{ classes: 3 }, tiny, 'PST606', 'pairs'],
    [{ classes: 12 }, tiny, 'PST606', '2 to 10'],
    [{}, { ...tiny, classes: 1 }, 'PST606', 'pairs'],
    [{ hold: 3 }, tiny, 'PST606', 'holds each motion state for 3 frames'],
    [{}, { ...tiny, frames: 2 }, 'PST606', '2 or more states'],
    [{}, { ...tiny, size: 4 }, 'PST606', '8×8'],
  ])('%j for %j → %s', (spec, input, code, message) => {
    const d = errorOf(() => resolveMotionOptions(spec, input));
    expect(d.code).toBe(code);
    expect(d.message).toContain(message);
  });

  it('more classes than the model scores → PST604 before any step', async () => {
    await expect(openData('synthetic:motion,classes=10', { ...tiny, classes: 8 })).rejects.toMatchObject({
      diagnostics: [expect.objectContaining({ code: 'PST604', flag: '--data' })],
    });
    await expect(openData('synthetic:motion', { ...tiny, classes: undefined })).rejects.toMatchObject({
      diagnostics: [expect.objectContaining({ code: 'PST604' })],
    });
  });
});

describe('order-only metric', () => {
  it('pairs 2k with 2k+1 and counts the rows whose true class beats its partner', () => {
    expect(Array.from(labelsOfPairs(6))).toEqual([1, 0, 3, 2, 5, 4]);
    expect(() => labelsOfPairs(5)).toThrow();
    // rows: label 0 scored above 1 (right), label 3 scored below 2 (wrong, even though top-1 is 3's
    // pair), label 5 tied with 4 (wrong: a blind model ties)
    const scores = [
      [5, 1, 9, 0, 0, 0],
      [0, 0, 3, 2, 0, 0],
      [0, 0, 0, 0, 1, 1],
    ].flat();
    expect(orderOnlyCorrect(scores, [0, 3, 5], 6)).toBe(1);
  });
});

describe('PNG strips', () => {
  it('draws one row per clip, T frames across, undoing the normalisation', async () => {
    const ds = new MotionDataset(options_(), 'train');
    const clips = [(await ds.read(0)).clip, (await ds.read(1)).clip];
    const png = PNG.sync.read(Buffer.from(clipStripPng(clips, ds.clipShape, { scale: 2, gap: 1, mean: MOTION_MEAN, std: MOTION_STD })));
    expect(png.width).toBe(8 * 65 - 1);
    expect(png.height).toBe(2 * 65 - 1);
    // pixel (0,0) of clip 1, frame 0, red channel
    const v = clips[1]![0]! * MOTION_STD + MOTION_MEAN;
    expect(png.data[65 * png.width * 4]).toBe(Math.round(255 * Math.min(1, Math.max(0, v))));
  });
});

function options_() {
  return resolveMotionOptions({ train: 4, val: 4 }, tiny);
}
