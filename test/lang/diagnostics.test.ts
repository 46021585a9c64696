// Golden tests: each test/lang/diagnostics/NAME.pst is checked and its rendered diagnostics are
// compared, exactly, with NAME.expected.txt. Files starting with `_` are helpers that cases
// import, not cases. UPDATE_GOLDEN=1 writes the expected files (review the diff!); a case without one fails.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { renderDiagnostics } from '../../src/lang/diagnostics.js';
import { checkFiles } from '../../src/lang/elaborate.js';
import { readFromDisk } from '../../src/lang/read-disk.js';

const dir = 'test/lang/diagnostics';
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.pst') && !f.startsWith('_'))
  .sort();

function rendered(file: string): string {
  const result = checkFiles([file], readFromDisk);
  return `${renderDiagnostics(result.diagnostics, { sources: result.sources })}\n`;
}

describe('golden diagnostics', () => {
  test('every code of docs/diagnostics.md from PST2xx has a case', () => {
    const documented = [...readFileSync('docs/diagnostics.md', 'utf8').matchAll(/\bPST2\d\d\b/g)].map((m) => m[0]);
    const covered = new Set(cases.map((c) => c.slice(0, 6)));
    // PST203 comes from loadModel (a command-line model name), covered in elaborate.test.ts;
    // PST270 from --set (a command-line setting), covered in overrides.test.ts.
    const missing = [...new Set(documented)].filter((code) => code !== 'PST203' && code !== 'PST270' && !covered.has(code));
    expect(missing).toEqual([]);
  });

  for (const name of cases) {
    test(name, () => {
      const file = path.join(dir, name);
      const actual = rendered(file);
      const expectedFile = file.replace(/\.pst$/, '.expected.txt');
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(expectedFile, actual);
      // A new case fails until its expected text is reviewed and blessed: writing it here would
      // make the test pass whatever the checker printed.
      if (!existsSync(expectedFile)) {
        expect.fail(`${expectedFile} is missing; review the output below and bless it with UPDATE_GOLDEN=1\n${actual}`);
      }
      expect(actual).toBe(readFileSync(expectedFile, 'utf8'));
      // A case named after a code must produce that code (so it cannot drift into testing nothing).
      const code = /^(PST\d{3})_/.exec(name)?.[1];
      if (code) expect(actual).toContain(` ${code}: `);
    });
  }
});

test('a file with three mistakes reports all three, each at its place', () => {
  const result = checkFiles([path.join(dir, 'three_mistakes.pst')], readFromDisk);
  const found = result.diagnostics.map((d) => [d.code, d.span?.startLine, d.span?.startCol]);
  expect(found).toEqual([
    ['PST250', 4, 21],
    ['PST220', 5, 15],
    ['PST211', 6, 16],
  ]);
});
