// `pstc train --recompute` as a user runs it: one AdamW step (drop_path and head dropout on, so
// the recomputed blocks must draw the forward's masks) ends with the same weights as the same
// step without it; the run's settings record the flag, so a resume must give it too.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { npyHeaderBytes, readSafetensors, writeNpy } from '../../src/weights/index.js';
import { runCli as run } from '../cli/run-cli.js';
import { REGULARISED } from '../passes/helpers.js';
import { freshSeed, maxNormRelativeError, randomArray, rng } from '../webgpu/util.js';

const MODEL = 'models/tiny/pst-tiny.pst';
// pst-tiny trains without regularisation by default: turn drop_path and head dropout on.
const REGULARISED_FLAGS = REGULARISED.flatMap((s) => ['--set', s]);
const dir = mkdtempSync(join(tmpdir(), 'pstc-recompute-'));

function npyData(n: number, seed: number): string {
  const shape = [n, 3, 8, 32, 32];
  const clipsPath = join(dir, 'clips.npy');
  const labelsPath = join(dir, 'labels.npy');
  writeFileSync(clipsPath, writeNpy(shape, randomArray(rng(seed), shape.reduce((a, b) => a * b, 1))));
  const header = npyHeaderBytes('<i4', [n]);
  const out = new Uint8Array(header.length + 4 * n);
  out.set(header);
  out.set(new Uint8Array(Int32Array.from({ length: n }, (_, i) => (3 * i) % 10).buffer), header.length);
  writeFileSync(labelsPath, out);
  return `npy:${clipsPath},${labelsPath}`;
}

describe('pstc train --recompute', () => {
  it('one step ends with the same weights as without; the flag is part of the run\'s settings', async () => {
    const seed = freshSeed() % 100000;
    const data = npyData(4, seed);
    const weights = async (extra: string[], name: string) => {
      const out = join(dir, name);
      const r = await run(['train', MODEL, '--data', data, '--steps', '1', '--batch', '4', '--lr', '0.01', '--seed', String(seed), '--no-shuffle', '--out', out, ...REGULARISED_FLAGS, ...extra]);
      expect(r.code, r.stderr).toBe(0);
      return { out, w: readSafetensors(readFileSync(join(out, 'checkpoints', 'step-00000001', 'weights.safetensors'))) };
    };
    const plain = await weights([], 'plain');
    const re = await weights(['--recompute'], 're');
    let identical = 0;
    let worst = 0;
    for (const [name, t] of plain.w) {
      const got = re.w.get(name)!.data;
      if (Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))) identical++;
      worst = Math.max(worst, maxNormRelativeError(got, t.data));
    }
    console.log(`one AdamW step with and without --recompute (seed ${seed}): ${identical}/${plain.w.size} tensors bit-identical, worst ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-6);
    expect(JSON.parse(readFileSync(join(re.out, 'settings.json'), 'utf8')).recompute).toBe(true);
    const resumed = await run(['train', MODEL, '--data', data, '--steps', '1', '--batch', '4', '--lr', '0.01', '--seed', String(seed), '--no-shuffle', '--out', plain.out, '--resume', '--recompute', ...REGULARISED_FLAGS]);
    expect(resumed.stderr).toMatch(/PST705.*recompute/);
  }, 600_000);
});
