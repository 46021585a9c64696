// bench/torch_baseline.py, the PyTorch baseline of `pstc bench`: it parses its arguments, prints
// usage, and its float32 model computes the golden function. torch is not a test dependency:
// where /usr/bin/python3 cannot import it, the tests are skipped and the reason printed.
import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';

const python = '/usr/bin/python3';
const script = 'bench/torch_baseline.py';

function run(args: string[]) {
  return spawnSync(python, [script, ...args], { encoding: 'utf8', timeout: 30_000 });
}

const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8', timeout: 30_000 });
const hasTorch = probe.status === 0;
if (!hasTorch) {
  const why = probe.error ? probe.error.message : probe.stderr.trim().split('\n').pop();
  console.warn(`test/bench/torch-baseline: skipped, ${python} cannot import torch (${why})`);
}

describe.skipIf(!hasTorch)('bench/torch_baseline.py', () => {
  test('--help prints the usage and exits 0', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--config', '--device', '--dtype', '--warmup', '--iters', '--threads', '--weights', '--json', '--check-golden']) {
      expect(r.stdout).toContain(flag);
    }
  });

  test('without --config or --check-golden it says what is missing', () => {
    const r = run(['--iters', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('one of --config or --check-golden is required');
  });

  test('in float32 it matches a golden case within the spec tolerance', () => {
    const ok = run(['--check-golden', 'test/golden/pst_tiny', '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout) as { cases: { case: string; featuresRelError: number; ok: boolean }[] };
    expect(report.cases).toHaveLength(1);
    expect(report.cases[0]!.case).toBe('pst_tiny');
    expect(report.cases[0]!.ok).toBe(true);
    // float32 rounding, not float64 (which would be ~6e-8, the goldens' own rounding)
    expect(report.cases[0]!.featuresRelError).toBeGreaterThan(1e-7);
    expect(report.cases[0]!.featuresRelError).toBeLessThan(1e-4);
  });
});
