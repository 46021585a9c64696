// The real-data pipelines on fixtures made here from the synthetic motion set: PNG/JPEG frame
// folders and lossless MP4s, read back through rawframes:/videos:, and every kind of bad input.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { diagnosticOf as diagnostic } from './helpers.js';
import { Loader, MOTION_MEAN, MOTION_STD, MotionDataset, openData, resolveMotionOptions, type DataInput } from '../../src/data/index.js';
import { clipToRgbFrames, writeRawframeFolders, writeVideoFiles } from '../../src/data/fixtures.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../src/data/video-dataset.js';
import { parseDataSpec } from '../../src/data/spec.js';

const input: DataInput = { frames: 8, size: 32, channels: 3, classes: 10, temporalPatch: 2 };
const motion = new MotionDataset(resolveMotionOptions({ train: 6, val: 2 }, input), 'train');
const dir = mkdtempSync(join(tmpdir(), 'pstc-video-'));
const fx = { mean: MOTION_MEAN, std: MOTION_STD };
const png = `rawframes:${dir}/png.txt,root=${dir}/png,tmpl=img_{:05d}.png`;
const jpg = `rawframes:${dir}/jpg.txt,root=${dir}/jpg`;
const mp4 = `videos:${dir}/mp4.txt,root=${dir}/mp4`;

beforeAll(async () => {
  await writeRawframeFolders(motion, join(dir, 'png'), join(dir, 'png.txt'), { ...fx, tmpl: 'img_{:05d}.png' });
  await writeRawframeFolders(motion, join(dir, 'jpg'), join(dir, 'jpg.txt'), fx);
  await writeVideoFiles(motion, join(dir, 'mp4'), join(dir, 'mp4.txt'), fx);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The synthetic clip as the pipeline should give it back: its 8-bit pixels, ImageNet-normalised. */
async function expected(index: number, flip = false): Promise<Float32Array> {
  const { clip } = await motion.read(index);
  const frames = clipToRgbFrames(clip, motion.clipShape, MOTION_MEAN, MOTION_STD);
  const out = new Float32Array(clip.length);
  frames.forEach((rgb, t) => {
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const from = (y * 32 + (flip ? 31 - x : x)) * 3;
        for (let c = 0; c < 3; c++) out[(c * 8 + t) * 1024 + y * 32 + x] = (rgb[from + c]! - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
      }
    }
  });
  return out;
}

/** Max (or mean) difference in 0–255 pixel units. */
function maxPixelDifference(a: Float32Array, b: Float32Array, mean = false): number {
  let m = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) * IMAGENET_STD[Math.floor(i / (8 * 1024))]!;
    m = Math.max(m, d);
    sum += d;
  }
  return mean ? sum / a.length : m;
}


describe('rawframes: and videos:', () => {
  it('parses the options of the pipelines', () => {
    const spec = parseDataSpec('rawframes:a.txt,root=r,tmpl={:05d}.jpg,sampler=uniform,clips=2,crops=3,area=0.3:1,flip=0,flip_map=86:87/93:94,val=b.txt');
    expect(spec).toMatchObject({ kind: 'rawframes', annotations: 'a.txt', options: { root: 'r', tmpl: '{:05d}.jpg', sampler: 'uniform', clips: 2, crops: 3, area: [0.3, 1], flip: 0, val: 'b.txt' } });
    expect(spec.kind === 'rawframes' && spec.options.flipMap!.get(87)).toBe(86);
    expect(parseDataSpec('videos:a.txt,pairs=1')).toMatchObject({ options: { pairs: true } });
    expect(parseDataSpec('videos:a.txt,pairs=0')).toMatchObject({ options: { pairs: false } });
    for (const bad of ['videos:a.txt,pairs=yes', 'videos:a.txt,b.txt', 'videos:a.txt,crops=2', 'videos:a.txt,sampler=random', 'videos:a.txt,area=1:0.5', 'videos:a.txt,flip=2', 'videos:a.txt,flip_map=1-2', 'videos:a.txt,rot=1']) {
      expect(() => parseDataSpec(bad)).toThrow(DiagnosticError);
    }
  });

  it('test pipeline on PNG frames gives back the clip exactly; JPEG within compression error (mean); MP4 within 2 levels', async () => {
    for (const [spec, tolerance, mean] of [[png, 1e-3, false], [jpg, 4, true], [mp4, 2.5, false]] as const) {
      const { val } = await openData(`${spec},val=${spec.split(',')[0]!.split(':')[1]}`, input);
      expect(val!.clipShape).toEqual([3, 8, 32, 32]);
      for (const i of [0, 3]) {
        const got = await val!.read(i);
        expect(got.label).toBe((await motion.read(i)).label);
        expect(maxPixelDifference(got.clip, await expected(i), mean)).toBeLessThanOrEqual(tolerance);
      }
    }
  });

  it('train pipeline: a function of (seed, epoch, index); the full-image crop without flip is the test clip; flip mirrors and maps the label', async () => {
    const { train } = await openData(png, input);
    const a = await train.read(2, 0);
    expect(Buffer.from((await train.read(2, 0)).clip.buffer).equals(Buffer.from(a.clip.buffer))).toBe(true);
    expect(Buffer.from((await train.read(2, 1)).clip.buffer).equals(Buffer.from(a.clip.buffer))).toBe(false);
    const { train: plain } = await openData(`${png},scale=32,area=1:1,aspect=1:1,flip=0`, input);
    expect(maxPixelDifference((await plain.read(2)).clip, await expected(2))).toBeLessThan(1e-3);
    // sample 2 has label 2 (move down); flip_map swaps it with 3 when flipped
    const { train: flipped } = await openData(`${png},scale=32,area=1:1,aspect=1:1,flip=1,flip_map=2:3`, input);
    const f = await flipped.read(2);
    expect(f.label).toBe(3);
    expect(maxPixelDifference(f.clip, await expected(2, true))).toBeLessThan(1e-3);
  });

  it('multi-view test: clips × crops consecutive views of each sample', async () => {
    const { val } = await openData(`${mp4},val=${dir}/mp4.txt,clips=2,crops=3`, input);
    expect(val!.size).toBe(6 * 6);
    expect((val as unknown as { views: number }).views).toBe(6);
    const labels = await Promise.all([0, 5, 6].map(async (i) => (await val!.read(i)).label));
    expect(labels).toEqual([0, 0, 1]);
  });

  it('the loader reads a rawframes set in batches, several clips at a time', async () => {
    const { train } = await openData(jpg, input);
    const loader = new Loader(train, { batchSize: 4, shuffle: true, seed: 3, concurrency: 4 });
    const batches = [];
    for await (const b of loader.epoch(0)) batches.push(b);
    expect(batches.map((b) => b.labels.length)).toEqual([4, 2]);
    expect(batches[0]!.clips.length).toBe(4 * 3 * 8 * 32 * 32);
  });
});

describe('bad real data', () => {
  it('a missing list or root is one clear error up front', async () => {
    expect((await diagnostic(openData(`rawframes:${dir}/none.txt`, input))).code).toBe('PST610');
    const root = await diagnostic(openData(`rawframes:${dir}/png.txt,root=${dir}/nowhere`, input));
    expect(root.code).toBe('PST610');
    expect(root.message).toContain('nowhere');
  });

  it('bad annotation lines name file and line; --skip-bad logs and leaves them out', async () => {
    const list = join(dir, 'bad.txt');
    writeFileSync(list, 'clip_00000 8 0\nclip_00001 8\nclip_00002 x 2\nclip_00003 8 12\n\nclip_00004 8 4\n');
    const e = (await openData(`rawframes:${list},root=${dir}/png,tmpl=img_{:05d}.png`, input).catch((x: unknown) => x)) as DiagnosticError;
    expect(e).toBeInstanceOf(DiagnosticError);
    expect(e.diagnostics.map((d) => [d.code, d.flag])).toEqual([
      ['PST611', `${list}:2`],
      ['PST611', `${list}:3`],
      ['PST612', `${list}:4`],
    ]);
    expect(e.diagnostics[2]!.message).toContain('label 12');
    const log: string[] = [];
    const { train } = await openData(`rawframes:${list},root=${dir}/png,tmpl=img_{:05d}.png`, input, { skipBad: true, log: (m) => log.push(m) });
    expect(train.size).toBe(2);
    expect(log).toHaveLength(3);
  });

  it('a missing frame, a corrupt JPEG and an undecodable video name the file and the line; --skip-bad reads the next sample', async () => {
    unlinkSync(join(dir, 'png', 'clip_00001', 'img_00001.png'));
    writeFileSync(join(dir, 'jpg', 'clip_00002', 'img_00001.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    writeFileSync(join(dir, 'mp4', 'clip_00003.mp4'), 'not a video');
    const cases = [
      [png, 1, 'PST613', 'img_00001.png', 'png.txt:2'],
      [jpg, 2, 'PST613', 'img_00001.jpg', 'jpg.txt:3'],
      [mp4, 3, 'PST614', 'clip_00003.mp4', 'mp4.txt:4'],
    ] as const;
    for (const [spec, index, code, file, line] of cases) {
      const { train } = await openData(spec, input);
      const d = await diagnostic(train.read(index));
      expect(d.code).toBe(code);
      expect(d.message).toContain(file);
      expect(d.flag).toContain(line);
      const log: string[] = [];
      const { train: skipping } = await openData(spec, input, { skipBad: true, log: (m) => log.push(m) });
      const next = await skipping.read(index);
      expect(next.label).toBe((await motion.read(index + 1)).label);
      expect(log[0]).toContain(file);
    }
  });
});
