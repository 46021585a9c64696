// `pstc compile`: --emit wgsl writes one WGSL file per planned kernel and an index listing what
// each fuses and reads through, with at most the final output-layout kernel marked copy-only;
// --emit ir prints the folded IR one node per line.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planModel } from '../../backends/webgpu/runtime.js';
import { kernelFileName } from '../../src/cli/commands/compile.js';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { foldViews } from '../../src/ir/fold.js';
import { lowerModel } from '../../src/ir/lower.js';
import { loadModel } from '../../src/lang/elaborate.js';

const MODEL = 'models/tiny/pst-tiny.pst';

async function run(args: string[]) {
  const io = memoryIO();
  const code = await main(args, io);
  return { code, ...io };
}

describe('pstc compile --emit wgsl', () => {
  it('writes one file per kernel and an index; only the output-layout copy may be copy-only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pstc-compile-'));
    const r = await run(['compile', MODEL, '--emit', 'wgsl', '--out', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    const { model } = loadModel(MODEL);
    const plan = planModel(model, model.input);
    const wgsl = readdirSync(dir).filter((f) => f.endsWith('.wgsl')).sort();
    expect(wgsl).toHaveLength(plan.kernels.length);
    plan.kernels.forEach((k, i) => {
      expect(wgsl[i]).toBe(kernelFileName(i, plan.kernels.length, k.label));
      expect(readFileSync(join(dir, wgsl[i]!), 'utf8').trim()).toBe(k.wgsl.trim());
    });

    const index = readFileSync(join(dir, 'index.md'), 'utf8');
    const rows = index.split('\n').filter((l) => /^\| \d+ \|/.test(l));
    expect(rows).toHaveLength(plan.kernels.length);
    rows.forEach((row, i) => expect(row).toContain(wgsl[i]!));
    // No kernel only moves data for a shift: the one copy allowed writes the features' final layout.
    const copyRows = rows.filter((row) => row.includes('**copy-only**'));
    expect(copyRows.length).toBeLessThanOrEqual(1);
    for (const row of copyRows) expect(row).toMatch(/output features \|/);
    // A patch-shift read is folded into some kernel's operand: listed under "reads through".
    expect(rows.some((row) => /tps/.test(row.split('|')[5]!))).toBe(true);
    expect(index).toContain(`dispatches per forward: ${plan.dispatchesPerForward}`);
  });

  it('needs --out and a known --emit', async () => {
    const noOut = await run(['compile', MODEL, '--emit', 'wgsl']);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain('--out');
    const bad = await run(['compile', MODEL, '--emit', 'spirv']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--emit');
  });
});

describe('pstc compile --emit ir', () => {
  it('prints the folded IR, one node per line, views with their maps', async () => {
    const r = await run(['compile', MODEL, '--emit', 'ir', '--frames', '4']);
    expect(r.code).toBe(0);
    const { model } = loadModel(MODEL);
    const graph = foldViews(lowerModel(model, { ...model.input, frames: 4 }));
    const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('%'));
    expect(lines).toHaveLength(graph.nodes.length);
    expect(r.stdout).toContain('%0 = input clip [1, 3, 4, 32, 32]');
    const tps = lines.find((l) => /view \S*tps/.test(l));
    expect(tps).toMatch(/\{\[.*\] -> \[.*\]: \(.*\)/);
    expect(lines.some((l) => /window_attention\(heads=2, .*mask=\d+ windows\)/.test(l))).toBe(true);
  });
});
