// The real-looking motion-direction fixture (tools/fixtures/moving-objects.mjs): its frames move
// the way its labels say, it is written in mmaction's rawframes layout, and the rawframes reader
// takes it with the spec it prints.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs tool without type declarations
import { CLASSES, drawClip, writeMovingObjects } from '../../tools/fixtures/moving-objects.mjs';
import { openData } from '../../src/data/index.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { dataInputOf } from '../../src/data/index.js';

const draw = drawClip as (seed: number, split: string, index: number, label: number, frames: number, size: number) => Buffer[];
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Sum of squared differences between frame b and frame a moved by (dx, dy) (on a torus, grey levels). */
function shiftCost(a: Buffer, b: Buffer, size: number, dx: number, dy: number): number {
  const grey = (f: Buffer, x: number, y: number) => {
    const p = ((((y % size) + size) % size) * size + (((x % size) + size) % size)) * 3;
    return f[p]! + f[p + 1]! + f[p + 2]!;
  };
  let cost = 0;
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) cost += (grey(b, x, y) - grey(a, x - dx, y - dy)) ** 2;
  return cost;
}

describe('moving-objects fixture', () => {
  it('moves its objects the way the label says, a few pixels per frame', () => {
    const size = 64;
    const want: [number, number][] = [[1, 0], [-1, 0], [0, 1], [0, -1]];
    for (let index = 0; index < 8; index++) {
      const label = index % 4;
      const frames = draw(3, 'train', index, label, 4, size);
      const [wx, wy] = want[label]!;
      // Frame 1 is frame 0 moved the labelled way by 3–4.5 pixels (0.05–0.07 of 64 per frame):
      // moved that way it matches better than moved as far the opposite way or either way across
      // (the static background costs the same in every direction; the random-cell textures have
      // no direction of their own, so the axis across is as clear as the sign along).
      for (const d of [2, 3, 4]) {
        const along = shiftCost(frames[0]!, frames[1]!, size, d * wx, d * wy);
        expect(along).toBeLessThan(shiftCost(frames[0]!, frames[1]!, size, -d * wx, -d * wy));
        expect(along).toBeLessThan(shiftCost(frames[0]!, frames[1]!, size, d * wy, d * wx));
        expect(along).toBeLessThan(shiftCost(frames[0]!, frames[1]!, size, -d * wy, -d * wx));
      }
    }
  });

  it('is a pure function of (seed, split, index): same clip twice, other seeds differ', () => {
    expect(Buffer.concat(draw(1, 'val', 5, 2, 3, 24)).equals(Buffer.concat(draw(1, 'val', 5, 2, 3, 24)))).toBe(true);
    expect(Buffer.concat(draw(1, 'val', 5, 2, 3, 24)).equals(Buffer.concat(draw(2, 'val', 5, 2, 3, 24)))).toBe(false);
    expect(Buffer.concat(draw(1, 'val', 5, 2, 3, 24)).equals(Buffer.concat(draw(1, 'train', 5, 2, 3, 24)))).toBe(false);
  });

  it('writes rawframes folders and lists that pstc reads with the spec it returns', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pstc-moving-'));
    dirs.push(root);
    const out = join(root, 'set');
    const spec = (await writeMovingObjects(out, { train: 8, val: 4, frames: 10, size: 40, seed: 1 })) as string;
    expect(readFileSync(join(out, 'classes.txt'), 'utf8').trim().split('\n')).toEqual(CLASSES);
    const lines = readFileSync(join(out, 'train.txt'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(8);
    expect(lines[5]).toBe('train/clip_00005 10 1');
    expect(readdirSync(join(out, 'train', 'clip_00005')).sort()[0]).toBe('img_00001.jpg');
    expect(readdirSync(join(out, 'train', 'clip_00005'))).toHaveLength(10);
    const { model } = loadModel('models/tiny/pst-tiny.pst', undefined, readFromDisk);
    const data = await openData(spec, dataInputOf(model));
    expect(data.train.size).toBe(8);
    expect(data.val?.size).toBe(4);
    const sample = await data.train.read(6);
    expect(sample.label).toBe(2);
    expect(sample.clip.length).toBe(3 * 8 * 32 * 32);
    // A folder that is not empty is refused, and left as it was.
    const taken = join(root, 'taken');
    await writeMovingObjects(taken, { train: 1, val: 1, frames: 2, size: 8 });
    writeFileSync(join(taken, 'mine.txt'), 'keep');
    await expect(writeMovingObjects(taken, { train: 1, val: 1, frames: 2, size: 8 })).rejects.toThrow(/not empty/);
    expect(readFileSync(join(taken, 'mine.txt'), 'utf8')).toBe('keep');
  });
});
