// mmaction2's SampleFrames (mmaction/datasets/transforms/loading.py), as pure functions of the
// video's frame count and a random source, so a sample is a function of (seed, epoch, index).
//   dense (3-D models):  clip_len = T frames, `interval` apart, num_clips = 1 when training
//   uniform (TSN, Something-Something): clip_len = 1, num_clips = T, one frame per segment,
//   the T frames forming one clip
// Indices are 0-based frame numbers before `start_index` is added (rawframes count from 1).

export interface SampleFramesOptions {
  clipLen: number;
  frameInterval: number;
  numClips: number;
  testMode: boolean;
}

/** `np.random.randint(n)`: an integer in [0, n). */
type RandomInt = (n: number) => number;

/** Clip start offsets for training: one random offset in each of num_clips equal spans. */
export function trainClipOffsets(numFrames: number, o: SampleFramesOptions, randomInt: RandomInt): number[] {
  const oriClipLen = o.clipLen * o.frameInterval;
  const avgInterval = Math.floor((numFrames - oriClipLen + 1) / o.numClips);
  const range = Array.from({ length: o.numClips }, (_, i) => i);
  if (avgInterval > 0) return range.map((i) => i * avgInterval + randomInt(avgInterval));
  if (numFrames > Math.max(o.numClips, oriClipLen)) {
    return range.map(() => randomInt(numFrames - oriClipLen + 1)).sort((a, b) => a - b);
  }
  if (avgInterval === 0) {
    const ratio = (numFrames - oriClipLen + 1) / o.numClips;
    return range.map((i) => roundHalfEven(i * ratio));
  }
  return range.map(() => 0);
}

/** Clip start offsets for testing: fixed, spread over the video (possibly fractional for clip_len 1). */
export function testClipOffsets(numFrames: number, o: SampleFramesOptions): number[] {
  const range = Array.from({ length: o.numClips }, (_, i) => i);
  if (o.clipLen === 1) {
    const avgInterval = numFrames / o.numClips;
    return range.map((i) => i * avgInterval + avgInterval / 2);
  }
  const oriClipLen = (o.clipLen - 1) * o.frameInterval + 1;
  const maxOffset = Math.max(numFrames - oriClipLen, 0);
  if (o.numClips > 1) {
    const between = maxOffset / (o.numClips - 1);
    return range.map((i) => roundHalfEven(i * between));
  }
  return [Math.floor(maxOffset / 2)];
}

/**
 * Frame indices (0-based, before start_index), clip after clip: offset + k·interval for each clip,
 * looped into the video (`out_of_bound_opt = 'loop'`), truncated to integers as mmaction's final
 * `astype(np.int32)` does.
 */
export function sampleFrames(numFrames: number, o: SampleFramesOptions, randomInt: RandomInt): number[] {
  const offsets = o.testMode ? testClipOffsets(numFrames, o) : trainClipOffsets(numFrames, o, randomInt);
  const out: number[] = [];
  for (const offset of offsets) {
    for (let k = 0; k < o.clipLen; k++) {
      const index = offset + k * o.frameInterval;
      out.push(Math.trunc(index - numFrames * Math.floor(index / numFrames)));
    }
  }
  return out;
}

/** numpy's round (and np.around): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
