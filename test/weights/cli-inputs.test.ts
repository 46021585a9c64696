// What `pstc run` says about hostile --input and --weights files: one line naming the flag, before
// any device work — a NaN clip, a clip of the wrong rank, /dev/zero as weights.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/weights/npy.js';
import { runCli as run } from '../cli/run-cli.js';

const MODEL = 'models/tiny/pst-tiny.pst';
const dir = mkdtempSync(join(tmpdir(), 'pstc-cli-inputs-'));

function clip(name: string, shape: number[], fill: (i: number) => number): string {
  const path = join(dir, name);
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => fill(i));
  writeFileSync(path, writeNpy(shape, data));
  return path;
}

describe('pstc run refuses hostile inputs before running', () => {
  it('a clip with NaN or infinite values: names --input and counts them', async () => {
    const path = clip('nan.npy', [1, 3, 8, 32, 32], (i) => (i === 5 ? NaN : i === 9 ? -Infinity : 0.5));
    const r = await run(['run', MODEL, '--random-weights', '1', '--input', path, '--out', join(dir, 'o.npy')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--input');
    expect(r.stderr).toContain('holds 1 NaN and 1 infinite values among 24576');
  });

  it('a 0-d clip says so instead of "has shape ;"', async () => {
    const r = await run(['run', MODEL, '--random-weights', '1', '--input', clip('scalar.npy', [], () => 1), '--out', join(dir, 'o.npy')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has shape () (a scalar); expected a clip');
  });

  it('/dev/zero as --weights or --input: not a regular file, at once', async () => {
    const w = await run(['run', MODEL, '--weights', '/dev/zero', '--random-input', '1', '--out', join(dir, 'o.npy')]);
    expect(w.code).toBe(1);
    expect(w.stderr).toContain('--weights: error PST404');
    expect(w.stderr).toContain('not a regular file');
    const i = await run(['run', MODEL, '--random-weights', '1', '--input', '/dev/zero', '--out', join(dir, 'o.npy')]);
    expect(i.code).toBe(2);
    expect(i.stderr).toMatch(/--input: .*not a regular file/);
  });
});
