// Mutate a valid .pst text (lines and tokens deleted, duplicated, swapped; numbers replaced by
// random ones: 0, negatives, floats, huge; a token wrapped in deep brackets or signs, replaced by
// a huge name, or given control characters) and check that checkFiles never throws, that every
// diagnostic has a code and a span inside its file, and that the rendered text is printable.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { renderDiagnostics } from '../../src/lang/diagnostics.js';
import { checkFiles } from '../../src/lang/elaborate.js';
import { vfs } from './vfs.js';
import { fuzzRuns, fuzzTimeout } from '../fuzz.js';

const base = `import "common/shifts.pst"
const width = 32
model m {
  input { frames = 8  size = 32 }
  embed { patch = (2, 4, 4)  dim = width }
  window = (1, 3, 3)
  bias_frames = 8
  drop_path = 0.1
  patch_shift = pattern_c
  channel_shift = tcs_eighth
  shifts = alternate(tcs, tps)
  stage 1 { depth = 2  heads = 4 }
  stage 2 { depth = 2  heads = 8  shifts = [tps, none] }
  head { pool = mean  dropout = 0.5  classes = 10 }
}
model n extends m { patch_shift.ratio = 1/2  stage.2.depth = 4  stage 2 { shifts = all(tcs) } }
patch_shift mine {
  grid {
    0 +1
    -1 0
  }
  ratio = 1
}
sweep s from m {
  mode = grid
  axis patch_shift = [pattern_a, mine]
  axis stage.1.heads = [2, 4]
  variant v { window = (1, 4, 4)  embed.dim = 64 }
}
`;

type Mutation =
  | { kind: 'deleteLine' | 'duplicateLine'; at: number }
  | { kind: 'swapLines'; at: number; with: number }
  | { kind: 'deleteToken' | 'duplicateToken'; at: number }
  | { kind: 'swapTokens'; at: number; with: number }
  | { kind: 'number'; at: number; value: string }
  /** Hostile: wrap a token in `depth` brackets or signs, or replace it with a long name or control characters. */
  | { kind: 'hostile'; at: number; what: 'parens' | 'signs' | 'name' | 'control'; depth: number };

const numberText = fc.oneof(
  fc.constantFrom('0', '-1', '1', '0.0', '1e9', '-0.5', '1e400', '3/0', '1152921504606846976', '1e308 * 10'),
  fc.integer({ min: -100, max: 1000 }).map(String),
  fc.double({ min: -1000, max: 1000, noNaN: true }).map((x) => String(x)),
);
const index = fc.nat(400);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('deleteLine', 'duplicateLine', 'deleteToken', 'duplicateToken'), at: index }) as fc.Arbitrary<Mutation>,
  fc.record({ kind: fc.constantFrom('swapLines', 'swapTokens'), at: index, with: index }) as fc.Arbitrary<Mutation>,
  fc.record({ kind: fc.constant('number'), at: index, value: numberText }) as fc.Arbitrary<Mutation>,
  fc.record({
    kind: fc.constant('hostile'),
    at: index,
    what: fc.constantFrom('parens', 'signs', 'name', 'control'),
    depth: fc.integer({ min: 1, max: 400 }),
  }) as fc.Arbitrary<Mutation>,
);

function mutate(text: string, m: Mutation): string {
  if (m.kind === 'deleteLine' || m.kind === 'duplicateLine' || m.kind === 'swapLines') {
    const lines = text.split('\n');
    const i = m.at % lines.length;
    if (m.kind === 'deleteLine') lines.splice(i, 1);
    else if (m.kind === 'duplicateLine') lines.splice(i, 0, lines[i]!);
    else if (m.kind === 'swapLines') {
      const j = m.with % lines.length;
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
    return lines.join('\n');
  }
  // Tokens: runs of non-space characters, keeping the whitespace between them.
  const parts = text.split(/(\s+)/);
  const tokens = parts.map((p, i) => [p, i] as const).filter(([p]) => p.trim() !== '');
  if (m.kind === 'number') {
    const numbers = tokens.filter(([p]) => /^[+-]?\d/.test(p));
    if (!numbers.length) return text;
    parts[numbers[m.at % numbers.length]![1]] = m.value;
    return parts.join('');
  }
  const [, i] = tokens[m.at % tokens.length]!;
  if (m.kind === 'hostile') {
    const t = parts[i]!;
    if (m.what === 'parens') parts[i] = `${'('.repeat(m.depth)}${t}${')'.repeat(m.depth)}`;
    else if (m.what === 'signs') parts[i] = `${'-'.repeat(m.depth)}${t}`;
    else if (m.what === 'name') parts[i] = `${t}${'x'.repeat(m.depth * 100)}`;
    else parts[i] = `${t}${'\u001b[2J\u0000\u202e\ufeff'.slice(0, 1 + (m.depth % 5))}`;
    return parts.join('');
  }
  if (m.kind === 'deleteToken') parts[i] = '';
  else if (m.kind === 'duplicateToken') parts[i] = `${parts[i]} ${parts[i]}`;
  else if (m.kind === 'swapTokens') {
    const [, j] = tokens[m.with % tokens.length]!;
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  return parts.join('');
}

test('the unmutated text is valid', () => {
  const r = checkFiles(['f.pst'], vfs({ 'f.pst': base }));
  expect(r.diagnostics).toEqual([]);
  expect(r.models).toHaveLength(2 + 4 + 1);
});

test('checkFiles never throws on mutated text, and every diagnostic has a code and a span in its file', () => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      const text = mutations.reduce(mutate, base);
      const r = checkFiles(['f.pst'], vfs({ 'f.pst': text }));
      for (const d of r.diagnostics) {
        expect(d.code).toMatch(/^PST\d{3}$/);
        expect(d.message.length).toBeGreaterThan(0);
        expect(d.span).toBeDefined();
        const source = r.sources.get(d.span!.file);
        expect(source).toBeDefined();
        expect(d.span!.startOffset).toBeGreaterThanOrEqual(0);
        expect(d.span!.endOffset).toBeGreaterThanOrEqual(d.span!.startOffset);
        expect(d.span!.endOffset).toBeLessThanOrEqual(source!.length);
      }
      const rendered = renderDiagnostics(r.diagnostics, { sources: r.sources });
      expect(rendered).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
      for (const line of rendered.split('\n')) expect(line.length).toBeLessThan(400);
      // A model that came out is complete: every stage has its blocks.
      for (const m of r.models) for (const s of m.stages) expect(s.blocks).toHaveLength(s.depth);
    }),
    { numRuns: fuzzRuns(100) },
  );
}, fuzzTimeout);
