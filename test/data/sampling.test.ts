import { describe, expect, it } from 'vitest';
import { frameFileName } from '../../src/data/annotations.js';
import { centerCropBox, randomResizedCropBox, resizeShortSide, threeCropBoxes } from '../../src/data/geometry.js';
import { roundHalfEven, sampleFrames } from '../../src/data/sampling.js';

// Expected values worked by hand from mmaction2's SampleFrames and processing.py.
describe('SampleFrames', () => {
  const fixed = (r: number) => () => r; // np.random.randint(n) → r

  it('dense, training: one offset in [0, T − clip_len·interval], frames interval apart', () => {
    // ori_clip_len 8, avg_interval (20 − 8 + 1) // 1 = 13, offset randint(13) = 5
    expect(sampleFrames(20, { clipLen: 4, frameInterval: 2, numClips: 1, testMode: false }, fixed(5))).toEqual([5, 7, 9, 11]);
    // three clips: avg_interval 19 // 3 = 6, offsets 0+2, 6+2, 12+2
    expect(sampleFrames(20, { clipLen: 2, frameInterval: 1, numClips: 3, testMode: false }, fixed(2))).toEqual([2, 3, 8, 9, 14, 15]);
  });

  it('uniform (TSN): one frame from each of T segments', () => {
    // clip_len 1, 8 clips over 16 frames: avg_interval 2, offsets 2i + 1
    expect(sampleFrames(16, { clipLen: 1, frameInterval: 1, numClips: 8, testMode: false }, fixed(1))).toEqual([1, 3, 5, 7, 9, 11, 13, 15]);
    // test mode: segment centres 1.25, 3.75, 6.25, 8.75, truncated
    expect(sampleFrames(10, { clipLen: 1, frameInterval: 1, numClips: 4, testMode: true }, fixed(0))).toEqual([1, 3, 6, 8]);
  });

  it('short videos: random sorted offsets, rounded spreads, zeros, and looping', () => {
    // avg_interval (6 − 4 + 1) // 4 = 0 and 6 > max(4, 4): sorted randint(3) draws
    let k = 0;
    const draws = [2, 0, 1, 2];
    expect(sampleFrames(6, { clipLen: 4, frameInterval: 1, numClips: 4, testMode: false }, () => draws[k++]!).filter((_, i) => i % 4 === 0)).toEqual([0, 1, 2, 2]);
    // avg_interval 0 and not longer: np.around(i · ratio), ratio (4 − 4 + 1)/2 = 0.5 → 0, 0 (0.5 rounds to even)
    expect(sampleFrames(4, { clipLen: 4, frameInterval: 1, numClips: 2, testMode: false }, fixed(0))).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    // ori_clip_len 8 > 5 frames: offset 0, frames 0 2 4 6 → 6 loops to 1
    expect(sampleFrames(5, { clipLen: 4, frameInterval: 2, numClips: 1, testMode: false }, fixed(0))).toEqual([0, 2, 4, 1]);
  });

  it('dense, test: the middle clip, or clips spread evenly with numpy rounding', () => {
    // ori_clip_len (4 − 1)·2 + 1 = 7, max_offset 13, one clip at 13 // 2 = 6
    expect(sampleFrames(20, { clipLen: 4, frameInterval: 2, numClips: 1, testMode: true }, fixed(0))).toEqual([6, 8, 10, 12]);
    // three clips: 13/2 = 6.5 apart → round(0, 6.5, 13) = 0, 6, 13
    expect(sampleFrames(20, { clipLen: 4, frameInterval: 2, numClips: 3, testMode: true }, fixed(0))).toEqual([0, 2, 4, 6, 6, 8, 10, 12, 13, 15, 17, 19]);
    expect([0.5, 1.5, 2.5, -0.5, 2.4].map(roundHalfEven)).toEqual([0, 2, 2, -0, 2]);
  });
});

describe('geometry', () => {
  it('Resize short side keeps the ratio with int(v·f + 0.5)', () => {
    expect(resizeShortSide(320, 240, 256)).toEqual({ width: 341, height: 256 });
    expect(resizeShortSide(240, 320, 256)).toEqual({ width: 256, height: 341 });
    expect(resizeShortSide(32, 32, 37)).toEqual({ width: 37, height: 37 });
  });

  it('RandomResizedCrop: area and log-uniform aspect, offset uniform; central square when nothing fits', () => {
    // uniform 0.5: aspect exp(mean of logs of 3/4 and 4/3) = 1, area 0.54 · 100 · 100 → 73 × 73
    const box = randomResizedCropBox(100, 100, [0.08, 1], [3 / 4, 4 / 3], () => 0.5, (lo, hi) => hi);
    expect(box).toEqual({ x: 27, y: 27, width: 73, height: 73 });
    expect(randomResizedCropBox(120, 80, [2, 3], [1, 1], () => 0.5, (lo) => lo)).toEqual({ x: 20, y: 0, width: 80, height: 80 });
  });

  it('CenterCrop and ThreeCrop (start, end, centre)', () => {
    expect(centerCropBox(37, 40, 32)).toEqual({ x: 2, y: 4, width: 32, height: 32 });
    expect(threeCropBoxes(42, 32, 32).map((b) => b.x)).toEqual([0, 10, 5]);
    expect(threeCropBoxes(32, 43, 32).map((b) => b.y)).toEqual([0, 10, 5]);
  });

  it('frame file templates as Python formats them', () => {
    expect(frameFileName('img_{:05d}.jpg', 7)).toBe('img_00007.jpg');
    expect(frameFileName('{:05d}.jpg', 123)).toBe('00123.jpg');
    expect(frameFileName('frame{}.png', 3)).toBe('frame3.png');
  });
});
