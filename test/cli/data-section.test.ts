// `pstc train` and `pstc eval` read a model's data section when no --data is given: frame folders
// written here from the motion set, named by a .pst beside them with paths relative to it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOTION_MEAN, MOTION_STD, MotionDataset, openData, resolveMotionOptions, type DataInput } from '../../src/data/index.js';
import { writeRawframeFolders } from '../../src/data/fixtures.js';
import { IMAGENET_MEAN, IMAGENET_STD } from '../../src/data/video-dataset.js';
import { runCli as run } from './run-cli.js';

const root = join(import.meta.dirname, '..', '..');
const input: DataInput = { frames: 8, size: 32, channels: 3, classes: 10, temporalPatch: 2 };
const dir = mkdtempSync(join(tmpdir(), 'pstc-datasection-'));
const experiment = join(dir, 'exp.pst');

beforeAll(async () => {
  const motion = new MotionDataset(resolveMotionOptions({ train: 4, val: 2 }, input), 'train');
  await writeRawframeFolders(motion, join(dir, 'frames'), join(dir, 'train.txt'), { mean: MOTION_MEAN, std: MOTION_STD });
  // The first two lines again, as a validation list.
  writeFileSync(join(dir, 'val.txt'), readFileSync(join(dir, 'train.txt'), 'utf8').split('\n').slice(0, 2).join('\n') + '\n');
  writeFileSync(
    experiment,
    `import "${join(root, 'models/tiny/pst-tiny.pst')}"
model exp extends pst_t_tiny {
  data {
    format = rawframes
    train  = "train.txt"
    val    = "val.txt"
    root   = "frames"
    flip   = 0
  }
}
`,
  );
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a model\'s data section', () => {
  it('pstc train reads it without --data and records it as --data text; pstc eval reads its val list', async () => {
    const out = join(dir, 'run');
    const r = await run(['train', experiment, '--steps', '1', '--batch', '2', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const settings = JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8'));
    expect(settings.data).toBe(`rawframes:${dir}/train.txt,root=${dir}/frames,val=${dir}/val.txt,flip=0`);

    const weights = join(out, 'checkpoints', 'step-00000001', 'weights.safetensors');
    const e = await run(['eval', experiment, '--weights', weights, '--json']);
    expect(e.code, e.stderr).toBe(0);
    const result = JSON.parse(e.stdout);
    expect(result.data).toMatch(/val\.txt/);
    expect(result.samples).toBe(2);

    // --data replaces the section: the whole train list (4 clips) is read instead.
    const o = await run(['eval', experiment, '--weights', weights, '--json', '--data', `rawframes:${dir}/train.txt,root=${dir}/frames`]);
    expect(o.code, o.stderr).toBe(0);
    expect(JSON.parse(o.stdout).samples).toBe(4);
  }, 120_000);

  it('a section that names no train list is one clear line', async () => {
    const r = await run(['train', experiment, '--set', 'data.format=videos', '--set', 'data.train="missing.txt"', '--steps', '1', '--out', join(dir, 'bad')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/missing\.txt/);
    const none = await run(['train', join(root, 'models/tiny/pst-tiny.pst'), '--steps', '1', '--out', join(dir, 'none')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--data: missing, and pst_t_tiny has no data section/);
  });

  it('mean and std of the section normalise the clip', async () => {
    const plain = await openData(`rawframes:${dir}/val.txt,root=${dir}/frames,val=${dir}/val.txt`, input);
    const raw = await openData(`rawframes:${dir}/val.txt,root=${dir}/frames,val=${dir}/val.txt,mean=0:0:0,std=1:1:1`, input);
    const a = (await plain.val!.read(0)).clip;
    const b = (await raw.val!.read(0)).clip;
    const plane = 8 * 32 * 32;
    let worst = 0;
    for (let i = 0; i < a.length; i++) {
      const c = Math.floor(i / plane);
      worst = Math.max(worst, Math.abs(a[i]! * IMAGENET_STD[c]! + IMAGENET_MEAN[c]! - b[i]!));
    }
    expect(worst).toBeLessThan(1e-3);
    expect(Math.max(...b)).toBeGreaterThan(1);
  });
});
