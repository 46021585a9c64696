import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { loadLatestCheckpoint, saveCheckpoint, type TrainState } from '../../src/train/checkpoint.js';
import { readSafetensors } from '../../src/weights/safetensors.js';
import type { WeightMap } from '../../src/weights/tensor.js';

const weights = (v: number): WeightMap => new Map([['norm.weight', { shape: [3], data: Float32Array.of(v, v + 1, v + 2) }]]);
const state = (step: number): TrainState => ({ step, epoch: 0, batchInEpoch: step, seed: 7, settings: { lr: 0.1 } });

describe('checkpoints', () => {
  it('round-trip, latest pointer, keep the newest two', () => {
    const run = mkdtempSync(join(tmpdir(), 'pstc-ckpt-'));
    expect(loadLatestCheckpoint(run)).toBeNull();
    for (const step of [10, 20, 30]) saveCheckpoint(run, state(step), weights(step), new Map([['exp_avg.norm.weight', { shape: [3], data: new Float32Array(3).fill(step) }]]));
    const c = loadLatestCheckpoint(run)!;
    expect(c.state).toEqual(state(30));
    expect(Array.from(c.weights.get('norm.weight')!.data)).toEqual([30, 31, 32]);
    expect(c.optimizer.get('exp_avg.norm.weight')!.data[0]).toBe(30);
    expect(readdirSync(join(run, 'checkpoints')).sort()).toEqual(['step-00000020', 'step-00000030']);
    // The weights file alone is a plain safetensors with the official names.
    expect([...readSafetensors(readFileSync(join(c.dir, 'weights.safetensors'))).keys()]).toEqual(['norm.weight']);
  });

  it('a changed tensor file fails its checksum with a diagnostic', () => {
    const run = mkdtempSync(join(tmpdir(), 'pstc-ckpt-'));
    const dir = saveCheckpoint(run, state(1), weights(1), new Map());
    const path = join(dir, 'weights.safetensors');
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(path, bytes);
    expect(() => loadLatestCheckpoint(run)).toThrowError(DiagnosticError);
    try {
      loadLatestCheckpoint(run);
    } catch (e) {
      expect((e as DiagnosticError).diagnostics[0]!.message).toMatch(/checksum/);
    }
  });
});
