// Issue 20's user, as they ran it (opt-in: PSTC_PST_T_BATCH=1; about 5–10 minutes on this 2-core
// machine): PST-T at the paper's input (32×224²), two clips, one SGD step, no --accumulate. Its
// first MLP activation takes 147 MiB at two clips, over lavapipe's 128 MiB storage binding, so
// the step runs as two micro-batches of one clip (said on stderr) instead of failing in Dawn.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { npyHeaderBytes, writeNpy } from '../../src/weights/index.js';
import { randomArray, rng } from '../webgpu/util.js';

const root = join(import.meta.dirname, '..', '..');

describe.skipIf(!process.env.PSTC_PST_T_BATCH)('PST-T --batch 2 at 224² (PSTC_PST_T_BATCH=1)', () => {
  it('trains one SGD step without --accumulate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pstc-pst-t-'));
    const shape = [2, 3, 32, 224, 224];
    writeFileSync(join(dir, 'clips.npy'), writeNpy(shape, randomArray(rng(1), shape.reduce((a, b) => a * b, 1))));
    const header = npyHeaderBytes('<i4', [2]);
    const labels = new Uint8Array(header.length + 8);
    labels.set(header);
    labels.set(new Uint8Array(Int32Array.of(3, 101).buffer), header.length);
    writeFileSync(join(dir, 'labels.npy'), labels);
    const out = join(dir, 'run');
    const start = performance.now();
    const run = spawnSync(
      process.execPath,
      [join(root, 'bin/pstc.js'), 'train', 'models/pst-t.pst', '--data', `npy:${join(dir, 'clips.npy')},${join(dir, 'labels.npy')}`, '--steps', '1', '--batch', '2', '--optimizer', 'sgd', '--lr', '0.01', '--no-shuffle', '--out', out],
      { cwd: root, encoding: 'utf8' },
    );
    console.log(`PST-T, batch 2 at 32×224², one SGD step: exit ${run.status} in ${((performance.now() - start) / 1000).toFixed(0)} s\n${run.stderr.split('\n').filter((l) => /micro-batch/.test(l)).join('\n')}`);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/2 micro-batches of 1/);
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
  }, 3600_000);
});
