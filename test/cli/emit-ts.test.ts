// `pstc emit-ts`: the generated module type-checks against the library (the package `pstc`
// mapped to src/index.ts), carries the model's shapes and doc comments, and a wrong weight name in
// a program that uses it is a type error.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Project, ts } from 'ts-morph';
import { describe, expect, it } from 'vitest';
import { modelDocComments, pascalCase } from '../../src/explore/emit-ts.js';
import { loadModel } from '../../src/lang/elaborate.js';
import { readFromDisk } from '../../src/lang/read-disk.js';
import { runCli as run } from './run-cli.js';

const root = resolve('.');
const dir = mkdtempSync(join(tmpdir(), 'pstc-emit-ts-'));
const out = join(dir, 'model.ts');

/**
 * Type-check `files` as a program of their own that imports `pstc`; returns each file's errors.
 * Only these files are checked (the library is read for its types, not checked again).
 */
function typeCheck(files: string[]): Map<string, string[]> {
  const project = new Project({
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      lib: ['lib.es2023.d.ts'],
      paths: { pstc: [join(root, 'src/index.ts')] },
    },
  });
  // The library's own ambient types (Node, WebGPU), as its tsconfig names them.
  project.addSourceFileAtPath(join(root, 'node_modules/@types/node/index.d.ts'));
  project.addSourceFileAtPath(join(root, 'node_modules/@webgpu/types/dist/index.d.ts'));
  for (const f of files) project.addSourceFileAtPath(f);
  project.resolveSourceFileDependencies();
  const result = new Map<string, string[]>();
  for (const f of files) {
    const diagnostics = project.getSourceFileOrThrow(f).getPreEmitDiagnostics();
    result.set(
      f,
      diagnostics.map((d) => {
        const text = d.getMessageText();
        return `${d.getLineNumber()}: ${typeof text === 'string' ? text : text.getMessageText()}`;
      }),
    );
  }
  return result;
}

describe('pstc emit-ts', () => {
  it('generates a module that type-checks against the library, and rejects a wrong weight name', async () => {
    const r = await run(['emit-ts', 'models/tiny/pst-tiny.pst', '--out', out, '--batch', '2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain("from 'pstc'");
    expect(text).toContain('export const INPUT_SHAPE = [2, 3, 8, 32, 32] as const;');
    expect(text).toContain('export const FEATURES_SHAPE = [2, 32, 4, 4, 4] as const;');
    expect(text).toContain('export const LOGITS_SHAPE = [2, 10] as const;');
    expect(text).toMatch(/export type WeightName =\s+\| 'patch_embed\.proj\.weight'/);
    expect(text).toContain("'layers.0.blocks.1.attn.relative_position_bias_table': [775, 2],");
    expect(text).toContain('export class PstTTiny');
    expect(text).toContain('PST-T shrunk to run in seconds on a CPU'); // the .pst's comment
    expect(text).toContain('stage 1: depth 2, heads 2, dim 16');

    const good = join(dir, 'use-good.ts');
    writeFileSync(
      good,
      [
        "import { PstTTiny, WEIGHT_SHAPES, INPUT_SHAPE, type WeightName, type Weights } from './model.js';",
        "const name: WeightName = 'norm.weight';",
        'const shape: readonly number[] = WEIGHT_SHAPES[name];',
        'const weights: Weights = new Map([[name, { shape, data: new Float32Array(32) }]]);',
        'export async function use(): Promise<number> {',
        '  const model = await PstTTiny.create(weights);',
        '  const { features } = await model.forward(new Float32Array(INPUT_SHAPE.reduce((a, b) => a * b, 1)));',
        '  model.destroy();',
        '  return features.length;',
        '}',
      ].join('\n'),
    );
    const bad = join(dir, 'use-bad.ts');
    writeFileSync(bad, "import type { WeightName } from './model.js';\nexport const name: WeightName = 'patch_embed.proj.weigth';\n");

    const errors = typeCheck([out, good, bad]);
    expect(errors.get(out)).toEqual([]);
    expect(errors.get(good)).toEqual([]);
    expect(errors.get(bad)).toHaveLength(1);
    expect(errors.get(bad)![0]).toMatch(/^2: Type '"patch_embed\.proj\.weigth"' is not assignable to type 'WeightName'/);
  }, 60_000);

  it('needs --out', async () => {
    const r = await run(['emit-ts', 'models/tiny/pst-tiny.pst']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--out');
  });
});

describe('emit-ts helpers', () => {
  it('makes class names from model and variant names', () => {
    expect(pascalCase('pst_t_tiny')).toBe('PstTTiny');
    expect(pascalCase('ratio[patch_shift.ratio=0.25]')).toBe('RatioPatchShiftRatio025');
    expect(pascalCase('3d')).toBe('Model3d');
  });

  it('takes the comment block right above a model, else the file header', () => {
    const { model } = loadModel('models/tiny/pst-tiny.pst', undefined, readFromDisk);
    const file = model.span!.file;
    const text = readFileSync(file, 'utf8');
    const above = text.replace('model pst_t_tiny {', '// The tiny one.\n// Two lines.\nmodel pst_t_tiny {');
    const shifted = { ...model, span: { ...model.span!, startLine: model.span!.startLine + 2 } };
    expect(modelDocComments(shifted, () => above)).toEqual(['The tiny one.', 'Two lines.']);
    expect(modelDocComments(model)[0]).toMatch(/^models\/tiny\/pst-tiny\.pst — PST-T shrunk/);
  });
});
