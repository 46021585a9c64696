// The sweep → runs expansion: variant × seed, equal networks folded into one run, invalid
// variants failed with their own diagnostics while the others run, what differs from the base,
// and keys that tell a finished run from a stale one. Pure: no device.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSweep, type Budget } from '../../src/explore/ablate/index.js';
import { configChanges, describeChanges, sameNetwork } from '../../src/explore/config-diff.js';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { planModel } from '../../backends/webgpu/runtime.js';

const tiny = resolve('models/tiny/pst-tiny.pst');
const budget: Budget = { steps: 0, batch: 1, timingIters: 1 };

function sweepFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pstc-plan-'));
  const file = join(dir, 'sweep.pst');
  writeFileSync(file, `import "${tiny}"\n${text}`);
  return file;
}

describe('planSweep', () => {
  it('makes one run per variant and seed, folding variants that resolve to the same network', () => {
    const file = sweepFile(`
sweep s from pst_t_tiny {
  variant c { }
  variant same { patch_shift = pattern_c }          // the base's own pattern, by name
  variant none { shifts = none  bias_frames = 1 }
}
sweep r from pst_t_tiny {
  axis patch_shift.ratio = [1/2, 1]                 // ratio 1 is the base again: folds into s.c
}`);
    const plan = planSweep(file, { seeds: [0, 1], budget });
    expect(plan.runs.map((r) => `${r.variant}/${r.seed}`)).toEqual([
      's.c/0', 's.c/1', 's.none/0', 's.none/1', 'r[patch_shift.ratio=1/2]/0', 'r[patch_shift.ratio=1/2]/1',
    ]);
    expect(plan.folded).toEqual([
      { variant: 's.same', runsAs: 's.c' },
      { variant: 'r[patch_shift.ratio=1]', runsAs: 's.c' },
    ]);
    expect(plan.runs[0]!.sameAs).toEqual(['s.same', 'r[patch_shift.ratio=1]']);
    expect(plan.runs.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5]);
    // Ids are file-safe, distinct, and the same when the sweep is planned again.
    expect(new Set(plan.runs.map((r) => r.id)).size).toBe(6);
    for (const r of plan.runs) expect(r.id).toMatch(/^[A-Za-z0-9._=-]+$/);
    expect(planSweep(file, { seeds: [0, 1], budget }).runs.map((r) => r.id)).toEqual(plan.runs.map((r) => r.id));
    expect(plan.runs[0]!.changes).toEqual([]);
    expect(describeChanges(plan.runs[4]!.changes)).toMatch(/^patch_shift: pattern_c \(3×3, reach 4, ratio 1,.*→ pattern_c \(3×3, reach 4, ratio 0.5/);
    expect(plan.runs[2]!.changes.map((c) => c.path)).toEqual(['bias_frames', 'shifts', 'patch_shift', 'channel_shift']);
  });

  it('changes a run\'s key, not its id, when the budget changes', () => {
    const file = sweepFile('sweep s from pst_t_tiny { variant c { } }');
    const a = planSweep(file, { seeds: [0], budget }).runs[0]!;
    const b = planSweep(file, { seeds: [0], budget: { ...budget, batch: 2 } }).runs[0]!;
    expect(b.id).toBe(a.id);
    expect(b.key).not.toBe(a.key);
  });

  it('fails a variant that does not check with its own diagnostic, and plans the others', () => {
    const file = sweepFile(`
sweep s from pst_t_tiny {
  variant ok { shifts = all(tps) }
  variant bad { window = (1, 2, 2) }                // pattern C's 3×3 grid does not fit
}`);
    const plan = planSweep(file, { seeds: [0], budget });
    expect(plan.runs.map((r) => r.variant)).toEqual(['s.ok']);
    expect(plan.invalid).toHaveLength(1);
    expect(plan.invalid[0]!.variant).toBe('s.bad');
    expect(plan.invalid[0]!.diagnostic).toMatch(/sweep\.pst:5:\d+: error PST252: pattern `pattern_c` has a 3×3 grid, larger than the 2×2 window/);
  });

  it('stops on an error that is not a variant\'s, and on a file without sweeps or an unknown --sweep', () => {
    const broken = sweepFile('model m extends pst_t_tiny { heads = 3 }\nsweep s from pst_t_tiny { variant c { } }');
    expect(() => planSweep(broken, { seeds: [0], budget })).toThrow(DiagnosticError);
    expect(() => planSweep(tiny, { seeds: [0], budget })).toThrow(/declares no sweep/);
    const file = sweepFile('sweep s from pst_t_tiny { variant c { } }');
    expect(() => planSweep(file, { seeds: [0], budget, sweeps: ['t'] })).toThrow(/has no sweep `t`/);
  });

  it('ships tiny sweeps that all plan: every variant of models/tiny/*ablation* checks', () => {
    for (const f of ['models/tiny/ablations-tiny.pst', 'models/tiny/temporal-ablation-tiny.pst', 'models/tiny/reach-ablation-tiny.pst', 'models/tiny/demo-ablation-tiny.pst']) {
      const plan = planSweep(f, { seeds: [0], budget });
      expect(plan.invalid, f).toEqual([]);
      expect(plan.runs.length, f).toBeGreaterThan(1);
      // …and compiles: the WebGPU plan (lowering, fusion, kernels, memory) of every variant.
      for (const r of plan.runs) expect(planModel(r.config, { ...r.config.input, batch: 1 }).kernels.length, r.variant).toBeGreaterThan(0);
    }
  });
});

describe('configChanges', () => {
  it('names settings as written, merging a change made alike in every stage', () => {
    const base = loadModel(tiny, undefined, readFromDisk).model;
    const swin = loadModel('models/tiny/swin2d-tiny.pst', undefined, readFromDisk).model;
    expect(sameNetwork(base, { ...base, name: 'other', span: undefined })).toBe(true);
    const changes = configChanges(base, swin);
    expect(changes.find((c) => c.path === 'shifts')).toEqual({ path: 'shifts', base: 'tcs tps', variant: 'none none' });
    expect(changes.find((c) => c.path === 'bias_frames')).toEqual({ path: 'bias_frames', base: '16', variant: '1' });
  });
});

describe('pstc ablate refuses before any work', () => {
  async function run(args: string[]) {
    const { main } = await import('../../src/cli/main.js');
    const { memoryIO } = await import('../../src/cli/io.js');
    const io = memoryIO();
    const code = await main(args, io);
    return { code, ...io };
  }

  it('an --out that is a file, or a folder of other files; a directory without a plan for --status/--report', async () => {
    const file = sweepFile('sweep s from pst_t_tiny { variant c { } }');
    const notDir = await run(['ablate', file, '--measure-only', '--out', file]);
    expect(notDir.code).toBe(2);
    expect(notDir.stderr).toContain('--out: cannot write');
    const full = await run(['ablate', file, '--measure-only', '--out', 'models']);
    expect(full.code).toBe(2);
    expect(full.stderr).toContain('is a folder with other files');
    const status = await run(['ablate', '--status', 'models']);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('PST803');
    const report = await run(['ablate', '--report', tmpdir()]);
    expect(report.stderr).toContain('PST803');
    const noFile = await run(['ablate', '--measure-only']);
    expect(noFile.code).toBe(2);
  });
});
