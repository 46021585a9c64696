// `--precision f16` on run and bench (backends/webgpu/precision.ts), the adapter's capabilities
// in bench and `explain --adapter`, and the flag's mistakes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpyFile } from '../../src/weights/index.js';
import { maxNormRelativeError } from '../../backends/reference/error.js';
import { runCli as run } from './run-cli.js';

const MODEL = 'models/tiny/pst-tiny.pst';
const dir = mkdtempSync(join(tmpdir(), 'pstc-precision-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--precision', () => {
  it('bench --precision f16 against an f32 baseline: half-float storage, its error against float64, the capabilities', async () => {
    const r = await run(['bench', MODEL, '--precision', 'f16', '--baseline', MODEL, '--baseline-precision', 'f32', '--warmup', '0', '--iters', '2', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const [f16, f32] = report.results;
    expect([f16.precision, f32.precision]).toEqual(['f16', 'f32']);
    expect(f16.errorAgainstFloat64.logits).toBeGreaterThan(0);
    expect(f16.errorAgainstFloat64.logits).toBeLessThanOrEqual(1e-2);
    expect(f16.errorAgainstFloat64.features).toBeLessThanOrEqual(1e-2);
    expect(f32.errorAgainstFloat64).toBeUndefined();
    expect(f16.plannedPeakBytes.weights).toBeLessThan(0.6 * f32.plannedPeakBytes.weights);
    const caps = report.adapter.capabilities;
    expect(caps).toMatchObject({ shaderF16: true, subgroupMatrix: expect.any(Boolean) });
    expect(Array.isArray(caps.subgroupMatrixConfigs)).toBe(true);
  }, 600_000);

  it('bench prints the precision, the error rows and the adapter capabilities in its table', async () => {
    const r = await run(['bench', MODEL, '--precision', 'f16', '--warmup', '0', '--iters', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/precision\s+f16 storage, f32 arithmetic/);
    expect(r.stdout).toMatch(/error vs float64: logits\s+\d\.\d\de-\d/);
    expect(r.stdout).toMatch(/shader-f16: offered/);
    expect(r.stdout).toMatch(/subgroup matrices \(chromium-experimental-subgroup-matrix\): (not )?offered; configurations: /);
  }, 600_000);

  it('run --precision f16 writes float32 logits close to the f32 run', async () => {
    const out = (p: string) => join(dir, `${p}.npy`);
    for (const p of ['f32', 'f16']) {
      // Both on WebGPU: f16 storage against the same kernels in f32 (f32 alone would default to ONNX Runtime on a software adapter).
      const r = await run(['run', MODEL, '--random-weights', '1', '--random-input', '2', '--out', out(p), '--precision', p, '--backend', 'webgpu']);
      expect(r.code, r.stderr).toBe(0);
    }
    const a = readNpyFile(out('f32'));
    const b = readNpyFile(out('f16'));
    expect(b.shape).toEqual(a.shape);
    const error = maxNormRelativeError(b.data, a.data);
    expect(error).toBeGreaterThan(0);
    expect(error).toBeLessThanOrEqual(1e-2);
  }, 600_000);

  it('refuses an unknown precision and f16 training steps, naming the flag', async () => {
    const bad = await run(['run', MODEL, '--random-weights', '1', '--random-input', '1', '--out', join(dir, 'x.npy'), '--precision', 'f64']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--precision: 'f64' is not a precision; use f32 or f16/);
    const train = await run(['bench', MODEL, '--train', '--precision', 'f16', '--iters', '1']);
    expect(train.code).toBe(2);
    expect(train.stderr).toMatch(/training steps run in f32/);
    const orphan = await run(['bench', MODEL, '--baseline-precision', 'f16']);
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toMatch(/--baseline-precision is for --baseline/);
  });
});

describe('explain --adapter', () => {
  it('adds the adapter and its capabilities to the report, as text and JSON', async () => {
    const text = await run(['explain', MODEL, '--adapter']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/\nAdapter: \S.*\n {2}shader-f16: (not )?offered/);
    const json = JSON.parse((await run(['explain', MODEL, '--adapter', '--json'])).stdout);
    expect(json.adapter.capabilities.subgroupMatrixConfigs).toEqual(expect.any(Array));
    const plain = JSON.parse((await run(['explain', MODEL, '--json'])).stdout);
    expect(plain.adapter).toBeUndefined();
  });
});
