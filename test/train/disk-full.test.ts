// A full disk while a checkpoint is written (ENOSPC): the write fails in the middle of the new
// checkpoint's temporary folder. The folder goes, the previous checkpoint stays whole and stays the
// run's latest, and the command says "disk full" (exit 1), not an internal error (exit 70);
// `--resume` after space is freed continues from the kept checkpoint. The failure is injected
// into node:fs's writeFileSync (the function checkpoint.ts and the atomic writer write with).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { loadLatestCheckpoint, saveCheckpoint, type TrainState } from '../../src/train/checkpoint.js';
import type { WeightMap } from '../../src/weights/tensor.js';
import { runCli as run } from '../cli/run-cli.js';

const disk = vi.hoisted(() => ({ full: undefined as ((path: string) => boolean) | undefined, refused: [] as string[] }));

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const writeFileSync = ((path: Parameters<typeof actual.writeFileSync>[0], ...rest: unknown[]) => {
    if (typeof path === 'string' && disk.full?.(path)) {
      disk.refused.push(path);
      // What Node throws when a write finds no space left.
      throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    }
    return (actual.writeFileSync as (...a: unknown[]) => void)(path, ...rest);
  }) as typeof actual.writeFileSync;
  return { ...actual, writeFileSync, default: { ...actual, writeFileSync } };
});

const dir = mkdtempSync(join(tmpdir(), 'pstc-disk-full-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  disk.full = undefined;
  disk.refused.length = 0;
});

const weights = (v: number): WeightMap => new Map([['norm.weight', { shape: [3], data: Float32Array.of(v, v + 1, v + 2) }]]);
const moments = (v: number): WeightMap => new Map([['exp_avg.norm.weight', { shape: [3], data: new Float32Array(3).fill(v) }]]);
const state = (step: number): TrainState => ({ step, epoch: 0, batchInEpoch: step, seed: 7, settings: { lr: 0.1 } });

/** A run folder's checkpoint entries, temporaries (`.step-….tmp`) included. */
const entries = (run: string) => readdirSync(join(run, 'checkpoints')).sort();
const latestStep = (run: string) => (JSON.parse(readFileSync(join(run, 'latest.json'), 'utf8')) as { step: number }).step;

describe('a full disk while a checkpoint is written', () => {
  it('saveCheckpoint: the half-written folder goes, the previous checkpoint stays whole and latest', () => {
    const run = join(dir, 'unit');
    saveCheckpoint(run, state(10), weights(10), moments(10));
    // The new checkpoint's weights are written; its optimizer file finds the disk full.
    disk.full = (path) => path.includes('.step-00000020.') && path.endsWith('optimizer.safetensors');
    let error: unknown;
    try {
      saveCheckpoint(run, state(20), weights(20), moments(20));
    } catch (e) {
      error = e;
    }
    expect(disk.refused).toHaveLength(1);
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(entries(run)).toEqual(['step-00000010']);
    expect(latestStep(run)).toBe(10);
    const kept = loadLatestCheckpoint(run)!; // checksums verified
    expect(kept.state).toEqual(state(10));
    expect(Array.from(kept.weights.get('norm.weight')!.data)).toEqual([10, 11, 12]);
    expect(kept.optimizer.get('exp_avg.norm.weight')!.data[0]).toBe(10);
    // With space again, the same step is written whole.
    disk.full = undefined;
    saveCheckpoint(run, state(20), weights(20), moments(20));
    expect(latestStep(run)).toBe(20);
  });

  it('the latest pointer finding the disk full leaves the previous pointer and no temporary', () => {
    const run = join(dir, 'pointer');
    saveCheckpoint(run, state(1), weights(1), moments(1));
    disk.full = (path) => path.startsWith(join(run, '.latest.json.'));
    expect(() => saveCheckpoint(run, state(2), weights(2), moments(2))).toThrow(/ENOSPC/);
    expect(disk.refused).toHaveLength(1);
    expect(latestStep(run)).toBe(1);
    expect(readdirSync(run).filter((e) => e.startsWith('.'))).toEqual([]);
    expect(loadLatestCheckpoint(run)!.state.step).toBe(1);
  });

  it('pstc train: "disk full", exit 1 (not 70), the last checkpoint kept; --resume continues from it', async () => {
    const out = join(dir, 'train');
    const args = ['train', 'models/tiny/pst-tiny.pst', '--data', 'synthetic:motion,train=8,val=4', '--steps', '2', '--batch', '4', '--checkpoint-every', '1', '--workers', '0', '--out', out];
    // Step 1's checkpoint is written; step 2's finds the disk full in the middle of its files.
    disk.full = (path) => path.includes(`${join(out, 'checkpoints', '.step-00000002.')}`) && path.endsWith('optimizer.safetensors');
    const full = await run(args);
    expect(disk.refused).toHaveLength(1);
    expect(full.code, full.stderr).toBe(1);
    expect(full.stderr).toContain('disk full (ENOSPC)');
    expect(full.stderr).not.toContain('internal error');
    expect(entries(out)).toEqual(['step-00000001']);
    expect(latestStep(out)).toBe(1);
    expect(loadLatestCheckpoint(out)!.state.step).toBe(1);
    expect(existsSync(join(out, 'summary.json'))).toBe(false);

    disk.full = undefined;
    const resumed = await run([...args, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(latestStep(out)).toBe(2);
    expect(entries(out)).toEqual(['step-00000001', 'step-00000002']);
  }, 300_000);
});
