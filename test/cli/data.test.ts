// `pstc data export` and training on what it writes: the synthetic motion set written as PNG frame
// folders (lossless) trains, step for step, like the set itself; as JPEG, closely; MP4s evaluate
// like the set. Training reads through worker threads (--workers), so this is also the loader's
// end-to-end test.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli as run } from './run-cli.js';

const MODEL = 'models/tiny/pst-tiny.pst';
const SET = 'synthetic:motion,train=8,val=4,tile=1';
const dir = mkdtempSync(join(tmpdir(), 'pstc-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const specs = new Map<string, string>();

/** The spec of SET exported in a format (once per format). */
async function exported(format: string, image = 'jpg'): Promise<string> {
  const out = join(dir, `${format}-${image}`);
  if (!specs.has(out)) {
    const r = await run(['data', 'export', SET, '--for', MODEL, '--format', format, '--image', image, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    specs.set(out, r.stdout.trim());
  }
  return specs.get(out)!;
}

/** Per-step training losses of a short run on a spec. */
async function losses(spec: string, name: string, workers: string): Promise<number[]> {
  const out = join(dir, `run-${name}`);
  const r = await run(['train', MODEL, '--set', 'drop_path=0', '--data', spec, '--steps', '3', '--batch', '4', '--lr', '5e-3', '--log-every', '1', '--workers', workers, '--seed', '3', '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(join(out, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string; loss: number })
    .filter((l) => l.kind === 'train')
    .map((l) => l.loss);
}

describe('pstc data export', () => {
  it('writes frame folders with their lists and class names, and a spec that reads them back', async () => {
    const spec = await exported('rawframes', 'png');
    const out = join(dir, 'rawframes-png');
    expect(spec).toBe(`rawframes:${out}/train.txt,root=${out},val=${out}/val.txt,tmpl=img_{:05d}.png,mean=127.5:127.5:127.5,std=31.875:31.875:31.875,scale=32,area=1:1,aspect=1:1,flip=0,pairs=1`);
    expect(readFileSync(join(out, 'train.txt'), 'utf8').trim().split('\n')).toHaveLength(8);
    expect(readFileSync(join(out, 'val.txt'), 'utf8').split('\n')[0]).toBe('val/clip_00000 8 0');
    expect(readdirSync(join(out, 'train', 'clip_00003'))).toHaveLength(8);
    expect(readFileSync(join(out, 'classes.txt'), 'utf8').trim().split('\n')).toHaveLength(10);
    expect(readdirSync(dir).some((f) => f.includes('.partial-'))).toBe(false);
  });

  it('training on PNG frames gives the losses of training on the set itself; JPEG close', async () => {
    const direct = await losses(SET, 'direct', '0');
    const png = await losses(await exported('rawframes', 'png'), 'png', '2');
    const jpg = await losses(await exported('rawframes', 'jpg'), 'jpg', '1');
    expect(direct).toHaveLength(3);
    png.forEach((l, i) => expect(Math.abs(l - direct[i]!)).toBeLessThan(2e-3));
    jpg.forEach((l, i) => expect(Math.abs(l - direct[i]!)).toBeLessThan(1e-2));
  });

  it('MP4s evaluate like the set; npy export reads back as the same clips', async () => {
    const spec = await exported('videos');
    const weights = join(dir, 'run-direct', 'checkpoints', 'step-00000003', 'weights.safetensors');
    const evaluate = async (data: string) => {
      const r = await run(['eval', MODEL, '--weights', weights, '--data', data, '--batch', '4', '--workers', '1', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { loss: number; top1: number; pairAccuracy?: number };
    };
    const want = await evaluate(SET);
    const got = await evaluate(spec);
    expect(Math.abs(got.loss - want.loss)).toBeLessThan(2e-2);
    // pairs=1 (in the exported spec): the order-pair metric, as on the set itself.
    expect(want.pairAccuracy).toBeDefined();
    expect(got.pairAccuracy).toBe(want.pairAccuracy);
    const unpaired = await evaluate(spec.replace(',pairs=1', ''));
    expect(unpaired.pairAccuracy).toBeUndefined();
    const npy = await exported('npy');
    expect(npy).toBe(`npy:${dir}/npy-jpg/train_clips.npy,${dir}/npy-jpg/train_labels.npy`);
    expect(existsSync(join(dir, 'npy-jpg', 'val_clips.npy'))).toBe(true);
  });

  it('eval --skip-bad: a missing frame folder is skipped, not scored, and the result line says so', async () => {
    const spec = await exported('rawframes', 'png');
    const out = join(dir, 'rawframes-png');
    const list = join(dir, 'val-with-missing.txt');
    writeFileSync(list, `${readFileSync(join(out, 'val.txt'), 'utf8').trim()}\nval/no_such_clip 8 3\n`);
    const weights = join(dir, 'run-direct', 'checkpoints', 'step-00000003', 'weights.safetensors');
    const data = spec.replace(`val=${out}/val.txt`, `val=${list}`);
    const plain = await run(['eval', MODEL, '--weights', weights, '--data', data, '--batch', '4', '--skip-bad', '--backend', 'onnxruntime']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/\(4 samples, 1 skipped, 4 clips/);
    expect(plain.stderr).toContain('no_such_clip');
    const json = await run(['eval', MODEL, '--weights', weights, '--data', data, '--batch', '4', '--skip-bad', '--backend', 'onnxruntime', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout) as { samples: number; skipped: unknown[] };
    expect(r.samples).toBe(4);
    expect(r.skipped).toHaveLength(1);
  });

  it('mistakes: a pixel format of a set whose normalisation is unknown, a non-empty --out, a bad --format', async () => {
    const npy = await run(['data', 'export', `npy:${dir}/npy-jpg/train_clips.npy,${dir}/npy-jpg/train_labels.npy`, '--for', MODEL, '--format', 'videos', '--out', join(dir, 'x')]);
    expect(npy.code).toBe(2);
    expect(npy.stderr).toContain('--format npy');
    const full = await run(['data', 'export', SET, '--for', MODEL, '--out', join(dir, 'rawframes-png')]);
    expect(full.code).toBe(2);
    expect(full.stderr).toContain('give a new or empty folder');
    const format = await run(['data', 'export', SET, '--for', MODEL, '--format', 'gif', '--out', join(dir, 'y')]);
    expect(format.stderr).toContain('--format: rawframes, videos or npy');
  });
});
