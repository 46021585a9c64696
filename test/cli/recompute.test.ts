// The recompute flags on the commands: explain --train --recompute shows the plan with the copies
// and less memory, a budget turns recomputation on with a note or refuses with PST708,
// compile --emit ir --train --recompute --after recompute prints the copies, and the flags are
// refused where they mean nothing.
import { describe, expect, it } from 'vitest';
import { runCli as run } from './run-cli.js';

const MODEL = 'models/tiny/pst-tiny.pst';
const mib = (text: string, what: string): number => Number(new RegExp(`${what} ([\\d.]+) MiB`).exec(text)![1]);

describe('--recompute on the commands', () => {
  it('explain --train --recompute: recompute kernels counted, activations and total lower; a budget decides', async () => {
    const plain = await run(['explain', MODEL, '--batch', '8', '--train', '--json']);
    const re = await run(['explain', MODEL, '--batch', '8', '--train', '--recompute', '--json']);
    const a = JSON.parse(plain.stdout).training;
    const b = JSON.parse(re.stdout).training;
    expect([a.recompute, b.recompute]).toEqual([false, true]);
    expect(a.recomputeKernels).toBe(0);
    expect(b.recomputeKernels).toBeGreaterThan(0);
    expect(b.livePeakBytes).toBeLessThan(a.livePeakBytes);
    expect(b.activationBytes).toBeLessThan(a.activationBytes);
    expect(b.totalBytes).toBeLessThan(a.totalBytes);

    const text = await run(['explain', MODEL, '--batch', '8', '--train', '--recompute']);
    expect(text.stdout).toMatch(/activations recomputed per block/);
    expect(text.stdout).toMatch(/\d+ of those recompute a block's forward/);

    // Between the two totals: turned on, with a note; below both: PST708 naming the flag.
    const between = ((a.totalBytes + b.totalBytes) / 2 / 2 ** 20).toFixed(1);
    const fitted = await run(['explain', MODEL, '--batch', '8', '--train', '--memory-budget', `${between}MiB`]);
    expect(fitted.code).toBe(0);
    expect(fitted.stdout).toMatch(/note: the planned [\d.]+ MiB per step \(micro-batch 8\) exceeds --memory-budget [\d.]+ MiB: recomputing activations per block/);
    expect(mib(fitted.stdout, 'memory: activations')).toBeCloseTo(b.activationBytes / 2 ** 20, 1);
    const roomy = await run(['explain', MODEL, '--batch', '8', '--train', '--memory-budget', '1GiB']);
    expect(roomy.stdout).not.toMatch(/recomputed/);
    const tight = await run(['explain', MODEL, '--batch', '8', '--train', '--memory-budget', '1MiB']);
    expect(tight.code).not.toBe(0);
    expect(tight.stderr).toMatch(/--memory-budget: error PST708: .* even with activation recomputation per block/);
    expect(tight.stderr).toMatch(/--accumulate/);
  });

  it('compile --emit ir --train --recompute --after recompute prints the copies; without --recompute there are none', async () => {
    // drop_path on (pst-tiny trains without it): a recomputed block redraws its mask.
    const re = await run(['compile', MODEL, '--emit', 'ir', '--train', '--recompute', '--after', 'recompute', '--set', 'drop_path=0.1']);
    expect(re.code).toBe(0);
    expect(re.stdout).toMatch(/passes run: lower, autodiff, recompute/);
    expect(re.stdout).toMatch(/= layernorm\(eps=[\d.e-]+\) \[[\d, ]+\] 'layers\.0\.blocks\.0\.norm1\.recompute'/);
    expect(re.stdout).toMatch(/'layers\.0\.blocks\.1\.drop_path\.recompute'/);
    const plain = await run(['compile', MODEL, '--emit', 'ir', '--train', '--after', 'recompute']);
    expect(plain.stdout).toMatch(/'loss'/);
    expect(plain.stdout).not.toMatch(/\.recompute'/);
  });

  it('refuses the flags where they mean nothing, and a malformed budget', async () => {
    expect((await run(['explain', MODEL, '--recompute'])).stderr).toMatch(/--recompute: only with --train/);
    expect((await run(['bench', MODEL, '--memory-budget', '1GiB'])).stderr).toMatch(/--memory-budget: only with --train/);
    expect((await run(['compile', MODEL, '--emit', 'ir', '--recompute'])).stderr).toMatch(/--recompute: only with --train/);
    expect((await run(['compile', MODEL, '--emit', 'wgsl', '--out', '/tmp/x', '--train'])).stderr).toMatch(/--train: only with --emit ir/);
    expect((await run(['explain', MODEL, '--train', '--memory-budget', 'lots'])).stderr).toMatch(/--memory-budget: expected a size such as 512MiB or 16GiB, got `lots`/);
  });
});
