// `pstc compile`: --emit wgsl writes one WGSL file per planned kernel and an index listing what
// each fuses and reads through, with at most the final output-layout kernel marked copy-only;
// --emit ir prints the program the declared pipeline makes, after its last pass or after --after.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planModel } from '../../backends/webgpu/plan.js';
import { kernelFileName } from '../../src/cli/commands/compile.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { compileProgram, PASS_NAMES } from '../../src/passes/pipeline.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { runCli as run } from './run-cli.js';

const MODEL = 'models/tiny/pst-tiny.pst';

describe('pstc compile --emit wgsl', () => {
  it('writes one file per kernel and an index; only the output-layout copy may be copy-only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pstc-compile-'));
    const r = await run(['compile', MODEL, '--emit', 'wgsl', '--out', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);

    const { model } = loadModel(MODEL, undefined, readFromDisk);
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
  it('prints what runs by default: the graph after commute, the kernels and the buffers', async () => {
    const r = await run(['compile', MODEL, '--emit', 'ir', '--frames', '4']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { model } = loadModel(MODEL, undefined, readFromDisk);
    const program = compileProgram(model, { ...model.input, frames: 4 });
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`// after plan-memory (passes run: ${PASS_NAMES.join(', ')})`);
    expect(lines.filter((l) => l.startsWith('%'))).toHaveLength(program.graph!.nodes.length);
    expect(lines.filter((l) => /^k\d+ = /.test(l))).toHaveLength(program.fused!.kernels.length);
    expect(lines.filter((l) => /^b\d+ = /.test(l))).toHaveLength(program.memory!.buffers.length);
    expect(r.stdout).toContain('%0 = input clip [1, 3, 4, 32, 32]');
    expect(r.stdout).toMatch(/view \S*\(commuted\)/);
  });

  it('--after PASS prints the program after that pass, views with their maps', async () => {
    const { model } = loadModel(MODEL, undefined, readFromDisk);
    const input = { ...model.input, frames: 4 };
    const nodes: Record<string, number> = {};
    for (const pass of ['lower', 'fold', 'commute'] as const) {
      const r = await run(['compile', MODEL, '--emit', 'ir', '--frames', '4', '--after', pass]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^// after ${pass} `));
      const graph = compileProgram(model, input, { until: pass }).graph!;
      expect(lines.filter((l) => l.startsWith('%'))).toHaveLength(graph.nodes.length);
      expect(lines.some((l) => /^k\d+ = /.test(l))).toBe(false);
      nodes[pass] = graph.nodes.length;
      const tps = lines.find((l) => /view \S*tps/.test(l));
      expect(tps).toMatch(/\{\[.*\] -> \[.*\]: \(.*\)/);
      expect(lines.some((l) => /window_attention\(heads=2, .*mask=\d+ windows\)/.test(l))).toBe(true);
    }
    // Folding removes the chains of views: fewer nodes than lowering made.
    expect(nodes.fold!).toBeLessThan(nodes.lower!);
    const fused = await run(['compile', MODEL, '--emit', 'ir', '--after', 'fuse']);
    expect(fused.stdout).toMatch(/^k0 = /m);
    expect(fused.stdout).not.toMatch(/^b0 = /m);
  });

  it('names the passes in --help, and a wrong --after is PST310 listing them', async () => {
    const help = await run(['compile', '--help']);
    for (const pass of PASS_NAMES) expect(help.stdout).toMatch(new RegExp(`^  ${pass} `, 'm'));
    const bad = await run(['compile', MODEL, '--emit', 'ir', '--after', 'folding']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('PST310');
    expect(bad.stderr).toContain('--after');
    expect(bad.stderr).toContain(PASS_NAMES.join(', '));
    const wgsl = await run(['compile', MODEL, '--emit', 'wgsl', '--out', tmpdir(), '--after', 'fold']);
    expect(wgsl.code).toBe(2);
    expect(wgsl.stderr).toContain('--after');
  });
});
