import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { runCli as run } from './run-cli.js';

describe('pstc explain', () => {
  it('prints the cost table, the pattern and the principle checks for PST-T', async () => {
    const r = await run(['explain', 'models/pst-t.pst']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('backbone parameters: 28,223,622');
    expect(r.stdout).toMatch(/stage 4\s+1×16×7×7×768/);
    expect(r.stdout).toContain('Pattern pattern_c (3×3 grid, reach ±4');
    expect(r.stdout).toMatch(/h0\s+d\+4 d-1 d-2 d\+4/);
    expect(r.stdout).toContain('Temporal receptive field');
    expect(r.stdout).toContain('even spread');
  });

  it('carries the same figures in --json', async () => {
    const text = await run(['explain', 'models/pst-t.pst', '--frames', '16']);
    const json = await run(['explain', 'models/pst-t.pst', '--frames', '16', '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.cost.total.backboneParams).toBe(28_223_622);
    expect(report.input.shape).toEqual([1, 3, 16, 224, 224]);
    const stage1 = report.cost.parts.find((p: { part: string }) => p.part === 'stage 1');
    expect(text.stdout).toContain(stage1.params.toLocaleString('en-US'));
    expect(report.patterns[0].picture.read[0][0]).toBe(4);
    expect(report.receptiveField).toHaveLength(4);
    // The WebGPU plan's device memory, known before anything runs.
    expect(report.devicePlan.plannedPeakBytes.total).toBe(
      report.devicePlan.plannedPeakBytes.activations + report.devicePlan.plannedPeakBytes.weights,
    );
    expect(report.devicePlan.kernels).toBeGreaterThan(0);
    expect(text.stdout).toMatch(/WebGPU plan .* planned device memory \d/);
  });

  it('writes the pattern as SVG and PNG', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pstc-explain-'));
    const svg = join(dir, 'p.svg');
    const png = join(dir, 'p.png');
    const r = await run(['explain', 'models/pst-t.pst', '--svg', svg, '--png', png]);
    expect(r.code).toBe(0);
    const svgText = readFileSync(svg, 'utf8');
    expect(svgText).toContain('<svg');
    expect((svgText.match(/<rect x=/g) ?? []).length).toBe(49);
    const image = PNG.sync.read(readFileSync(png));
    expect(image.width).toBe(7 * 56 + 1);
  });

  it('names the flag for a bad flag value and never prints a stack trace', async () => {
    const r = await run(['explain', 'models/pst-t.pst', '--frames', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--frames');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('rejects a clip longer than the bias table covers, naming the flag', async () => {
    const r = await run(['explain', 'models/pst-t.pst', '--frames', '64']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--frames/);
    expect(r.stderr).toMatch(/16/);
  });
});
