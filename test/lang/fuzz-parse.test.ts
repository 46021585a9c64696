// Property-based tests of the parser and the formatter on random and mutated inputs.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/lang/diagnostics.js';
import { formatProgram } from '../../src/lang/format.js';
import { parseProgram } from '../../src/lang/parse.js';
import { fuzzRuns, fuzzTimeout } from '../fuzz.js';

const docs = readFileSync(new URL('../../docs/language.md', import.meta.url), 'utf8');
const pstT = [...docs.matchAll(/```pst\n([\s\S]*?)```/g)][0]![1]!;
const shiftsAndSweep = `patch_shift p {\n  grid {\n    -4 +1\n    0 +2\n  }\n  ratio = 1/2\n}\nsweep s from pst_t {\n  mode = list\n  axis stage.3.depth = [2, 4]\n  variant v { shifts = all(tps) }\n}\nconst k = (1, 2e-3)\n`;

const words = [
  'import', 'const', 'patch_shift', 'channel_shift', 'model', 'extends', 'sweep', 'from', 'axis', 'variant',
  'grid', 'stage', 'depth', 'heads', 'true', 'false', 'x', 'a_b', '{', '}', '(', ')', '[', ']', ',', ';', '.',
  '=', '+', '-', '*', '/', '0', '3', '-4', '+1', '0.25', '1e-5', '"s.pst"', '"', '// c', '@', '\u00e9', '\\',
  // Hostile: deep nesting, long sign runs, control characters, a byte-order mark, a huge name.
  '('.repeat(70), '-'.repeat(70), '[['.repeat(40), '\u001b', '\u0000', '\u202e', '\ufeff', 'n'.repeat(5000),
];
const separators = [' ', '  ', '\n', '\r\n', '', '\t'];

/** The line and column of an offset, counted the way editors do. */
function positionAt(text: string, offset: number): string {
  const before = text.slice(0, offset).split(/\r\n|\r|\n/);
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

function checkDiagnostics(text: string, diagnostics: Diagnostic[]): void {
  for (const d of diagnostics) {
    const s = d.span!;
    expect(s).toBeDefined();
    expect(s.startOffset).toBeGreaterThanOrEqual(0);
    expect(s.endOffset).toBeGreaterThanOrEqual(s.startOffset);
    expect(s.endOffset).toBeLessThanOrEqual(text.length);
    expect(`${s.startLine}:${s.startCol}`).toBe(positionAt(text, s.startOffset));
    expect(d.code).toMatch(/^PST10[1-4]$/);
  }
}

const strip = (x: unknown) => JSON.stringify(x, (k, v) => (k === 'span' ? undefined : v));

/** Parse; when clean, the formatter must be idempotent and keep the meaning. */
function checkText(text: string): void {
  const { program, diagnostics } = parseProgram(text, 'f.pst');
  checkDiagnostics(text, diagnostics);
  if (diagnostics.length > 0) return;
  const once = formatProgram(program, text);
  const reparsed = parseProgram(once, 'f.pst');
  expect(reparsed.diagnostics).toEqual([]);
  expect(strip(reparsed.program.decls)).toBe(strip(program.decls));
  expect(reparsed.program.comments.map((c) => c.text)).toEqual(program.comments.map((c) => c.text));
  expect(formatProgram(reparsed.program, once)).toBe(once);
}

/** A text as tokens and the whitespace between them, so mutations act on tokens. */
const pieces = (text: string) => text.match(/\s+|\/\/[^\n]*|"[^"\n]*"|[A-Za-z_]\w*|\d+(?:\.\d+)?(?:e-?\d+)?|./g) ?? [];

type Mutation = { op: 'delete' | 'insert' | 'duplicate' | 'swap'; at: number; other: number; word: string };

function mutate(source: string[], mutations: Mutation[]): string {
  const out = [...source];
  for (const m of mutations) {
    const i = m.at % Math.max(1, out.length);
    const j = m.other % Math.max(1, out.length);
    if (m.op === 'delete') out.splice(i, 1);
    else if (m.op === 'insert') out.splice(i, 0, ` ${m.word} `);
    else if (m.op === 'duplicate' && out[i] !== undefined) out.splice(i, 0, out[i]!);
    else if (m.op === 'swap' && out[i] !== undefined && out[j] !== undefined) [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out.join('');
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('delete', 'insert', 'duplicate', 'swap'),
  at: fc.nat(),
  other: fc.nat(),
  word: fc.constantFrom(...words),
});

describe('parser fuzz', () => {
  it('never throws on random token soup, and every diagnostic points into the text', () => {
    const soup = fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...words), fc.string({ maxLength: 3 })), fc.constantFrom(...separators)), { maxLength: 40 })
      .map((parts) => parts.map(([w, s]) => w + s).join(''));
    fc.assert(fc.property(soup, (text) => checkText(text)), { numRuns: fuzzRuns(300) });
  }, fuzzTimeout);

  it('never throws on mutations of valid files; clean results format idempotently and keep their meaning', () => {
    for (const base of [pstT, shiftsAndSweep]) {
      const source = pieces(base);
      expect(source.join('')).toBe(base);
      fc.assert(
        fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => checkText(mutate(source, ms))),
        { numRuns: fuzzRuns(150) },
      );
    }
  }, fuzzTimeout);

  it('formats a valid file with random spacing between tokens to the same canonical text', () => {
    // No grid here: inside a grid, newlines end rows, so respacing would change the meaning.
    const base = shiftsAndSweep.slice(shiftsAndSweep.indexOf('sweep'));
    const source = pieces(base);
    const canonical = formatProgram(parseProgram(base, 'f.pst').program, base);
    const spacing = fc.array(fc.constantFrom(' ', '   ', '\n', '\n\n\n', ' \t', '\r\n'), { minLength: source.length, maxLength: source.length });
    fc.assert(
      fc.property(spacing, (spaces) => {
        const text = source.map((p, i) => (/^\s+$/.test(p) ? spaces[i] : p)).join('');
        const { program, diagnostics } = parseProgram(text, 'f.pst');
        expect(diagnostics).toEqual([]);
        const once = formatProgram(program, text);
        expect(once.replace(/\n\n/g, '\n')).toBe(canonical.replace(/\n\n/g, '\n'));
        checkText(text);
      }),
      { numRuns: fuzzRuns(100) },
    );
  }, fuzzTimeout);
});
