// Imports only point down the pipeline: grammar → src/lang → src/ir → src/passes → backends →
// src/weights, src/data, src/train, src/explore → src/cli and the library entry. A module may
// import its own layer or the ones before it, never a later one.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const LAYERS: [RegExp, string][] = [
  [/^grammar\//, 'grammar'],
  [/^src\/lang\//, 'src/lang'],
  [/^src\/ir\//, 'src/ir'],
  [/^src\/passes\//, 'src/passes'],
  [/^backends\//, 'backends'],
  [/^src\/(weights|data|train|explore)\//, 'src/weights, data, train, explore'],
  [/^src\/(cli\/|api\.ts$|index\.ts$)/, 'src/cli and the library entry'],
];
const layerOf = (file: string): number => LAYERS.findIndex(([re]) => re.test(relative(root, file)));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('layering', () => {
  it('every relative import points to the same or an earlier layer', () => {
    const files = ['grammar', 'src', 'backends'].flatMap((d) => sources(join(root, d)));
    expect(files.every((f) => layerOf(f) >= 0), 'every source file belongs to a layer').toBe(true);
    const upward: string[] = [];
    for (const file of files) {
      for (const m of readFileSync(file, 'utf8').matchAll(/from '(\.[^']+)'/g)) {
        const target = resolve(dirname(file), m[1]!).replace(/\.js$/, '.ts');
        if (layerOf(target) > layerOf(file)) upward.push(`${relative(root, file)} → ${relative(root, target)} (${LAYERS[layerOf(target)]![1]})`);
      }
    }
    expect(upward).toEqual([]);
  });
});
