// `pstc run --input` a frame folder or a video: the test pipeline's views, the view-averaged
// softmax and its top-5 (names from --classes) — checked against the same clips run as a .npy.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOTION_CLASS_NAMES, MOTION_MEAN, MOTION_STD, MotionDataset, resolveMotionOptions, type DataInput } from '../../src/data/index.js';
import { encodeVideo } from '../../src/data/ffmpeg.js';
import { clipToRgbFrames, writeRawframeFolders } from '../../src/data/fixtures.js';
import { readNpyFile, writeNpy } from '../../src/weights/index.js';
import { runCli as run } from './run-cli.js';

const MODEL = 'models/tiny/pst-tiny.pst';
const input: DataInput = { frames: 8, size: 32, channels: 3, classes: 10, temporalPatch: 2 };
const motion = new MotionDataset(resolveMotionOptions({ train: 4, val: 2, tile: 1 }, input), 'train');
const dir = mkdtempSync(join(tmpdir(), 'pstc-run-video-'));
const [M, S] = [255 * MOTION_MEAN, 255 * MOTION_STD];
const NORMALISE = `mean=${M}:${M}:${M},std=${S}:${S}:${S}`;
const weights = ['--random-weights', '5'];
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  await writeRawframeFolders(motion, join(dir, 'png'), join(dir, 'png.txt'), { mean: MOTION_MEAN, std: MOTION_STD, tmpl: 'img_{:05d}.png', count: 2 });
  // 16 frames: clip 0 then clip 1, so that clips=2 samples each once (offsets 0 and 8).
  const clips = await Promise.all([0, 1].map(async (i) => (await motion.read(i)).clip));
  const frames = clips.flatMap((clip) => clipToRgbFrames(clip, motion.clipShape, MOTION_MEAN, MOTION_STD));
  await encodeVideo(join(dir, 'two.mp4'), frames, 32, 32);
  writeFileSync(join(dir, 'classes.txt'), `${MOTION_CLASS_NAMES.join('\n')}\n`);
  // The 8-bit clips as the model's input, for the .npy reference.
  const quantised = clips.map((clip) => {
    return clip.map((v) => (Math.round(255 * Math.min(1, Math.max(0, v * MOTION_STD + MOTION_MEAN))) / 255 - MOTION_MEAN) / MOTION_STD);
  });
  const both = new Float32Array(2 * quantised[0]!.length);
  quantised.forEach((c, i) => both.set(c, i * c.length));
  writeFileSync(join(dir, 'clips.npy'), writeNpy([2, 3, 8, 32, 32], both));
});

/** Softmax of the reference run's logits, per clip. */
async function referenceSoftmax(): Promise<Float64Array[]> {
  const r = await run(['run', MODEL, ...weights, '--input', join(dir, 'clips.npy'), '--out', join(dir, 'logits.npy')]);
  expect(r.code, r.stderr).toBe(0);
  const { data } = readNpyFile(join(dir, 'logits.npy'));
  return [0, 1].map((i) => {
    const row = Array.from(data.subarray(i * 10, (i + 1) * 10));
    const max = Math.max(...row);
    const e = row.map((v) => Math.exp(v - max));
    const total = e.reduce((a, b) => a + b, 0);
    return Float64Array.from(e, (v) => v / total);
  });
}

/** The printed top-5: [name, probability]. */
function top5(stdout: string): [string, number][] {
  return stdout
    .split('\n')
    .filter((l) => /^\s+\d\. /.test(l))
    .map((l) => {
      const m = /^\s+\d\. (.*?)\s+([\d.]+)$/.exec(l)!;
      return [m[1]!, Number(m[2])];
    });
}

function expectTop5(printed: [string, number][], scores: Float64Array, names: readonly string[]): void {
  const want = Array.from(scores, (s, k) => [names[k]!, s] as const).sort((a, b) => b[1] - a[1]).slice(0, 5);
  expect(printed.map((p) => p[0])).toEqual(want.map((w) => w[0]));
  printed.forEach((p, i) => expect(Math.abs(p[1] - want[i]![1])).toBeLessThan(2e-3));
}

describe('pstc run --input a video or a frame folder', () => {
  it('a PNG frame folder: the top-5 of the clip as the model takes it, with class names', async () => {
    const [clip0] = await referenceSoftmax();
    const r = await run(['run', MODEL, ...weights, '--input', join(dir, 'png', 'clip_00000'), '--pipeline', NORMALISE, '--classes', join(dir, 'classes.txt')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 view (1 clip × 1 crop');
    expectTop5(top5(r.stdout), clip0!, MOTION_CLASS_NAMES);
  });

  it('an MP4 with clips=2: the softmax averaged over the two clips, class indices without --classes; --out writes the views\' logits', async () => {
    const [clip0, clip1] = await referenceSoftmax();
    const out = join(dir, 'views.npy');
    const r = await run(['run', MODEL, ...weights, '--input', join(dir, 'two.mp4'), '--pipeline', `${NORMALISE},clips=2`, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('2 views (2 clips × 1 crop');
    const mean = Float64Array.from(clip0!, (v, k) => (v + clip1![k]!) / 2);
    expectTop5(top5(r.stdout), mean, Array.from({ length: 10 }, (_, k) => `class ${k}`));
    expect(readNpyFile(out).shape).toEqual([2, 10]);
  });

  it('mistakes: a class list of the wrong length, a missing input, a folder without frames, a bad pipeline option', async () => {
    writeFileSync(join(dir, 'three.txt'), 'a\nb\nc\n');
    const short = await run(['run', MODEL, ...weights, '--input', join(dir, 'two.mp4'), '--classes', join(dir, 'three.txt')]);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('has 3 names');
    expect(short.stderr).toContain('scores 10 classes');
    const missing = await run(['run', MODEL, ...weights, '--input', join(dir, 'none.mp4')]);
    expect(missing.stderr).toContain('PST616');
    const empty = await run(['run', MODEL, ...weights, '--input', join(dir, 'png')]);
    expect(empty.stderr).toContain('PST616');
    expect(empty.stderr).toContain('tmpl=');
    const option = await run(['run', MODEL, ...weights, '--input', join(dir, 'two.mp4'), '--pipeline', 'crops=2']);
    expect(option.stderr).toContain('PST601');
    expect(option.stderr).toContain('--pipeline');
    const npy = await run(['run', MODEL, ...weights, '--input', join(dir, 'clips.npy')]);
    expect(npy.stderr).toContain('--out: missing');
  });
});
