import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiagnosticError, type Diagnostic } from '../../src/lang/diagnostics.js';
import { initWeights } from '../../src/weights/init.js';
import { loadCheckpoint } from '../../src/weights/load.js';
import { weightSpecs } from '../../src/weights/names.js';
import { writeSafetensors } from '../../src/weights/safetensors.js';
import type { WeightMap } from '../../src/weights/tensor.js';
import { fixtureDir, manifest, sum } from './fixtures.js';
import { tinyPst } from './models.js';

const dir = mkdtempSync(join(tmpdir(), 'pstc-load-'));
let files = 0;
function saved(weights: WeightMap): string {
  const path = join(dir, `w${files++}.safetensors`);
  writeFileSync(path, writeSafetensors(weights));
  return path;
}

function diagnosticsOf(f: () => unknown): Diagnostic[] {
  try {
    f();
  } catch (e) {
    if (e instanceof DiagnosticError) return e.diagnostics;
    throw e;
  }
  throw new Error('expected a DiagnosticError');
}

describe('loadCheckpoint', () => {
  it('loads a PyTorch checkpoint ({state_dict}, backbone. prefix, index buffers) with PyTorch\'s values', () => {
    const model = tinyPst(5);
    const weights = loadCheckpoint(fixtureDir + 'tiny_pst.pth', model);
    expect([...weights.keys()]).toEqual(weightSpecs(model).map((w) => w.name));
    for (const p of manifest['tiny_pst.pth'].parameters) expect(sum(weights.get(p.name)!.data), p.name).toBeCloseTo(p.sum, 4);
  });

  it('ignores a checkpoint\'s head when the model has none', () => {
    const weights = loadCheckpoint(fixtureDir + 'tiny_pst.pth', tinyPst(null));
    expect(weights.has('cls_head.fc_cls.weight')).toBe(false);
    expect(weights.size).toBe(weightSpecs(tinyPst(null)).length);
  });

  it('accepts names with or without the backbone. prefix, and the head as cls_head.fc_cls.*', () => {
    const model = tinyPst(5);
    const renamed: WeightMap = new Map();
    for (const [name, t] of initWeights(model, 1)) renamed.set(name.startsWith('cls_head') || name.startsWith('layers') ? name : `backbone.${name}`, t);
    const weights = loadCheckpoint(saved(renamed), model);
    expect(weights.get('patch_embed.proj.weight')!.data).toEqual(renamed.get('backbone.patch_embed.proj.weight')!.data);
  });

  it('refuses at once with every missing name and wrong shape, as --weights diagnostics', () => {
    const model = tinyPst(null);
    const weights = initWeights(model, 1);
    weights.delete('layers.1.blocks.0.mlp.fc2.bias');
    weights.set('layers.0.blocks.1.attn.relative_position_bias_table', { shape: [169, 2], data: new Float32Array(338) });
    const ds = diagnosticsOf(() => loadCheckpoint(saved(weights), model));
    expect(ds.map((d) => d.code).sort()).toEqual(['PST401', 'PST403']);
    expect(ds.every((d) => d.flag === '--weights' && d.severity === 'error')).toBe(true);
    const text = ds.map((d) => d.message).join('\n');
    expect(text).toContain('`layers.1.blocks.0.mlp.fc2.bias` [16]');
    expect(text).toContain('`layers.0.blocks.1.attn.relative_position_bias_table` has shape [169, 2] in the checkpoint; the model needs [75, 2]');
  });

  it('names unexpected weights with a guess, and a missing head with a hint', () => {
    const weights = initWeights(tinyPst(null), 1);
    const fc1 = weights.get('layers.0.blocks.0.mlp.fc1.weight')!;
    weights.delete('layers.0.blocks.0.mlp.fc1.weight');
    weights.set('layers.0.blocks.0.mlp.fcl.weight', fc1);
    const ds = diagnosticsOf(() => loadCheckpoint(saved(weights), tinyPst(5)));
    const unexpected = ds.find((d) => d.code === 'PST402')!;
    expect(unexpected.message).toContain('`layers.0.blocks.0.mlp.fcl.weight` [16, 8]');
    expect(unexpected.hint).toContain('layers.0.blocks.0.mlp.fc1.weight');
    const missing = ds.filter((d) => d.code === 'PST401').map((d) => d.message);
    expect(missing).toHaveLength(3);
    expect(ds.find((d) => d.message.includes('cls_head.fc_cls.weight'))!.hint).toMatch(/no classification head/);
  });

  it('turns unreadable files into PST404, never a stack trace', () => {
    expect(diagnosticsOf(() => loadCheckpoint(join(dir, 'absent.pth'), tinyPst()))[0]).toMatchObject({ code: 'PST404', flag: '--weights' });
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, 'not a checkpoint at all');
    expect(diagnosticsOf(() => loadCheckpoint(junk, tinyPst()))[0]!.code).toBe('PST404');
  });
});
