// The loader's worker threads (--workers N): batches bit-identical to the main thread's for the
// same seed, errors from a worker as the same diagnostics (file and line), --skip-bad, and a clean
// close.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Loader, MOTION_MEAN, MOTION_STD, MotionDataset, openData, resolveMotionOptions, type Batch, type DataInput, type Dataset } from '../../src/data/index.js';
import { writeRawframeFolders, writeVideoFiles } from '../../src/data/fixtures.js';
import { diagnosticOf } from './helpers.js';

const input: DataInput = { frames: 8, size: 32, channels: 3, classes: 10, temporalPatch: 2 };
const motion = new MotionDataset(resolveMotionOptions({ train: 10, val: 2 }, input), 'train');
const dir = mkdtempSync(join(tmpdir(), 'pstc-workers-'));
const fx = { mean: MOTION_MEAN, std: MOTION_STD };
const jpg = `rawframes:${dir}/jpg.txt,root=${dir}/jpg`;
const mp4 = `videos:${dir}/mp4.txt,root=${dir}/mp4`;

beforeAll(async () => {
  await writeRawframeFolders(motion, join(dir, 'jpg'), join(dir, 'jpg.txt'), fx);
  await writeVideoFiles(motion, join(dir, 'mp4'), join(dir, 'mp4.txt'), { ...fx, count: 4 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every batch of epochs 0 and 1. */
async function epochs(loader: Loader): Promise<Batch[]> {
  const out: Batch[] = [];
  try {
    for (const e of [0, 1]) for await (const b of loader.epoch(e)) out.push(b);
  } finally {
    await loader.close();
  }
  return out;
}

/** The main thread must not read: every clip comes from a worker. */
function forbidMainThreadReads(dataset: Dataset): void {
  dataset.read = () => Promise.reject(new Error('read on the main thread'));
}

describe('loader worker threads', () => {
  it('batches are bit-identical to the main thread for the same seed (synthetic, rawframes with augmentation, videos)', async () => {
    for (const spec of ['synthetic:motion,train=10,val=2', jpg, mp4]) {
      const options = { batchSize: 3, shuffle: true, seed: 7, dropLast: false };
      const here = await epochs(new Loader((await openData(spec, input)).train, options));
      const { train } = await openData(spec, input);
      forbidMainThreadReads(train);
      const threaded = new Loader(train, { ...options, workers: 2 });
      expect(threaded.workers).toBe(2);
      const there = await epochs(threaded);
      expect(there.map((b) => [b.epoch, b.batch, [...b.indices]])).toEqual(here.map((b) => [b.epoch, b.batch, [...b.indices]]));
      there.forEach((b, k) => {
        expect(Buffer.from(b.clips.buffer).equals(Buffer.from(here[k]!.clips.buffer))).toBe(true);
        expect([...b.labels]).toEqual([...here[k]!.labels]);
      });
    }
  });

  it('reads from a resumed position and prefetches a bounded number of batches', async () => {
    const { train } = await openData(jpg, input);
    const whole = await epochs(new Loader(train, { batchSize: 2, shuffle: true, seed: 1 }));
    const { train: again } = await openData(jpg, input);
    const loader = new Loader(again, { batchSize: 2, shuffle: true, seed: 1, workers: 1, prefetch: 3 });
    expect(loader.prefetch).toBe(3);
    const got: Batch[] = [];
    for await (const b of loader.from({ epoch: 1, batch: 2 })) {
      got.push(b);
      if (got.length === 2) break;
    }
    await loader.close();
    const want = whole.filter((b) => b.epoch === 1).slice(2, 4);
    expect(got.map((b) => Buffer.from(b.clips.buffer))).toEqual(want.map((b) => Buffer.from(b.clips.buffer)));
  });

  it('a corrupt frame read in a worker is the same diagnostic (file and line); --skip-bad logs through the loader', async () => {
    const bad = join(dir, 'bad');
    await writeRawframeFolders(motion, bad, join(dir, 'bad.txt'), { ...fx, count: 4 });
    writeFileSync(join(bad, 'clip_00002', 'img_00003.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    const spec = `rawframes:${dir}/bad.txt,root=${bad}`;
    const { train } = await openData(spec, input);
    const failing = new Loader(train, { batchSize: 4, workers: 2 });
    const d = await diagnosticOf(failing.batchAt(0, 0));
    await failing.close();
    expect(d.code).toBe('PST613');
    expect(d.message).toContain('img_00003.jpg');
    expect(d.flag).toBe(`${dir}/bad.txt:3`);

    const log: string[] = [];
    const { train: skipping } = await openData(spec, input, { skipBad: true });
    const loader = new Loader(skipping, { batchSize: 4, workers: 2, log: (m) => log.push(m) });
    const batch = await loader.batchAt(0, 0);
    await loader.close();
    expect([...batch.labels]).toEqual([0, 1, 3, 3]);
    expect(log.some((m) => m.includes('img_00003.jpg'))).toBe(true);
  });

  it('close refuses further reads and leaves no thread running', async () => {
    const { train } = await openData('synthetic:motion,train=10,val=2', input);
    const loader = new Loader(train, { batchSize: 2, workers: 2 });
    await loader.batchAt(0, 0);
    await loader.close();
    await expect(loader.batchAt(0, 1)).rejects.toThrow('closed');
  });
});
