import { describe, expect, it } from 'vitest';
import { DiagnosticError } from '../../src/lang/diagnostics.js';
import { loadModelWithSettings } from '../../src/lang/overrides.js';
import { readFromDisk } from '../../src/lang/read-disk.js';

const TINY = 'models/tiny/pst-tiny.pst';

function codes(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof DiagnosticError) return e.diagnostics.map((d) => `${d.code}${d.span ? `@${d.span.file}:${d.span.startLine}` : ''}`);
    throw e;
  }
  return [];
}

describe('--set PATH=VALUE', () => {
  it('applies settings as an extends body and keeps the model name', () => {
    const { model } = loadModelWithSettings(TINY, undefined, ['head.classes=400', 'stage.2.depth=4', 'drop_path=0', 'patch_shift.ratio = 1/2'], readFromDisk);
    expect(model.name).toBe('pst_t_tiny');
    expect(model.head!.classes).toBe(400);
    expect(model.stages[1]!.depth).toBe(4);
    expect(model.stages.flatMap((s) => s.blocks).every((b) => b.dropPath === 0)).toBe(true);
    const tps = model.stages[0]!.blocks[1]!.shift;
    expect(tps?.kind === 'patch' && tps.ratio).toBe(0.5);
  });

  it('without settings is the model itself', () => {
    expect(loadModelWithSettings(TINY, undefined, [], readFromDisk).model.stages[1]!.depth).toBe(2);
  });

  it('checks a setting like the file: errors point at the setting\'s line', () => {
    // Line 3 is the first setting, line 4 the second.
    expect(codes(() => loadModelWithSettings(TINY, undefined, ['head.classes=10', 'stage.1.haeds=4'], readFromDisk))).toEqual(['PST212@models/tiny/--set:4']);
    expect(codes(() => loadModelWithSettings(TINY, undefined, ['drop_path=1.5'], readFromDisk))[0]).toMatch(/^PST222@models\/tiny\/--set:3/);
  });

  it('refuses what is not one assignment', () => {
    for (const bad of ['head.classes', 'a b=1', 'x=', 'drop_path=0 } model evil {', 'drop_path=0 // c', '=3']) {
      expect(codes(() => loadModelWithSettings(TINY, undefined, [bad], readFromDisk)), bad).toEqual(['PST270']);
    }
  });
});
