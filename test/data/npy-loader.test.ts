import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { diagnosticOf as diagnostic } from './helpers.js';
import { npyHeaderBytes, readNpy, writeNpy } from '../../src/weights/npy.js';
import { Loader, MotionDataset, NpyDataset, openData, resolveMotionOptions, writeNpyDataset, type Batch, type DataInput } from '../../src/data/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pstc-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const small: DataInput = { frames: 4, size: 8, channels: 3, classes: 6, temporalPatch: 2 };
const motion = new MotionDataset(resolveMotionOptions({ train: 10, val: 4, classes: 6 }, small), 'train');
const clips = join(dir, 'clips.npy');
const labels = join(dir, 'labels.npy');

/** An integer .npy of the given NumPy descr, written by hand. */
function intNpy(path: string, descr: '<i4' | '|u1' | '<i8', values: number[]): void {
  const size = { '<i4': 4, '|u1': 1, '<i8': 8 }[descr];
  const header = npyHeaderBytes(descr, [values.length]);
  const bytes = new Uint8Array(header.length + values.length * size);
  bytes.set(header);
  const view = new DataView(bytes.buffer, header.length);
  values.forEach((v, i) => (descr === '<i4' ? view.setInt32(i * 4, v, true) : descr === '|u1' ? view.setUint8(i, v) : view.setBigInt64(i * 8, BigInt(v), true)));
  writeFileSync(path, bytes);
}


describe('npy: datasets', () => {
  it('writeNpyDataset writes float32 clips and int64 labels that read back bit for bit', async () => {
    await writeNpyDataset(motion, clips, labels);
    const whole = readNpy(readFileSync(clips));
    expect(whole.shape).toEqual([10, 3, 4, 8, 8]);
    const source = await openData(`npy:${clips},${labels}`, small);
    expect(source.val).toBeUndefined();
    const ds = source.train;
    expect(ds.size).toBe(10);
    expect(ds.clipShape).toEqual([3, 4, 8, 8]);
    expect(ds.classes).toBe(6);
    for (let i = 0; i < 10; i++) {
      const a = await ds.read(i);
      const b = await motion.read(i);
      expect(a.label).toBe(b.label);
      expect(Buffer.from(a.clip.buffer).equals(Buffer.from(b.clip.buffer))).toBe(true);
    }
    await ds.close?.();
    await expect(ds.read(0)).rejects.toThrow(/after close/);
  });

  it('reads int32 and uint8 labels', async () => {
    for (const descr of ['<i4', '|u1'] as const) {
      const path = join(dir, `labels-${descr.slice(1)}.npy`);
      intNpy(path, descr, [5, 4, 3, 2, 1, 0, 1, 2, 3, 4]);
      const ds = await NpyDataset.open(clips, path, small);
      expect((await ds.read(0)).label).toBe(5);
      expect((await ds.read(9)).label).toBe(4);
      await ds.close();
    }
  });

  it('checks clip shape, counts, dtypes and label range against the model up front', async () => {
    const wrongShape = await diagnostic(openData(`npy:${clips},${labels}`, { ...small, frames: 8 }));
    expect(wrongShape.code).toBe('PST603');
    expect(wrongShape.message).toContain('3×4×8×8');
    expect(wrongShape.message).toContain('3×8×8×8');

    const outOfRange = join(dir, 'labels-range.npy');
    intNpy(outOfRange, '<i8', [0, 1, 2, 3, 4, 5, 6, 1, 2, 3]);
    const range = await diagnostic(openData(`npy:${clips},${outOfRange}`, small));
    expect(range.code).toBe('PST604');
    expect(range.flag).toBe(outOfRange);
    expect(range.message).toContain('label 6 of clip 6');

    const negative = join(dir, 'labels-negative.npy');
    intNpy(negative, '<i4', [0, -1, 2, 3, 4, 5, 0, 1, 2, 3]);
    expect((await diagnostic(openData(`npy:${clips},${negative}`, small))).code).toBe('PST604');

    const short = join(dir, 'labels-short.npy');
    intNpy(short, '<i8', [0, 1, 2]);
    const count = await diagnostic(openData(`npy:${clips},${short}`, small));
    expect(count.code).toBe('PST605');
    expect(count.message).toContain('10 clips but');

    const floats = join(dir, 'labels-float.npy');
    writeFileSync(floats, writeNpy([10], new Float32Array(10)));
    const dtype = await diagnostic(openData(`npy:${clips},${floats}`, small));
    expect(dtype.code).toBe('PST605');
    expect(dtype.hint).toContain('astype(np.int64)');

    const fourD = join(dir, 'clips-4d.npy');
    writeFileSync(fourD, writeNpy([10, 3, 4, 64], new Float32Array(10 * 3 * 4 * 64)));
    expect((await diagnostic(openData(`npy:${fourD},${labels}`, small))).code).toBe('PST603');

    const missing = await diagnostic(openData(`npy:${join(dir, 'nope.npy')},${labels}`, small));
    expect(missing.code).toBe('PST602');
    expect(missing.message).toContain('no such file');

    const truncated = join(dir, 'clips-truncated.npy');
    writeFileSync(truncated, readFileSync(clips).subarray(0, 2000));
    const cut = await diagnostic(openData(`npy:${truncated},${labels}`, small));
    expect(cut.code).toBe('PST602');
    expect(cut.message).toContain('truncated');

    const garbage = join(dir, 'garbage.npy');
    writeFileSync(garbage, 'hello');
    expect((await diagnostic(openData(`npy:${garbage},${labels}`, small))).code).toBe('PST602');
  });
});

describe('Loader', () => {
  const ds = new MotionDataset(resolveMotionOptions({ train: 10, val: 4, classes: 6 }, small), 'train');

  async function take(gen: AsyncGenerator<Batch>, n: number): Promise<Batch[]> {
    const out: Batch[] = [];
    for await (const b of gen) {
      out.push(b);
      if (out.length === n) break;
    }
    return out;
  }

  it('reads in file order without shuffle, keeping or dropping the last partial batch', async () => {
    const keep = new Loader(ds, { batchSize: 4 });
    expect(keep.batchesPerEpoch).toBe(3);
    const batches = await take(keep.epoch(0), 10);
    expect(batches.map((b) => Array.from(b.indices))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(batches[2]!.clips.length).toBe(2 * 3 * 4 * 8 * 8);
    const second = await ds.read(5);
    expect(batches[1]!.labels[1]).toBe(second.label);
    expect(Buffer.from(batches[1]!.clips.buffer, 1 * 768 * 4, 768 * 4).equals(Buffer.from(second.clip.buffer))).toBe(true);
    const drop = new Loader(ds, { batchSize: 4, dropLast: true });
    expect(drop.batchesPerEpoch).toBe(2);
    expect((await take(drop.epoch(0), 10)).length).toBe(2);
  });

  it('shuffles as a pure function of (seed, epoch)', () => {
    const a = new Loader(ds, { batchSize: 3, shuffle: true, seed: 7 });
    const b = new Loader(ds, { batchSize: 3, shuffle: true, seed: 7 });
    const c = new Loader(ds, { batchSize: 3, shuffle: true, seed: 8 });
    expect(Array.from(a.order(0))).toEqual(Array.from(b.order(0)));
    expect(Array.from(a.order(3))).toEqual(Array.from(b.order(3)));
    expect(Array.from(a.order(0))).not.toEqual(Array.from(a.order(1)));
    expect(Array.from(a.order(0))).not.toEqual(Array.from(c.order(0)));
    expect(Array.from(a.order(2)).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('resumes at any (epoch, batch): the same batches as an uninterrupted run from there on', async () => {
    const loader = new Loader(ds, { batchSize: 3, shuffle: true, seed: 1, dropLast: true });
    const whole = await take(loader.from(), 9); // 3 per epoch: epochs 0, 1, 2
    let position = { epoch: 0, batch: 0 };
    for (let i = 0; i < 4; i++) position = loader.next(position);
    expect(position).toEqual({ epoch: 1, batch: 1 });
    const resumed = await take(new Loader(ds, { batchSize: 3, shuffle: true, seed: 1, dropLast: true }).from(position), 5);
    resumed.forEach((b, k) => {
      const original = whole[4 + k]!;
      expect([b.epoch, b.batch]).toEqual([original.epoch, original.batch]);
      expect(Array.from(b.indices)).toEqual(Array.from(original.indices));
      expect(Array.from(b.labels)).toEqual(Array.from(original.labels));
      expect(Buffer.from(b.clips.buffer).equals(Buffer.from(original.clips.buffer))).toBe(true);
    });
  });

  it('refuses a batch size larger than a dropped-last epoch', async () => {
    const loader = new Loader(ds, { batchSize: 11, dropLast: true });
    await expect(take(loader.from(), 1)).rejects.toThrow(/fewer than one batch/);
    expect(() => new Loader(ds, { batchSize: 0 })).toThrow(RangeError);
  });
});
