// `pstc bench`: the JSON report carries every figure with sane values, the table prints, and
// --baseline times a second model in the same run and prints the ratio of medians. The tests of
// the kernels' figures (dispatches, memory, the plan) name --backend webgpu: on a software adapter
// the default is ONNX Runtime (test/cli/backend.test.ts).
import { describe, expect, it } from 'vitest';
import { spread } from '../../src/cli/commands/bench.js';
import { runCli as run } from './run-cli.js';

const MODEL = 'models/tiny/pst-tiny.pst';

describe('spread', () => {
  it('takes the median of odd and even counts, and the extremes', () => {
    expect(spread([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5 });
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4 });
  });
});

describe('pstc bench', () => {
  it('reports latency, throughput, dispatches, memory and the adapter as JSON', async () => {
    const r = await run(['bench', MODEL, '--backend', 'webgpu', '--warmup', '1', '--iters', '3', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.adapter.vendor.length + report.adapter.description.length).toBeGreaterThan(0);
    expect(report.iters).toBe(3);
    expect(report.ratio).toBeUndefined();
    const [res] = report.results;
    expect(res.model).toBe('pst_t_tiny');
    expect(res.input.shape).toEqual([1, 3, 8, 32, 32]);
    expect(res.latencyMs.samples).toHaveLength(3);
    expect(res.latencyMs.median).toBeGreaterThan(0);
    expect(res.latencyMs.min).toBeLessThanOrEqual(res.latencyMs.median);
    expect(res.latencyMs.max).toBeGreaterThanOrEqual(res.latencyMs.median);
    expect(res.clipsPerSecond).toBeCloseTo(1000 / res.latencyMs.median, 6);
    expect(res.dispatchesPerForward).toBeGreaterThan(0);
    expect(res.kernels).toBeGreaterThan(0);
    expect(res.microBatch).toBeGreaterThanOrEqual(1);
    expect(res.plannedPeakBytes.total).toBeGreaterThan(0);
    expect(res.measuredPeakBytes).toBeGreaterThan(0);
    // Building (emitting, compiling, uploading) is timed apart from the passes.
    expect(res.buildMs).toBeGreaterThan(0);
  });

  it('times a --baseline model alternately and prints the ratio of medians in its table', async () => {
    const r = await run(['bench', MODEL, '--backend', 'webgpu', '--baseline', 'models/tiny/swin2d-tiny.pst', '--warmup', '1', '--iters', '3', '--batch', '2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/latency median\s+[\d.]+ ms\s+[\d.]+ ms/);
    expect(r.stdout).toMatch(/input \(N C T H W\)\s+2×3×8×32×32\s+2×3×8×32×32/);
    expect(r.stdout).toMatch(/build \(pipelines, upload\)\s+[\d.]+ s\s+[\d.]+ s/);
    expect(r.stdout).toMatch(/ratio of medians pst_t_tiny \/ \S+: \d+\.\d{3} \(95 % interval \d+\.\d{3}–\d+\.\d{3} over 3 alternating pairs/);
    expect(r.stdout).toMatch(/adapter: \S/);
  });

  it('--data times the loader alone (worker threads) and prints it beside the device\'s clips/s', async () => {
    const r = await run(['bench', MODEL, '--data', 'synthetic:motion,train=16,val=2', '--workers', '2', '--batch', '2', '--warmup', '1', '--iters', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.loader).toMatchObject({ workers: 2, batch: 2, batches: 3 });
    expect(report.loader.data).toContain('synthetic:motion');
    expect(report.loader.clipsPerSecond).toBeCloseTo(6 / report.loader.seconds, 6);
    const text = await run(['bench', MODEL, '--train', '--data', 'synthetic:motion,train=16,val=2', '--workers', '0', '--batch', '2', '--warmup', '0', '--iters', '2']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/loader alone: [\d.]+ clips\/s \(synthetic:motion.*on the main thread, 2 batches of 2\); the training step: [\d.]+ clips\/s — (the loader keeps up|the device would wait)/);
  });

  it('names the flag of a bad count', async () => {
    const r = await run(['bench', MODEL, '--iters', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--iters');
  });

  it('--train times training steps: more dispatches than a forward, the same plan explain --train prints', async () => {
    const r = await run(['bench', MODEL, '--train', '--batch', '2', '--warmup', '0', '--iters', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.mode).toBe('train');
    const forward = JSON.parse((await run(['bench', MODEL, '--backend', 'webgpu', '--batch', '2', '--warmup', '0', '--iters', '1', '--json'])).stdout);
    expect(report.results[0].dispatchesPerForward).toBeGreaterThan(2 * forward.results[0].dispatchesPerForward);
    const explained = JSON.parse((await run(['explain', MODEL, '--train', '--batch', '2', '--json'])).stdout);
    expect(explained.training.dispatchesPerStep).toBe(report.results[0].dispatchesPerForward);
    expect(explained.training.totalBytes).toBe(report.results[0].plannedPeakBytes.total);
  }, 300_000);
});
