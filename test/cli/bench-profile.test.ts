// `pstc bench --profile`: every kernel of the plan timed once per dispatch, grouped by kind and
// block with sums that add up, FLOPs from the planned shapes, the adapter's peak measured once
// and cached (reused, and measured again when the cache is corrupt). No wall-clock time is
// asserted: only that times exist and add up.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelStyleFor, openDevice, type PstcDevice } from '../../backends/webgpu/device.js';
import { measurePeak } from '../../backends/webgpu/peak.js';
import { planModel } from '../../backends/webgpu/plan.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { cachedPeak, peakCacheKey, peakCachePath } from '../../src/cli/peak-cache.js';
import { renderBench } from '../../src/cli/commands/bench.js';
import { runCli as run } from './run-cli.js';

const MODEL = 'models/tiny/pst-tiny.pst';
let cacheHome: string;
const savedCacheHome = process.env.XDG_CACHE_HOME;

beforeAll(() => {
  cacheHome = mkdtempSync(join(tmpdir(), 'pstc-profile-'));
  process.env.XDG_CACHE_HOME = cacheHome;
});
afterAll(() => {
  if (savedCacheHome === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedCacheHome;
  rmSync(cacheHome, { recursive: true, force: true });
});

interface Group {
  name: string;
  kernels: number;
  ms: number;
  share: number;
  flops: number;
  bytes: number;
}

function expectGroupsSum(profile: { kernels: { ms: number; flops: number }[]; families: Group[]; blocks: Group[]; kernelSumMs: number }) {
  const kernelSum = profile.kernels.reduce((s, k) => s + k.ms, 0);
  expect(profile.kernelSumMs).toBeCloseTo(kernelSum, 9);
  for (const groups of [profile.families, profile.blocks]) {
    expect(groups.reduce((s, g) => s + g.ms, 0)).toBeCloseTo(kernelSum, 9);
    expect(groups.reduce((s, g) => s + g.kernels, 0)).toBe(profile.kernels.length);
    expect(groups.reduce((s, g) => s + g.flops, 0)).toBe(profile.kernels.reduce((s, k) => s + k.flops, 0));
    expect(groups.reduce((s, g) => s + g.share, 0)).toBeCloseTo(1, 9);
  }
}

describe('pstc bench --profile', () => {
  it('times every planned kernel once per dispatch, by kind and block, with FLOPs from the planned shapes (JSON)', async () => {
    const r = await run(['bench', MODEL, '--backend', 'webgpu', '--warmup', '0', '--iters', '2', '--profile', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout).results[0];
    const p = res.profile;
    expect(['timestamp-query', 'submission']).toContain(p.method);
    expect(p.runs).toBe(2);
    expect(p.wholePassMs).toBe(res.latencyMs.median);
    expect(p.peak.flopsPerSecond).toBeGreaterThan(0);
    expect(p.peak.bytesPerSecond).toBeGreaterThan(0);
    expect(p.peak.path).toBe(join(cacheHome, 'pstc', 'peak.json'));

    const { model } = loadModel(MODEL, undefined, readFromDisk);
    // Planned in the kernel style bench chose for its adapter (the fusions depend on it).
    const plan = planModel(model, { batch: 1, frames: 8, size: 32 }, { style: kernelStyleFor(JSON.parse(r.stdout).adapter, process.env.PSTC_KERNELS) });
    expect(p.kernels.map((k: { label: string }) => k.label).sort()).toEqual(plan.steps.map((s) => s.kernel.label).sort());
    expect(p.kernels.reduce((s: number, k: { dispatches: number }) => s + k.dispatches, 0)).toBe(res.dispatchesPerForward);
    for (const k of p.kernels) {
      expect(Object.keys(k).sort()).toEqual(
        ['block', 'bytes', 'dispatches', 'family', 'flops', 'gbytesPerSecond', 'gflopsPerSecond', 'label', 'ms', 'peakBandwidthFraction', 'peakFlopsFraction', 'share'].sort(),
      );
      expect(k.ms).toBeGreaterThanOrEqual(0);
      expect(k.bytes).toBeGreaterThan(0);
    }
    // Sorted by time, longest first.
    for (let i = 1; i < p.kernels.length; i++) expect(p.kernels[i - 1].ms).toBeGreaterThanOrEqual(p.kernels[i].ms);
    for (const s of plan.steps) {
      if (s.fused.kind !== 'gemm') continue;
      const k = p.kernels.find((x: { label: string }) => x.label === s.kernel.label);
      expect(k.flops).toBe(2 * s.fused.M * s.fused.N * s.fused.K);
      expect(k.family).toBe('GEMM');
    }
    expect(new Set(p.families.map((g: Group) => g.name))).toEqual(new Set(['GEMM', 'attention', 'LayerNorm', 'reduce', 'gather/copy']));
    expectGroupsSum(p);
  }, 300_000);

  it('one submission per kernel on request, said in the table beside both totals', async () => {
    const r = await run(['bench', MODEL, '--backend', 'webgpu', '--warmup', '0', '--iters', '1', '--profile', '--profile-method', 'submission', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.results[0].profile.method).toBe('submission');
    expectGroupsSum(report.results[0].profile);
    const text = renderBench(report);
    expect(text).toContain('one submission per kernel');
    expect(text).toMatch(/sum of kernel times [\d.]+ ms; whole pass [\d.]+ ms \(median\) — the sum is expected larger/);
    expect(text).toMatch(/^kernel\s+kind\s+block\s+ms\s+time\s+GFLOP\/s\s+of peak\s+GB\/s\s+of peak$/m);
    expect(text).toMatch(/^GEMM\s+\d+\s+[\d.]+\s+[\d.]+%/m);
    expect(text).toMatch(/^stage 1 block 0\s+\d+/m);
  }, 300_000);

  it('--train --profile times the step: the graph kernels, the metrics and the optimizer', async () => {
    // --train and --profile pick WebGPU without --backend.
    const r = await run(['bench', MODEL, '--train', '--warmup', '0', '--iters', '1', '--profile', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout).results[0];
    const p = res.profile;
    expect(p.kernels.reduce((s: number, k: { dispatches: number }) => s + k.dispatches, 0)).toBe(res.dispatchesPerForward);
    const families = new Set(p.families.map((g: Group) => g.name));
    for (const f of ['GEMM', 'attention', 'LayerNorm', 'optimizer', 'loss']) expect(families).toContain(f);
    expect(p.kernels.some((k: { label: string; block: string }) => k.label.startsWith('adamw layers.0.blocks.1.') && k.block === 'stage 1 block 1')).toBe(true);
    expectGroupsSum(p);
  }, 300_000);

  it('--profile-method needs --profile, and names the methods', async () => {
    expect((await run(['bench', MODEL, '--profile-method', 'submission'])).code).toBe(2);
    const bad = await run(['bench', MODEL, '--profile', '--profile-method', 'stopwatch']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('timestamp-query or submission');
  });
});

describe('the peak cache', () => {
  let device: PstcDevice;
  let dir: string;
  beforeAll(async () => {
    device = await openDevice();
    dir = mkdtempSync(join(tmpdir(), 'pstc-peak-'));
  });
  afterAll(() => {
    device.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lives under $XDG_CACHE_HOME/pstc, else ~/.cache/pstc', () => {
    expect(peakCachePath({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/pstc/peak.json');
    expect(peakCachePath({ XDG_CACHE_HOME: 'relative' })).toMatch(/\/\.cache\/pstc\/peak\.json$/);
    expect(peakCachePath({})).toMatch(/\/\.cache\/pstc\/peak\.json$/);
  });

  it('is measured and written once, then reused; a corrupt file is measured again and rewritten', { timeout: 300_000 }, async () => {
    const path = join(dir, 'nested', 'peak.json');
    let measured = 0;
    const measure = (d: PstcDevice) => {
      measured++;
      return measurePeak(d);
    };
    const quiet = () => 0.1;
    const first = await cachedPeak(device, path, measure, quiet);
    expect(first.source).toBe('measured');
    expect(first.peak.load).toBe(0.1);
    expect(measured).toBe(1);
    const onDisk = JSON.parse(readFileSync(path, 'utf8'));
    expect(onDisk.entries[peakCacheKey(device)]).toEqual(first.peak);

    const second = await cachedPeak(device, path, measure, quiet);
    expect(second.source).toBe('cached');
    expect(second.peak).toEqual(first.peak);
    expect(measured).toBe(1);

    for (const corrupt of ['{"entries": {', JSON.stringify({ entries: { [peakCacheKey(device)]: { flopsPerSecond: -1 } } })]) {
      writeFileSync(path, corrupt);
      const again = await cachedPeak(device, path, measure, quiet);
      expect(again.source).toBe('measured');
      expect(JSON.parse(readFileSync(path, 'utf8')).entries[peakCacheKey(device)]).toEqual(again.peak);
    }
    expect(measured).toBe(3);
  });

  it('a peak measured on a busy machine is measured again once it is quieter, keeping the better figures', async () => {
    const path = join(dir, 'busy', 'peak.json');
    const figures = [
      { flopsPerSecond: 5e9, bytesPerSecond: 3e9, method: 'timestamp-query' as const },
      { flopsPerSecond: 17e9, bytesPerSecond: 2e9, method: 'timestamp-query' as const },
    ];
    let measured = 0;
    const measure = async () => figures[measured++]!;
    const busy = await cachedPeak(device, path, measure, () => 2.3);
    expect(busy.peak).toMatchObject({ flopsPerSecond: 5e9, bytesPerSecond: 3e9, load: 2.3 });
    // Still busy (or not quieter by half): the cached figure stands.
    expect((await cachedPeak(device, path, measure, () => 1.5)).source).toBe('cached');
    expect(measured).toBe(1);
    const quieter = await cachedPeak(device, path, measure, () => 0.2);
    expect(quieter.source).toBe('measured');
    expect(quieter.peak).toMatchObject({ flopsPerSecond: 17e9, bytesPerSecond: 3e9, load: 0.2 });
    expect(JSON.parse(readFileSync(path, 'utf8')).entries[peakCacheKey(device)]).toEqual(quieter.peak);
    // Measured at a quiet time: kept from then on, whatever the load.
    expect((await cachedPeak(device, path, measure, () => 0)).source).toBe('cached');
    expect(measured).toBe(2);
  });

  it('an unwritable cache leaves the measurement in use and says why', { timeout: 120_000 }, async () => {
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'not a directory');
    const r = await cachedPeak(device, join(blocker, 'pstc', 'peak.json'));
    expect(r.source).toBe('unwritable');
    expect(r.note).toBeTruthy();
    expect(r.peak.flopsPerSecond).toBeGreaterThan(0);
  });
});
