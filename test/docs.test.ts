// The .pst examples users copy from the README check clean: no errors, no warnings.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkFiles } from '../src/lang/elaborate.js';

function pstBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```pst\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('README', () => {
  const blocks = pstBlocks(readFileSync('README.md', 'utf8'));

  it('has a .pst example', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it('its examples check clean and elaborate PST-T, PST-B and the sweep', () => {
    for (const [i, text] of blocks.entries()) {
      const file = `README-example-${i}.pst`;
      const result = checkFiles([file], (path) => (path === file ? text : undefined));
      expect(result.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
      const names = result.models.map((m) => m.name);
      expect(names).toContain('pst_t');
      expect(names).toContain('pst_b');
      const b = result.models.find((m) => m.name === 'pst_b')!;
      expect(b.stages.map((s) => s.depth)).toEqual([2, 2, 18, 2]);
      expect(b.stages.map((s) => s.dim)).toEqual([128, 256, 512, 1024]);
      expect(names.filter((n) => n.startsWith('ratio['))).toHaveLength(3);
    }
  });
});
